// A full disk in the middle of an install: the root lives on a small tmpfs and the package understates its
// Installed-Size, so the space check passes and extraction runs out of space. The install fails with -3, is rolled
// back, and the version installed before is untouched.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Stage, ErrorCode, ErrorText } from '../status-codes';
import { buildTar, controlTgz, controlText, goodEntries, gz, ipkOf, CORPUS_PKG } from './helpers/ipk-corpus';
import { startDaemon, killAllChildren, install, listTree, type Daemon } from './helpers/appinstall-daemon';

let root: string;
let work: string;
let d: Daemon | undefined;

beforeAll(async () => {
  root = fs.mkdtempSync('/tmp/ai-');
  work = fs.mkdtempSync('/tmp/ai-w-');
  // tests run as root (common rules); a mount failure is a real failure of the set-up, reported as such
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1536k,mode=0755', 'tmpfs', root]);
  d = await startDaemon({ root });
});
afterAll(async () => {
  await d?.stop();
  killAllChildren();
  try {
    execFileSync('umount', [root]);
  } catch {
    /* not mounted */
  }
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
});

test('ENOSPC while unpacking: -3, rolled back, the installed version untouched', async () => {
  const good = path.join(work, 'good.ipk');
  fs.writeFileSync(good, ipkOf(gz(buildTar(goodEntries()))));
  const first = await install(root, CORPUS_PKG, good);
  expect(first.lines[first.lines.length - 1].statusValue).toBe(Stage.INSTALLED.statusValue);
  const apps = path.join(root, 'media/cryptofs/apps');
  const before = listTree(apps);
  const index = fs.readFileSync(path.join(apps, `usr/palm/applications/${CORPUS_PKG}/index.html`), 'utf8');

  const big = { path: `usr/palm/applications/${CORPUS_PKG}/big.bin`, body: crypto.randomBytes(3 * 1024 * 1024) };
  const liar = path.join(work, 'liar.ipk');
  fs.writeFileSync(liar, ipkOf(gz(buildTar([...goodEntries(), big])), controlTgz(controlText(CORPUS_PKG, { 'Installed-Size': '1000' }))));
  const r = await install(root, CORPUS_PKG, liar);
  const final = r.lines[r.lines.length - 1];
  expect(final).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { errorCode: ErrorCode.NO_SPACE, reason: expect.stringMatching(new RegExp(`^${ErrorText.NO_SPACE}: `)) } });
  expect(final.details.reason).toMatch(/ENOSPC|no space/i);
  expect(listTree(apps)).toEqual(before);
  expect(fs.readFileSync(path.join(apps, `usr/palm/applications/${CORPUS_PKG}/index.html`), 'utf8')).toBe(index);
  expect(listTree(path.join(root, 'var/lib/appinstalld/journal'))).toEqual([]);
  expect(fs.existsSync(path.join(root, `var/luna-service2/manifests.d/${CORPUS_PKG}.json`))).toBe(true);
  // the space is given back: the good package installs again
  const again = await install(root, CORPUS_PKG, good);
  expect(again.lines[again.lines.length - 1].statusValue).toBe(Stage.INSTALLED.statusValue);
});
