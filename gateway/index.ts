// Starts the HTTP gateway for a root: its config (appinstalld.json "gateway"), the tokens file, a bus connection of
// its own (BusBackend), the servers. Used by services/main.ts (npm start) and gateway-main.ts (standalone).
import fs from 'node:fs';
import type { GatewayConfig } from './config';
import { BusBackend } from './backend';
import { startGateway, uploadDirOf, type RunningGateway } from './server';
import { TokenStore } from './tokens';

export interface GatewayHandle { addresses: string[]; stop(): Promise<void> }

/** Null when turned off. Throws (with a clear text) when it cannot start; the caller decides whether that is fatal. */
export async function startGatewayForRoot(opts: { root: string; socketPath?: string; config: GatewayConfig; log(line: string): void; onHubGone?(): void }): Promise<GatewayHandle | null> {
  if (!opts.config.enabled) {
    opts.log('gateway: off ("gateway": false in appinstalld.json)');
    return null;
  }
  const tokens = TokenStore.open(opts.root, opts.log);
  const uploadDir = uploadDirOf(opts.root);
  fs.mkdirSync(uploadDir, { recursive: true, mode: 0o700 });
  const backend = await BusBackend.connect({ root: opts.root, socketPath: opts.socketPath });
  let gw: RunningGateway;
  try {
    gw = await startGateway({ config: opts.config, backend, tokens, log: opts.log, uploadDir });
  } catch (e) {
    await backend.close();
    throw e;
  }
  const sub = backend.hubGone$.subscribe(() => opts.onHubGone?.());
  for (const a of gw.addresses) opts.log(`gateway: listening on http://${a} (tokens in ${tokens.file})`);
  return {
    addresses: gw.addresses,
    async stop() {
      sub.unsubscribe();
      await gw.stop();
      await backend.close();
    },
  };
}
