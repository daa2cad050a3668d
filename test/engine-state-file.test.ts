// engine/state-file.ts: atomic replacement leaves no temp files and the old content on failure, ordered state
// changes, and bounded reads of state files that set a damaged one aside instead of throwing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeStateFile, readJsonState, SerialQueue, ensureStateDir, counterAfterDamage } from '../engine/state-file';
import { unlinkDurable } from '../engine/durable-fs';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-dfile-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const anyObject = (j: unknown) => (j && typeof j === 'object' && !Array.isArray(j) ? { value: j as Record<string, unknown> } : { problem: 'not an object' });

test('writeStateFile replaces whole, creates parents, leaves no temp file, also when the write fails', async () => {
  const f = path.join(dir, 'a', 'b', 'state.json');
  await writeStateFile(f, '{"v":1}');
  await writeStateFile(f, '{"v":2}');
  expect(fs.readFileSync(f, 'utf8')).toBe('{"v":2}');
  expect(fs.readdirSync(path.dirname(f))).toEqual(['state.json']);
  expect(fs.statSync(f).mode & 0o777).toBe(0o600);
  // the target is a directory: the rename fails, the temp file is cleaned up
  fs.mkdirSync(path.join(dir, 'isdir'));
  fs.writeFileSync(path.join(dir, 'isdir', 'x'), '');
  await expect(writeStateFile(path.join(dir, 'isdir'), 'data')).rejects.toThrow();
  expect(fs.readdirSync(dir).sort()).toEqual(['a', 'isdir']);
  await unlinkDurable(f);
  await unlinkDurable(f);
  expect(fs.existsSync(f)).toBe(false);
  await ensureStateDir(path.join(dir, 'x', 'y'));
  expect(fs.statSync(path.join(dir, 'x', 'y')).isDirectory()).toBe(true);
  expect(fs.statSync(path.join(dir, 'x', 'y')).mode & 0o777).toBe(0o700);
  expect(fs.statSync(path.join(dir, 'a')).mode & 0o777).toBe(0o700); // made by the write, root-only too
  // something planted at a temp name is never opened through: the writer creates its temp file or fails
  const planted = path.join(dir, 'planted-target');
  fs.writeFileSync(planted, 'keep');
  for (let i = 0; i < 50; i++) fs.symlinkSync(planted, path.join(dir, 'a', 'b', `.state.json.tmp-${process.pid}-${i}`));
  await writeStateFile(f, '{"v":3}').catch(() => undefined);
  expect(fs.readFileSync(planted, 'utf8')).toBe('keep');
});

test('SerialQueue runs changes one at a time in call order, a failure not stopping the next', async () => {
  const q = new SerialQueue();
  const order: string[] = [];
  const slow = q.run(async () => {
    await new Promise((r) => setTimeout(r, 30));
    order.push('slow');
  });
  const failing = q.run(async () => {
    order.push('failing');
    throw new Error('boom');
  });
  const fast = q.run(async () => {
    order.push('fast');
    return 7;
  });
  await slow;
  await expect(failing).rejects.toThrow('boom');
  expect(await fast).toBe(7);
  expect(order).toEqual(['slow', 'failing', 'fast']);
});

test('readJsonState: absent, ok, and every kind of damage set aside and reported', async () => {
  const f = path.join(dir, 's.json');
  expect(await readJsonState(f, 100, anyObject)).toEqual({ kind: 'absent' });
  fs.writeFileSync(f, '{"a":1}');
  expect(await readJsonState(f, 100, anyObject)).toEqual({ kind: 'ok', value: { a: 1 } });
  const damaged: Array<[() => void, RegExp]> = [
    [() => fs.writeFileSync(f, '{"a":'), /not JSON/],
    [() => fs.writeFileSync(f, '[1]'), /not an object/],
    [() => fs.writeFileSync(f, ' '.repeat(101)), /101 bytes, more than the 100 allowed/],
    [() => fs.writeFileSync(f, Buffer.from([0xff, 0xfe, 0x00])), /not JSON/],
    [() => fs.symlinkSync('/etc/hostname', f), /symbolic link/],
    [() => fs.mkdirSync(f), /not a regular file/],
  ];
  for (const [make, re] of damaged) {
    fs.rmSync(f, { recursive: true, force: true });
    fs.rmSync(`${f}.damaged`, { recursive: true, force: true });
    make();
    const r = await readJsonState(f, 100, anyObject);
    expect(r.kind).toBe('damaged');
    if (r.kind === 'damaged') {
      expect(r.problem).toMatch(re);
      expect(r.problem).toContain(f);
      expect(r.setAsideTo).toBe(`${f}.damaged`);
    }
    expect(fs.existsSync(f)).toBe(false);
  }
  expect(counterAfterDamage(1234.5)).toBe(1234);
  expect(counterAfterDamage(-5)).toBe(1);
});
