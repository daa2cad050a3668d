// The downloader's data: requests, options, states and results (no behaviour; downloader.ts acts on them).
// Errors are values ({code, text}) from status-codes/index.ts, never thrown across the public API.
import type { DownloadErrorCodeValue } from '../status-codes';

export interface DownloadFailure {
  code: DownloadErrorCodeValue;
  text: string;
  /** HTTP status of the last reply, when there was one. */
  httpStatus?: number;
}

export interface DownloadRequest {
  /** http: or https: only. */
  url: string;
  /** Plain file name inside the download directory (checked by names.ts). */
  filename: string;
  /** Expected size in bytes (a feed's `Size`): checked before starting (free space), while receiving and at the end. */
  size?: number;
  /** Expected SHA-256 (hex); verified when given, else `md5`. */
  sha256?: string;
  md5?: string;
  /** Extra request headers (e.g. luna-downloadmgr's Auth-Token / Device-Id). */
  headers?: Record<string, string>;
}

export interface DownloaderOptions {
  /** Target directory; default `<root>/var/cache/appinstalld/downloads`. */
  dir?: string;
  root?: string;
  /** Downloads running at once; the rest wait in order. */
  concurrency?: number;
  /** Downloads waiting (queued or paused) at most; more are refused. */
  maxQueued?: number;
  /** Ended downloads whose states get()/list() still answer; the oldest are forgotten beyond this. */
  maxEndedKept?: number;
  /** Failed attempts in a row (no byte received) before giving up. */
  attempts?: number;
  /** Hard cap on attempts for one download, progress or not (a server that cuts after every byte). */
  maxTotalAttempts?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** No byte (or no reply headers) for this long aborts the attempt. */
  stallTimeoutMs?: number;
  maxRedirects?: number;
  /** Restarts from byte 0 (server ignored Range, If-Range validator changed, bad 206, 416) allowed per download. */
  maxRestarts?: number;
  /** Progress events at most this often per download (plus one at the end). */
  progressIntervalMs?: number;
  /** Free space kept beyond the download: max(this, 1 % of the size). */
  spaceMarginBytes?: number;
  /** Bound on a download without an expected size. */
  maxBytesWithoutSize?: number;
  /** Size of the reused buffers the body is gathered in, each hashed and then written whole; at most 16 are in
   * flight (download/batches.ts, attempt.ts). 1 MiB by default: 4 MiB measured slower (more kernel time per byte). */
  writeBatchBytes?: number;
  /** Hash in a worker thread (beside the network, on another core): 'auto' = for downloads of 8 MiB or more, or of
   * unknown size (the default, see DEFAULT_OPTIONS in downloader.ts). */
  hashInWorker?: 'auto' | 'always' | 'never';
  /** fsync the file before it is renamed into place (default true). */
  fsync?: boolean;
}

export type DownloadPhase = 'queued' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled';

/** A snapshot of one download, as events and queries carry it. */
export interface DownloadState {
  id: number;
  url: string;
  filename: string;
  /** Final path (exists only when completed). */
  path: string;
  partPath: string;
  phase: DownloadPhase;
  /** Bytes in the partial file (including what an earlier attempt or run left). */
  received: number;
  /** Expected total, when known (request's size, else the server's). */
  total?: number;
  /** Bytes already present when this download (re)started from a partial file. */
  initialOffset: number;
  /** Smoothed bytes per second. */
  speed: number;
  attempts: number;
  /** Times the download started again from 0 (Range ignored, validator changed, bad 206, 416). */
  restarts: number;
  /** Bytes received from the network by this downloader for this download (all attempts). */
  fetchedBytes: number;
  httpStatus?: number;
  error?: DownloadFailure;
  sha256?: string;
  startedAt: number;
  endedAt?: number;
}

export type DownloadResult =
  | { ok: true; state: DownloadState }
  | { ok: false; error: DownloadFailure; state: DownloadState };
