// Builds the native peer-credential addon with node-gyp against the installed Node headers
// (/usr/include/node when npm has no nodedir setting), so no header download is ever needed.
// The build runs in a scratch directory and the result is renamed into build/Release/: a hub or daemon starting
// while `npm ci` (or this script) runs always finds a whole addon, the old one or the new one.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const ADDON = path.join('build', 'Release', 'peer_credentials.node');
const args = ['rebuild'];
const configured = process.env.npm_config_nodedir;
if (!configured && existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');
const gyp = path.join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const scratch = mkdtempSync(path.join(root, '.addon-build-'));
let status = 1;
try {
  cpSync(path.join(root, 'binding.gyp'), path.join(scratch, 'binding.gyp'));
  cpSync(path.join(root, 'ipc', 'native'), path.join(scratch, 'ipc', 'native'), { recursive: true });
  const r = spawnSync(process.execPath, [gyp, ...args], { cwd: scratch, stdio: 'inherit' });
  status = r.status ?? 1;
  if (status === 0) {
    const dest = path.join(root, ADDON);
    mkdirSync(path.dirname(dest), { recursive: true });
    const tmp = `${dest}.${process.pid}.tmp`;
    cpSync(path.join(scratch, ADDON), tmp);
    renameSync(tmp, dest);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
if (status !== 0) {
  console.error('build-addon: node-gyp failed; the hub needs build/Release/peer_credentials.node (SO_PEERCRED). ' +
    'Install a C compiler, make, python3 and the Node headers (Debian: build-essential, nodejs headers).');
  process.exit(status);
}
