// One HTTP(S) GET of an attempt (attempt.ts) with node:http/https: the reply's status and headers, and its body as
// node:http gives it. Not fetch: undici's fetch copies every chunk once more into a new Uint8Array and passes it
// through a web stream (promises per chunk), the largest JavaScript cost of a 200 MB download in a profile
// (bench/download-bench.ts). As fetch did, a Content-Encoding the server sent anyway (we ask for identity) is
// decoded. No redirects, retries or checks of the reply here (attempt.ts does them).
import http from 'node:http';
import https from 'node:https';
import { finished, pipeline, type Readable } from 'node:stream';
import zlib from 'node:zlib';

/** A failure of the connection or of the reply's body (never of our own file system): attempt.ts retries these. */
export class NetworkError extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
  }
}

export interface Reply {
  status: number;
  statusText: string;
  /** A header's value (repeats joined as node:http joins them), or null. */
  header(name: string): string | null;
  body: Readable;
  /** Stop reading the body and close its connection. */
  drop(): void;
}

/** The headers fetch sent by default, so servers see the same request as before (a caller's own win). */
const DEFAULT_HEADERS = { accept: '*/*', 'user-agent': 'node' };

/** GET `url`; rejects with a NetworkError (or the signal's abort). The body must be read or dropped. */
export function get(url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // As fetch: credentials in a URL are refused, not turned into an Authorization header.
    if (url.username || url.password) return reject(new NetworkError(new TypeError('Request cannot be constructed from a URL that includes credentials')));
    const all: Record<string, string> = { ...DEFAULT_HEADERS };
    for (const [k, v] of Object.entries(headers)) all[k.toLowerCase()] = v;
    let req: http.ClientRequest;
    try {
      req = (url.protocol === 'https:' ? https : http).get(url, { headers: all, signal }, (res) => {
        const body = decoded(res);
        resolve({
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? '',
          header(name) {
            const v = res.headers[name];
            return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
          },
          body,
          drop: () => {
            res.destroy();
            if (body !== res) body.destroy();
          },
        });
      });
    } catch (e) {
      return reject(new NetworkError(e as Error));
    }
    // Errors after the reply (a cut body) come again through the body stream; this one stays for them.
    req.on('error', (e) => reject(signal.aborted ? e : new NetworkError(e)));
  });
}

/** The body with its Content-Encoding (gzip, deflate, br; a list is undone last first) decoded, as fetch decodes it. */
function decoded(res: http.IncomingMessage): Readable {
  const codings = String(res.headers['content-encoding'] ?? '').toLowerCase().split(',').map((c) => c.trim()).filter((c) => c && c !== 'identity');
  if (codings.length === 0 || [204, 304].includes(res.statusCode ?? 0)) return res;
  const decoders = codings.reverse().map((c) =>
    c === 'gzip' || c === 'x-gzip' ? zlib.createGunzip() : c === 'deflate' ? zlib.createInflate() : c === 'br' ? zlib.createBrotliDecompress() : null,
  );
  // An unknown coding is passed on as it is (as fetch does): the size or checksum check then refuses it.
  if (decoders.includes(null)) return res;
  const streams = decoders as Readable[];
  pipeline([res, ...streams] as unknown as [Readable, Readable], () => undefined); // a failure ends the last stream with it
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
        body.destroy();
        return settle(e, true);
      }
      if (next === true) {
        body.destroy();
        settle(null, false);
      } else if (next !== false) {
        body.pause();
        next.then(
          () => void (settled || body.resume()),
          (e: unknown) => {
            body.destroy();
            settle(e, true);
          },
        );
      }
    };
    const stopWatching = finished(body, (e) => (e ? settle(e.name === 'AbortError' ? e : new NetworkError(e), true) : settle(null, false)));
    body.on('data', onData);
  });
}
