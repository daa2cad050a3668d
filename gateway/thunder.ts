// Thunder PackageManager as JSON-RPC 2.0 over HTTP POST /jsonrpc[/<callsign>] and WebSocket on the same
// paths: designators, built-ins register/unregister/exists/versions, operationstatus events with LISA's strings and codes.
import type http from 'node:http';
import type net from 'node:net';
import Ajv, { type ValidateFunction } from 'ajv';
import { Observable } from 'rxjs';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { WebSocketServer, type WebSocket } from 'ws';
import { bearer } from './tokens';
import type { GatewayContext, Peer } from './server';
import type { Op } from './operations';
import type { StatusEvent } from './backend';
import { classifyBusError, PeerError, ThunderCode, ThunderText, thunderError, type ErrorKind } from '../status-codes/peer-errors';

export const CALLSIGNS = ['org.rdk.PackageManager', 'PackageManager'];
const SUBPROTOCOLS = ['notification', 'json', 'text', 'jsonrpc'];
const EVENTS = ['operationstatus', 'operationStatus'];
const MAX_REGISTRATIONS = 64;
/** Install/remove steps before the work starts (parse, update check, closing the app): a refusal there is the call's error. */
const EARLY = new Set([32, 33, 34, 35, 36, 37, 262, 263, 264]);

type Json = Record<string, any>;
interface RpcError { code: number; message: string }
class RpcFail extends Error {
  constructor(readonly code: number, message: string) { super(message); }
}
const wrong = () => new RpcFail(ThunderCode.WRONG_PARAMS, ThunderText.WRONG_PARAMS);

/** A caller: who it is (client name) and, on a WebSocket, its registrations. */
/** sock: the upgraded TCP socket under ws, for events written as pre-built frames (see send()). */
interface Channel { as: string; regs: Set<string>; ws?: WebSocket; sock?: net.Socket; watch?: boolean }

/**
 * One unmasked, unfragmented text frame (RFC 6455 §5.2), header and payload in one Buffer: built once per event and
 * registration id, then written as is to every socket (one write each, no per-socket framing, cork and writev).
 */
function textFrame(payload: Buffer): Buffer {
  const n = payload.length;
  const hl = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const b = Buffer.allocUnsafe(hl + n);
  b[0] = 0x81; // FIN, opcode 1 (text)
  if (n < 126) b[1] = n;
  else if (n < 65536) { b[1] = 126; b.writeUInt16BE(n, 2); }
  else { b[1] = 127; b.writeBigUInt64BE(BigInt(n), 2); }
  payload.copy(b, hl);
  return b;
}

// Parameter schemas per method, compiled once. Strings bounded; extra keys allowed (Thunder ignores them).
const S = { type: 'string', maxLength: 1024 };
const URL_S = { type: 'string', maxLength: 4096 };
const obj = (props: Record<string, object>, required: string[] = []) => ({ type: 'object', properties: props, required, additionalProperties: true });
const TIV = { type: S, id: S, version: S };
const SCHEMAS: Record<string, object> = {
  install: obj({ ...TIV, url: URL_S, appname: S, category: S }, ['id', 'url']),
  uninstall: obj({ ...TIV, uninstalltype: S }, ['id']),
  download: obj({ ...TIV, reskey: S, url: URL_S }, ['id']),
  reset: obj({ ...TIV, resettype: S }, ['id']),
  getstoragedetails: obj(TIV),
  setauxmetadata: obj({ ...TIV, key: S, value: { type: 'string', maxLength: 65536 } }, ['id', 'key', 'value']),
  clearauxmetadata: obj({ ...TIV, key: S }, ['id', 'key']),
  getmetadata: obj(TIV, ['id']),
  cancel: obj({ handle: S }, ['handle']),
  getprogress: obj({ handle: S }, ['handle']),
  getlist: obj({ ...TIV, appname: S, category: S }),
  lock: obj({ ...TIV, reason: S, owner: S }, ['id']),
  unlock: obj({ handle: S }, ['handle']),
  getlockinfo: obj(TIV, ['id']),
};
/** The entservices camelCase names, accepted as aliases (Thunder itself is case-sensitive). */
const ALIASES: Record<string, string> = {
  getStorageDetails: 'getstoragedetails', setAuxMetadata: 'setauxmetadata', clearAuxMetadata: 'clearauxmetadata',
  getMetadata: 'getmetadata', getProgress: 'getprogress', getList: 'getlist', getLockInfo: 'getlockinfo',
};
const ajv = new Ajv({ allErrors: false, strict: false });
const VALIDATE: Record<string, ValidateFunction> = Object.fromEntries(Object.entries(SCHEMAS).map(([m, s]) => [m, ajv.compile(s)]));

