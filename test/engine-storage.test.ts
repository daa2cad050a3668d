// engine/storage.ts on real trees: usage agrees with `du -sk` (no symlink followed, hard links once), details with
// quotas, bounded walks, and reset emptying a data directory without following links out and keeping the directory.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { usageKB, storageDetails, resetDir, blocksToKB } from '../engine/storage';
import { EngineErrorCode } from '../status-codes/engine';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-storage-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const du = (p: string) => Number(execFileSync('du', ['-sk', p], { encoding: 'utf8' }).split('\t')[0]);

function appTree(): { data: string; outside: string } {
  const data = path.join(dir, 'appdata', 'com.example.app');
  const outside = path.join(dir, 'outside');
  fs.mkdirSync(path.join(data, 'a', 'b'), { recursive: true });
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'big'), Buffer.alloc(512 * 1024, 1));
  fs.writeFileSync(path.join(data, 'one'), Buffer.alloc(10000, 2));
  fs.writeFileSync(path.join(data, 'a', 'b', 'two'), Buffer.alloc(70000, 3));
  fs.linkSync(path.join(data, 'one'), path.join(data, 'a', 'hardlink-to-one'));
  fs.symlinkSync(outside, path.join(data, 'link-out'));
  fs.symlinkSync(path.join(outside, 'big'), path.join(data, 'a', 'file-link-out'));
  return { data, outside };
}

test('usage in KiB agrees with du -sk, follows no symbolic link and counts hard links once', async () => {
  const { data } = appTree();
  const used = await usageKB(data);
  expect(used).toEqual({ ok: true, value: du(data) });
  expect(used.ok && used.value).toBeLessThan(512); // the 512 KiB file behind the links is not counted
  expect(await usageKB(path.join(dir, 'missing'))).toEqual({ ok: true, value: 0 });
  expect(await usageKB(path.join(data, 'link-out'))).toMatchObject({ ok: false, error: { code: EngineErrorCode.BAD_PATH, text: expect.stringMatching(/symbolic link/) } });
  expect(await usageKB(path.join(data, 'one'))).toMatchObject({ ok: false, error: { code: EngineErrorCode.BAD_PATH, text: expect.stringMatching(/not a directory/) } });
  expect(await usageKB(data, 3)).toMatchObject({ ok: false, error: { code: EngineErrorCode.TOO_MANY } });
  expect(blocksToKB(1)).toBe(1);
  expect(blocksToKB(8)).toBe(4);
});

test('storage details report path, quota and usage of both areas; bad input is refused', async () => {
  const { data } = appTree();
  const apps = path.join(dir, 'apps', 'com.example.app');
  fs.mkdirSync(apps, { recursive: true });
  fs.writeFileSync(path.join(apps, 'index.html'), Buffer.alloc(5000, 1));
  const r = await storageDetails({ appsPath: apps, appsQuotaKB: 1024, persistentPath: data, persistentQuotaKB: null });
  expect(r).toEqual({ ok: true, value: { apps: { path: apps, quotaKB: 1024, usedKB: du(apps) }, persistent: { path: data, quotaKB: null, usedKB: du(data) } } });
  expect(await storageDetails({ appsPath: 'relative', persistentPath: data })).toMatchObject({ ok: false, error: { code: EngineErrorCode.WRONG_PARAMS, text: 'appsPath must be an absolute path' } });
  expect(await storageDetails({ appsPath: apps, appsQuotaKB: -1, persistentPath: data })).toMatchObject({ ok: false, error: { text: 'appsQuotaKB must be a non-negative integer (KiB)' } });
  expect(await storageDetails({ appsPath: apps, persistentPath: data, persistentQuotaKB: 1.5 })).toMatchObject({ ok: false });
});

test('reset empties the data directory, keeps it, and touches nothing outside through links', async () => {
  const { data, outside } = appTree();
  const root = path.dirname(data);
  fs.writeFileSync(path.join(root, 'neighbour'), 'keep me');
  expect(await resetDir(data, root)).toEqual({ ok: true, value: { removed: 3 } });
  expect(fs.readdirSync(data)).toEqual([]);
  expect(fs.lstatSync(data).isDirectory()).toBe(true);
  expect(fs.statSync(path.join(outside, 'big')).size).toBe(512 * 1024);
  expect(fs.readdirSync(root).sort()).toEqual(['com.example.app', 'neighbour']); // no trash left
  expect(await resetDir(data, root)).toEqual({ ok: true, value: { removed: 0 } });
  expect(await resetDir(path.join(root, 'not.there'), root)).toEqual({ ok: true, value: { removed: 0 } });
});

test('reset refuses a directory that is a link, outside the root, the root itself, or reached through a link', async () => {
  const { data, outside } = appTree();
  const root = path.dirname(data);
  fs.symlinkSync(outside, path.join(root, 'evil.app'));
  const refused: Array<[string, string, RegExp]> = [
    [path.join(root, 'evil.app'), root, /symbolic link/],
    [path.join(root, 'evil.app', 'sub'), root, /symbolic link/],
    [outside, root, /must be inside/],
    [path.join(root, '..', 'outside'), root, /must be inside/],
    [root, root, /must be inside/],
    [path.join(data, 'one'), root, /not a directory/],
    ['relative/path', root, /must be an absolute path/],
  ];
  for (const [d, r, re] of refused) {
    const res = await resetDir(d, r);
    expect([d, res.ok]).toEqual([d, false]);
    if (!res.ok) expect(res.error.text).toMatch(re);
  }
  expect(fs.statSync(path.join(outside, 'big')).size).toBe(512 * 1024);
  expect(fs.readdirSync(data).length).toBe(3);
});
