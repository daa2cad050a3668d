// Every package of the hostile corpus is refused whole, with its own specific reason, nothing written outside
// staging and staging gone; benign packages in both path layouts are accepted.
import fs from 'node:fs';
import path from 'node:path';
import { CodedError, ErrorCode, ErrorText } from '../status-codes';
import { openIpk } from '../ipk/ipk-reader';
import { extractData } from '../ipk/extract';
import { CORPUS_LIMITS, CorpusCase, writeCorpus, writeGoodIpk } from './helpers/ipk-corpus';

let work: string;
let cases: CorpusCase[];

beforeAll(() => {
  work = fs.mkdtempSync('/tmp/ai-');
  cases = writeCorpus(path.join(work, 'corpus'));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** Everything under a directory (relative paths), for before/after comparison. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      out.push(r + (e.isDirectory() ? '/' : ''));
      if (e.isDirectory() && !e.isSymbolicLink()) walk(path.join(d, e.name), r);
    }
  };
  walk(dir, '');
  return out.sort();
}

test('the corpus has at least 25 distinct hostile packages', () => {
  expect(cases.length).toBeGreaterThanOrEqual(25);
  expect(new Set(cases.map((c) => c.expectDetail.source)).size).toBe(cases.length);
});

test('each hostile package is refused with its own reason, leaving nothing behind', async () => {
  const outcomes: string[] = [];
  for (const c of cases) {
    const box = fs.mkdtempSync(path.join(work, 'box-'));
    fs.mkdirSync(path.join(box, 'canary'));
    fs.writeFileSync(path.join(box, 'canary', 'keep'), 'canary');
    const staging = path.join(box, 'staging');
    const before = snapshot(box);
    let err: unknown;
    try {
      const pkg = await openIpk(c.file);
      if (c.stage === 'open') outcomes.push(`${c.name}: opened but should have been refused at open`);
      await extractData(pkg, staging, { limits: CORPUS_LIMITS });
    } catch (e) {
      err = e;
    }
    if (!(err instanceof CodedError)) {
      outcomes.push(`${c.name}: not refused with a CodedError (${String(err)})`);
      continue;
    }
    expect(err.code).toBe(ErrorCode.INSTALL_FAILED);
    expect([ErrorText.EXTRACT_FAILED, ErrorText.FAILED_PACKAGEFILE_CORRUPT, ErrorText.PARSE_CONTROL_FAILED]).toContain(err.text);
    if (!c.expectDetail.test(err.detail ?? '')) outcomes.push(`${c.name}: detail "${err.detail}" does not match ${c.expectDetail}`);
    expect(fs.existsSync(staging)).toBe(false);
    expect(snapshot(box)).toEqual(before);
    expect(fs.readFileSync(path.join(box, 'canary', 'keep'), 'utf8')).toBe('canary');
    expect(fs.existsSync('/etc/evil-ipk')).toBe(false);
    expect(fs.existsSync(path.join(work, 'evil-ipk'))).toBe(false);
  }
  expect(outcomes).toEqual([]);
});

test('the decompression bomb is stopped early: the staging area never holds more than a few MiB', async () => {
  const bomb = cases.find((c) => c.name === 'decompression-bomb')!;
  const staging = path.join(work, 'bomb-staging');
  let peak = 0;
  const timer = setInterval(() => {
    try {
      const f = path.join(staging, 'usr/palm/applications/com.evil.app/bomb');
      peak = Math.max(peak, fs.statSync(f).size);
    } catch {
      /* not there */
    }
  }, 1);
  await expect(extractData(await openIpk(bomb.file), staging)).rejects.toThrow(/ratio/);
  clearInterval(timer);
  expect(peak).toBeLessThan(8 * 1024 * 1024);
  expect(fs.existsSync(staging)).toBe(false);
});

test.each([
  ['ares-package layout (usr/...)', ''],
  ['dpkg-deb layout (./ and ./usr/...)', './'],
])('a benign package in %s is accepted', async (_name, prefix) => {
  const file = path.join(work, `good-${prefix ? 'dot' : 'plain'}.ipk`);
  writeGoodIpk(file, prefix);
  const staging = path.join(work, `good-staging-${prefix ? 'dot' : 'plain'}`);
  const progress: number[] = [];
  const r = await extractData(await openIpk(file), staging, { onProgress: (p) => progress.push(p) });
  expect(r.appIds).toEqual(['com.evil.app']);
  expect(r.files).toBe(3);
  expect(fs.readFileSync(path.join(staging, 'usr/palm/applications/com.evil.app/index.html'), 'utf8')).toBe('<html></html>\n');
  expect(progress[0]).toBe(0);
  expect(progress[progress.length - 1]).toBe(100);
  for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThan(progress[i - 1]);
});

test('the owner of extracted files is the installer\'s choice, never the archive\'s', async () => {
  const file = path.join(work, 'owned.ipk');
  writeGoodIpk(file);
  const staging = path.join(work, 'owned-staging');
  await extractData(await openIpk(file), staging, { owner: { uid: 65534, gid: 65534 } });
  for (const p of ['', 'usr/palm', 'usr/palm/applications/com.evil.app/index.html']) {
    const st = fs.lstatSync(path.join(staging, p));
    expect([st.uid, st.gid]).toEqual([65534, 65534]);
  }
  const plain = path.join(work, 'plain-staging');
  await extractData(await openIpk(file), plain);
  expect(fs.lstatSync(path.join(plain, 'usr/palm/applications/com.evil.app/index.html')).uid).toBe(process.getuid!());
});

test('extraction refuses a staging directory that is not fresh', async () => {
  const file = path.join(work, 'fresh.ipk');
  writeGoodIpk(file);
  const staging = path.join(work, 'used-staging');
  fs.mkdirSync(staging);
  fs.writeFileSync(path.join(staging, 'old'), 'x');
  await expect(extractData(await openIpk(file), staging)).rejects.toThrow(/not a fresh empty directory/);
  expect(fs.readFileSync(path.join(staging, 'old'), 'utf8')).toBe('x');
});
