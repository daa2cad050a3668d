// The Olares Market provider as system-server exposes it: InstallDevApp / UninstallDevApp with
// X-Access-Token and X-Authorization required, and the double-wrapped replies (docs/gateway.md).
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { GatewayContext, Peer } from './server';
import type { Op } from './operations';
import { olaresProviderStatus, OlaresText, PeerError, type ErrorKind } from '../status-codes/peer-errors';

const BASE = '/system-server/v1alpha1/app/service.appstore/v1';
const SOURCES = ['market', 'custom', 'devbox'];
const STR = { type: 'string', maxLength: 4096 };

export function olaresPeer(): Peer {
  let ctx: GatewayContext;
  /** system-server's answer when the provider failed: HTTP 200, code 1, the provider's status and body in the text. */
  const providerErr = (reply: FastifyReply, status: number, body: string) =>
    reply.code(200).send({ code: 1, message: OlaresText.invokeProviderErr(status, body) });
  const refuse = (reply: FastifyReply, kind: ErrorKind, text: string): FastifyReply => {
    if (kind === 'unauthorized') return reply.code(401).type('text/plain; charset=utf-8').send(text || OlaresText.NO_ACCESS_TOKEN);
    if (kind === 'denied') return reply.code(200).send({ code: 1, message: OlaresText.ACCESS_DENIED });
    if (kind === 'notFound') return reply.code(404).type('text/plain; charset=utf-8').send('404 page not found');
    return providerErr(reply, olaresProviderStatus(kind), text);
  };
  const success = (reply: FastifyReply, uid: string) => reply.code(200).send({ code: 0, message: OlaresText.SUCCESS, data: { code: 200, data: { uid, opID: '' } } });

  /** Header checks in system-server's then the Market's order; returns the client name or null (reply sent). */
  function auth(req: import('fastify').FastifyRequest, reply: FastifyReply): string | null {
    const access = req.headers['x-access-token'];
    if (typeof access !== 'string' || access === '') { refuse(reply, 'unauthorized', OlaresText.NO_ACCESS_TOKEN); return null; }
    const as = ctx.tokens.lookup(access);
    if (!as) { reply.code(200).send({ code: 1, message: OlaresText.TOKEN_NOT_FOUND }); return null; }
    const user = req.headers['x-authorization'];
    if (typeof user !== 'string' || user === '') { refuse(reply, 'unauthorized', OlaresText.NO_X_AUTHORIZATION); return null; }
    return as;
  }
  const fromError = (reply: FastifyReply, e: unknown) => {
    const pe = e instanceof PeerError ? e : new PeerError('failed', (e as Error).message);
    return refuse(reply, pe.kind, pe.message);
  };
  /** Follows an install/remove to its end; a refused or failed one is the provider's error. */
  async function finish(op: Op): Promise<void> {
    const end = await ctx.ops.done(op);
    if (end.state === 'succeeded') return;
    if (end.error instanceof PeerError) throw end.error;
    throw new PeerError('failed', end.errorText ?? end.state);
  }

  return {
    name: 'olares',
    owns: (url) => url.startsWith('/system-server/'),
    refuse,
    async register(app: FastifyInstance, c: GatewayContext) {
      ctx = c;
      app.post(`${BASE}/InstallDevApp`, {
        schema: { body: { type: 'object', properties: { appName: STR, repoUrl: STR, cfgUrl: STR, version: STR, source: STR, devMode: { type: 'boolean' } } } },
      }, async (req, reply) => {
        const as = auth(req, reply);
        if (!as) return reply;
        const b = (req.body ?? {}) as Record<string, string>;
        if (!b.appName) return providerErr(reply, 400, 'appName is empty');
        if (!SOURCES.includes(b.source)) return providerErr(reply, 400, OlaresText.unsupportedSource(b.source ?? ''));
        if (!b.repoUrl && !b.cfgUrl) return providerErr(reply, 400, OlaresText.urlInfoEmpty(b.cfgUrl ?? '', b.repoUrl ?? ''));
        const repo = b.repoUrl ?? '';
        const local = repo.startsWith('file://') ? decodeURIComponent(repo.slice(7)) : repo.startsWith('/') ? repo : null;
        try {
          // A local .ipk installs directly (/install); a feed URL must be one of the configured feeds (its packages
          // are in the catalog) and installs the package by name from it, dependencies first (/catalog/install).
          if (local === null) {
            const norm = (u: string) => u.replace(/\/+$/, '');
            const feed = (await ctx.backend.feeds(as)).find((f) => norm(f.url) === norm(repo));
            if (!feed) return providerErr(reply, 400, OlaresText.repoNotConfigured(repo));
            const entry = (await ctx.backend.catalog(as, { filter: 'all' })).find((e) => e.name === b.appName && e.candidate?.feed === feed.name && (!b.version || e.candidate.version === b.version));
            if (!entry) return providerErr(reply, 404, OlaresText.appNotInRepo(b.appName, repo));
          }
          const stream = local !== null ? ctx.backend.installFile(as, b.appName, local) : ctx.backend.installName(as, b.appName, b.version || undefined);
          await finish(ctx.ops.track('install', { id: b.appName, version: b.version }, as, stream));
        } catch (e) {
          return fromError(reply, e);
        }
        return success(reply, b.appName);
      });
      app.post(`${BASE}/UninstallDevApp`, {
        schema: { body: { type: 'object', properties: { name: STR } } },
      }, async (req, reply) => {
        const as = auth(req, reply);
        if (!as) return reply;
        const name = ((req.body ?? {}) as Record<string, string>).name;
        if (!name) return providerErr(reply, 400, 'name is empty');
        try {
          await finish(ctx.ops.track('remove', { id: name }, as, ctx.backend.remove(as, name)));
        } catch (e) {
          return fromError(reply, e);
        }
        return success(reply, name);
      });
    },
  };
}
