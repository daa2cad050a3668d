// engine/locks.ts and engine/aux-metadata.ts on real files: lock/unlock/getLockInfo with clear errors, handles never
// reused, bounds, survival across a reopen (restart), damaged files reported not crashing; aux set/clear/get/removeApp.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Locks, MAX_LOCKS, addLock, EMPTY_LOCKS } from '../engine/locks';
import { AuxMetadata, MAX_KEYS_PER_APP, MAX_VALUE_LENGTH } from '../engine/aux-metadata';
import { EngineErrorCode } from '../status-codes/engine';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-locks-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('lock, second lock refused naming reason and owner, getLockInfo, unlock; all kept across a restart', async () => {
  fs.writeFileSync(path.join(dir, '.locks.json.tmp-99-1'), '{"half'); // a write a crash cut short
  const { locks, problem } = await Locks.open(dir);
  expect(fs.readdirSync(dir)).toEqual([]);
  expect(problem).toBeUndefined();
  const a = await locks.lock('com.example.app', 'recording in progress', 'com.example.dvr');
  expect(a).toEqual({ ok: true, value: { handle: '1' } });
  expect(await locks.lock('com.example.app', 'other', 'someone')).toEqual({
    ok: false,
    error: { code: EngineErrorCode.APP_LOCKED, text: 'app com.example.app is locked by com.example.dvr: recording in progress' },
  });
  expect(locks.checkNotLocked('com.example.app')).toMatchObject({ ok: false, error: { code: EngineErrorCode.APP_LOCKED } });
  expect(locks.checkNotLocked('other.app')).toEqual({ ok: true, value: undefined });
  expect(locks.getLockInfo('com.example.app')).toEqual({ ok: true, value: { reason: 'recording in progress', owner: 'com.example.dvr', id: 'com.example.app', handle: expect.any(String), time: expect.any(String) } });
  expect(locks.getLockInfo('other.app')).toEqual({ ok: false, error: { code: EngineErrorCode.NOT_LOCKED, text: 'app other.app is not locked' } });
  const b = await locks.lock('second.app', 'r', 'o');

  const again = (await Locks.open(dir)).locks;
  expect(again.isLocked('com.example.app')).toBe(true);
  expect(again.getLockInfo('second.app')).toMatchObject({ ok: true, value: { reason: 'r', owner: 'o' } });
  expect(await again.unlock('1')).toEqual({ ok: true, value: undefined });
  expect(await again.unlock('1')).toEqual({ ok: false, error: { code: EngineErrorCode.WRONG_HANDLE, text: 'no lock with handle 1' } });
  expect(again.isLocked('com.example.app')).toBe(false);
  // handles are never reused, also after a restart and an unlock
  const c = await again.lock('com.example.app', 'again', 'me');
  expect([b.ok && b.value.handle, c.ok && c.value.handle]).toEqual(['2', '3']);
  expect((await Locks.open(dir)).locks.isLocked('com.example.app')).toBe(true);
  expect((await Locks.open(dir)).locks.isLocked('second.app')).toBe(true);
});

test('bad input is refused with a clear error and changes nothing', async () => {
  const { locks } = await Locks.open(dir);
  const bad: Array<[unknown, unknown, unknown, RegExp]> = [
    ['', 'r', 'o', /id is required/],
    ['Bad_Id', 'r', 'o', /not a valid package id/],
    [42, 'r', 'o', /id must be a string/],
    ['a.b', '', 'o', /reason is required/],
    ['a.b', 'r', undefined, /owner is required/],
    ['a.b', 'x'.repeat(257), 'o', /reason is longer than 256/],
    ['a.b', 'r', 'o'.repeat(129), /owner is longer than 128/],
    ['a.b', 'line\nbreak', 'o', /control characters/],
  ];
  for (const [id, reason, owner, re] of bad) {
    const r = await locks.lock(id, reason, owner);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe(EngineErrorCode.WRONG_PARAMS);
      expect(r.error.text).toMatch(re);
    }
  }
  expect(await locks.unlock('nope')).toMatchObject({ ok: false, error: { code: EngineErrorCode.WRONG_HANDLE } });
  expect(await locks.unlock({})).toMatchObject({ ok: false, error: { code: EngineErrorCode.WRONG_PARAMS } });
  expect(locks.list()).toEqual([]);
  expect(fs.existsSync(path.join(dir, 'locks.json'))).toBe(false);
  // the count bound (pure, to keep the test fast)
  let s = EMPTY_LOCKS;
  for (let i = 0; i < MAX_LOCKS; i++) {
    const r = addLock(s, `app${i}`, 'r', 'o', new Date());
    if (!r.ok) throw new Error(r.error.text);
    s = r.value.state;
  }
  expect(addLock(s, 'one.more', 'r', 'o', new Date())).toMatchObject({ ok: false, error: { code: EngineErrorCode.TOO_MANY } });
});

