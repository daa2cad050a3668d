// `npm start`: the hub and the install daemon's services (services/daemon.ts) in one foreground process, logs on stderr.
// `node dist/services/main.js [--root DIR]`; SIGTERM/SIGINT stop it cleanly (running tasks finish first); SIGHUP reloads the bus policy.
import { layout as layoutOf } from '../layout/paths';
import { startHub } from '../ipc/ls-hubd';
import { startServices } from './daemon';
import { createLogger } from '../cli-common/log';
import { log, runDaemon } from './daemon-cli';
import { recover } from '../engine/recovery';
import { loadDaemonConfig } from './appinstall/daemon-config';
import { startGatewayForRoot, type GatewayHandle } from '../gateway/index';

const USAGE = `usage: appinstalld-main [--root DIR] [-h|--help] [-V|--version]
  Runs the bus hub, com.webos.appInstallService, com.webos.service.devmode, com.webos.applicationManager,
  com.webos.service.systemservice, com.webos.service.tv.systemproperty and com.webos.service.downloadmanager.
  --root DIR  root prefix (default: APPINSTALLD_ROOT, else $XDG_STATE_HOME/appinstalld, else ~/.local/state/appinstalld)
  Environment: LUNA_HUB_SOCKET (hub socket path), APPINSTALLD_FAULT (tests: crash at a step boundary),
  APPINSTALLD_UNSAFE_NO_SYNC=1 (benchmarks only: no fsyncs, NOT crash-safe).
  Signals: SIGTERM/SIGINT stop, SIGHUP reloads the bus security files.`;

if (require.main === module) {
  runDaemon(USAGE, async (root) => {
    // Crash recovery runs before the hub starts as well, so the hub's first scan of the bus trees already sees them
    // matching the apps on disk (a bus file left by a crash is never loaded); the services need not run it again.
    for (const line of await recover(layoutOf(root), null)) log(`recovery: ${line}`);
    const hub = await startHub({ root, log: createLogger('ls-hubd') });
    let services;
    try {
      services = await startServices({ root, log, onHubGone: () => process.exit(1), recovered: true });
    } catch (e) {
      await hub.stop();
      throw e;
    }
    // The HTTP gateway (gateway/, docs/gateway.md) is a bus client like any other; when it cannot start (port taken,
    // unsafe tokens file) the bus services keep running and the reason is logged.
    let gateway: GatewayHandle | null = null;
    try {
      gateway = await startGatewayForRoot({ root, config: loadDaemonConfig(layoutOf(root).daemonConfig).gateway, log });
    } catch (e) {
      log(`gateway: not started: ${(e as Error).message}`);
    }
    return {
      reload: () => hub.reload(),
      stop: async () => {
        await gateway?.stop();
        await services.stop();
        await hub.stop();
      },
    };
  });
}
