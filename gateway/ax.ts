// The AX (Autoxing) App Store API at /app_store/...: package list with every status and optional field,
// refresh/download/install/uninstall, install from a local file, task lists and logs by character range
// (X-MORE-DATA / X-TEXT-SIZE), firmware list/install/refresh; 201 on success, the seed's 400 bodies (docs/gateway.md).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayContext, Peer } from './server';
import type { CatalogEntry, EngineOperation, InstalledApp } from './backend';
import { localTime, type Op, type OpKind } from './operations';
import { compareVersions } from '../engine/version-compare';
import { AxText, axStatus, PeerError, type ErrorKind } from '../status-codes/peer-errors';

const NAME = { type: 'string', minLength: 1, maxLength: 128 };
const PACKAGES_BODY = { type: 'object', required: ['packages'], properties: { packages: { type: 'array', maxItems: 100, items: NAME } } };
const STATUS_MAP: Record<string, string> = {
  not_installed: 'not_installed', available: 'not_installed', upgradable: 'upgradable', up_to_date: 'up_to_date', installed: 'up_to_date',
  download_queued: 'download_queueing', download_queueing: 'download_queueing', download_running: 'downloading', downloading: 'downloading',
  download_done: 'downloaded', downloaded: 'downloaded', download_failed: 'download_failed',
  install_queued: 'install_queueing', install_queueing: 'install_queueing', install_running: 'installing', installing: 'installing', install_failed: 'install_failed',
  uninstall_queued: 'uninstall_queueing', uninstall_queueing: 'uninstall_queueing', uninstall_running: 'uninstalling', uninstalling: 'uninstalling', uninstall_failed: 'uninstall_failed',
};
/** How long a package list answer is reused (see the list route). */
const LIST_TTL_MS = 250;
const TASK_STATE: Record<string, string> = { queued: 'pending', running: 'running', succeeded: 'succeeded', failed: 'failed', cancelled: 'cancelled' };

interface AxPackage {
  name: string; latest_version: string; current_version: string; status: string;
  downloaded_versions?: string[]; downloading_version?: string; downloading_progress?: number; download_task_id?: number;
  installing_version?: string; installing_progress?: number; install_task_id?: number; install_failed_reason?: string;
  uninstall_task_id?: number; optional?: boolean;
}

