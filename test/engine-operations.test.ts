// engine/operations.ts, operation-log.ts and operation-store.ts on real files: handles never reused (also across a
// restart and a damaged index), states and weighted monotonic progress, logs bounded and readable by range while
// written, multicast events, cancel outcomes, persisted history of the last N with logs, interrupted after a crash.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OperationStore, OperationEvent } from '../engine/operation-store';
import { OperationLog, sliceRange, cleanLines, rangeProblem, MAX_LINE_LENGTH } from '../engine/operation-log';
import { weightedProgress, resolveWeights, DEFAULT_WEIGHTS, Operation } from '../engine/operations';
import { EngineErrorCode, EngineErrorText } from '../status-codes/engine';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-ops-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const must = <T,>(r: { ok: true; value: T } | { ok: false; error: { text: string } }): T => {
  if (!r.ok) throw new Error(r.error.text);
  return r.value;
};
const req = (id = 'com.example.app', kind = 'install') => ({ kind, id, version: '1.0.0', type: 'webos', caller: 'com.example.store' });

test('progress is weighted over the phases, skips count as done, and configured weights are checked', () => {
  const w = DEFAULT_WEIGHTS.install;
  expect(weightedProgress(w, 'download', 0)).toBe(0);
  expect(weightedProgress(w, 'download', 0.5)).toBe(40);
  expect(weightedProgress(w, 'verify', 0)).toBe(80);
  expect(weightedProgress(w, 'unpack', 1)).toBe(95);
  expect(weightedProgress(w, 'register', 1)).toBe(100);
  expect(weightedProgress({ verify: 1, unpack: 1 }, 'unpack', 0.5)).toBe(75);
  expect(weightedProgress(w, 'download', NaN)).toBe(0);
  expect(must(resolveWeights({ install: { download: 0, unpack: 3, register: 1 } })).install).toEqual({ download: 0, unpack: 3, register: 1 });
  expect(must(resolveWeights(undefined))).toEqual(DEFAULT_WEIGHTS);
  for (const bad of [{ instal: {} }, { install: { dl: 1 } }, { install: { download: -1 } }, { install: { download: 0 } }, { install: { download: '5' } }, [], 'x']) {
    expect(resolveWeights(bad)).toMatchObject({ ok: false, error: { code: EngineErrorCode.WRONG_PARAMS } });
  }
});

test('a log keeps its head when over the cap, says so, and reads by [start, end) while open', () => {
  const log = new OperationLog(1024);
  log.append('first line');
  expect(log.read()).toEqual({ text: 'first line\n', size: 11, moreData: true });
  expect(log.read(6, 10)).toEqual({ text: 'line', size: 11, moreData: true });
  for (let i = 0; i < 100; i++) log.append(`line ${i} ${'x'.repeat(20)}`);
  const head = log.read().text;
  expect(head.startsWith('first line\nline 0 ')).toBe(true);
  expect(head).toMatch(/\[log truncated at 1024 characters; later lines are dropped\]\n$/);
  const before = log.size;
  log.append('more');
  expect(log.size).toBe(before); // append-only: earlier offsets stay valid
  log.close();
  expect(log.read(before)).toEqual({ text: expect.stringMatching(/^\[\d+ lines \(\d+ characters\) dropped\]\n$/), size: expect.any(Number), moreData: false });
  expect(log.size).toBeLessThan(1024 + 256);
  expect(cleanLines('a\r\nb\u0007c\td')).toEqual(['a', 'b?c\td']);
  expect(cleanLines('y'.repeat(MAX_LINE_LENGTH + 10))[0]).toHaveLength(MAX_LINE_LENGTH);
  expect(sliceRange('abcdef', true, 4, 100)).toEqual({ text: 'ef', size: 6, moreData: false });
  expect(sliceRange('abcdef', true, 10)).toEqual({ text: '', size: 6, moreData: false });
  expect(sliceRange('abcdef', true, 1, 3)).toEqual({ text: 'bc', size: 6, moreData: true });
  expect([rangeProblem(-1, undefined), rangeProblem(1.5, 2), rangeProblem(0, 'x'), rangeProblem(5, 2), rangeProblem(0, 0)]).toEqual([
    'logStart must be a non-negative integer', 'logStart must be a non-negative integer', 'logEnd must be a non-negative integer', 'logEnd must not be less than logStart', undefined,
  ]);
});

