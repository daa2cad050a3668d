// Builds the native peer-credential addon with node-gyp against the installed Node headers
// (/usr/include/node when npm has no nodedir setting), so no header download is ever needed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const args = ['rebuild'];
const configured = process.env.npm_config_nodedir;
if (!configured && existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');
const gyp = path.join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const r = spawnSync(process.execPath, [gyp, ...args], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('build-addon: node-gyp failed; the hub needs build/Release/peer_credentials.node (SO_PEERCRED). ' +
    'Install a C compiler, make, python3 and the Node headers (Debian: build-essential, nodejs headers).');
  process.exit(r.status ?? 1);
}
