// Puts a built checkout on a device as a self-contained tree anyone can read (dist/, the peer-credentials addon, the
// production node_modules), optionally linking the CLIs into a bin dir: `node scripts/deploy-tree.mjs DEST [--bin-dir DIR]`.
// The developer user that ares-cli logs in as runs DEST's luna-send-pub, so nothing in DEST may depend on the checkout.
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const args = process.argv.slice(2);
const usage = 'usage: node scripts/deploy-tree.mjs DEST [--bin-dir DIR]   (after npm ci; DEST e.g. /opt/appinstalld, DIR e.g. /usr/bin)';
let dest;
let binDir;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--bin-dir') binDir = args[++i];
  else if (args[i] === '-h' || args[i] === '--help') { console.log(usage); process.exit(0); }
  else if (!dest) dest = args[i];
  else { console.error(usage); process.exit(2); }
}
if (!dest || (args.includes('--bin-dir') && !binDir)) { console.error(usage); process.exit(2); }
dest = path.resolve(dest);

const addon = path.join('build', 'Release', 'peer_credentials.node');
for (const need of ['dist/services/main.js', addon]) {
  try { await fs.access(path.join(repo, need)); } catch { console.error(`deploy-tree: ${need} is missing: run npm ci first`); process.exit(1); }
}

/** Copy a file or tree, files 0644 (0755 when executable), directories 0755, whatever the umask or the source's modes. */
async function copy(src, to) {
  const st = await fs.lstat(src);
  if (st.isDirectory()) {
    await fs.mkdir(to, { recursive: true });
    await fs.chmod(to, 0o755);
    for (const e of await fs.readdir(src)) await copy(path.join(src, e), path.join(to, e));
  } else if (st.isSymbolicLink()) {
    await fs.rm(to, { force: true });
    await fs.symlink(await fs.readlink(src), to);
  } else if (st.isFile()) {
    await fs.mkdir(path.dirname(to), { recursive: true });
    await fs.copyFile(src, to);
    await fs.chmod(to, st.mode & 0o111 ? 0o755 : 0o644);
  }
}

// A fresh tree each time: a file removed from the product must not linger on the device.
const staging = `${dest}.new-${process.pid}`;
await fs.rm(staging, { recursive: true, force: true });
await copy(path.join(repo, 'package.json'), path.join(staging, 'package.json'));
await copy(path.join(repo, 'dist'), path.join(staging, 'dist'));
await fs.rm(path.join(staging, 'dist', 'bench'), { recursive: true, force: true });
await copy(path.join(repo, addon), path.join(staging, addon));
await copy(path.join(repo, 'deploy'), path.join(staging, 'deploy'));
const prod = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: repo, encoding: 'utf8' })
  .split('\n').filter((p) => p && p !== repo && p.startsWith(repo + path.sep));
for (const p of prod) await copy(p, path.join(staging, path.relative(repo, p)));
await fs.chmod(staging, 0o755);
await fs.rm(dest, { recursive: true, force: true });
await fs.mkdir(path.dirname(dest), { recursive: true });
await fs.rename(staging, dest);
console.log(`deploy-tree: ${dest} (${prod.length} production packages)`);

if (binDir) {
  const { bin } = JSON.parse(await fs.readFile(path.join(repo, 'package.json'), 'utf8'));
  await fs.mkdir(binDir, { recursive: true });
  for (const [name, target] of Object.entries(bin)) {
    const link = path.join(binDir, name);
    await fs.rm(link, { force: true });
    await fs.symlink(path.join(dest, target), link);
  }
  console.log(`deploy-tree: linked ${Object.keys(bin).join(', ')} into ${binDir}`);
}
