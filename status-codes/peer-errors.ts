// The one table from engine/bus errors (and the gateway's own refusals) to each peer API's codes and texts
// (gateway/*.ts). Peer strings come from the peers' own code and docs (see docs/gateway.md); nothing else writes them.
import { BusErrorCode, ErrorCode, ErrorText } from './index';
import { EngineErrorCode } from './engine';

/** What went wrong, independent of any peer's vocabulary. */
export type ErrorKind =
  | 'unauthorized' // no token, or a token that is not in the tokens file
  | 'denied' // the ACG refused the call for the token's client name
  | 'unavailable' // the bus method does not exist (yet) or its service is not running
  | 'invalidParams'
  | 'notInstalled'
  | 'alreadyInstalled'
  | 'busy' // a task for that package is already running
  | 'locked'
  | 'uninstalling'
  | 'wrongHandle'
  | 'notFound' // unknown route / package
  | 'tooLarge' // body or upload over the limit
  | 'rateLimited' // connections or WebSocket messages over the limit
  | 'timeout'
  | 'failed'; // anything else the engine reports

/** An error carrying its kind and a human text; `code`/`busText` keep what the bus said, when it came from there. */
export class PeerError extends Error {
  constructor(readonly kind: ErrorKind, message: string, readonly busCode?: number) {
    super(message);
  }
}

/** Classifies a bus error reply (errorCode, errorText): by the engine's codes, else by the texts of status-codes/index.ts. */
export function classifyBusError(code: number, text: string): ErrorKind {
  // The engine's own codes (status-codes/engine.ts) say what happened without reading the text.
  if (code === EngineErrorCode.WRONG_HANDLE || code === EngineErrorCode.NOT_LOCKED) return 'wrongHandle';
  if (code === EngineErrorCode.APP_LOCKED) return 'locked';
  if (code === EngineErrorCode.WRONG_PARAMS) return 'invalidParams';
  // Past the commit point or already ended: LISA answers a cancel it cannot do with ERROR_WRONG_PARAMS.
  if (code === EngineErrorCode.CANCEL_REFUSED) return 'invalidParams';
  if (code === EngineErrorCode.TOO_MANY) return 'busy';
  if (code === BusErrorCode.NOT_PRIVILEGED_APP_CALL || /^Denied method call|^Not permitted to send/.test(text)) return 'denied';
  if (/^Unknown method|^Service does not exist|is not running\.$/.test(text)) return 'unavailable';
  if (text === ErrorText.NO_SUCH_ID || /not installed/i.test(text)) return 'notInstalled';
  if (text === ErrorText.DUPLICATE_COMMAND || text === ErrorText.PACKAGE_BUSY) return 'busy';
  if (/uninstall(ing)? in progress|being removed/i.test(text)) return 'uninstalling';
  if (text === ErrorText.APP_LOCKED || /\blocked\b/i.test(text) && !/not locked/i.test(text)) return 'locked';
  if (/not locked|unknown handle|no such handle|wrong handle|no such operation/i.test(text)) return 'wrongHandle';
  if (code === ErrorCode.INVALID_PARAMETER || /^Invalid parameter/.test(text)) return 'invalidParams';
  return 'failed';
}

// ---- Thunder PackageManager (LISA's 1001..1010; R4-style framework codes, message = the ERROR_* name) ----
export const ThunderCode = {
  WRONG_PARAMS: 1001,
  TOO_MANY_REQUESTS: 1002,
  ALREADY_INSTALLED: 1003,
  WRONG_HANDLE: 1007,
  APP_LOCKED: 1009,
  APP_UNINSTALLING: 1010,
  GENERAL: 1,
  UNAVAILABLE: 2,
  UNKNOWN_KEY: 22,
  DUPLICATE_KEY: 29,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  NOT_ALLOWED: -32604,
  PARSE_ERROR: -32700,
} as const;

