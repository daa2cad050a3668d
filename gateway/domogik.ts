// Domogik's REST /package over the engine and feeds: every route with its exact envelope ("status",
// "code", "description":"None"), errors as HTTP 200 text/html code 999, booleans as "True"/"False", JSONP callback=,
// and install_from_path by PUT upload of an .ipk (docs/gateway.md).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayContext, Peer } from './server';
import { dependsOf, type CatalogEntry, type InstalledApp, type StatusEvent } from './backend';
import type { Observable } from 'rxjs';
import { bearer } from './tokens';
import { DOMOGIK_ERROR_CODE, DomogikText, domogikErrorText, GatewayText, PeerError, type ErrorKind } from '../status-codes/peer-errors';

const CALLBACK_RE = /^[A-Za-z_$][A-Za-z0-9_$.]{0,63}$/;
const FILENAME_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}\.ipk$/;
/** Segment counts after /package/<verb> (Domogik checks them exactly). */
const ARITY: Record<string, number> = {
  'get-mode': 0, 'list-repo': 0, 'update-cache': 0, available: 2, installed: 2, dependency: 4, install: 4,
  install_from_path: 1, uninstall: 3, download: 3,
};

type Item = Record<string, unknown>;
/** Domogik's serializer: booleans as "True"/"False", an empty list inside an object as "". */
function domogikValue(v: unknown, nested: boolean): unknown {
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (Array.isArray(v)) return v.length === 0 && nested ? '' : v.map((x) => domogikValue(x, true));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, domogikValue(x, true)]));
  return v;
}

