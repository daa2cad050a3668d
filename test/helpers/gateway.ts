// Test harness for the HTTP gateway: `npm start`'s process (dist/services/main.js) on a temp root with the gateway on a
// free port, its admin token read from the tokens file, extra tokens/ACG files for limited clients, and a WebSocket
// client that behaves exactly as rdkcentral's ThunderJS does (subprotocol "notification", ids from 1,
// "<plugin>.<version>.<method>", register with id "client.<plugin>.events", notifications = !id && method).
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { startDaemon, makeRoot, type Daemon, type Json } from './appinstall-daemon';

export interface GatewayDaemon { d: Daemon; root: string; base: string; host: string; port: number; token: string }

/** Writes files under <root> before start (e.g. extra ACG roles/permissions), then starts with the gateway on port 0. */
export async function startGatewayDaemon(opts: { gateway?: Json; config?: Json; files?: Record<string, string>; tokens?: Record<string, string> } = {}): Promise<GatewayDaemon> {
  const root = makeRoot();
  for (const [rel, text] of Object.entries(opts.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  const d = await startDaemon({ root, config: { ...opts.config, gateway: { listen: ['127.0.0.1:0'], ...opts.gateway } } });
  const deadline = Date.now() + 15000;
  let m: RegExpExecArray | null = null;
  while (!(m = /gateway: listening on http:\/\/([0-9.]+):(\d+)/.exec(d.stderr()))) {
    if (Date.now() > deadline) throw new Error(`gateway did not listen; stderr:\n${d.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const file = path.join(root, 'etc/palm/gateway-tokens.json');
  const tokens = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, { name: string }>;
  const token = Object.keys(tokens).find((t) => tokens[t].name === 'com.webos.appinstall.admin')!;
  if (opts.tokens) {
    for (const [t, name] of Object.entries(opts.tokens)) tokens[t] = { name };
    fs.writeFileSync(file, JSON.stringify(tokens), { mode: 0o600 });
    await new Promise((r) => setTimeout(r, 1100)); // the store re-reads a changed file at most once a second
  }
  return { d, root, base: `http://${m[1]}:${m[2]}`, host: m[1], port: Number(m[2]), token };
}

/** A read-only client: an app role (regular, oem) whose client permissions hold only applications.management (listApps). */
export const READER = 'com.example.gateway.reader';
export const READER_FILES: Record<string, string> = {
  'usr/share/luna-service2/roles.d/reader.role.json': JSON.stringify({ appId: READER, type: 'regular', trustLevel: 'oem', allowedNames: [READER] }),
  'usr/share/luna-service2/client-permissions.d/reader.perm.json': JSON.stringify({ [READER]: ['applications.management', 'public'] }),
};

export async function rpc(base: string, token: string | null, body: unknown, opts: { path?: string; raw?: string; method?: string; bearer?: boolean } = {}): Promise<{ status: number; json: any; text: string }> {
  const url = `${base}${opts.path ?? '/jsonrpc'}${token && !opts.bearer ? `?token=${encodeURIComponent(token)}` : ''}`;
  const r = await fetch(url, {
    method: opts.method ?? 'POST',
    headers: { 'content-type': 'application/json', ...(token && opts.bearer ? { authorization: `Bearer ${token}` } : {}) },
    body: opts.method === 'GET' ? undefined : opts.raw ?? JSON.stringify(body),
  });
  const text = await r.text();
  let json: any = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, text };
}

/** ThunderJS's behaviour over a WebSocket (src/api/connect.js, makeBody.js, makeId.js, listener.js, requestQueueResolver.js). */
export class ThunderJsLike {
  private id = 0;
  private readonly pending = new Map<number, { resolve(v: any): void; reject(e: any): void }>();
  private readonly listeners = new Map<string, Array<(p: any) => void>>();
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      const data = JSON.parse(String(raw));
      if (!data.id && data.method) {
        for (const cb of this.listeners.get(data.method) ?? []) cb(data.params);
        return;
      }
      const p = this.pending.get(data.id);
      if (!p) return;
      this.pending.delete(data.id);
      if ('result' in data) p.resolve(data.result);
      else p.reject(data.error);
    });
  }
  static connect(host: string, port: number, token: string): Promise<ThunderJsLike> {
    const ws = new WebSocket(`ws://${host}:${port}/jsonrpc?token=${encodeURIComponent(token)}`, 'notification');
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new ThunderJsLike(ws)));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }
  /** thunder.PackageManager.<method>(params): version 1 in the designator; a `version` param must be versionAsParameter. */
  call(plugin: string, method: string, params?: Json): Promise<any> {
    const id = ++this.id;
    const body: Json = { jsonrpc: '2.0', id, method: `${plugin}.1.${method}` };
    if (params) {
      const p = { ...params };
      if ('versionAsParameter' in p) { p.version = p.versionAsParameter; delete p.versionAsParameter; }
      body.params = p;
    }
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify(body));
    });
  }
  /** thunder.on(plugin, event, cb): register with id "client.<plugin>.events", listen to "<id>.<event>". */
  async on(plugin: string, event: string, cb: (p: any) => void): Promise<void> {
    const key = `client.${plugin}.events.${event}`;
    const list = this.listeners.get(key) ?? [];
    list.push(cb);
    this.listeners.set(key, list);
    if (list.length === 1) await this.call(plugin, 'register', { event, id: `client.${plugin}.events` });
  }
  close(): void { this.ws.close(); }
}