export const ThunderText = {
  WRONG_PARAMS: 'ERROR_WRONG_PARAMS',
  TOO_MANY_REQUESTS: 'ERROR_TOO_MANY_REQUESTS',
  ALREADY_INSTALLED: 'ERROR_ALREADY_INSTALLED',
  WRONG_HANDLE: 'ERROR_WRONG_HANDLE',
  APP_LOCKED: 'ERROR_APP_LOCKED',
  APP_UNINSTALLING: 'ERROR_APP_UNINSTALLING',
  GENERAL: 'ERROR_GENERAL',
  UNAVAILABLE: 'ERROR_UNAVAILABLE',
  UNKNOWN_KEY: 'ERROR_UNKNOWN_KEY',
  DUPLICATE_REGISTRATION: 'Duplicate registration. Only 1 remains!!!',
  REGISTRATION_NOT_FOUND: 'Registration not found!!!',
  INVALID_REQUEST: 'Invalid Request',
  UNKNOWN_METHOD: 'Unknown method.',
  INVALID_PARAMETERS: 'Invalid parameters.',
  VERSION_NOT_SUPPORTED: 'Requested version is not supported.',
  NOT_ALLOWED: 'method invokation not allowed.',
  UNAUTHORIZED: 'Request needs authorization. Missing or invalid token.',
  PARSE_ERROR: 'JSON was incorrectly formatted',
  POST_ONLY: 'JSON-RPC only supported via POST request',
  TIMEOUT: 'ERROR_TIMEDOUT',
} as const;

const THUNDER: Record<ErrorKind, { code: number; message: string }> = {
  unauthorized: { code: ThunderCode.NOT_ALLOWED, message: ThunderText.UNAUTHORIZED },
  denied: { code: ThunderCode.NOT_ALLOWED, message: ThunderText.NOT_ALLOWED },
  unavailable: { code: ThunderCode.UNAVAILABLE, message: ThunderText.UNAVAILABLE },
  invalidParams: { code: ThunderCode.WRONG_PARAMS, message: ThunderText.WRONG_PARAMS },
  notInstalled: { code: ThunderCode.WRONG_PARAMS, message: ThunderText.WRONG_PARAMS },
  alreadyInstalled: { code: ThunderCode.ALREADY_INSTALLED, message: ThunderText.ALREADY_INSTALLED },
  busy: { code: ThunderCode.TOO_MANY_REQUESTS, message: ThunderText.TOO_MANY_REQUESTS },
  locked: { code: ThunderCode.APP_LOCKED, message: ThunderText.APP_LOCKED },
  uninstalling: { code: ThunderCode.APP_UNINSTALLING, message: ThunderText.APP_UNINSTALLING },
  wrongHandle: { code: ThunderCode.WRONG_HANDLE, message: ThunderText.WRONG_HANDLE },
  notFound: { code: ThunderCode.WRONG_PARAMS, message: ThunderText.WRONG_PARAMS },
  tooLarge: { code: ThunderCode.INVALID_REQUEST, message: ThunderText.INVALID_REQUEST },
  rateLimited: { code: ThunderCode.TOO_MANY_REQUESTS, message: ThunderText.TOO_MANY_REQUESTS },
  timeout: { code: 11, message: ThunderText.TIMEOUT },
  failed: { code: ThunderCode.GENERAL, message: ThunderText.GENERAL },
};
export function thunderError(kind: ErrorKind): { code: number; message: string } {
  return THUNDER[kind];
}

// ---- Olares (system-server around the Market provider) ----
export const OlaresText = {
  NO_ACCESS_TOKEN: 'no authentication token error', // HTTP 401 plain text, system-server
  NO_X_AUTHORIZATION: 'access token not found', // HTTP 401 plain text, the Market
  TOKEN_NOT_FOUND: 'token not found in cache or expired',
  ACCESS_DENIED: 'data access denied',
  SUCCESS: 'success',
  unsupportedSource: (s: string) => `unsupported chart source: ${s}`,
  urlInfoEmpty: (cfg: string, repo: string) => `url info is empty, cfg [${cfg}], repo [${repo}]`,
  invokeProviderErr: (status: number, body: string) => `invoke provider err: code ${status}, ${body}`,
  /** A repoUrl that is an http(s) URL but no configured feed (ours: repoUrl names one of /feeds/list's feeds). */
  repoNotConfigured: (repo: string) => `repo ${repo} is not a configured feed`,
  appNotInRepo: (app: string, repo: string) => `app ${app} not found in repo ${repo}`,
} as const;
/** The HTTP status the provider (app-service) would have answered with, wrapped by system-server into code 1. */
export function olaresProviderStatus(kind: ErrorKind): number {
  switch (kind) {
    case 'invalidParams': case 'notFound': case 'notInstalled': case 'alreadyInstalled': return 400;
    case 'denied': return 403;
    case 'busy': case 'locked': case 'uninstalling': return 423;
    case 'tooLarge': return 413;
    case 'rateLimited': return 429;
    case 'unavailable': return 501;
    default: return 500;
  }
}

