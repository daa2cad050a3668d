// The engine knows no front-end: nothing under engine/ imports the bus (ipc/), a bus service (services/), the gateway,
// a CLI, or the webOS stage table (status-codes Stage / StageName, which services/appinstall/stage-map.ts maps to).
import fs from 'node:fs';
import path from 'node:path';

const ENGINE = path.join(__dirname, '..', 'engine');
const FRONT_ENDS = ['ipc', 'services', 'gateway', 'appinstall-cli', 'luna-send'];

function importsOf(file: string): { spec: string; names: string }[] {
  const src = fs.readFileSync(file, 'utf8');
  const out: { spec: string; names: string }[] = [];
  for (const m of src.matchAll(/import\s+(?:type\s+)?([^'";]*?)\s*from\s*'([^']+)'|import\(\s*'([^']+)'\s*\)/g)) out.push({ spec: m[2] ?? m[3], names: m[1] ?? '' });
  return out;
}

test('engine/ imports no front-end and no webOS stage', () => {
  const files = fs.readdirSync(ENGINE).filter((f) => f.endsWith('.ts'));
  expect(files.length).toBeGreaterThan(20);
  const problems: string[] = [];
  for (const f of files) {
    for (const { spec, names } of importsOf(path.join(ENGINE, f))) {
      const top = spec.startsWith('../') ? spec.slice(3).split('/')[0] : null;
      if (top !== null && FRONT_ENDS.includes(top)) problems.push(`${f} imports ${spec}`);
      if (/^\.\.\/status-codes(\/index)?$/.test(spec) && /\bStage(Name)?\b/.test(names)) problems.push(`${f} imports ${names.trim()} from ${spec}`);
    }
  }
  expect(problems).toEqual([]);
});
