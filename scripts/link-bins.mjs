// Links this package's own bins (luna-send, luna-send-pub, ipk, ls-hubd, appinstalld) into node_modules/.bin,
// so `npx luna-send` in the repo runs them directly (npm does not link a root package's own bins).
import { promises as fs } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { bin } = JSON.parse(await fs.readFile(path.join(root, 'package.json'), 'utf8'));
const binDir = path.join(root, 'node_modules', '.bin');
await fs.mkdir(binDir, { recursive: true });
for (const [name, target] of Object.entries(bin)) {
  const link = path.join(binDir, name);
  await fs.rm(link, { force: true });
  await fs.symlink(path.relative(binDir, path.join(root, target)), link);
}
