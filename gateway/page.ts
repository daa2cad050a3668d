// The App Store page (docs/gateway.md): static files from gateway/page/ at `/` under a strict Content-Security-Policy, and
// its push channel GET /app_store/events (Secret header; one server-sent event per change of an operation).
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayContext, Peer } from './server';
import type { Op } from './operations';
import { AxText, axStatus, PageText, type ErrorKind } from '../status-codes/peer-errors';

/** The page's files (name -> content type); nothing else under page/ is served. */
const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
};
/** No inline script or style, nothing from elsewhere; the page talks to this gateway only. */
export const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
  + "font-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': PAGE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};
/** A keep-alive comment on idle event streams, well inside the gateway's idle timeout. */
const KEEPALIVE_MS = 15_000;

/** What one event tells the page about an operation (AX vocabulary: task id, module, 0–1 progress). */
export function pageEvent(op: Op): Record<string, unknown> {
  return {
    task_id: op.taskId, kind: op.kind === 'remove' ? 'uninstall' : op.kind, module: op.id, version: op.version,
    state: op.state, progress: Math.round(op.progress) / 100, stage: op.stage, error: op.errorText ?? '',
  };
}

export function pagePeer(dir = path.join(__dirname, 'page')): Peer {
  let ctx: GatewayContext;
  const streams = new Set<FastifyReply>();
  const refuse = (reply: FastifyReply, kind: ErrorKind, text: string): FastifyReply =>
    reply.code(axStatus(kind)).send({ detail: kind === 'unauthorized' ? AxText.UNAUTHORIZED : kind === 'notFound' ? AxText.NOT_FOUND : text });
  let unsub: (() => void) | null = null;

  const serve = (name: string) => async (_req: FastifyRequest, reply: FastifyReply) => {
    let body: Buffer;
    try { body = await fs.promises.readFile(path.join(dir, name)); } catch { return refuse(reply, 'notFound', AxText.NOT_FOUND); }
    return reply.code(200).headers(SECURITY_HEADERS).type(FILES[name]).send(body);
  };

  return {
    name: 'page',
    owns: (url) => { const p = url.split('?')[0]; return p === '/' || p === '/index.html' || p.startsWith('/page/') || p === '/app_store/events'; },
    refuse,
    async register(app: FastifyInstance, c: GatewayContext) {
      ctx = c;
      app.get('/', serve('index.html'));
      app.get('/index.html', serve('index.html'));
      for (const name of Object.keys(FILES)) if (name !== 'index.html') app.get(`/page/${name}`, serve(name));

      // Each change once: the bus repeats a stage's event with the same progress, which tells the page nothing new.
      const lastSent = new WeakMap<Op, string>();
      const sub = ctx.ops.changes$.subscribe((op) => {
        if (op.silent || streams.size === 0) return;
        const json = JSON.stringify(pageEvent(op));
        if (lastSent.get(op) === json) return;
        lastSent.set(op, json);
        const line = `data: ${json}\n\n`;
        for (const r of streams) if (r.raw.writableLength < 1024 * 1024) r.raw.write(line); // a reader that does not read loses events
      });
      unsub = () => sub.unsubscribe();

      // Server-sent events read with fetch (the token goes in the Secret header, never in the URL). Every operation
      // shows here, so only a client that may watch them (may call /status) gets the stream, as Thunder's events.
      app.get('/app_store/events', async (req, reply) => {
        const s = req.headers.secret;
        const as = ctx.tokens.lookup(typeof s === 'string' ? s : undefined);
        if (!as) return refuse(reply, 'unauthorized', AxText.UNAUTHORIZED);
        try {
          if (!(await ctx.backend.canWatch(as))) return refuse(reply, 'denied', PageText.EVENTS_DENIED);
        } catch (e) { return refuse(reply, 'failed', (e as Error).message); }
        if (streams.size >= ctx.config.maxWebSockets) return refuse(reply, 'rateLimited', PageText.TOO_MANY_STREAMS);
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
        res.write(': ok\n\n');
        req.raw.socket.setTimeout(0);
        streams.add(reply);
        const ping = setInterval(() => res.write(': keep-alive\n\n'), KEEPALIVE_MS);
        const end = () => { clearInterval(ping); streams.delete(reply); };
        res.on('close', end);
        res.on('error', end);
      });
    },
    close() {
      unsub?.();
      for (const r of streams) r.raw.destroy();
      streams.clear();
    },
  };
}
