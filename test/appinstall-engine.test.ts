// The engine under com.webos.appInstallService, end to end over the bus (real daemon, luna-send): operations with
// handle/progress/log, history across a restart, a crash read as failed, cancel at random moments, and the queue.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { call, daemonsForThisFile, install, listTree, lunaSend, makeIpk, type Daemon, type Json, type SendResult } from './helpers/appinstall-daemon';
import { STAGING_DIRNAME } from '../engine/package-switch';
import { LunaClient } from '../ipc/client';

jest.setTimeout(240000);


const S = 'luna://com.webos.appInstallService';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const { tmp, started } = daemonsForThisFile('ai-engine-');

/** An app of `files` files of random text (about 2:1 compressible), big enough to take a while to unpack. */
async function bigIpk(id: string, version: string, files: number, bytesPerFile: number): Promise<string> {
  const body: Record<string, string> = {};
  for (let i = 0; i < files; i++) body[`asset-${i}.txt`] = crypto.randomBytes(bytesPerFile / 2).toString('hex');
  return makeIpk(path.join(tmp, `${id}-${version}-big`), id, version, { files: body });
}

/** install with subscribe, read until any final event (22 included). */
function installUntilEnd(root: string, id: string, ipk: string, extra: Json = {}): Promise<SendResult> {
  return lunaSend(root, ['-i', `${S}/install`, JSON.stringify({ id, ipkUrl: ipk, subscribe: true, ...extra })], {
    until: (l) => l.returnValue === false || [22, 24, 25, 30, 31].includes(l.statusValue),
    limitMs: 120000,
  });
}

async function listOps(root: string, payload: Json = {}): Promise<Json[]> {
  const r = await call(root, `${S}/operations/list`, payload);
  expect(r.returnValue).toBe(true);
  return r.operations;
}

/** Polls /operations/list until an operation matches. */
async function waitOp(root: string, pred: (op: Json) => boolean, limitMs = 30000): Promise<Json> {
  const end = Date.now() + limitMs;
  for (;;) {
    const found = (await listOps(root)).find(pred);
    if (found) return found;
    if (Date.now() > end) throw new Error('operation not seen in time');
    await sleep(20);
  }
}

const getOp = (root: string, payload: Json) => call(root, `${S}/operations/get`, payload);
const last = (r: SendResult) => r.lines[r.lines.length - 1];
const appDir = (root: string, id: string) => path.join(root, 'media/cryptofs/apps/usr/palm/applications', id);
const installedVersion = (root: string, id: string): string | null => {
  try {
    return JSON.parse(fs.readFileSync(appDir(root, id) + '/appinfo.json', 'utf8')).version;
  } catch {
    return null;
  }
};
const stagingLeft = (root: string) => listTree(path.join(root, 'media/cryptofs/apps', STAGING_DIRNAME));