function toRpcError(e: unknown): RpcError {
  if (e instanceof RpcFail) return { code: e.code, message: e.message };
  if (e instanceof PeerError) return thunderError(e.kind);
  return thunderError('failed');
}

export function thunderPeer(): Peer {
  let ctx: GatewayContext;
  const channels = new Set<Channel>();
  let wss: WebSocketServer | null = null;
  let unsub: (() => void) | null = null;

  /** The designator after the path's callsign: [callsign.][version.]method → method, or an error. */
  function resolve(designator: string, pathCallsign: string | null): string {
    let rest = designator;
    const cs = CALLSIGNS.find((c) => rest.startsWith(`${c}.`));
    if (cs) rest = rest.slice(cs.length + 1);
    else if (pathCallsign === null) throw new RpcFail(ThunderCode.UNKNOWN_KEY, ThunderText.UNKNOWN_KEY);
    const m = /^(?:(\d+)\.)?([A-Za-z][A-Za-z0-9_]*)$/.exec(rest);
    if (!m) throw new RpcFail(ThunderCode.METHOD_NOT_FOUND, ThunderText.UNKNOWN_METHOD);
    if (m[1] !== undefined && m[1] !== '1') throw new RpcFail(ThunderCode.INVALID_PARAMS, ThunderText.VERSION_NOT_SUPPORTED);
    return m[2];
  }

  async function installed(as: string): Promise<Array<{ id: string; version: string; type: string }>> {
    return ctx.backend.listInstalled(as);
  }

  /** Runs one method (after the built-ins); returns the result member. */
  async function method(name: string, p: Json, ch: Channel): Promise<unknown> {
    const as = ch.as;
    switch (name) {
      case 'install': {
        // LISA: ERROR_APP_UNINSTALLING while the app's uninstall runs, else ERROR_TOO_MANY_REQUESTS while busy.
        const cur = ctx.ops.active(p.id);
        if (cur) throw cur.kind === 'remove' ? new RpcFail(ThunderCode.APP_UNINSTALLING, ThunderText.APP_UNINSTALLING) : new RpcFail(ThunderCode.TOO_MANY_REQUESTS, ThunderText.TOO_MANY_REQUESTS);
        const apps = await installed(as);
        if (p.version && apps.some((a) => a.id === p.id && a.version === p.version)) throw new RpcFail(ThunderCode.ALREADY_INSTALLED, ThunderText.ALREADY_INSTALLED);
        const url = String(p.url);
        const local = url.startsWith('file://') ? decodeURIComponent(url.slice(7)) : url.startsWith('/') ? url : null;
        // A local path installs at once; an http(s) url is downloaded by /install first (docs/appinstall.md); anything else is
        // taken as a feed and the package is installed by name from the catalog.
        const stream = local !== null ? ctx.backend.installFile(as, p.id, local)
          : /^https?:\/\//i.test(url) ? ctx.backend.installUrl(as, p.id, url)
            : ctx.backend.installName(as, p.id, p.version || undefined);
        return (await startOp('install', p, as, stream)).handle;
      }
      case 'uninstall': {
        const t = p.uninstalltype ?? 'full';
        if (t !== 'full' && t !== 'upgrade') throw wrong();
        const cur = ctx.ops.active(p.id);
        if (cur) throw cur.kind === 'remove' ? new RpcFail(ThunderCode.APP_UNINSTALLING, ThunderText.APP_UNINSTALLING) : new RpcFail(ThunderCode.TOO_MANY_REQUESTS, ThunderText.TOO_MANY_REQUESTS);
        return (await startOp('remove', p, as, ctx.backend.remove(as, p.id))).handle;
      }
      case 'download':
        return (await ctx.backend.download(as, p.id, p.version || undefined)).handle;
      case 'reset':
        await ctx.backend.resetStorage(as, p.id);
        return null;
      case 'getstoragedetails': {
        if (p.type && !p.id) throw wrong();
        const s = await ctx.backend.storage(as, p.id || undefined);
        const part = (x: { path: string; quotaKB: string | number; usedKB: string | number } | undefined) => ({ path: String(x?.path ?? ''), quotakb: x?.quotaKB === undefined || x?.quotaKB === null ? '' : String(x.quotaKB), usedkb: String(x?.usedKB ?? '0') });
        return { apps: part(s.apps), persistent: part(s.persistent) };
      }
      case 'setauxmetadata':
        await ctx.backend.setAux(as, p.id, p.key, p.value);
        return null;
      case 'clearauxmetadata':
        await ctx.backend.clearAux(as, p.id, p.key);
        return null;
      case 'getmetadata': {
        const m = await ctx.backend.metadata(as, p.id);
        const md = m.metadata ?? {};
        return {
          metadata: { appname: String(md.title ?? md.appname ?? p.id), type: String(md.type ?? p.type ?? ''), category: String(md.category ?? md.section ?? ''), url: String(md.url ?? md.ipkUrl ?? '') },
          resources: [],
          auxmetadata: Object.entries(m.aux ?? {}).map(([key, value]) => ({ key, value: String(value) })),
        };
      }
      case 'cancel': {
        const op = ctx.ops.get(p.handle);
        // LISA: only a running operation (LISA also refuses from 90 %; here the engine's commit point decides).
        if (!op || (op.state !== 'running' && op.state !== 'queued')) throw wrong();
        await ctx.backend.cancel(as, op.engineHandle ?? op.handle);
        return null;
      }
      case 'getprogress': {
        const op = ctx.ops.get(p.handle);
        if (!op || (op.state !== 'running' && op.state !== 'queued')) throw wrong();
        return op.progress;
      }
      case 'getlist': {
        const apps = await installed(as);
        return apps.filter((a) => (!p.id || a.id === p.id) && (!p.version || a.version === p.version)).map((a) => ({ id: a.id, version: a.version }));
      }
      case 'lock': {
        if (!p.id) throw wrong();
        const cur = ctx.ops.active(p.id);
        if (cur) throw cur.kind === 'remove' ? new RpcFail(ThunderCode.APP_UNINSTALLING, ThunderText.APP_UNINSTALLING) : new RpcFail(ThunderCode.TOO_MANY_REQUESTS, ThunderText.TOO_MANY_REQUESTS);
        return (await ctx.backend.lock(as, p.id, String(p.reason ?? ''), String(p.owner ?? ''))).handle;
      }
      case 'unlock':
        await ctx.backend.unlock(as, p.handle);
        return null;
      case 'getlockinfo':
        return ctx.backend.lockInfo(as, p.id);
    }
    throw new RpcFail(ThunderCode.METHOD_NOT_FOUND, ThunderText.UNKNOWN_METHOD);
  }

  /** Starts an operation; an immediate refusal by the bus (ACG, validation) is the call's error, not an event. */
  function startOp(kind: 'install' | 'remove', p: Json, as: string, stream: Observable<StatusEvent>): Promise<Op> {
    return new Promise<Op>((resolveOp, reject) => {
      let op: Op | undefined;
      let settled = false;
      const guarded = new Observable<StatusEvent>((sub) => {
        const s = stream.subscribe({
          next: (ev) => {
            // A refusal found in the first steps (app locked, package busy) is the call's error, as in LISA; the
            // handle is answered once the operation is past them.
            if (!settled && (ev.statusValue === 24 || ev.statusValue === 25)) {
              const kind = classifyBusError(Number(ev.details.errorCode ?? -1), String(ev.details.reason ?? ''));
              if (kind === 'locked' || kind === 'busy' || kind === 'uninstalling') {
                settled = true;
                if (op) op.silent = true;
                reject(new PeerError(kind, String(ev.details.reason)));
              }
            }
            if (!settled && !EARLY.has(ev.statusValue)) { settled = true; resolveOp(op!); }
            sub.next(ev);
          },
          error: (e: unknown) => {
            if (!settled) { settled = true; if (op) op.silent = true; reject(e); }
            sub.error(e); // the operation record ends too (else it would stay "queued" and block the package)
          },
          complete: () => sub.complete(),
        });
        return () => s.unsubscribe();
      });
      op = ctx.ops.track(kind, { id: p.id, version: p.version, type: p.type }, as, guarded);
      // A bus that accepted the call but has not pushed an event yet still gets a handle.
      setTimeout(() => { if (!settled) { settled = true; resolveOp(op!); } }, 2000).unref();
    });
  }

  /** One JSON-RPC message → the reply object, or null for a notification (no id). */
  async function handle(msg: unknown, ch: Channel, pathCallsign: string | null): Promise<Json | null> {
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      return { jsonrpc: '2.0', id: null, error: { code: ThunderCode.INVALID_REQUEST, message: ThunderText.INVALID_REQUEST } };
    }
    const m = msg as Json;
    const hasId = m.id !== undefined && m.id !== null;
    const id = typeof m.id === 'number' || typeof m.id === 'string' ? m.id : null;
    const reply = (body: Json) => (hasId ? { jsonrpc: '2.0', id, ...body } : null);
    if (m.jsonrpc !== '2.0' || typeof m.method !== 'string' || m.method.length > 256 || (hasId && id === null)) {
      return { jsonrpc: '2.0', id, error: { code: ThunderCode.INVALID_REQUEST, message: ThunderText.INVALID_REQUEST } };
    }
    try {
      const name = resolve(m.method, pathCallsign);
      const params = m.params;
      let result: unknown;
      if (name === 'register' || name === 'unregister') {
        if (typeof params !== 'object' || params === null || typeof params.event !== 'string' || typeof params.id !== 'string' || params.event.length > 128 || params.id.length > 256) {
          throw new RpcFail(ThunderCode.INVALID_PARAMS, ThunderText.INVALID_PARAMETERS);
        }
        const key = `${params.id}\u0000${params.event}`;
        if (name === 'register') {
          if (ch.regs.has(key)) throw new RpcFail(ThunderCode.DUPLICATE_KEY, ThunderText.DUPLICATE_REGISTRATION);
          if (ch.regs.size >= MAX_REGISTRATIONS) throw new RpcFail(ThunderCode.TOO_MANY_REQUESTS, ThunderText.TOO_MANY_REQUESTS);
          // Events show every operation: only a client that may watch them (call /status) may register for them.
          if (EVENTS.includes(params.event) && !ch.watch) {
            if (!(await ctx.backend.canWatch(ch.as))) throw new RpcFail(ThunderCode.NOT_ALLOWED, ThunderText.NOT_ALLOWED);
            ch.watch = true;
          }
          if (ch.regs.has(key)) throw new RpcFail(ThunderCode.DUPLICATE_KEY, ThunderText.DUPLICATE_REGISTRATION);
          ch.regs.add(key);
        } else if (!ch.regs.delete(key)) {
          throw new RpcFail(ThunderCode.METHOD_NOT_FOUND, ThunderText.REGISTRATION_NOT_FOUND);
        }
        result = 0;
      } else if (name === 'exists') {
        const target = typeof params === 'string' ? params : params?.method;
        const known = typeof target === 'string' && (target in SCHEMAS || target in ALIASES || ['register', 'unregister', 'exists', 'versions'].includes(target));
        result = typeof params === 'string' ? (known ? 0 : ThunderCode.UNKNOWN_KEY) : known;
      } else if (name === 'versions') {
        result = [1];
      } else {
        const canonical = ALIASES[name] ?? name;
        const validate = VALIDATE[canonical];
        if (!validate) throw new RpcFail(ThunderCode.METHOD_NOT_FOUND, ThunderText.UNKNOWN_METHOD);
        const p = params === undefined ? {} : params;
        if (!validate(p)) throw wrong();
        result = await method(canonical, p as Json, ch);
      }
      return reply({ result: result === undefined ? null : result });
    } catch (e) {
      return reply({ error: toRpcError(e) });
    }
  }

  function tokenOf(headers: http.IncomingHttpHeaders, url: string): string | undefined {
    const q = url.indexOf('?');
    if (q >= 0) {
      const t = new URLSearchParams(url.slice(q + 1)).get('token');
      if (t) return t;
    }
    return bearer(headers.authorization);
  }
  function pathCallsignOf(url: string): string | null | false {
    const p = url.split('?')[0].replace(/\/+$/, '');
    if (p === '/jsonrpc') return null;
    const m = /^\/jsonrpc\/([^/]+)$/.exec(p);
    if (!m) return false;
    return CALLSIGNS.includes(decodeURIComponent(m[1])) ? decodeURIComponent(m[1]) : false;
  }

  function notify(op: Op): void {
    // LISA: download (and reset, lock) never emit operationstatus; only installs and uninstalls do.
    if (channels.size === 0 || op.silent || op.kind === 'download') return;
    const params = {
      handle: op.handle,
      operation: op.kind === 'remove' ? 'Uninstalling' : 'Installing',
      type: op.type, id: op.id, version: op.version,
      status: op.state === 'succeeded' ? 'Success' : op.state === 'failed' ? 'Failed' : op.state === 'cancelled' ? 'Cancelled' : 'Progress',
      details: op.state === 'failed' ? op.errorText ?? '' : op.state === 'running' || op.state === 'queued' ? `${op.stage} ${op.progress} %` : '',
    };
    if (params.status === 'Progress' && (op.kind === 'remove' || (op as Op & { lastSent?: number }).lastSent === op.progress)) return;
    (op as Op & { lastSent?: number }).lastSent = op.progress;
    const paramsJson = JSON.stringify(params);
    const frames = new Map<string, Buffer>();
    for (const ch of channels) send(ch, paramsJson, frames);
  }

  /**
   * Sends one operationstatus to every registration of a channel: the params serialised once by the caller, and
   * each distinct message (most clients register as client.PackageManager.events) encoded once per event.
   */
  function send(ch: Channel, paramsJson: string, frames: Map<string, Buffer>): void {
    if (!ch.ws || ch.ws.readyState !== 1 || ch.ws.bufferedAmount > 4 * 1024 * 1024) return; // a reader that does not read loses events
    for (const key of ch.regs) {
      const [rid, event] = key.split('\u0000');
      if (!EVENTS.includes(event)) continue;
      let frame = frames.get(key);
      if (!frame) {
        frame = textFrame(Buffer.from(`{"jsonrpc":"2.0","method":${JSON.stringify(`${rid}.${event}`)},"params":${paramsJson}}`));
        if (frames.size < 1000) frames.set(key, frame);
      }
      // ws writes every message synchronously to the socket (permessage-deflate is off, so its sender never queues):
      // a frame written here directly keeps its place among the replies. The fallback is ws's own framing.
      if (ch.sock && ch.sock.writable) ch.sock.write(frame);
      else ch.ws.send(frame.subarray(frame[1] === 126 ? 4 : frame[1] === 127 ? 10 : 2), { binary: false });
    }
  }

  const refuse = (reply: FastifyReply, kind: ErrorKind, text: string): FastifyReply => {
    const e = thunderError(kind);
    const status = kind === 'unauthorized' ? 401 : kind === 'tooLarge' ? 413 : kind === 'rateLimited' ? 503 : kind === 'notFound' ? 404 : 400;
    void text;
    return reply.code(status).type('application/json').send({ jsonrpc: '2.0', id: null, error: e });
  };

  return {
    name: 'thunder',
    owns: (url) => url === '/jsonrpc' || url.startsWith('/jsonrpc/') || url.startsWith('/jsonrpc?'),
    refuse,
    async register(app: FastifyInstance, c: GatewayContext) {
      ctx = c;
      const sub = ctx.ops.changes$.subscribe(notify);
      unsub = () => sub.unsubscribe();
      wss = new WebSocketServer({
        noServer: true,
        maxPayload: ctx.config.wsMaxMessageBytes,
        perMessageDeflate: false,
        handleProtocols: (protocols) => [...protocols].find((p) => SUBPROTOCOLS.includes(p)) ?? false,
      });
      await app.register(async (scope) => {
        // Bodies are parsed here so that bad JSON gets Thunder's own 400, whatever the Content-Type.
        scope.removeAllContentTypeParsers();
        scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: ctx.config.maxBodyBytes }, (_req, body, done) => done(null, body));
        const route = async (req: import('fastify').FastifyRequest, reply: FastifyReply) => {
          const pc = pathCallsignOf(req.url);
          if (pc === false) return refuse(reply, 'notFound', req.url);
          if (req.method !== 'POST') return reply.code(405).type('text/plain').send(ThunderText.POST_ONLY);
          const as = ctx.tokens.lookup(tokenOf(req.headers, req.url));
          if (!as) return refuse(reply, 'unauthorized', ThunderText.UNAUTHORIZED);
          let msg: unknown;
          try {
            msg = JSON.parse(String(req.body ?? ''));
          } catch {
            return reply.code(400).send({ jsonrpc: '2.0', id: null, error: { code: ThunderCode.PARSE_ERROR, message: ThunderText.PARSE_ERROR } });
          }
          const out = await handle(msg, { as, regs: new Set() }, pc);
          if (out === null) return reply.code(204).send();
          return reply.code(200).type('application/json').send(out);
        };
        for (const url of ['/jsonrpc', '/jsonrpc/:callsign']) {
          scope.route({ method: ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'], url, schema: { params: { type: 'object', properties: { callsign: { type: 'string', maxLength: 64 } } } }, handler: route });
        }
      });
    },
    upgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer) {
      const url = req.url ?? '/';
      const pc = pathCallsignOf(url);
      const deny = (status: string) => socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      if (pc === false) return deny('404 Not Found');
      const as = ctx.tokens.lookup(tokenOf(req.headers, url));
      if (!as) return deny('401 Unauthorized');
      let wsCount = 0;
      for (const ch of channels) if (ch.ws) wsCount++;
      if (wsCount >= ctx.config.maxWebSockets) return deny('503 Service Unavailable');
      wss!.handleUpgrade(req, socket, head, (ws) => {
        socket.setTimeout(0);
        const ch: Channel = { as, regs: new Set(), ws, sock: socket };
        channels.add(ch);
        // Rate: a token bucket of wsMessagesPerSecond, burst twice that; over it a request gets 1002, and a client
        // that keeps flooding is closed (1008).
        const rate = ctx.config.wsMessagesPerSecond;
        let tokens = rate * 2;
        let last = Date.now();
        let strikes = 0;
        let alive = true;
        const ping = setInterval(() => {
          if (!alive) { ws.terminate(); return; }
          alive = false;
          ws.ping();
        }, ctx.config.idleTimeoutMs);
        ws.on('pong', () => { alive = true; });
        ws.on('message', (data, isBinary) => {
          alive = true;
          const now = Date.now();
          tokens = Math.min(rate * 2, tokens + ((now - last) / 1000) * rate);
          last = now;
          if (tokens < 1) {
            if (++strikes > rate * 4) { ws.close(1008, 'too many messages'); return; }
            const e = thunderError('rateLimited');
            let id: unknown = null;
            try { id = JSON.parse(String(data)).id ?? null; } catch { /* unparsable: id stays null */ }
            if (ws.bufferedAmount < 1024 * 1024) ws.send(JSON.stringify({ jsonrpc: '2.0', id, error: e }));
            return;
          }
          tokens -= 1;
          strikes = 0;
          let msg: unknown;
          try {
            msg = JSON.parse(isBinary ? Buffer.from(data as Buffer).toString('utf8') : String(data));
          } catch {
            ws.send(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: ThunderCode.PARSE_ERROR, message: ThunderText.PARSE_ERROR } }));
            return;
          }
          void handle(msg, ch, pc).then((out) => {
            if (out !== null && ws.readyState === 1) ws.send(JSON.stringify(out));
          });
        });
        ws.on('error', () => ws.terminate());
        ws.on('close', () => {
          clearInterval(ping);
          channels.delete(ch);
        });
      });
    },
    close() {
      unsub?.();
      for (const ch of channels) ch.ws?.terminate();
      channels.clear();
      wss?.close();
    },
  };
}
