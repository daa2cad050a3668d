// One HTTP(S) GET of an attempt (attempt.ts) with undici's request(): the reply's status and headers, and its body as
// views of the socket's own reads. Not Node's fetch, which copies every chunk once more into a new Uint8Array and
// passes it through a web stream (promises per chunk), and not node:http, whose parser copies every chunk into fresh
// memory: on the 200 MB download bench (bench/download-bench.ts) those copies and their page faults (27,000 per
// download against 300) were the largest cost of the thread reading the socket. undici is the HTTP client Node's
// fetch is built on, the same major version as Node 20's. As fetch did, a Content-Encoding the server sent anyway
// (we ask for identity) is decoded. No redirects, retries or checks of the reply here (attempt.ts does them).
import http from 'node:http';
import { finished, pipeline, type Readable } from 'node:stream';
import zlib from 'node:zlib';
import { DownloadErrorText } from '../status-codes';

/** A failure of the connection or of the reply's body (never of our own file system): attempt.ts retries these. */
export class NetworkError extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
  }
}

export interface Reply {
  status: number;
  /** The standard reason phrase of the status (undici gives none). */
  statusText: string;
  /** A header's value (repeats joined by ", "), or null. */
  header(name: string): string | null;
  body: Readable;
  /** Stop reading the body and close its connection. */
  drop(): void;
}

/** The headers fetch sent by default, so servers see the same request as before (a caller's own win). */
const DEFAULT_HEADERS = { accept: '*/*', 'user-agent': 'node' };

/** GET `url` (redirects not followed); rejects with a NetworkError or the signal's abort. The body must be read or dropped. */
export async function get(url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<Reply> {
  // As fetch: credentials in a URL are refused, not turned into an Authorization header.
  if (url.username || url.password) throw new NetworkError(new TypeError(DownloadErrorText.credentialsInUrl));
  const all: Record<string, string> = { ...DEFAULT_HEADERS };
  for (const [k, v] of Object.entries(headers)) all[k.toLowerCase()] = v;
  // Loaded with the first download: a daemon that downloads nothing does not carry it.
  const { request } = await import('undici');
  let res: Awaited<ReturnType<typeof request>>;
  try {
    res = await request(url, { method: 'GET', headers: all, signal });
  } catch (e) {
    throw signal.aborted ? e : new NetworkError(e as Error);
  }
  const header = (name: string): string | null => {
    const v = res.headers[name];
    return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
  };
  const raw = res.body as unknown as Readable;
  const body = decoded(raw, header('content-encoding'), res.statusCode);
  return {
    status: res.statusCode,
    statusText: http.STATUS_CODES[res.statusCode] ?? '',
    header,
    body,
    drop: () => {
      dropQuietly(raw);
      if (body !== raw) dropQuietly(body);
    },
  };
}

/** Destroy a body we no longer read; the abort error undici's body then emits is ours, not worth hearing. */
function dropQuietly(body: Readable): void {
  if (body.destroyed) return;
  body.on('error', () => undefined);
  body.destroy();
}

/** The body with its Content-Encoding (gzip, deflate, br; a list is undone last first) decoded, as fetch decodes it. */
function decoded(body: Readable, encoding: string | null, status: number): Readable {
  const codings = (encoding ?? '').toLowerCase().split(',').map((c) => c.trim()).filter((c) => c && c !== 'identity');
  if (codings.length === 0 || status === 204 || status === 304) return body;
  const decoders = codings.reverse().map((c) =>
    c === 'gzip' || c === 'x-gzip' ? zlib.createGunzip() : c === 'deflate' ? zlib.createInflate() : c === 'br' ? zlib.createBrotliDecompress() : null,
  );
  // An unknown coding is passed on as it is (as fetch does): the size or checksum check then refuses it.
  if (decoders.includes(null)) return body;
  const streams = decoders as Readable[];
  pipeline([body, ...streams] as unknown as [Readable, Readable], () => undefined); // a failure ends the last stream with it
  return streams[streams.length - 1];
}

/**
 * Feeds the body's chunks to `onChunk` as they arrive ('data' events: no promise per chunk). `onChunk` returns true to
 * stop reading (the body is dropped), a promise to pause the body until it settles, or false. Resolves at the end of
 * the body or on a stop; rejects with what `onChunk` threw, the signal's abort, or a NetworkError (a cut, a reset).
 */
export function readBody(body: Readable, onChunk: (chunk: Buffer) => boolean | Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (error: unknown, failed: boolean) => {
      if (settled) return;
      settled = true;
      body.off('data', onData);
      stopWatching();
      if (failed) reject(error);
      else resolve();
    };
    const onData = (chunk: Buffer) => {
      let next: boolean | Promise<void>;
      try {
        next = onChunk(chunk);
      } catch (e) {
        dropQuietly(body);
        return settle(e, true);
      }
      if (next === true) {
        dropQuietly(body);
        settle(null, false);
      } else if (next !== false) {
        body.pause();
        next.then(
          () => void (settled || body.resume()),
          (e: unknown) => {
            dropQuietly(body);
            settle(e, true);
          },
        );
      }
    };
    const stopWatching = finished(body, (e) => (e ? settle(e.name === 'AbortError' ? e : new NetworkError(e), true) : settle(null, false)));
    body.on('data', onData);
  });
}
