// The durable file operations' pure parts and error paths: which kernels' syncfs is trusted, "disk full" recognised
// through wrapping errors by its code only, and tree syncing (one syncfs, or concurrent fsyncs) reporting failures.
import fs from 'node:fs';
import path from 'node:path';
import { CodedError, ErrorCode, ErrorText } from '../status-codes';
import { fsyncAll, isNoSpace, kernelReportsSyncfsErrors, syncFileSystemOf, syncTree } from '../engine/durable-fs';

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync('/tmp/ai-dfs-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('syncfs is trusted only on kernels that report its writeback errors (5.8 and later)', () => {
  expect(['5.8.0', '5.15.0-91-generic', '6.18.44-fc', '10.0'].map((r) => kernelReportsSyncfsErrors(r))).toEqual([true, true, true, true]);
  expect(['5.7.19', '4.19.0', '3.10.0-1160.el7', 'unknown'].map((r) => kernelReportsSyncfsErrors(r))).toEqual([false, false, false, false]);
});

test('a full disk is known by its errno code, also wrapped (cause chain), never by text', () => {
  expect(isNoSpace(enospc())).toBe(true);
  expect(isNoSpace(Object.assign(new Error('quota'), { code: 'EDQUOT' }))).toBe(true);
  const wrapped = new CodedError(ErrorCode.INSTALL_FAILED, ErrorText.EXTRACT_FAILED, 'cannot write "a"', { cause: enospc() });
  expect(isNoSpace(wrapped)).toBe(true);
  expect(isNoSpace(new Error('outer', { cause: wrapped }))).toBe(true);
  expect(isNoSpace(new CodedError(ErrorCode.INSTALL_FAILED, ErrorText.EXTRACT_FAILED, 'ENOSPC: no space left on device'))).toBe(false);
  expect(isNoSpace(Object.assign(new Error('x'), { code: 'EIO' }))).toBe(false);
  expect(isNoSpace(undefined)).toBe(false);
});

test('syncTree makes a tree durable and fails on what it cannot sync', async () => {
  const tree = path.join(dir, 'tree');
  for (let i = 0; i < 200; i++) {
    fs.mkdirSync(path.join(tree, `d${i % 7}`), { recursive: true });
    fs.writeFileSync(path.join(tree, `d${i % 7}`, `f${i}`), `file ${i}\n`);
  }
  await expect(syncTree(tree)).resolves.toBeUndefined();
  await expect(syncTree(path.join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  // the per-file path (used where syncfs is not trusted) reports the first failure after the running fsyncs end
  const files = fs.readdirSync(path.join(tree, 'd0')).map((n) => path.join(tree, 'd0', n));
  await expect(fsyncAll([...files, path.join(dir, 'gone')])).rejects.toMatchObject({ code: 'ENOENT' });
  await expect(fsyncAll([])).resolves.toBeUndefined();
});

test('syncfs is used on the local disk file system and never on tmpfs', async () => {
  expect(typeof (await syncFileSystemOf(dir))).toBe('boolean');
  if (fs.existsSync('/dev/shm') && fs.statfsSync('/dev/shm').type === 0x01021994) expect(await syncFileSystemOf('/dev/shm')).toBe(false);
  expect(await syncFileSystemOf(path.join(dir, 'missing'))).toBe(false);
});
