// Test helper: a small HTTP server that serves one file and misbehaves on purpose, request by request (cuts the
// connection at a byte offset, ignores Range, sends wrong bytes or more than asked, answers an error, stalls,
// changes its ETag). It counts the body bytes it sends. Not a general web server.
import http from 'node:http';
import type net from 'node:net';

export interface Behaviour {
  /** Answer this status with a short body instead of the file. */
  status?: number;
  /** Destroy the connection after this many body bytes of this response. */
  cutAt?: number;
  /** Answer 200 with the whole file even to a Range request. */
  ignoreRange?: boolean;
  /** ETag of this response (and the one If-Range must match); default `"v1"`. */
  etag?: string;
  /** Serve these bytes instead of the file (wrong bytes, other version). */
  body?: Buffer;
  /** Append this many extra bytes after the file (a server sending more than Size), without Content-Length. */
  extra?: number;
  /** Announce this Content-Length instead of the true one. */
  contentLength?: number | null;
  /** Send the headers and this many bytes, then nothing more (a stall). */
  stallAfter?: number;
  /** Content-Range start to claim in a 206 instead of the asked one. */
  wrongRangeStart?: number;
  /** Redirect to this location. */
  redirect?: string;
  /** Send the body slowly: this many bytes per second, in 10 chunks a second (a slow network, for progress and cancel). */
  bytesPerSecond?: number;
}

export interface BadServer {
  url: string;
  /** Body bytes written to clients (all requests). */
  served(): number;
  requests: { url: string; range?: string; ifRange?: string; headers: http.IncomingHttpHeaders }[];
  close(): Promise<void>;
}

export async function startBadServer(file: Buffer, plan: (n: number, req: http.IncomingMessage) => Behaviour): Promise<BadServer> {
  let served = 0;
  const requests: BadServer['requests'] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const n = requests.length;
    requests.push({ url: req.url ?? '', range: req.headers.range, ifRange: req.headers['if-range'] as string | undefined, headers: req.headers });
    const b = plan(n, req);
    if (b.redirect) {
      res.writeHead(302, { location: b.redirect });
      return res.end();
    }
    if (b.status) {
      res.writeHead(b.status, { 'content-type': 'text/plain' });
      return res.end(`status ${b.status}\n`);
    }
    const data = b.body ?? file;
    const etag = b.etag ?? '"v1"';
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    const useRange = m && !b.ignoreRange && (ifRange === undefined || ifRange === etag);
    let start = 0;
    const headers: http.OutgoingHttpHeaders = { etag, 'accept-ranges': 'bytes' };
    if (useRange) {
      start = Number(m![1]);
      if (start >= data.length) {
        res.writeHead(416, { 'content-range': `bytes */${data.length}` });
        return res.end();
      }
      headers['content-range'] = `bytes ${b.wrongRangeStart ?? start}-${data.length - 1}/${data.length}`;
    }
    let body = data.subarray(start);
    if (b.extra) body = Buffer.concat([body, Buffer.alloc(b.extra, 0x41)]);
    else if (b.contentLength !== null) headers['content-length'] = b.contentLength ?? body.length;
    res.writeHead(useRange ? 206 : 200, headers);
    const limit = b.stallAfter ?? b.cutAt;
    if (limit === undefined && b.bytesPerSecond) {
      const chunk = Math.max(1, Math.floor(b.bytesPerSecond / 10));
      let at = 0;
      const tick = setInterval(() => {
        if (res.destroyed || at >= body.length) {
          clearInterval(tick);
          if (!res.destroyed) res.end();
          return;
        }
        const part = body.subarray(at, at + chunk);
        at += part.length;
        served += part.length;
        res.write(part);
      }, 100);
      res.once('close', () => clearInterval(tick));
      return;
    }
    if (limit === undefined) {
      served += body.length;
      return res.end(body);
    }
    const part = body.subarray(0, limit);
    served += part.length;
    res.write(part, () => {
      if (b.cutAt !== undefined) res.socket?.destroy();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    served: () => served,
    requests,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
