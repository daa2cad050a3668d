// The HTTP gateway (docs/gateway.md): one fastify app on every configured address, each peer API a plugin at its own paths
// (thunder.ts, olares.ts, domogik.ts, ax.ts) over one Backend; connection, body, timeout and WebSocket limits here.
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Backend } from './backend';
import type { GatewayConfig } from './config';
import { Operations } from './operations';
import type { TokenStore } from './tokens';
import { GatewayText, PeerError, type ErrorKind } from '../status-codes/peer-errors';
import { thunderPeer } from './thunder';
import { olaresPeer } from './olares';
import { domogikPeer } from './domogik';
import { axPeer } from './ax';
import { pagePeer } from './page';

export interface GatewayContext {
  backend: Backend;
  tokens: TokenStore;
  config: GatewayConfig;
  ops: Operations;
  log(line: string): void;
  /** This device's host name (Domogik's <host>, AX task log URLs). */
  host: string;
  /** Where PUT uploads are written before they are installed. */
  uploadDir: string;
}

/** One peer API: its paths, its plugin, its error form, and optionally WebSocket upgrades. */
export interface Peer {
  name: string;
  owns(url: string): boolean;
  register(app: FastifyInstance, ctx: GatewayContext): Promise<void>;
  /** Sends a refusal in this peer's own form. */
  refuse(reply: FastifyReply, kind: ErrorKind, text: string): FastifyReply;
  upgrade?(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void;
  close?(): void;
}

export interface RunningGateway {
  /** "host:port" actually bound, per configured address. */
  addresses: string[];
  stop(): Promise<void>;
}

type CountedSocket = net.Socket & { gwOver?: boolean; gwAddr?: string };

export async function startGateway(opts: { config: GatewayConfig; backend: Backend; tokens: TokenStore; log(line: string): void; uploadDir: string }): Promise<RunningGateway> {
  const { config } = opts;
  const ctx: GatewayContext = { backend: opts.backend, tokens: opts.tokens, config, ops: new Operations(), log: opts.log, host: os.hostname(), uploadDir: opts.uploadDir };
  const peers: Peer[] = [thunderPeer(), olaresPeer(), domogikPeer(), axPeer(), pagePeer()];
  const peerFor = (url: string) => peers.find((p) => p.owns(url));

  const serverOpts: http.ServerOptions = {
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: 5000,
    connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs),
    maxHeaderSize: 16 * 1024,
  };
  const servers: http.Server[] = [];
  // Unparsable requests, header overflows and slow clients get a bare 400/431/408 and the connection ends (no peer
  // is known before a request line has been parsed).
  const clientError = (err: NodeJS.ErrnoException, sock: net.Socket) => {
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    if (sock.writable && !sock.destroyed) sock.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    else sock.destroy();
  };
  let handler: http.RequestListener | undefined;
  const app = Fastify({
    logger: false,
    bodyLimit: config.maxBodyBytes,
    routerOptions: { maxParamLength: 256 },
    return503OnClosing: true,
    clientErrorHandler: clientError,
    serverFactory: (h) => {
      handler = h;
      const s = http.createServer(serverOpts, h);
      servers.push(s);
      return s;
    },
  });