test('an install seen through the new methods: handle, state, progress, a log read in three ranges while it runs; kept after a restart', async () => {
  let d: Daemon = await started({ config: { operationHistory: 3 } });
  try {
    const ipk = await bigIpk('com.test.watched', '1.0.0', 3000, 10000);
    const running = installUntilEnd(d.root, 'com.test.watched', ipk);
    const seen = await waitOp(d.root, (o) => o.id === 'com.test.watched' && o.state === 'running');
    expect(seen).toMatchObject({ kind: 'install', id: 'com.test.watched', state: 'running' });
    expect(seen.handle).toMatch(/^[1-9][0-9]*$/);
    const handle = seen.handle;

    // Three consecutive ranges of the log, each read while the install runs: [0, 60), [60, a), [a, …).
    const reads: Json[] = [];
    let from = 0;
    for (let i = 0; i < 3; i++) {
      const r = await getOp(d.root, i === 0 ? { handle, logStart: 0, logEnd: 60 } : { handle, logStart: from });
      expect(r.returnValue).toBe(true);
      expect(r.operation.state).toBe('running');
      expect(r.moreData).toBe(true);
      expect(r.logSize).toBeGreaterThanOrEqual(from + r.log.length);
      reads.push({ ...r, from, to: from + r.log.length });
      from += r.log.length;
    }
    expect(reads[0].log).toHaveLength(60);
    const progresses = reads.map((r) => r.operation.progress);
    expect([...progresses].sort((a, b) => a - b)).toEqual(progresses);

    const end = await running;
    expect(last(end).statusValue).toBe(30);
    const done = await getOp(d.root, { handle });
    expect(done.operation).toMatchObject({ handle, kind: 'install', id: 'com.test.watched', version: '1.0.0', type: 'web', state: 'succeeded', progress: 100, phase: 'register' });
    expect(done.operation.errorCode).toBeUndefined();
    expect(Date.parse(done.operation.createTime)).toBeLessThanOrEqual(Date.parse(done.operation.startTime));
    expect(Date.parse(done.operation.startTime)).toBeLessThanOrEqual(Date.parse(done.operation.endTime));
    expect(done.moreData).toBe(false);
    const full: string = done.log;
    // The ranges read while running are the log as it ended: consecutive, nothing rewritten.
    for (const r of reads) expect(full.slice(r.from, r.to)).toBe(r.log);
    for (const step of ['parse', 'check-update', 'close-app', 'verify', 'prepare', 'unpack', 'switch', 'bus-files', 'finish']) expect(full).toContain(`=== step ${step}\n`);
    expect(full).toMatch(/unpack: \d+% of data\.tar\.gz read/);
    expect(full.trimEnd().endsWith('succeeded')).toBe(true);
    expect((await listOps(d.root, { state: 'succeeded' })).map((o) => o.handle)).toEqual([handle]);
    expect(await listOps(d.root, { state: 'running' })).toEqual([]);

    // After a restart: the same operation, the same log.
    await d.stop();
    d = await started({ root: d.root, config: { operationHistory: 3 } });
    const again = await getOp(d.root, { handle });
    expect(again.operation).toEqual(done.operation);
    expect(again.log).toBe(full);
    expect(again.moreData).toBe(false);

    // History keeps the last operationHistory (3) finished operations; handles are never reused.
    const small = await makeIpk(tmp, 'com.test.small', '1.0.0');
    for (let i = 0; i < 3; i++) expect(last(await install(d.root, 'com.test.small', small)).statusValue).toBe(30);
    const kept = await listOps(d.root);
    expect(kept).toHaveLength(3);
    expect(kept.map((o) => Number(o.handle))).toEqual([Number(handle) + 1, Number(handle) + 2, Number(handle) + 3]);
    expect((await getOp(d.root, { handle })).errorCode).toBe(-202);
  } finally {
    await d.stop();
  }
});

test('an operation killed mid-way reads failed with a reason after recovery', async () => {
  const ipk = await makeIpk(tmp, 'com.test.killed', '1.0.0');
  let d = await started({ env: { APPINSTALLD_FAULT: 'install.staged' } });
  void install(d.root, 'com.test.killed', ipk).catch(() => undefined);
  expect((await d.exited).signal).toBe('SIGKILL');
  d = await started({ root: d.root });
  try {
    const [op] = await listOps(d.root);
    expect(op).toMatchObject({ kind: 'install', id: 'com.test.killed', state: 'failed', errorCode: -213 });
    expect(op.errorText).toMatch(/interrupted: the daemon stopped while this operation was running/);
    expect(op.endTime).not.toBe('');
    const got = await getOp(d.root, { handle: op.handle });
    expect(got.log).toContain('=== step unpack');
    expect(got.log.trimEnd().endsWith(op.errorText)).toBe(true);
    expect(d.stderr()).toContain(`operation ${op.handle} (install com.test.killed) reads failed`);
    expect(installedVersion(d.root, 'com.test.killed')).toBeNull();
    expect(stagingLeft(d.root)).toEqual([]);
  } finally {
    await d.stop();
  }
});

