// Install from an http(s) URL (SPEC §8): the download steps that run before the install table (task-queue.ts runs
// TaskRequest.preSteps first): 7 requested, 8 at each progress step, 10 complete, then the install from 35; 23 on failure.
import { CodedError, ErrorCode, ErrorText, type StageName } from '../../status-codes';
import { UrlInstallText } from '../../status-codes/distribution';
import type { Downloader } from '../../download/downloader';
import type { DownloadRequest, DownloadState } from '../../download/types';
import type { TaskContext } from './task-context';
import type { Step } from './task-runner';

/** A failed download: the task ends in stage 23 (task-queue.ts failureUpdate reads failStage). */
export class DownloadStageError extends CodedError {
  readonly failStage: StageName = 'DOWNLOAD_FAILED';
}

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

/** details of a download progress step: progress 0..100 (when the total is known), bytes, total, speed (bytes/s). */
export function downloadDetails(s: DownloadState): Record<string, number> {
  const d: Record<string, number> = { bytes: s.received, speed: Math.round(s.speed) };
  if (s.total !== undefined && s.total > 0) {
    d.total = s.total;
    d.progress = Math.min(100, Math.floor((100 * s.received) / s.total));
  }
  return d;
}

/**
 * The two steps of a download before an install: `request` starts it (7), `download` follows it (8 with each
 * progress event of the downloader, 10 when verified and in place) and points the install at the file.
 * `onFile` hears the downloaded path (the caller's cache bookkeeping).
 */
export function downloadSteps(downloader: Downloader, req: DownloadRequest, onFile?: (file: string) => void): Step<TaskContext>[] {
  let id: number | undefined;
  let done: Promise<import('../../download/types').DownloadResult> | undefined;
  const cancelIfRunning = async () => {
    if (id === undefined) return;
    const s = downloader.get(id);
    if (s && ['queued', 'running', 'paused'].includes(s.phase)) await downloader.cancel(id);
  };
  return [
    {
      name: 'download-request',
      statusValues: { before: ['DOWNLOAD_REQUESTED'], after: [] },
      async work() {
        const h = downloader.start(req);
        id = h.id;
        done = h.done;
      },
      undo: cancelIfRunning,
    },
    {
      name: 'download',
      statusValues: { before: ['DOWNLOAD_CURRENT'], after: ['DOWNLOAD_COMPLETE'] },
      async work(ctx, progress) {
        const onProgress = (s: DownloadState) => {
          if (s.id === id && s.phase === 'running') progress(downloadDetails(s));
        };
        downloader.on('progress', onProgress);
        // A cancel of the operation while the body comes (a slow or stalled server) stops the download at once:
        // waiting for the next safe point would wait on the server.
        const onAbort = () => { void cancelIfRunning(); };
        ctx.signal?.addEventListener('abort', onAbort, { once: true });
        try {
          const r = await done!;
          if (ctx.signal?.aborted) throw new CodedError(ErrorCode.CANCELLED, ErrorText.INSTALL_CANCELLED);
          if (!r.ok) throw new DownloadStageError(r.error.code, UrlInstallText.downloadFailed(r.error.text));
          ctx.localIpk = r.state.path;
          onFile?.(r.state.path);
          return { ...downloadDetails(r.state), progress: 100 };
        } finally {
          ctx.signal?.removeEventListener('abort', onAbort);
          downloader.off('progress', onProgress);
        }
      },
      undo: cancelIfRunning,
    },
  ];
}