export function axPeer(): Peer {
  let ctx: GatewayContext;
  const refuse = (reply: FastifyReply, kind: ErrorKind, text: string): FastifyReply =>
    reply.code(axStatus(kind)).send({ detail: kind === 'unauthorized' ? AxText.UNAUTHORIZED : kind === 'notFound' ? AxText.NOT_FOUND : text });
  const fromError = (reply: FastifyReply, e: unknown) => {
    const pe = e instanceof PeerError ? e : new PeerError('failed', (e as Error).message);
    return refuse(reply, pe.kind, pe.message);
  };
  /** The Secret header names the token; no address is exempt. */
  const auth = (req: FastifyRequest, reply: FastifyReply): string | null => {
    const s = req.headers.secret;
    const as = ctx.tokens.lookup(typeof s === 'string' ? s : undefined);
    if (!as) refuse(reply, 'unauthorized', AxText.UNAUTHORIZED);
    return as;
  };

  /**
   * The catalog (apps or firmware) plus what is installed but in no feed (an install_local_file): AX lists every
   * installed module, up to date with itself.
   */
  async function catalog(as: string, firmware: boolean): Promise<CatalogEntry[]> {
    const section = firmware ? 'firmware' : undefined;
    const [cat, installed] = await Promise.all([
      ctx.backend.catalog(as, { filter: 'all', section }),
      ctx.backend.listInstalled(as, section ? { section } : {}).catch((e) => {
        // Until the firmware section is on the bus the catalog alone answers for firmware.
        if (firmware && e instanceof PeerError && e.kind !== 'denied') return [] as InstalledApp[];
        throw e;
      }),
    ]);
    const out = cat.filter((e) => (e.candidate?.section === 'firmware') === firmware);
    const known = new Set(out.map((e) => e.name));
    if (firmware) {
      // The bus catalog knows installed apps only: an installed firmware's version comes from /installed.
      const have = new Map(installed.map((a) => [a.id, a.version]));
      for (const [i, e] of out.entries()) {
        const v = have.get(e.name);
        if (!v || e.installedVersion || !e.candidate) continue;
        out[i] = { ...e, installedVersion: v, status: compareVersions(v, e.candidate.version) < 0 ? 'upgradable' : 'up_to_date' };
      }
    }
    for (const a of installed) {
      if (known.has(a.id) || (a.section === 'firmware') !== firmware) continue;
      out.push({ name: a.id, installedVersion: a.version, candidate: { version: a.version }, status: 'up_to_date' });
      known.add(a.id);
    }
    // A module being installed from a file is in no feed and not installed yet: listed, as installing, meanwhile.
    for (const op of ctx.ops.list()) {
      if (known.has(op.id) || op.kind === 'remove' || op.kind === 'download' || (op.kind === 'firmware') !== firmware) continue;
      if (op.state !== 'running' && op.state !== 'queued') continue;
      out.push({ name: op.id, candidate: { version: op.version }, status: 'not_installed' });
      known.add(op.id);
    }
    return out;
  }

  function packageOf(e: CatalogEntry, firmware = false): AxPackage {
    const status = STATUS_MAP[String(e.status).toLowerCase().replace(/[\s-]+/g, '_')] ?? (e.installedVersion ? 'up_to_date' : 'not_installed');
    const p: AxPackage = { name: e.name, latest_version: e.candidate?.version ?? e.installedVersion ?? '', current_version: e.installedVersion ?? '', status };
    // An operation this gateway follows tells the live status, progress and task id.
    const op = ctx.ops.active(e.name) ?? ctx.ops.list().filter((o) => o.id === e.name).pop();
    if (op && (op.state === 'running' || op.state === 'queued')) {
      if (op.kind === 'remove') { p.status = op.state === 'queued' ? 'uninstall_queueing' : 'uninstalling'; p.uninstall_task_id = op.taskId; }
      else if (op.kind === 'download') {
        // A catalog download (the engine's operation): its progress is the download's own, 0..100.
        p.status = op.state === 'queued' ? 'download_queueing' : 'downloading'; p.downloading_version = op.version || p.latest_version;
        p.downloading_progress = Math.round(op.progress) / 100; p.download_task_id = op.taskId;
      } else if (op.progress < 90 && op.lastStatus !== undefined && [7, 8].includes(op.lastStatus)) {
        p.status = 'downloading'; p.downloading_version = op.version || p.latest_version; p.downloading_progress = op.progress / 90; p.download_task_id = op.taskId;
      } else {
        p.status = op.state === 'queued' ? 'install_queueing' : 'installing'; p.installing_version = op.version || p.latest_version;
        p.installing_progress = Math.round(op.progress) / 100; p.install_task_id = op.taskId;
      }
    } else if (op && op.state === 'failed' && op.kind !== 'remove' && p.status !== 'up_to_date') {
      p.status = 'install_failed'; p.install_failed_reason = op.errorText ?? ''; p.install_task_id = op.taskId;
    } else if (op && op.state === 'failed' && op.kind === 'remove') {
      p.status = 'uninstall_failed'; p.uninstall_task_id = op.taskId;
    }
    if (p.status === 'downloaded') p.downloaded_versions = [p.latest_version];
    // The seed's firmware entries have no "optional" (firmware is not the user's choice).
    if (!firmware) p.optional = true;
    return p;
  }

  function taskOf(op: Op, kind: string, base: string): Record<string, unknown> {
    return {
      id: op.taskId, status: TASK_STATE[op.state], module: op.id, version: op.version, create_time: localTime(op.createTime),
      start_time: localTime(op.startTime), end_time: localTime(op.endTime), url: `${base}/app_store/jobs/${kind}/tasks/${op.taskId}/log`,
    };
  }
  function engineTask(o: EngineOperation, kind: string, base: string): Record<string, unknown> {
    const id = ctx.ops.taskIdFor(o.handle);
    const t = (s?: string) => (s ? localTime(new Date(s)) : '');
    return { id, status: TASK_STATE[o.state] ?? o.state, module: o.id, version: o.version ?? '', create_time: t(o.createTime), start_time: t(o.startTime), end_time: t(o.endTime), url: `${base}/app_store/jobs/${kind}/tasks/${id}/log` };
  }
  /** Task log URLs name the address the client used (AX: http://<robot>:8090/...). */
  const baseOf = (req: FastifyRequest) => {
    const h = req.headers.host;
    return `http://${typeof h === 'string' && /^[A-Za-z0-9.:[\]-]{1,255}$/.test(h) ? h : `${ctx.host}:${req.raw.socket.localPort ?? 8090}`}`;
  };

  /** Runs per-package actions: 201 with the successes when any succeeded, else 400 with the per-package errors. */
  async function perPackage(reply: FastifyReply, names: string[], act: (n: string) => Promise<{ task_id: number; version: string }>, errorForm: 'string' | 'object') {
    const ok: Record<string, unknown> = {};
    const bad: Record<string, unknown> = {};
    for (const n of [...new Set(names)]) {
      try {
        ok[n] = await act(n);
      } catch (e) {
        const text = e instanceof PeerError || e instanceof Error ? e.message : String(e);
        bad[n] = errorForm === 'string' ? text : { error: text };
      }
    }
    return Object.keys(ok).length > 0 ? reply.code(201).send(ok) : reply.code(400).send(bad);
  }

  /** Starts an install/remove and answers once the bus accepted it (its first event) or refused it. */
  function start(kind: OpKind, target: { id: string; version?: string }, as: string, stream: import('rxjs').Observable<import('./backend').StatusEvent>): Promise<Op> {
    const op = ctx.ops.track(kind, target, as, stream);
    return new Promise((resolve, reject) => {
      const s = ctx.ops.changes$.subscribe((o) => {
        if (o !== op) return;
        s.unsubscribe();
        if (o.state === 'failed' && o.error instanceof PeerError && !o.startTime) reject(o.error);
        else resolve(o);
      });
      if (op.state !== 'queued') { s.unsubscribe(); resolve(op); }
    });
  }

  return {
    name: 'ax',
    owns: (url) => url.startsWith('/app_store/') || url === '/app_store' || url.startsWith('/device/info'),
    refuse,
    async register(app: FastifyInstance, c: GatewayContext) {
      ctx = c;
      await app.register(async (s) => {
        s.addHook('onRequest', async (req, reply) => {
          if (!auth(req, reply)) return reply;
        });
        const as = (req: FastifyRequest) => ctx.tokens.lookup(String(req.headers.secret))!;

        s.get('/device/info', async () => ({ caps: { supportsAppStore: true } }));
        // AX clients poll the list: one answer per client name is reused for LIST_TTL_MS, and dropped at once when
        // an operation the gateway follows changes (so statuses and progress are never older than that).
        // Concurrent requests that miss share one read of the bus (one in flight per client name).
        const lists = new Map<string, { at: number; json: Promise<string> }>();
        const sub = ctx.ops.changes$.subscribe(() => lists.clear());
        s.addHook('onClose', async () => sub.unsubscribe());
        const list = (firmware: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
          const who = as(req);
          const key = `${firmware ? 'f' : 'a'}:${who}`;
          let hit = lists.get(key);
          if (!hit || Date.now() - hit.at >= LIST_TTL_MS) {
            if (lists.size > 1000) lists.clear();
            const entry = { at: Date.now(), json: catalog(who, firmware).then((c) => JSON.stringify(c.map((e) => packageOf(e, firmware)))) };
            entry.json.catch(() => { if (lists.get(key) === entry) lists.delete(key); });
            lists.set(key, entry);
            hit = entry;
          }
          try {
            return reply.type('application/json; charset=utf-8').send(await hit.json);
          } catch (e) { return fromError(reply, e); }
        };
        s.get('/app_store/packages', list(false));
        s.get('/app_store/firmware/packages', list(true));
        // The seed: the store's refresh runs asynchronously and clients poll the list; the firmware refresh answers
        // {"status":200} once the feeds are read, so the next firmware list has the new packages.
        s.post('/app_store/services/refresh_store', async (req, reply) => {
          try { await ctx.backend.refreshFeeds(as(req)); return reply.code(201).send({}); } catch (e) { return fromError(reply, e); }
        });
        s.post('/app_store/firmware/refresh_store', async (req, reply) => {
          try { await ctx.backend.refreshFeedsDone(as(req)); lists.clear(); return reply.code(201).send({ status: 200 }); } catch (e) { return fromError(reply, e); }
        });
        s.post('/app_store/services/download_packages', { schema: { body: PACKAGES_BODY } }, async (req, reply) => {
          const who = as(req);
          let cat: CatalogEntry[];
          try { cat = await ctx.backend.catalog(who, { filter: 'all' }); } catch (e) { return fromError(reply, e); }
          return perPackage(reply, (req.body as { packages: string[] }).packages, async (n) => {
            const e = cat.find((x) => x.name === n);
            if (!e?.candidate) throw new Error(AxText.invalidModule(n));
            if (e.installedVersion && compareVersions(e.installedVersion, e.candidate.version) >= 0) throw new Error(AxText.upToDate(e.installedVersion));
            const op = await start('download', { id: n, version: e.candidate.version }, who, ctx.backend.downloadName(who, n, e.candidate.version));
            return { task_id: op.taskId, version: e.candidate.version };
          }, 'string');
        });
        const installPackages = (kind: 'install' | 'firmware') => async (req: FastifyRequest, reply: FastifyReply) => {
          const who = as(req);
          let cat: CatalogEntry[];
          try { cat = await catalog(who, kind === 'firmware'); } catch (e) { return fromError(reply, e); }
          return perPackage(reply, (req.body as { packages: string[] }).packages, async (n) => {
            const e = cat.find((x) => x.name === n);
            if (!e?.candidate) throw new Error(AxText.invalidModule(n));
            if (e.installedVersion && compareVersions(e.installedVersion, e.candidate.version) > 0) throw new Error(AxText.higherInstalled(e.installedVersion, e.candidate.version));
            if (e.installedVersion && e.installedVersion === e.candidate.version) throw new Error(AxText.upToDate(e.installedVersion));
            const op = await start(kind, { id: n, version: e.candidate.version }, who, ctx.backend.installName(who, n, e.candidate.version));
            return { task_id: op.taskId, version: e.candidate.version };
          }, 'object');
        };
        s.post('/app_store/services/install_packages', { schema: { body: PACKAGES_BODY } }, installPackages('install'));
        s.post('/app_store/firmware/install_packages', { schema: { body: PACKAGES_BODY } }, installPackages('firmware'));
        s.post('/app_store/services/uninstall_packages', { schema: { body: PACKAGES_BODY } }, async (req, reply) => {
          const who = as(req);
          let installed: InstalledApp[];
          try { installed = await ctx.backend.listInstalled(who); } catch (e) { return fromError(reply, e); }
          return perPackage(reply, (req.body as { packages: string[] }).packages, async (n) => {
            const a = installed.find((x) => x.id === n);
            if (!a) throw new Error(AxText.notInstalled(n));
            const op = await start('remove', { id: n, version: a.version }, who, ctx.backend.remove(who, n));
            return { task_id: op.taskId, version: a.version };
          }, 'object');
        });
        s.post('/app_store/services/install_local_file', {
          schema: { body: { type: 'object', required: ['filename'], properties: { filename: { type: 'string', minLength: 1, maxLength: 4096 } } } },
        }, async (req, reply) => {
          const who = as(req);
          const file = (req.body as { filename: string }).filename;
          // <id>_<version>[_<arch>].ipk (opkg's file name rule); the package itself is checked by the installer.
          const base = file.split('/').pop()!;
          const m = /^([^_]+)_([^_]+)(?:_[^_]+)?\.ipk$/.exec(base);
          if (!file.startsWith('/') || !m) return refuse(reply, 'invalidParams', `invalid package file ${file}: expected an absolute path to <id>_<version>[_<arch>].ipk`);
          const op = ctx.ops.track('install', { id: m[1], version: m[2] }, who, ctx.backend.installFile(who, m[1], file));
          const end = await ctx.ops.done(op);
          if (end.state !== 'succeeded') return end.error instanceof PeerError ? fromError(reply, end.error) : refuse(reply, 'failed', end.errorText ?? 'install failed');
          const v = (await ctx.backend.listInstalled(who).catch(() => [] as InstalledApp[])).find((a) => a.id === m[1])?.version ?? m[2];
          return reply.code(201).send({ module_name: m[1], version: v.replace(/-[A-Za-z0-9]+$/, '') });
        });
        const KIND = { type: 'object', properties: { kind: { type: 'string', enum: ['download', 'install'] }, id: { type: 'integer', minimum: 1, maximum: 2 ** 31 } } };
        s.get('/app_store/jobs/:kind/tasks', { schema: { params: KIND } }, async (req, reply) => {
          const kind = (req.params as { kind: string }).kind;
          const local = ctx.ops.list().filter((o) => (kind === 'download' ? o.kind === 'download' : o.kind !== 'download'));
          const base = baseOf(req);
          const out = local.map((o) => taskOf(o, kind, base));
          try {
            const known = new Set(local.map((o) => o.engineHandle).filter(Boolean));
            for (const o of await ctx.backend.operations(as(req))) {
              if (known.has(o.handle) || (kind === 'download') !== (o.kind === 'download')) continue;
              out.push(engineTask(o, kind, base));
            }
          } catch (e) {
            if (!(e instanceof PeerError) || e.kind !== 'unavailable') return fromError(reply, e);
          }
          return reply.send(out.sort((a, b) => Number(b.id) - Number(a.id)));
        });
        s.get('/app_store/jobs/:kind/tasks/:id/log', {
          schema: { params: KIND, querystring: { type: 'object', properties: { start: { type: 'integer', minimum: 0, maximum: 2 ** 31 }, end: { type: 'integer', minimum: 0, maximum: 2 ** 31 } } } },
        }, async (req, reply) => {
          const { id } = req.params as { id: number };
          const q = req.query as { start?: number; end?: number };
          const startAt = q.start ?? 0;
          const endAt = q.end === undefined || q.end === 0 ? undefined : q.end;
          let text: string, size: number, more: boolean;
          const op = ctx.ops.byTaskId(id);
          if (op && (op.log !== '' || !op.engineHandle)) {
            size = op.log.length;
            text = op.log.slice(startAt, endAt);
            more = op.state === 'queued' || op.state === 'running';
          } else {
            const h = op?.engineHandle ?? ctx.ops.engineHandleOf(id);
            if (!h) return refuse(reply, 'notFound', AxText.NOT_FOUND);
            try {
              const r = await ctx.backend.operation(as(req), h, startAt, endAt);
              text = r.log; size = r.logSize; more = r.moreData;
            } catch (e) { return fromError(reply, e); }
          }
          return reply.code(200).header('X-MORE-DATA', more ? 'true' : 'false').header('X-TEXT-SIZE', String(size)).type('text/plain; charset=utf-8').send(text);
        });
      });
    },
  };
}
