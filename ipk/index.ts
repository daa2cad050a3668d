// The public face of ipk/ for the installer and tools: open, extract, verify, pack. Re-exports only; no logic here.
export { openIpk, checkMemberOrder } from './ipk-reader';
export type { IpkPackage } from './ipk-reader';
export { extractData } from './extract';
export type { ExtractOptions, ExtractResult, ProgressCallback } from './extract';
export { verifySignature } from './signature';
export type { SignatureVerdict, SignatureResult } from './signature';
export { packApp, PackError } from './pack';
export type { PackOptions, PackResult } from './pack';
export { parseControl, PACKAGE_ID_RE } from './control';
export type { ControlFields } from './control';
export { APP_TYPES } from './metadata';
export type { AppInfo, PackageInfo, ServicesJson } from './metadata';
export { DEFAULT_LIMITS } from './entry-rules';
export type { ExtractLimits } from './entry-rules';
export { describeIpk } from './ipk-info';
export type { IpkInfo } from './ipk-info';