test('an install seen through the store: handle, events to every listener, progress, ranged log, history after restart', async () => {
  let t = Date.parse('2026-11-27T10:00:00.000Z');
  const clock = () => new Date((t += 1000));
  const { store, problems } = await OperationStore.open({ stateDir: dir, clock });
  expect(problems).toEqual([]);
  const seenA: OperationEvent[] = [];
  const seenB: OperationEvent[] = [];
  store.events.subscribe((e) => seenA.push(e));
  store.events.subscribe((e) => seenB.push(e));

  const op = must(await store.create(req()));
  expect(op.handle).toBe('1');
  expect(op.toJSON()).toEqual({ handle: '1', kind: 'install', id: 'com.example.app', version: '1.0.0', type: 'webos', state: 'queued', progress: 0, phase: '', createTime: '2026-11-27T10:00:02.000Z', startTime: '', endTime: '' }); // open() read the clock once
  must(op.start());
  must(op.enterPhase('download'));
  const progress: number[] = [];
  store.events.subscribe((e) => e.type === 'changed' && progress.push(e.operation.progress));
  for (const f of [0.1, 0.5, 0.3, 0.9, 1]) {
    must(op.setPhaseProgress(f));
    op.appendLog(`downloaded ${f}`);
  }
  must(op.enterPhase('verify'));
  expect(op.enterPhase('download')).toMatchObject({ ok: false, error: { code: EngineErrorCode.ILLEGAL_STATE } });
  // the log, read in three ranges while running
  const whole = must(await store.readLog('1'));
  expect(whole.moreData).toBe(true);
  const a = must(await store.readLog('1', 0, 10));
  const b = must(await store.readLog('1', 10, 40));
  const c = must(await store.readLog('1', 40));
  expect(a.text + b.text + c.text).toBe(whole.text);
  expect([a.moreData, b.moreData, c.moreData]).toEqual([true, true, true]);
  must(op.enterPhase('unpack', 0.5));
  expect(must(op.commit())).toBe(true);
  must(op.enterPhase('register', 1));
  expect(op.progress).toBe(99); // 100 only on success
  must(op.succeed());
  expect(op.progress).toBe(100);
  expect(progress).toEqual([...progress].sort((x, y) => x - y)); // never backwards
  // 0.3 after 0.5 changes nothing (no event); a new phase is an event even at the same percent; 100 comes with 'ended'
  expect(progress).toEqual([8, 40, 72, 80, 80, 92, 99]);
  expect(op.succeed()).toMatchObject({ ok: false, error: { code: EngineErrorCode.ILLEGAL_STATE } });
  await store.flush();
  expect(seenA).toEqual(seenB);
  expect(seenA.map((e) => e.type).filter((x) => x !== 'log')).toEqual(['created', 'changed', 'changed', 'changed', 'changed', 'changed', 'changed', 'changed', 'changed', 'changed', 'ended']);
  expect(seenA.filter((e) => e.type === 'log').flatMap((e) => (e.type === 'log' ? e.lines : []))).toContain('downloaded 0.5');
  const finalLog = must(await store.readLog('1'));
  expect(finalLog.moreData).toBe(false);
  expect(finalLog.text).toMatch(/^install com\.example\.app 1\.0\.0 queued by com\.example\.store\ndownloaded 0\.1\n[\s\S]*succeeded\n$/);
  const json = must(store.get('1'));
  await store.close();

  // restart: the history and the log are back, and handles go on from where they were
  const again = await OperationStore.open({ stateDir: dir, clock });
  expect(again.problems).toEqual([]);
  expect(must(again.store.get('1'))).toEqual(json);
  expect(must(await again.store.readLog('1', 0, 7)).text).toBe('install');
  expect(must(await again.store.readLog('1'))).toEqual(finalLog);
  expect(must(await again.store.create(req())).handle).toBe('2');
  expect(must(again.store.list({ state: 'succeeded' })).map((o) => o.handle)).toEqual(['1']);
  expect(again.store.list({ state: 'done' })).toMatchObject({ ok: false, error: { code: EngineErrorCode.WRONG_PARAMS } });
  await again.store.close();
});