  // Connections: total and per remote address. A connection over a limit is answered (in the peer's own form, at
  // its first request) and closed; one that sends nothing is cut after a short grace.
  const perAddr = new Map<string, number>();
  let total = 0;
  const onConnection = (sock: CountedSocket) => {
    const addr = sock.remoteAddress ?? '?';
    const n = (perAddr.get(addr) ?? 0) + 1;
    perAddr.set(addr, n);
    total++;
    sock.gwAddr = addr;
    if (n > config.maxConnectionsPerAddress || total > config.maxConnections) {
      sock.gwOver = true;
      setTimeout(() => sock.destroy(), 2000).unref();
    }
    sock.setTimeout(config.idleTimeoutMs, () => sock.destroy());
    sock.once('close', () => {
      total--;
      const m = (perAddr.get(addr) ?? 1) - 1;
      if (m <= 0) perAddr.delete(addr);
      else perAddr.set(addr, m);
    });
  };

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if ((req.raw.socket as CountedSocket).gwOver) {
      reply.header('connection', 'close');
      const peer = peerFor(req.url);
      if (peer) return peer.refuse(reply, 'rateLimited', GatewayText.tooManyConnections);
      return reply.code(503).send({ error: GatewayText.tooManyConnections });
    }
  });
  app.setNotFoundHandler((req, reply) => {
    const peer = peerFor(req.url);
    if (peer) return peer.refuse(reply, 'notFound', `${req.method} ${req.url.split('?')[0]}`);
    return reply.code(404).send({ error: 'Not Found' });
  });
  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown; code?: string }, req, reply) => {
    const peer = peerFor(req.url);
    const kind: ErrorKind = err.statusCode === 413 ? 'tooLarge' : err.statusCode && err.statusCode < 500 ? 'invalidParams' : 'failed';
    if (kind === 'failed') ctx.log(`gateway: ${req.method} ${req.url.slice(0, 200)}: ${err.message}`);
    if (peer) return peer.refuse(reply, kind, err.message);
    return reply.code(err.statusCode ?? 500).send({ error: err.message });
  });

  for (const p of peers) await p.register(app, ctx);
  await app.ready();
  const following = follow(ctx);
  if (!handler) throw new Error('gateway: no HTTP server');

  const onUpgrade = (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const peer = peerFor(req.url ?? '/');
    if ((socket as CountedSocket).gwOver || !peer?.upgrade) {
      socket.end(`HTTP/1.1 ${(socket as CountedSocket).gwOver ? '503 Service Unavailable' : '404 Not Found'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    peer.upgrade(req, socket, head);
  };

  const addresses: string[] = [];
  try {
    for (let i = 0; i < config.listen.length; i++) {
      const s = i === 0 ? servers[0] : http.createServer(serverOpts, handler);
      if (i > 0) servers.push(s);
      s.on('connection', onConnection);
      s.on('upgrade', onUpgrade);
      if (i > 0) s.on('clientError', clientError); // fastify installs it on its own server
      const { host, port } = config.listen[i];
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen({ host, port, backlog: 511 }, () => {
          s.off('error', reject);
          resolve();
        });
      });
      const a = s.address() as net.AddressInfo;
      addresses.push(a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`);
    }
  } catch (e) {
    for (const s of servers) if (s.listening) s.close();
    for (const p of peers) p.close?.();
    following.unsubscribe();
    throw e;
  }
  return {
    addresses,
    async stop() {
      following.unsubscribe();
      for (const p of peers) p.close?.();
      await Promise.all(servers.filter((s) => s.listening).map((s) => new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      })));
    },
  };
}

/**
 * Operations other front-ends start (luna-send, ares-cli, another peer API) become records too, so that every peer
 * shows them: from the engine's /operations/list once it is on the bus, else from the service's /status.
 */
function follow(ctx: GatewayContext): { unsubscribe(): void } {
  let current: { unsubscribe(): void } | null = null;
  let stopped = false;
  const onStatus = () => {
    current = ctx.backend.statusChanges().subscribe({
      next: (ev) => ctx.ops.observeStatus(ev),
      error: (e: Error) => { if (!stopped) ctx.log(`gateway: following /status ended: ${e.message}`); },
    });
  };
  current = ctx.backend.operationChanges().subscribe({
    next: (o) => ctx.ops.observeEngine(o),
    error: (e: Error) => {
      if (stopped) return;
      if (e instanceof PeerError && e.kind === 'unavailable') onStatus();
      else ctx.log(`gateway: following /operations/list ended: ${e.message}`);
    },
  });
  return { unsubscribe() { stopped = true; current?.unsubscribe(); } };
}

/** The uploads directory under the root. */
export function uploadDirOf(root: string): string {
  return path.join(root, 'var/cache/appinstalld/gateway-uploads');
}
