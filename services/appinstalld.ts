// `appinstalld [--root DIR]`: the install daemon's services (services/daemon.ts) as a standalone daemon on an already running hub
// (ls-hubd). Exits when the hub goes away; SIGTERM/SIGINT stop it cleanly.
import { startServices } from './daemon';
import { log, runDaemon } from './daemon-cli';

const USAGE = 'usage: appinstalld [--root DIR] [-h|--help] [-V|--version]  (connects to the hub at LUNA_HUB_SOCKET or <root>/var/run/luna-service2/com.palm.hub)';

if (require.main === module) {
  runDaemon(USAGE, (root) => startServices({ root, log, onHubGone: () => process.exit(1) }));
}
