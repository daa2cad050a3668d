// The download before an install from a URL (a URL install, one package of a catalog install): two steps that run
// before the install table (task-queue.ts puts them first for a TaskRequest whose source is a download), with the download's facts as progress and
// its story in the operation log. A failed download is a DownloadFailed, whose phase is 'download'.
import { CodedError, ErrorCode, ErrorText } from '../status-codes';
import { DownloadLogText, UrlInstallText } from '../status-codes/distribution';
import type { Downloader } from '../download/downloader';
import type { DownloadRequest, DownloadResult, DownloadState } from '../download/types';
import type { TaskContext } from './task-context';
import type { Step } from './steps';

/** A failed download: the task fails in the download phase (on the bus: stage 23, services/appinstall/stage-map.ts). */
export class DownloadFailed extends CodedError {
  readonly phase = 'download';
}

/** Facts of a download progress step: progress 0..100 (when the total is known), bytes, total, speed (bytes/s). */
export function downloadFacts(s: DownloadState): Record<string, number> {
  const d: Record<string, number> = { bytes: s.received, speed: Math.round(s.speed) };
  if (s.total !== undefined && s.total > 0) {
    d.total = s.total;
    d.progress = Math.min(100, Math.floor((100 * s.received) / s.total));
  }
  return d;
}

/**
 * Follows one download for an operation log: the URL, a resume (bytes already there, a new attempt), a restart from
 * 0, every 10 % of the bytes, and the end (bytes, bytes fetched, checksum verified) or why it failed.
 */
export function downloadLogger(log: (line: string) => void, req: DownloadRequest): { state(s: DownloadState): void; end(r: DownloadResult): void } {
  let started = false;
  let attempts = 0;
  let restarts = 0;
  let tenth = -1;
  return {
    state(s) {
      if (!started) {
        started = true;
        log(DownloadLogText.start(s.url, s.filename, s.total));
        if (s.initialOffset > 0) log(DownloadLogText.resumedFrom(s.initialOffset));
      }
      if (s.attempts > 1 && s.attempts > attempts) log(DownloadLogText.attempt(s.attempts, s.received));
      attempts = Math.max(attempts, s.attempts);
      if (s.restarts > restarts) log(DownloadLogText.restarted(s.restarts));
      restarts = Math.max(restarts, s.restarts);
      if (s.total) {
        const t = Math.floor((10 * s.received) / s.total);
        if (t > tenth && t < 10) {
          tenth = t;
          log(DownloadLogText.progress(s.received, s.total, s.speed));
        }
      }
    },
    end(r) {
      if (!started) this.state(r.state);
      if (r.ok) log(DownloadLogText.done(r.state.received, r.state.fetchedBytes, req.sha256 ? 'sha256' : req.md5 ? 'md5' : null, req.size !== undefined));
      else log(DownloadLogText.failed(r.error.text));
    },
  };
}

/**
 * The two steps of a download before an install: `download-request` starts it, `download` follows it (progress with
 * each progress event of the downloader, done when verified and in place) and points the install at the file.
 * `onFile` hears the downloaded path (the caller's cache bookkeeping); `note` is a first line for the operation log.
 */
/** How many steps downloadSteps makes (task-operations.ts weighs the phases by step). */
export const DOWNLOAD_STEP_COUNT = 2;

export function downloadSteps(downloader: Downloader, req: DownloadRequest, onFile?: (file: string) => void, note?: string): Step<TaskContext>[] {
  let id: number | undefined;
  let done: Promise<DownloadResult> | undefined;
  const cancelIfRunning = async () => {
    if (id === undefined) return;
    const s = downloader.get(id);
    if (s && ['queued', 'running', 'paused'].includes(s.phase)) await downloader.cancel(id);
  };
  return [
    {
      name: 'download-request',
      async work(ctx) {
        if (note) ctx.opLog?.(note); // e.g. where this package stands in a catalog install's chain
        const h = downloader.start(req);
        id = h.id;
        done = h.done;
      },
      undo: cancelIfRunning,
    },
    {
      name: 'download',
      async work(ctx, progress) {
        const logger = ctx.opLog ? downloadLogger(ctx.opLog, req) : undefined;
        const onProgress = (s: DownloadState) => {
          if (s.id !== id) return;
          logger?.state(s);
          if (s.phase === 'running') progress(downloadFacts(s));
        };
        // A cancel of the task's operation during the download cancels the download (its partial file goes).
        const onAbort = () => void cancelIfRunning();
        downloader.on('progress', onProgress);
        // Bytes that came before this step listened (a fast server, a stall after them) count at once.
        const now = id === undefined ? undefined : downloader.get(id);
        if (now) onProgress(now);
        ctx.signal?.addEventListener('abort', onAbort);
        if (ctx.signal?.aborted) onAbort();
        try {
          const r = await done!;
          logger?.end(r);
          if (!r.ok && ctx.signal?.aborted) throw new CodedError(ErrorCode.CANCELLED, ErrorText.INSTALL_CANCELLED);
          if (!r.ok) throw new DownloadFailed(r.error.code, UrlInstallText.downloadFailed(r.error.text));
          ctx.localIpk = r.state.path;
          onFile?.(r.state.path);
          return { ...downloadFacts(r.state), progress: 100 };
        } finally {
          ctx.signal?.removeEventListener('abort', onAbort);
          downloader.off('progress', onProgress);
        }
      },
      undo: cancelIfRunning,
    },
  ];
}