test('a daemon killed mid-way: the running and queued operations read failed, with the reason, after recovery', async () => {
  const { store } = await OperationStore.open({ stateDir: dir, logFlushMs: 20 });
  const running = must(await store.create(req('a.app')));
  const queued = must(await store.create(req('b.app')));
  must(running.start());
  must(running.enterPhase('unpack', 0.5));
  running.appendLog('unpacking');
  await new Promise((r) => setTimeout(r, 100)); // the periodic log write happens
  await store.flush();
  running.appendLog('the last moment, not yet on disk');
  await store.close(); // stands for the process dying here: the running operation is not ended
  const { store: after, problems } = await OperationStore.open({ stateDir: dir });
  expect(problems).toEqual([]);
  expect(must(after.get(running.handle))).toMatchObject({ state: 'failed', errorCode: EngineErrorCode.INTERRUPTED, errorText: 'interrupted: the daemon stopped while this operation was running', endTime: expect.stringMatching(/Z$/) });
  expect(must(after.get(queued.handle))).toMatchObject({ state: 'failed', errorText: EngineErrorText.INTERRUPTED_QUEUED });
  const log = must(await after.readLog(running.handle));
  expect(log.text).toBe(`install a.app 1.0.0 queued by com.example.store\nunpacking\n${EngineErrorText.INTERRUPTED}\n`);
  expect(log.moreData).toBe(false);
  expect(must(await after.readLog(queued.handle)).text).toBe(`install b.app 1.0.0 queued by com.example.store\n${EngineErrorText.INTERRUPTED_QUEUED}\n`);
  expect(after.active()).toEqual([]);
  expect(must(await after.create(req())).handle).toBe('3');
  await after.close();
});

test('cancel: queued at once, running at the next safe point (commit then refused), past the commit point refused', async () => {
  const { store } = await OperationStore.open({ stateDir: dir });
  const q = must(await store.create(req('q.app')));
  expect(must(store.cancel(q.handle))).toEqual({ kind: 'cancelled' });
  expect(q.state).toBe('cancelled');
  expect(q.start()).toMatchObject({ ok: false, error: { code: EngineErrorCode.ILLEGAL_STATE } });
  expect(must(store.cancel(q.handle))).toEqual({ kind: 'refused', error: { code: EngineErrorCode.CANCEL_REFUSED, text: `operation ${q.handle} has already ended (cancelled); nothing to cancel` } });

  const r = must(await store.create(req('r.app')));
  must(r.start());
  must(r.enterPhase('download', 0.4));
  expect(r.cancelled()).toMatchObject({ ok: false }); // no cancel was asked
  expect(must(store.cancel(r.handle))).toEqual({ kind: 'pending' });
  expect(r.signal.aborted).toBe(true);
  expect(must(store.cancel(r.handle))).toEqual({ kind: 'pending' });
  expect(must(r.commit())).toBe(false); // the cancel came first: the runner undoes
  expect(r.committed).toBe(false);
  must(r.cancelled());
  expect(r.toJSON()).toMatchObject({ state: 'cancelled', progress: 32 });

  const c = must(await store.create(req('c.app')));
  must(c.start());
  expect(must(c.commit())).toBe(true);
  expect(must(store.cancel(c.handle))).toEqual({ kind: 'refused', error: { code: EngineErrorCode.CANCEL_REFUSED, text: `operation ${c.handle} is past its commit point and will complete; cancel refused` } });
  expect(c.signal.aborted).toBe(false);
  expect(c.cancelled()).toMatchObject({ ok: false });
  must(c.failWith(-5, 'disk full'));
  expect(c.toJSON()).toMatchObject({ state: 'failed', errorCode: -5, errorText: 'disk full' });

  // a runner's odd result survives a restart as it was shown (cleaned, bounded)
  const odd = must(await store.create(req('odd.app')));
  must(odd.failWith(NaN, `bad\u0000thing ${'x'.repeat(2000)}`));
  expect(odd.toJSON()).toMatchObject({ errorCode: -1, errorText: expect.stringMatching(/^bad thing x{1014}$/) });
  await store.flush();
  expect(must((await OperationStore.open({ stateDir: dir })).store.get(odd.handle))).toEqual(odd.toJSON());

  expect(store.cancel('999')).toEqual({ ok: false, error: { code: EngineErrorCode.WRONG_HANDLE, text: 'no operation with handle 999' } });
  expect(store.cancel(undefined)).toMatchObject({ ok: false, error: { code: EngineErrorCode.WRONG_PARAMS } });
  await store.close();
});