// ---- Domogik REST /package (errors are HTTP 200, text/html, code 999) ----
export const DOMOGIK_ERROR_CODE = 999;
export const DomogikText = {
  URL_TOO_SHORT: 'Url too short',
  wrongSyntax: (segment: string) => `Wrong syntax for ${segment}`,
  BAD_OPERATION: 'Bad operation for /package',
  NO_FILENAME: 'You must give a file name : ?filename=foo.txt',
  BAD_FILENAME: 'Bad filename provided. It must be a .ipk file',
  NO_PACKAGE: 'No package corresponding to request',
  LIST_REPO_ERROR: 'Error while listing repositories : check rest.log file',
  UPDATE_CACHE_ERROR: 'Error while updating cache',
  CACHE_ERROR: 'Error on putting package in cache',
  notUninstallable: (t: string) => `Package type '${t}' not uninstallable`,
  UNAUTHORIZED: 'Authentication required: a valid bearer token is needed',
  NOT_FOUND_BODY: '404 - Not found',
  CONTENT_LENGTH_REQUIRED: 'Content-Length is required',
  badType: (t: string) => `Bad package type '${t}' : must be app, plugin or firmware`,
  unknownHost: (h: string, me: string) => `Unknown host '${h}' : this device is '${me}'`,
  BAD_CALLBACK: 'Bad callback name',
  NO_DATA_TIMEOUT: 'No data or timeout on installing package',
} as const;
const DOMOGIK_PREFIX: Record<ErrorKind, string> = {
  unauthorized: 'Authentication required', denied: 'Permission denied', unavailable: 'Not available',
  invalidParams: 'Bad request', notInstalled: 'Package not installed', alreadyInstalled: 'Package already installed',
  busy: 'Package busy', locked: 'Package locked', uninstalling: 'Package being uninstalled', wrongHandle: 'Unknown handle',
  notFound: DomogikText.NO_PACKAGE, tooLarge: 'Request too large', rateLimited: 'Too many requests', timeout: 'Timeout',
  failed: 'Error',
};
export function domogikErrorText(kind: ErrorKind, detail: string): string {
  return detail ? `${DOMOGIK_PREFIX[kind]} : ${detail}` : DOMOGIK_PREFIX[kind];
}

// ---- AX App Store (FastAPI-style errors; per-package 400 bodies) ----
export const AxText = {
  UNAUTHORIZED: 'Invalid or missing Secret header',
  invalidModule: (m: string) => `invalid module ${m}, skip...`,
  upToDate: (v: string) => `installed version(${v}) is already up to date`,
  higherInstalled: (inst: string, dl: string) => `installed version(${inst}) is higher than downloaded version(${dl}), skip...`,
  notDownloaded: 'Update not downloaded. Please download first',
  notInstalled: (m: string) => `module ${m} is not installed, skip...`,
  NOT_FOUND: 'Not Found',
  TOO_LARGE: 'Request body too large',
  TOO_MANY: 'Too many requests',
  BAD_BODY: 'request parameters are malformed',
} as const;
const AX_STATUS: Record<ErrorKind, number> = {
  unauthorized: 401, denied: 403, unavailable: 501, invalidParams: 400, notInstalled: 400, alreadyInstalled: 400,
  busy: 400, locked: 400, uninstalling: 400, wrongHandle: 404, notFound: 404, tooLarge: 413, rateLimited: 429,
  timeout: 504, failed: 500,
};
/** The App Store page's push channel (gateway/page.ts, GET /app_store/events). */
export const PageText = {
  EVENTS_DENIED: 'This token may not watch operations (it may not call /status)',
  TOO_MANY_STREAMS: 'Too many event streams',
} as const;

export function axStatus(kind: ErrorKind): number {
  return AX_STATUS[kind];
}

/** Gateway-level texts shared by every peer (logs, the tokens file). */
export const GatewayText = {
  tokensFileUnsafe: (file: string, why: string) => `refusing the tokens file ${file}: ${why}`,
  tokensFileBad: (file: string, why: string) => `bad tokens file ${file}: ${why}`,
  tokensFileCreated: (file: string, name: string) => `created ${file} with one admin token for ${name} (mode 0600; read it as root)`,
  badConfig: (why: string) => `"gateway": ${why}`,
  uploadTooLarge: (max: number) => `upload larger than ${max} bytes`,
  bodyTooLarge: (max: number) => `body larger than ${max} bytes`,
  tooManyConnections: 'too many connections',
  tooManyMessages: 'too many messages',
} as const;