export function domogikPeer(): Peer {
  let ctx: GatewayContext;

  function send(req: FastifyRequest, reply: FastifyReply, body: string, contentType: string): FastifyReply {
    const cb = (req.query as { callback?: string } | undefined)?.callback;
    const out = cb && CALLBACK_RE.test(cb) ? `${cb} (${body})` : body;
    return reply.code(200).header('Expires', '-1').header('Cache-control', 'no-cache').type(contentType).send(out);
  }
  function ok(req: FastifyRequest, reply: FastifyReply, type?: string, items: Item[] | string[] = []): FastifyReply {
    const head = `{"status" : "OK", "code" : 0, "description" : "None"`;
    const body = type === undefined ? `${head}}` : `${head}, ${JSON.stringify(type)} : ${JSON.stringify(domogikValue(items, false))}}`;
    return send(req, reply, body, 'application/json');
  }
  function error(req: FastifyRequest, reply: FastifyReply, description: string): FastifyReply {
    return send(req, reply, `{"status" : "ERROR", "code" : ${DOMOGIK_ERROR_CODE}, "description" : ${JSON.stringify(description)}}`, 'text/html');
  }
  const refuse = (reply: FastifyReply, kind: ErrorKind, text: string): FastifyReply => {
    if (kind === 'tooLarge') reply.header('connection', 'close');
    return error(reply.request, reply, domogikErrorText(kind, text));
  };
  const fromError = (req: FastifyRequest, reply: FastifyReply, e: unknown) => {
    const pe = e instanceof PeerError ? e : new PeerError('failed', (e as Error).message);
    return error(req, reply, domogikErrorText(pe.kind, pe.message));
  };
  const notFound = (reply: FastifyReply) => reply.code(404).type('text/html').send(DomogikText.NOT_FOUND_BODY);

  /** Runs an install/remove to its end (as the Domogik manager does before answering). */
  async function run(kind: 'install' | 'remove', target: { id: string; version?: string }, as: string, stream: Observable<StatusEvent>): Promise<void> {
    const end = await ctx.ops.done(ctx.ops.track(kind, target, as, stream));
    if (end.state === 'succeeded') return;
    if (end.error instanceof PeerError) throw end.error;
    throw new PeerError('failed', end.errorText ?? end.state);
  }

  const section = (type: string) => (type === 'firmware' ? 'firmware' : undefined);
  const isFirmware = (e: { section?: string; candidate?: { section?: string } }) => (e.section ?? e.candidate?.section) === 'firmware';
  function packageItem(e: CatalogEntry, type: string): Item {
    const c = e.candidate ?? { version: '' };
    const deps = dependsOf(c).map((d) => ({ type, id: d }));
    return {
      category: c.section ?? '', documentation: '', description: c.description ?? '', author: '', author_email: '', changelog: '',
      domogik_min_version: '', archive_url: '', priority: '', source: c.feed ?? '', generated: '', dependencies: deps,
      version: c.version, fullname: `${type}-${e.name}`, type, id: e.name, name: e.name,
    };
  }

  async function dispatch(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const rawPath = req.url.split('?')[0];
    const segs = rawPath.split('/').slice(2).filter((s, i, a) => s !== '' || i < a.length - 1).map((s) => { try { return decodeURIComponent(s); } catch { return s; } });
    const cb = (req.query as { callback?: string }).callback;
    if (cb !== undefined && !CALLBACK_RE.test(cb)) return error(req, reply, DomogikText.BAD_CALLBACK);
    const as = ctx.tokens.lookup(bearer(req.headers.authorization));
    if (!as) return error(req, reply, DomogikText.UNAUTHORIZED);
    if (segs.length === 0 || segs[0] === '') return error(req, reply, DomogikText.URL_TOO_SHORT);
    const verb = segs[0];
    const args = segs.slice(1);
    if (verb === 'icon') return icon(req, reply, as, args);
    if (!(verb in ARITY)) return error(req, reply, DomogikText.BAD_OPERATION);
    if (args.length !== ARITY[verb]) return error(req, reply, DomogikText.wrongSyntax(verb));
    if (['available', 'installed', 'dependency', 'install', 'install_from_path', 'uninstall'].includes(verb)) {
      const host = args[0];
      if (host !== ctx.host && host !== 'localhost') return error(req, reply, DomogikText.unknownHost(host, ctx.host));
    }
    let type = 'app';
    if (['available', 'installed', 'dependency', 'install', 'uninstall'].includes(verb)) {
      type = args[1] === 'plugin' ? 'app' : args[1];
      if (type !== 'app' && type !== 'firmware') return error(req, reply, DomogikText.badType(args[1]));
    }
    const shownType = args[1] === 'plugin' ? 'plugin' : type;
    if (verb === 'install_from_path' ? req.method !== 'PUT' : req.method !== 'GET') return error(req, reply, DomogikText.BAD_OPERATION);
    try {
      switch (verb) {
        case 'get-mode':
          return ok(req, reply, 'mode', ['normal']);
        case 'list-repo': {
          // Sorted by priority, highest first, as numbers (Domogik compares the strings: "1000" < "500").
          const feeds = await ctx.backend.feeds(as);
          const repos = feeds.map((f) => ({ url: f.url.replace(/\/+$/, ''), priority: String(f.priority) })).sort((a, b) => Number(b.priority) - Number(a.priority));
          return ok(req, reply, 'repository', repos);
        }
        case 'update-cache':
          await ctx.backend.refreshFeedsDone(as);
          return ok(req, reply, 'cache', []);
        case 'available': {
          const list = (await ctx.backend.catalog(as, { filter: 'available', section: section(type) })).filter((e) => isFirmware(e) === (type === 'firmware'));
          return ok(req, reply, 'package', list.sort((a, b) => a.name.localeCompare(b.name)).map((e) => packageItem(e, shownType)));
        }
        case 'installed': {
          const apps = (await ctx.backend.listInstalled(as, { section: section(type) })).filter((a: InstalledApp) => (a.section === 'firmware') === (type === 'firmware'));
          let updates: CatalogEntry[] = [];
          try {
            updates = await ctx.backend.catalog(as, { filter: 'upgradable', section: section(type) });
          } catch (e) {
            if (!(e instanceof PeerError) || e.kind !== 'unavailable') throw e; // no feeds on the bus yet: no updates known
          }
          return ok(req, reply, 'package', apps.map((a) => ({
            enabled: true, version: a.version,
            updates: updates.filter((u) => u.name === a.id && u.candidate).map((u) => ({ type: shownType, id: u.name, version: u.candidate!.version, priority: '', changelog: '' })),
            fullname: `${shownType}-${a.id}`, type: shownType, id: a.id,
          })));
        }
        case 'dependency': {
          const id = args[2], release = args[3];
          const entry = (await ctx.backend.catalog(as, { filter: 'all', section: section(type) })).find((e) => e.name === id && e.candidate?.version === release);
          if (!entry) return error(req, reply, DomogikText.NO_PACKAGE);
          const installed = await ctx.backend.listInstalled(as);
          const deps = dependsOf(entry.candidate).map((d) => {
            const name = d.split(/[\s(|]/)[0];
            const have = installed.find((a) => a.id === name);
            return { name: d, candidate: '', error: '', installed: !!have, cmd_line: have ? '' : 'Install from Domogik Administration', version: have?.version ?? '', type: shownType };
          });
          return ok(req, reply, 'dependency', deps);
        }
        case 'install': {
          const id = args[2], release = args[3];
          await run('install', { id, version: release }, as, ctx.backend.installName(as, id, release));
          return ok(req, reply, 'install', []);
        }
        case 'install_from_path':
          return await upload(req, reply, as);
        case 'uninstall': {
          // The seed passes the fullname (plugin-onewire); the id alone is accepted too.
          let id = args[2];
          for (const p of [`${args[1]}-`, `${type}-`]) if (id.startsWith(p)) id = id.slice(p.length);
          await run('remove', { id }, as, ctx.backend.remove(as, id));
          return ok(req, reply, 'uninstall', []);
        }
        case 'download':
          return notFound(reply);
      }
    } catch (e) {
      return fromError(req, reply, e);
    }
    return error(req, reply, DomogikText.BAD_OPERATION);
  }

  async function icon(req: FastifyRequest, reply: FastifyReply, as: string, args: string[]): Promise<FastifyReply> {
    if (args[0] === 'available' && args.length === 4) return notFound(reply); // catalog packages carry no icon
    if (args[0] !== 'installed' || args.length !== 3) return error(req, reply, DomogikText.wrongSyntax('icon'));
    try {
      const app = (await ctx.backend.listInstalled(as)).find((a) => a.id === args[2]);
      const file = app?.icon;
      if (!file || !path.isAbsolute(file) || !file.endsWith('.png')) return notFound(reply);
      const st = fs.statSync(file, { throwIfNoEntry: false });
      if (!st?.isFile() || st.size > 16 * 1024 * 1024) return notFound(reply);
      return reply.code(200).type('image/png').header('Content-Length', st.size).header('Last-Modified', String(st.mtimeMs / 1000)).send(fs.createReadStream(file));
    } catch (e) {
      return fromError(req, reply, e);
    }
  }

  async function upload(req: FastifyRequest, reply: FastifyReply, as: string): Promise<FastifyReply> {
    const filename = (req.query as { filename?: string }).filename;
    const body = req.body as Readable | undefined;
    const drain = () => { reply.header('connection', 'close'); body?.resume(); };
    if (!filename) { drain(); return error(req, reply, DomogikText.NO_FILENAME); }
    if (!FILENAME_RE.test(filename)) { drain(); return error(req, reply, DomogikText.BAD_FILENAME); }
    const len = Number(req.headers['content-length']);
    if (!Number.isSafeInteger(len) || len <= 0) { drain(); return error(req, reply, DomogikText.CONTENT_LENGTH_REQUIRED); }
    const max = ctx.config.maxUploadBytes;
    if (len > max) { drain(); return error(req, reply, domogikErrorText('tooLarge', GatewayText.uploadTooLarge(max))); }
    // <id>_<version>[_<arch>].ipk, opkg's file name rule (Domogik's <type>-<id>-<version>.tgz does not apply).
    const id = filename.slice(0, filename.indexOf('_') > 0 ? filename.indexOf('_') : -4);
    const dest = path.join(ctx.uploadDir, `${crypto.randomBytes(8).toString('hex')}-${filename}`);
    let seen = 0;
    const limit = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        seen += chunk.length;
        cb(seen > len || seen > max ? new Error(GatewayText.uploadTooLarge(Math.min(len, max))) : null, chunk);
      },
    });
    try {
      await pipeline(body!, limit, fs.createWriteStream(dest, { mode: 0o600, flags: 'wx' }));
      if (seen !== len) throw new PeerError('invalidParams', `upload ended after ${seen} of ${len} bytes`);
      await run('install', { id }, as, ctx.backend.installFile(as, id, dest));
      return ok(req, reply, 'install', []);
    } catch (e) {
      reply.header('connection', 'close');
      return fromError(req, reply, e);
    } finally {
      fs.rm(dest, { force: true }, () => undefined);
    }
  }

  return {
    name: 'domogik',
    owns: (url) => url === '/package' || url.startsWith('/package/') || url.startsWith('/package?'),
    refuse,
    async register(app: FastifyInstance, c: GatewayContext) {
      ctx = c;
      await app.register(async (scope) => {
        // Uploads are streamed to a file (bounded); other bodies are ignored, as Domogik's GET routes ignore them.
        scope.removeAllContentTypeParsers();
        scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
        const schema = { querystring: { type: 'object', properties: { callback: { type: 'string', maxLength: 64 }, filename: { type: 'string', maxLength: 255 } } } };
        for (const url of ['/package', '/package/*']) scope.route({ method: ['GET', 'PUT', 'POST', 'DELETE'], url, schema, handler: dispatch });
      });
    },
  };
}