test('history keeps the last N finished with their logs; older logs are deleted', async () => {
  const { store } = await OperationStore.open({ stateDir: dir, historySize: 3 });
  const ops: Operation[] = [];
  for (let i = 0; i < 6; i++) {
    const op = must(await store.create(req(`app${i}`)));
    must(op.start());
    op.appendLog(`work of ${i}`);
    must(op.succeed());
    ops.push(op);
    await store.flush();
  }
  const open = must(await store.create(req('still.running')));
  await store.flush();
  expect(must(store.list()).map((o) => o.handle)).toEqual(['4', '5', '6', '7']);
  expect(fs.readdirSync(path.join(dir, 'operations', 'logs')).sort()).toEqual(['4.log', '5.log', '6.log']);
  expect(store.get('1')).toMatchObject({ ok: false, error: { code: EngineErrorCode.WRONG_HANDLE } });
  expect(must(await store.readLog('5')).text).toContain('work of 4');
  await store.close();
  const again = (await OperationStore.open({ stateDir: dir, historySize: 2 })).store;
  expect(must(again.list()).map((o) => `${o.handle}:${o.state}`)).toEqual(['6:succeeded', '7:failed']);
  expect(open.handle).toBe('7');
  await again.close();
});

test('a damaged index is set aside and reported, bad records are skipped and reported, handles are not reused', async () => {
  fs.mkdirSync(path.join(dir, 'operations'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'operations', 'index.json'), '{"nextHandle": 12, "operations": [');
  const one = await OperationStore.open({ stateDir: dir });
  expect(one.problems).toEqual([expect.stringMatching(/index\.json is damaged and was set aside: not JSON/)]);
  expect(Number(must(await one.store.create(req())).handle)).toBeGreaterThan(1e12);
  await one.store.close();

  const good = { handle: '3', kind: 'remove', id: 'x.app', version: '', type: '', caller: 'me', state: 'succeeded', progress: 100, phase: 'register', createTime: '2026-11-27T10:00:00.000Z', startTime: '2026-11-27T10:00:01.000Z', endTime: '2026-11-27T10:00:02.000Z' };
  const bad = [{ ...good, handle: '4', state: 'exploded' }, { ...good, handle: '5', id: '../etc' }, { ...good, handle: '6', progress: 101 }, 'nonsense', { ...good, handle: '99' }];
  fs.writeFileSync(path.join(dir, 'operations', 'index.json'), JSON.stringify({ nextHandle: 10, operations: [good, ...bad] }));
  // what a crash or an old index leaves behind: temp files of unfinished writes, logs of operations no longer known
  fs.writeFileSync(path.join(dir, 'operations', '.index.json.tmp-1-1'), '{"half');
  fs.writeFileSync(path.join(dir, 'operations', 'logs', '77.log'), 'orphan');
  fs.writeFileSync(path.join(dir, 'operations', 'logs', '.3.log.tmp-1-2'), 'half');
  const two = await OperationStore.open({ stateDir: dir });
  expect(fs.readdirSync(path.join(dir, 'operations')).sort()).toEqual(['index.json', 'index.json.damaged', 'logs']);
  expect(fs.readdirSync(path.join(dir, 'operations', 'logs'))).toEqual([]);
  expect(two.problems).toHaveLength(5);
  expect(two.problems.join('\n')).toMatch(/operation 4: bad state[\s\S]*operation 5: id is not a valid package id[\s\S]*operation 6: bad progress[\s\S]*not an object[\s\S]*99: duplicate or beyond nextHandle/);
  const { caller: _caller, ...goodJson } = good; // the caller is persisted but not part of OP
  expect(must(two.store.list())).toEqual([goodJson]);
  expect(must(await two.store.readLog('3'))).toEqual({ text: '', size: 0, moreData: false }); // its log file is missing: empty, not a crash
  expect(must(await two.store.create(req())).handle).toBe('10');
  await two.store.close();
});

