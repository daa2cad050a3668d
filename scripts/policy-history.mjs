// Writes acg/shipped-policy-history.json: for every default policy file ever shipped (acg/default-policy), the sha256
// of each earlier version, from git. At start-up (acg/index.ts installDefaultPolicy) a file on a device that is
// byte for byte an earlier shipped version was never edited there, so it is replaced by the new one; any other
// content is the device owner's and stays. Run after committing a change to a file under acg/default-policy (needs the
// git history); `--check` only tells whether the file lists every earlier version.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const DIR = 'acg/default-policy';
const git = (...args) => execFileSync('git', ['-C', root, ...args], { maxBuffer: 64 * 1024 * 1024 });
const sha = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

const history = {};
for (const commit of git('log', '--format=%H', '--', DIR).toString().split('\n').filter(Boolean)) {
  for (const line of git('ls-tree', '-r', commit, '--', DIR).toString().split('\n').filter(Boolean)) {
    const [meta, file] = line.split('\t');
    const blob = meta.split(' ')[2];
    const rel = path.relative(DIR, file);
    const hash = sha(git('cat-file', 'blob', blob));
    let current = null;
    try { current = sha(fs.readFileSync(path.join(root, file))); } catch { /* no longer shipped */ }
    if (hash === current) continue;
    (history[rel] ??= new Set()).add(hash);
  }
}
const out = Object.fromEntries(Object.keys(history).sort().map((k) => [k, [...history[k]].sort()]));
const file = path.join(root, 'acg/shipped-policy-history.json');
const text = JSON.stringify(out, null, 1) + '\n';
// --check: only say whether the file is current (every earlier committed version listed), exit 1 when it is not.
if (process.argv.includes('--check')) {
  const have = JSON.parse(fs.readFileSync(file, 'utf8'));
  const missing = Object.entries(out).flatMap(([rel, hashes]) => hashes.filter((h) => !(have[rel] ?? []).includes(h)).map((h) => `${rel} ${h}`));
  if (missing.length) console.error(`acg/shipped-policy-history.json lacks earlier versions (run node scripts/policy-history.mjs):\n${missing.join('\n')}`);
  process.exit(missing.length ? 1 : 0);
}
fs.writeFileSync(file, text);
console.error(`acg/shipped-policy-history.json: ${Object.values(out).reduce((n, v) => n + v.length, 0)} earlier versions of ${Object.keys(out).length} files`);
