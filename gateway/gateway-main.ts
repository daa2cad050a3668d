#!/usr/bin/env node
// `appinstall-gateway [--root DIR]`: the HTTP gateway alone, for a hub and daemon already running on that root
// (npm start runs it in-process instead). Config: "gateway" in <root>/etc/palm/appinstalld.json.
import { layout as layoutOf } from '../layout/paths';
import { loadDaemonConfig } from '../services/appinstall/daemon-config';
import { log, runDaemon } from '../services/daemon-cli';
import { startGatewayForRoot } from './index';

const USAGE = `usage: appinstall-gateway [--root DIR] [-h|--help] [-V|--version]
  Serves the peer APIs (Thunder PackageManager, AX App Store, Domogik /package, Olares InstallDevApp) over the bus
  of a running appinstalld. Tokens: <root>/etc/palm/gateway-tokens.json (created on first start).`;

if (require.main === module) {
  runDaemon(USAGE, async (root) => {
    const config = loadDaemonConfig(layoutOf(root).daemonConfig);
    const gw = await startGatewayForRoot({ root, config: config.gateway, log, onHubGone: () => process.exit(1) });
    return { reload: () => undefined, stop: async () => { await gw?.stop(); } };
  }, { instanceLock: false, prog: 'appinstall-gateway' }); // it runs beside the daemon of its root
}