test('cancel of a large install at 10 random moments: cancelled with the old state intact (22), or completed with the cancel refused', async () => {
  const id = 'com.test.cancel';
  const d = await started();
  try {
    const old = await makeIpk(tmp, id, '1.0.0', { files: { 'old.txt': 'old version\n' } });
    const big = await bigIpk(id, '2.0.0', 1200, 20000);
    const backToOld = async () => expect(last(await install(d.root, id, old, { extra: { allowDowngrade: true } })).statusValue).toBe(30);
    await backToOld();
    const oldTree = listTree(appDir(d.root, id));
    // How long the whole install takes here, to spread the cancels over it.
    const t0 = Date.now();
    expect(last(await installUntilEnd(d.root, id, big)).statusValue).toBe(30);
    const span = Date.now() - t0;
    await backToOld();
    const outcomes: string[] = [];
    for (let round = 0; round < 10; round++) {
      const known = new Set((await listOps(d.root)).map((o) => o.handle));
      const run = installUntilEnd(d.root, id, big);
      const op = await waitOp(d.root, (o) => o.id === id && !known.has(o.handle));
      await sleep(Math.floor(Math.random() * span));
      const c = await call(d.root, `${S}/operations/cancel`, { handle: op.handle });
      const r = await run;
      const final = last(r);
      const after = (await getOp(d.root, { handle: op.handle })).operation;
      if (c.returnValue === true) {
        outcomes.push('cancelled');
        expect(final.statusValue).toBe(22);
        expect(final.details).toMatchObject({ state: 'install cancelled', errorCode: -20, reason: 'install cancelled' });
        expect(after.state).toBe('cancelled');
        expect(installedVersion(d.root, id)).toBe('1.0.0');
        expect(listTree(appDir(d.root, id))).toEqual(oldTree);
      } else {
        outcomes.push('refused');
        expect(c.errorCode).toBe(-210);
        expect(c.errorText).toMatch(/has already ended|past its commit point/);
        expect(final.statusValue).toBe(30);
        expect(after.state).toBe('succeeded');
        expect(installedVersion(d.root, id)).toBe('2.0.0');
        await backToOld();
      }
      expect(r.lines.some((l) => l.statusValue === 22) && r.lines.some((l) => l.statusValue === 30)).toBe(false);
      expect(stagingLeft(d.root)).toEqual([]);
    }
    expect(outcomes).toHaveLength(10);
    expect(d.stderr()).not.toMatch(/internal error/);
  } finally {
    await d.stop();
  }
});

test('a queued install is cancelled at once; bad handles and ended operations are refused clearly', async () => {
  const d = await started({ config: { maxConcurrentTasks: 1 } });
  try {
    const first = await bigIpk('com.test.first', '1.0.0', 5000, 8000);
    const second = await makeIpk(tmp, 'com.test.second', '1.0.0');
    expect(last(await install(d.root, 'com.test.keep', await makeIpk(tmp, 'com.test.keep', '1.0.0'))).statusValue).toBe(30);
    const run1 = installUntilEnd(d.root, 'com.test.first', first);
    const firstOp = await waitOp(d.root, (o) => o.id === 'com.test.first' && o.state === 'running');
    const run2 = installUntilEnd(d.root, 'com.test.second', second);
    const rm = lunaSend(d.root, ['-i', `${S}/remove`, JSON.stringify({ id: 'com.test.keep', subscribe: true })], { until: (l) => l.returnValue === false || [25, 31].includes(l.statusValue) });
    const queued = await waitOp(d.root, (o) => o.id === 'com.test.second');
    const queuedRemove = await waitOp(d.root, (o) => o.id === 'com.test.keep' && o.kind === 'remove');
    expect(queued.state).toBe('queued');
    expect(await call(d.root, `${S}/operations/cancel`, { handle: queued.handle })).toEqual({ returnValue: true, state: 'cancelled' });
    expect((await getOp(d.root, { handle: queued.handle })).operation.state).toBe('cancelled');
    // On the bus at once too: 22 while the first install still runs (not when the queue reaches it).
    expect(last(await run2)).toMatchObject({ statusValue: 22, details: { state: 'install cancelled', errorCode: -20, reason: 'install cancelled' } });
    expect((await getOp(d.root, { handle: firstOp.handle })).operation.state).toBe('running');
    // A queued remove likewise: 25 with -20 "remove cancelled", the app stays.
    expect(queuedRemove.state).toBe('queued');
    expect(await call(d.root, `${S}/operations/cancel`, { handle: queuedRemove.handle })).toEqual({ returnValue: true, state: 'cancelled' });
    expect(last(await rm)).toMatchObject({ statusValue: 25, details: { state: 'remove failed', errorCode: -20, reason: 'remove cancelled' } });
    expect(installedVersion(d.root, 'com.test.keep')).toBe('1.0.0');
    expect(last(await run1).statusValue).toBe(30);
    expect((await call(d.root, `${S}/status`, {})).status.apps).toEqual([]);
    expect(installedVersion(d.root, 'com.test.second')).toBeNull();
    const again = await call(d.root, `${S}/operations/cancel`, { handle: queued.handle });
    expect(again).toMatchObject({ returnValue: false, errorCode: -210 });
    expect(again.errorText).toMatch(/has already ended \(cancelled\)/);
    expect(await call(d.root, `${S}/operations/cancel`, { handle: '999999' })).toMatchObject({ returnValue: false, errorCode: -202, errorText: 'no operation with handle 999999' });
    expect(await call(d.root, `${S}/operations/cancel`, {})).toMatchObject({ returnValue: false, errorCode: -2 });
    expect(await call(d.root, `${S}/operations/get`, { handle: 'x'.repeat(100) })).toMatchObject({ returnValue: false, errorCode: -2 });
    expect(await call(d.root, `${S}/operations/get`, { handle: queued.handle, logStart: -1 })).toMatchObject({ returnValue: false, errorCode: -2 });
    expect(await call(d.root, `${S}/operations/get`, { handle: queued.handle, logStart: 5, logEnd: 2 })).toMatchObject({ returnValue: false, errorCode: -201 });
    expect(await call(d.root, `${S}/operations/list`, { state: 'sleeping' })).toMatchObject({ returnValue: false, errorCode: -201 });
  } finally {
    await d.stop();
  }
});

