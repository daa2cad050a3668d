// Transpiles every TypeScript source (not tests) to dist/ with swc: fast, no type checking
// (types are checked by `tsc --noEmit` in `npm test`). Data files (.json, .service, .crt, .pem) and the
// App Store page (gateway/page/*.html|css|js) are copied as they are.
import { transformFile } from '@swc/core';
import { promises as fs } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
// The source folders are tsconfig.json's "include" less test/: one list for the type check and the build.
const tsconfig = JSON.parse(await fs.readFile(path.join(root, 'tsconfig.json'), 'utf8'));
const SOURCE_DIRS = tsconfig.include.filter((d) => d !== 'test');
const out = path.join(root, 'dist');

async function* walk(dir) {
  let entries;
  try { entries = await fs.readdir(dir, { withFileTypes: true }); } catch { return; }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) { if (e.name !== 'node_modules') yield* walk(p); }
    else yield p;
  }
}

// A process running from dist/ while a build runs (tests, a started daemon) must never see a half-written file.
async function writeAtomically(dest, data, mode = 0o644) {
  const tmp = `${dest}.${process.pid}.tmp`;
  await fs.writeFile(tmp, data, { mode });
  await fs.rename(tmp, dest);
}

const jobs = [];
for (const d of SOURCE_DIRS) {
  for await (const file of walk(path.join(root, d))) {
    const rel = path.relative(root, file);
    if (/\.(json|service|crt|pem)$/.test(file) || /\/gateway\/page\/[^/]+\.(html|css|js|png|svg)$/.test(file)) {
      jobs.push((async () => {
        const dest = path.join(out, rel);
        await fs.mkdir(path.dirname(dest), { recursive: true });
        await writeAtomically(dest, await fs.readFile(file));
      })());
    } else if (file.endsWith('.ts') && !file.endsWith('.d.ts') && !file.endsWith('.test.ts')) {
      jobs.push((async () => {
        const { code } = await transformFile(file, {
          jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
          module: { type: 'commonjs' },
          sourceMaps: 'inline',
        });
        const dest = path.join(out, rel.replace(/\.ts$/, '.js'));
        await fs.mkdir(path.dirname(dest), { recursive: true });
        const shebang = code.startsWith('#!') ? '' : (/\/(luna-send|luna-send-pub|ipk-cli|ls-hubd|appinstalld|appinstall|main)\.ts$/.test(file) ? '#!/usr/bin/env node\n' : '');
        await writeAtomically(dest, shebang + code, shebang ? 0o755 : 0o644);
      })());
    }
  }
}
await Promise.all(jobs);
console.error(`build: ${jobs.length} files -> dist/`);