test('a damaged lock file is set aside and reported; handles then start past any used before', async () => {
  fs.writeFileSync(path.join(dir, 'locks.json'), '{"nextHandle": 5, "locks": [ {"id": "a"');
  const { locks, problem } = await Locks.open(dir);
  expect(problem).toMatch(/locks\.json is damaged and was set aside: not JSON/);
  expect(fs.existsSync(path.join(dir, 'locks.json.damaged'))).toBe(true);
  const r = await locks.lock('a.b', 'r', 'o');
  expect(r.ok && Number(r.value.handle)).toBeGreaterThan(1e12);
  // wrong shapes, too large, a symlink: reported too
  for (const content of ['[]', '{"nextHandle":0,"locks":[]}', '{"nextHandle":3,"locks":[{"handle":"7","id":"a","reason":"r","owner":"o","time":"t"}]}', ' '.repeat(MAX_LOCKS * 1024 + 5000)]) {
    fs.writeFileSync(path.join(dir, 'locks.json'), content);
    expect((await Locks.open(dir)).problem).toMatch(/damaged/);
  }
  fs.rmSync(path.join(dir, 'locks.json'), { force: true });
  fs.symlinkSync('/etc/passwd', path.join(dir, 'locks.json'));
  expect((await Locks.open(dir)).problem).toMatch(/symbolic link/);
});

test('aux metadata: set, overwrite, clear, get; survives a restart; goes with the app; bounded; damage reported', async () => {
  const { aux, problem } = await AuxMetadata.open(dir);
  expect(problem).toBeUndefined();
  expect(await aux.set('com.example.app', 'channel', 'beta')).toEqual({ ok: true, value: undefined });
  await aux.set('com.example.app', 'note', '');
  await aux.set('com.example.app', '__proto__', 'x');
  await aux.set('com.example.app', 'channel', 'stable');
  await aux.set('other.app', 'k', 'v');
  expect(aux.get('com.example.app')).toEqual({ channel: 'stable', note: '', ['__proto__']: 'x' });
  expect(await aux.clear('com.example.app', 'note')).toEqual({ ok: true, value: undefined });
  expect(await aux.clear('com.example.app', 'never-set')).toEqual({ ok: true, value: undefined });

  const again = (await AuxMetadata.open(dir)).aux;
  expect(again.get('com.example.app')).toEqual({ channel: 'stable', ['__proto__']: 'x' });
  expect(Object.getPrototypeOf(again.get('com.example.app'))).toBe(Object.prototype);
  await again.removeApp('com.example.app');
  expect(again.get('com.example.app')).toEqual({});
  expect((await AuxMetadata.open(dir)).aux.get('com.example.app')).toEqual({});
  expect((await AuxMetadata.open(dir)).aux.get('other.app')).toEqual({ k: 'v' });

  expect(await again.set('other.app', 'k', 'v'.repeat(MAX_VALUE_LENGTH + 1))).toMatchObject({ ok: false, error: { code: EngineErrorCode.WRONG_PARAMS } });
  expect(await again.set('other.app', '', 'v')).toMatchObject({ ok: false, error: { text: 'key is required' } });
  expect(await again.set('other.app', 'k', 5)).toMatchObject({ ok: false, error: { text: 'value must be a string' } });
  expect(await again.set('BAD', 'k', 'v')).toMatchObject({ ok: false, error: { code: EngineErrorCode.WRONG_PARAMS } });
  for (let i = 1; i < MAX_KEYS_PER_APP; i++) expect((await again.set('other.app', `k${i}`, 'v')).ok).toBe(true);
  expect(await again.set('other.app', 'one-more', 'v')).toMatchObject({ ok: false, error: { code: EngineErrorCode.TOO_MANY } });
  expect((await again.set('other.app', 'k1', 'overwrite is fine')).ok).toBe(true);

  fs.writeFileSync(path.join(dir, 'aux-metadata.json'), '{"a.b": {"k": 1}}');
  const damaged = await AuxMetadata.open(dir);
  expect(damaged.problem).toMatch(/aux-metadata\.json is damaged and was set aside: value must be a string/);
  expect(damaged.aux.get('a.b')).toEqual({});
});