test('bad requests and options are refused with clear errors', async () => {
  const { store } = await OperationStore.open({ stateDir: dir });
  const cases: Array<[unknown, RegExp]> = [
    [null, /request must be an object/],
    [{ ...req(), kind: 'upgrade' }, /kind must be one of install, remove, download, firmware, refresh/],
    [{ ...req(), id: 'Bad Id' }, /id is not a valid package id/],
    [{ ...req(), id: undefined }, /id is required/],
    [{ ...req(), version: 'v'.repeat(300) }, /version is longer than 256/],
    [{ ...req(), type: 7 }, /type must be a string/],
    [{ ...req(), caller: '' }, /caller is required/],
  ];
  for (const [r, re] of cases) {
    const res = await store.create(r);
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.error.text).toMatch(re);
  }
  expect(must(store.list())).toEqual([]);
  expect(await store.readLog('1')).toMatchObject({ ok: false, error: { code: EngineErrorCode.WRONG_HANDLE } });
  const op = must(await store.create(req()));
  expect(await store.readLog(op.handle, 5, 2)).toMatchObject({ ok: false, error: { code: EngineErrorCode.WRONG_PARAMS } });
  await store.close();
  await expect(OperationStore.open({ stateDir: dir, historySize: 0 })).rejects.toThrow(/historySize must be an integer from 1 to 10000/);
  await expect(OperationStore.open({ stateDir: dir, weights: { install: { download: -1 } } })).rejects.toThrow(/phase weights of install/);
});

test('reweigh: one operation gets other weights before its first phase (a download to weigh), refused after', async () => {
  const { store } = await OperationStore.open({ stateDir: dir, weights: { install: { verify: 10, unpack: 80, register: 10 } } });
  const local = must(await store.create(req('com.example.local')));
  local.start();
  local.enterPhase('download');
  local.setPhaseProgress(0.5);
  expect(local.progress).toBe(0); // a kind without a download weight: its download counts for nothing
  const remote = must(await store.create(req('com.example.remote')));
  must(remote.reweigh(DEFAULT_WEIGHTS.install));
  remote.start();
  remote.enterPhase('download');
  remote.setPhaseProgress(0.5);
  expect(remote.progress).toBe(40); // half of the download's 80 %
  const again = remote.reweigh({ register: 1 });
  expect(again.ok).toBe(false);
  expect(!again.ok && again.error.code).toBe(EngineErrorCode.ILLEGAL_STATE);
  remote.setPhaseProgress(0.75);
  expect(remote.progress).toBe(60);
  await store.close();
});

test('a chain of parts as one operation: each part its span of the progress (monotonic), its own commit point, a cancel past a part that is not the last stops before the next', async () => {
  const { store } = await OperationStore.open({ stateDir: dir });
  const op = must(await store.create(req('com.example.app')));
  op.start();
  const seen: number[] = [];
  store.events.subscribe((ev) => { if (ev.type === 'changed' && ev.operation.handle === op.handle) seen.push(ev.operation.progress); });
  must(op.beginPart(0, 0.25, false)); // a dependency: a quarter of the bytes
  op.enterPhase('download');
  op.setPhaseProgress(0.5);
  expect(op.progress).toBe(10); // half of its download's 80 % of its quarter
  op.enterPhase('register');
  expect(must(op.commit())).toBe(true);
  must(op.beginPart(0.25, 0.75, false)); // phases run again from the first; its commit point is ahead
  expect(op.committed).toBe(false);
  expect(op.progress).toBe(25);
  op.enterPhase('download');
  op.setPhaseProgress(1);
  expect(op.progress).toBe(85);
  expect(must(op.commit())).toBe(true);
  // Past this part's commit point, with a part still ahead: the cancel is accepted (pending), not refused.
  expect(op.requestCancel()).toEqual({ kind: 'pending' });
  expect(op.committed).toBe(true);
  must(op.beginPart(1, 0, true));
  expect(op.progress).toBe(100 - 1); // never 100 before success, never back
  must(op.cancelled());
  expect(op.state).toBe('cancelled');
  expect(seen).toEqual([...seen].sort((a, b) => a - b));
  // The last part past its commit point: refused, as for one operation.
  const one = must(await store.create(req('com.example.one')));
  one.start();
  must(one.beginPart(0, 1, true));
  one.enterPhase('register');
  must(one.commit());
  expect(one.requestCancel().kind).toBe('refused');
  await store.close();
});
