// Running the built CLIs as another user (uid 65534) from a checkout anywhere. The checkout may sit under a
// directory that user cannot enter (a clone under /root, mode 700), so such a process never runs files from the
// checkout: it runs a world-readable copy of what the built CLIs load (dist/, the native addon, package.json, the
// runtime dependencies' node_modules, and the plain-JS programs of test/helpers/) in a fresh temp directory, made once per test file and removed after it.
// Every test that starts a repo program as another uid goes through scriptFor().
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const REPO = path.resolve(__dirname, '../..');

/** The unprivileged user the tests run as. */
export const NOBODY = { uid: 65534, gid: 65534 } as const;

let copyRoot: string | undefined;

/** Copy a tree with modes any user can read (directories 0755, files 0644, or 0755 when executable); `skip` names
 * entries left out at every level. */
function copyReadable(from: string, to: string, skip: string[] = []): void {
  const st = fs.lstatSync(from);
  if (st.isSymbolicLink()) {
    fs.symlinkSync(fs.readlinkSync(from), to);
  } else if (st.isDirectory()) {
    fs.mkdirSync(to, { mode: 0o755 });
    fs.chmodSync(to, 0o755);
    for (const name of fs.readdirSync(from)) if (!skip.includes(name)) copyReadable(path.join(from, name), path.join(to, name), skip);
  } else if (st.isFile()) {
    fs.copyFileSync(from, to);
    fs.chmodSync(to, st.mode & 0o111 ? 0o755 : 0o644);
  }
}

/** The package directories of the runtime dependencies (package.json `dependencies`, transitively), as Node resolves them. */
function runtimePackages(): string[] {
  const readPkg = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const found = new Set<string>();
  const visit = (name: string, fromDir: string, optional: boolean) => {
    // Node's lookup: <dir>/node_modules/<name> for fromDir and each parent that is not itself a node_modules, up to the repo.
    for (let dir = fromDir; dir.startsWith(REPO); dir = path.dirname(dir)) {
      if (path.basename(dir) === 'node_modules') continue;
      const candidate = path.join(dir, 'node_modules', name);
      if (!fs.existsSync(path.join(candidate, 'package.json'))) continue;
      if (found.has(candidate)) return;
      found.add(candidate);
      const pkg = readPkg(candidate);
      for (const dep of Object.keys(pkg.dependencies ?? {})) visit(dep, candidate, false);
      for (const dep of Object.keys(pkg.optionalDependencies ?? {})) visit(dep, candidate, true);
      return;
    }
    if (!optional) throw new Error(`unprivileged copy: dependency ${name} not found from ${fromDir}`);
  };
  for (const dep of Object.keys(readPkg(REPO).dependencies ?? {})) visit(dep, REPO, false);
  return [...found];
}

/** Make (once per test file) the world-readable copy and return its root, which stands in for the repo. */
export function unprivilegedRepo(): string {
  if (copyRoot) return copyRoot;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'appinstalld-unpriv-'));
  try {
    copyTree(root);
  } catch (e) {
    fs.rmSync(root, { recursive: true, force: true });
    throw e;
  }
  copyRoot = root;
  return root;
}

function copyTree(root: string): void {
  fs.chmodSync(root, 0o755);
  copyReadable(path.join(REPO, 'dist'), path.join(root, 'dist'));
  copyReadable(path.join(REPO, 'package.json'), path.join(root, 'package.json'));
  // The plain-JS test programs (test/helpers/*.js: hostile peers, the test service) that tests run as another uid.
  fs.mkdirSync(path.join(root, 'test', 'helpers'), { recursive: true, mode: 0o755 });
  for (const d of ['test', 'test/helpers']) fs.chmodSync(path.join(root, d), 0o755);
  for (const f of fs.readdirSync(path.join(REPO, 'test', 'helpers'))) {
    if (f.endsWith('.js')) copyReadable(path.join(REPO, 'test', 'helpers', f), path.join(root, 'test', 'helpers', f));
  }
  const addon = path.join(REPO, 'build', 'Release', 'peer_credentials.node');
  if (fs.existsSync(addon)) {
    fs.mkdirSync(path.join(root, 'build', 'Release'), { recursive: true, mode: 0o755 });
    for (const d of ['build', 'build/Release']) fs.chmodSync(path.join(root, d), 0o755);
    copyReadable(addon, path.join(root, 'build', 'Release', 'peer_credentials.node'));
  }
  for (const pkgDir of runtimePackages()) {
    const target = path.join(root, path.relative(REPO, pkgDir));
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
    for (let d = path.dirname(target); d !== root; d = path.dirname(d)) fs.chmodSync(d, 0o755);
    copyReadable(pkgDir, target, ['node_modules']); // nested dependencies are in the list themselves
  }
}

/** Remove this test file's copy (registered below for every test file that imports this helper). */
export function removeUnprivilegedRepo(): void {
  if (copyRoot) fs.rmSync(copyRoot, { recursive: true, force: true });
  copyRoot = undefined;
}

if (typeof afterAll === 'function') afterAll(removeUnprivilegedRepo);

/**
 * The path to run `script` (a path inside the repo, e.g. <repo>/dist/luna-send/luna-send.js) as `uid`: the script
 * itself for our own uid, else the same file in the world-readable copy. The node binary must be one that uid can
 * run (the system node is; .ci/run installs its second Node in a world-readable directory).
 */
export function scriptFor(script: string, uid: number | undefined): string {
  if (uid === undefined || uid === process.getuid?.()) return script;
  const rel = path.relative(REPO, script);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`scriptFor: ${script} is not inside the repo`);
  return path.join(unprivilegedRepo(), rel);
}