test('/operations/list with subscribe pushes {"operation"} on every change', async () => {
  const d = await started();
  try {
    const ipk = await makeIpk(tmp, 'com.test.pushed', '1.0.0');
    const pushes: Json[] = [];
    const sub = lunaSend(d.root, ['-i', `${S}/operations/list`, JSON.stringify({ subscribe: true })], {
      onLine: (l) => pushes.push(l),
      until: (l) => l.operation?.state === 'succeeded',
      limitMs: 30000,
    });
    await sleep(500);
    expect(last(await install(d.root, 'com.test.pushed', ipk)).statusValue).toBe(30);
    await sub;
    expect(pushes[0]).toMatchObject({ returnValue: true, subscribed: true, operations: [] });
    const states = pushes.slice(1).map((p) => p.operation.state);
    expect(states[0]).toBe('queued');
    expect(states).toContain('running');
    expect(states[states.length - 1]).toBe('succeeded');
    const progress = pushes.slice(1).map((p) => p.operation.progress);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
  } finally {
    await d.stop();
  }
});

test('a cancel past the commit point (the switch) is refused with a clear error and the install completes', async () => {
  const d = await started();
  const c = await LunaClient.connect({ root: d.root });
  try {
    const id = 'com.test.committed';
    const ipk = await makeIpk(tmp, id, '1.0.0', { services: [`${id}.svc`] });
    const answers: Json[] = [];
    let handle = '';
    let handleP: Promise<string> = Promise.resolve('');
    const events = await new Promise<Json[]>((resolve, reject) => {
      const seen: Json[] = [];
      c.call(`${S}/install`, { id, ipkUrl: ipk, subscribe: true }).subscribe({
        next: (p) => {
          const ev = p as Json;
          seen.push(ev);
          if (ev.statusValue === 35) {
            // the operation exists from the queue on: its handle, asked while the install runs (answered before the cancel is sent)
            handleP = c.callOne(`${S}/operations/list`, {}).then((r) => (handle = (r as Json).operations.find((o: Json) => o.id === id)?.handle ?? ''));
          }
          if (ev.statusValue === 17) void handleP.then((h) => c.callOne(`${S}/operations/cancel`, { handle: h })).then((r) => answers.push(r as Json));
          if ([22, 24, 30].includes(ev.statusValue)) resolve(seen);
        },
        error: reject,
      });
    });
    for (let i = 0; i < 100 && answers.length === 0; i++) await sleep(20);
    expect(handle).not.toBe('');
    expect(answers).toEqual([{ returnValue: false, errorCode: -210, errorText: `operation ${handle} is past its commit point and will complete; cancel refused` }]);
    expect(events[events.length - 1].statusValue).toBe(30);
    expect((await getOp(d.root, { handle })).operation.state).toBe('succeeded');
    expect(installedVersion(d.root, id)).toBe('1.0.0');
  } finally {
    await c.close();
    await d.stop();
  }
});
