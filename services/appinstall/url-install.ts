// Install from an http(s) URL (docs/appinstall.md) on /install: who may ask, and the file name of its download. The download
// itself runs as the task's first steps (engine/download-steps.ts): 7 requested, 8 at each progress step, 10
// complete, then the install from 35; 23 on failure (stage-map.ts).
import { CodedError, ErrorCode } from '../../status-codes';
import { UrlInstallText } from '../../status-codes/distribution';

export function isHttpUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

/** Refuses a URL install by anyone but root (the daemon downloads and installs with its own rights). */
export function checkUrlCaller(caller: { uid: number }): void {
  if (caller.uid !== 0) throw new CodedError(ErrorCode.INVALID_PARAMETER, UrlInstallText.rootOnly);
}

let urlCounter = 0;

/** A download file name for a URL install that no other task shares. */
export function urlDownloadName(): string {
  return `url-${process.pid}-${Date.now().toString(36)}-${++urlCounter}.ipk`;
}
