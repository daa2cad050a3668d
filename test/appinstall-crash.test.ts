// Crash safety at every step boundary: a traced run of a fresh install, an upgrade and a remove lists the boundaries
// it crosses (APPINSTALLD_FAULT_TRACE); then, for each one, the daemon SIGKILLs itself there (APPINSTALLD_FAULT), is
// restarted, and the app must be wholly old or wholly new (file lists and contents of the app root and of the bus
// tree equal to a clean run's), the hub must agree (isCallAllowed), nothing may be left over, and installing again works.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Stage, ErrorCode, ErrorText } from '../status-codes';
import { LunaClient } from '../ipc/client';
import { FAULT_POINTS } from '../engine/fault-points';
import { startDaemon, killAllChildren, makeIpk, makeRoot, type Json } from './helpers/appinstall-daemon';
import { hubAllows, leftovers, runningTasks, runTask, snapshot, taskFaultPoints, waitForMethods, whichState, withDaemonClient, type Snapshot } from './helpers/crash-tree';

const ID = 'com.example.crash';
const SVC = `${ID}.service`;
const SVC_URI = `luna://${SVC}/ping`;
let work: string;
let v1: string;
let v2: string;
const roots: string[] = [];
/** Golden roots: none installed, 1.0.0 installed. */
const golden: { empty?: string; v1?: string } = {};
/** Reference snapshots of clean runs. */
const ref: Record<'absent' | 'v1' | 'v2', Snapshot> = {} as never;
/** The boundaries (point:pass) each operation crosses, in order, from a traced clean run. */
const trace: Record<Op, string[]> = { fresh: [], upgrade: [], remove: [] };

type Op = 'fresh' | 'upgrade' | 'remove';
const OPS: Record<Op, { from: () => string; old: 'absent' | 'v1'; target: 'absent' | 'v1' | 'v2'; commit: string; run: (c: LunaClient) => Promise<Json[]> }> = {
  fresh: { from: () => golden.empty!, old: 'absent', target: 'v1', commit: 'install.committed', run: (c) => runTask(c, 'install', { id: ID, ipkUrl: v1 }) },
  upgrade: { from: () => golden.v1!, old: 'v1', target: 'v2', commit: 'install.committed', run: (c) => runTask(c, 'install', { id: ID, ipkUrl: v2 }) },
  remove: { from: () => golden.v1!, old: 'v1', target: 'absent', commit: 'remove.committed', run: (c) => runTask(c, 'remove', { id: ID }) },
};

function copyRoot(from: string): string {
  const root = makeRoot();
  execFileSync('cp', ['-a', `${from}/.`, root]);
  fs.rmSync(path.join(root, 'var/run'), { recursive: true, force: true });
  roots.push(root);
  return root;
}


const finalOf = (lines: Json[]) => lines[lines.length - 1];

beforeAll(async () => {
  work = fs.mkdtempSync('/tmp/ai-w-');
  v1 = await makeIpk(work, ID, '1.0.0', { services: [SVC], files: { 'only-in-1.txt': 'one\n', 'changed.txt': 'first\n' } });
  v2 = await makeIpk(work, ID, '2.0.0', { files: { 'only-in-2.txt': 'two\n', 'changed.txt': 'second\n' } });
  golden.empty = makeRoot();
  roots.push(golden.empty);
  await (await startDaemon({ root: golden.empty })).stop();
  ref.absent = snapshot(golden.empty);
  // Clean traced runs: the reference trees and the list of boundaries of each operation.
  const traced = async (op: Op, root: string) =>
    withDaemonClient(root, { APPINSTALLD_FAULT_TRACE: '1' }, async (c, stderr) => {
      const lines = await OPS[op].run(c);
      expect(finalOf(lines).statusValue).toBe(op === 'remove' ? Stage.REMOVED.statusValue : Stage.INSTALLED.statusValue);
      trace[op] = taskFaultPoints(stderr());
    });
  golden.v1 = copyRoot(golden.empty);
  await traced('fresh', golden.v1);
  ref.v1 = snapshot(golden.v1);
  const up = copyRoot(golden.v1);
  await traced('upgrade', up);
  ref.v2 = snapshot(up);
  const rm = copyRoot(golden.v1);
  await traced('remove', rm);
  expect(whichState(snapshot(rm), { absent: ref.absent })).toBe('absent');
}, 90000);

afterAll(() => {
  killAllChildren();
  for (const r of [work, ...roots]) if (r) fs.rmSync(r, { recursive: true, force: true });
});

test('the reference runs differ where they must (file lists, contents, bus files)', () => {
  expect(Object.keys(ref.v1.apps)).toContain(`usr/palm/services/${SVC}/services.json`);
  expect(Object.keys(ref.v1.apps)).toContain(`usr/palm/applications/${ID}/only-in-1.txt`);
  expect(Object.keys(ref.v2.apps)).not.toContain(`usr/palm/applications/${ID}/only-in-1.txt`);
  expect(ref.v1.apps[`usr/palm/applications/${ID}/changed.txt`]).not.toBe(ref.v2.apps[`usr/palm/applications/${ID}/changed.txt`]);
  expect(Object.keys(ref.v1.bus)).toContain(`api-permissions.d/${SVC}.api.json`);
  expect(Object.keys(ref.v2.bus)).not.toContain(`api-permissions.d/${SVC}.api.json`);
  expect(ref.absent.bus).toEqual({});
});

test('the traced runs cross every fault point (rollback.restored is walked inside recovery below)', () => {
  const crossed = new Set([...trace.fresh, ...trace.upgrade, ...trace.remove, 'rollback.restored'].map((f) => f.split(':')[0]));
  expect(FAULT_POINTS.filter((p) => !crossed.has(p))).toEqual([]);
  for (const op of Object.keys(OPS) as Op[]) expect(trace[op]).toContain(`${OPS[op].commit}:1`);
  // an upgrade moves several old targets aside and places several new ones: each pass is its own boundary
  expect(trace.upgrade.filter((f) => f.startsWith('install.moved-aside')).length).toBeGreaterThan(2);
});

/** After a restart: which version is on disk (wholly), with the hub, status and leftovers checked. */
async function checkAfterRestart(c: LunaClient, root: string, allowed: string[]): Promise<string> {
  const state = whichState(snapshot(root), Object.fromEntries(allowed.map((k) => [k, ref[k as keyof typeof ref]])));
  expect(leftovers(root)).toEqual([]);
  // the hub's state follows the disk: the app may call its service exactly when the version with the service is there
  expect([state, await hubAllows(c, SVC_URI, ID)]).toEqual([state, state === 'v1']);
  expect(await runningTasks(c)).toEqual([]);
  return state;
}

async function crashCase(op: Op, fault: string): Promise<string[]> {
  const problems: string[] = [];
  const o = OPS[op];
  const root = copyRoot(o.from());
  try {
    const d = await startDaemon({ root, env: { APPINSTALLD_FAULT: fault } });
    const c = await LunaClient.connect({ root });
    await waitForMethods(c);
    await o.run(c).catch(() => undefined); // the hub goes with the daemon: the call ends with an error
    await c.close().catch(() => undefined);
    const exit = await d.exited;
    if (exit.signal !== 'SIGKILL') throw new Error(`daemon did not die at ${fault}: ${JSON.stringify(exit)}\n${d.stderr()}`);
    const committed = trace[op].indexOf(fault) >= trace[op].indexOf(`${o.commit}:1`);
    await withDaemonClient(root, {}, async (c2) => {
      const state = await checkAfterRestart(c2, root, [o.old, o.target]);
      expect([fault, state]).toEqual([fault, committed ? o.target : o.old]);
      // the next install of the same id works and leaves exactly the clean result
      const next = o.target === 'v2' ? v2 : v1;
      const lines = await runTask(c2, 'install', { id: ID, ipkUrl: next });
      expect(finalOf(lines).statusValue).toBe(Stage.INSTALLED.statusValue);
      expect(await checkAfterRestart(c2, root, [next === v2 ? 'v2' : 'v1'])).toBe(next === v2 ? 'v2' : 'v1');
    });
  } catch (e) {
    problems.push(`${op} killed at ${fault}: ${(e as Error).message}`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  return problems;
}

describe.each(['fresh', 'upgrade', 'remove'] as Op[])('%s killed at every boundary', (op) => {
  test('after restart: wholly old before the commit point, wholly new from it; hub agrees; no leftovers; install works again', async () => {
    expect(trace[op].length).toBeGreaterThan(4);
    const problems: string[] = [];
    // two cases at a time (each is mostly process start-up and waiting for the disk)
    const queue = [...trace[op]];
    await Promise.all([0, 1].map(async () => {
      for (let f = queue.shift(); f; f = queue.shift()) problems.push(...(await crashCase(op, f)));
    }));
    expect(problems).toEqual([]);
  }, 120000);
});

test("a crash during the recovery's own rollback is finished by the next start", async () => {
  const root = copyRoot(golden.v1!);
  const d = await startDaemon({ root, env: { APPINSTALLD_FAULT: 'install.placed:2' } });
  const c = await LunaClient.connect({ root });
  await waitForMethods(c);
  await runTask(c, 'install', { id: ID, ipkUrl: v2 }).catch(() => undefined);
  await c.close().catch(() => undefined);
  expect((await d.exited).signal).toBe('SIGKILL');
  const again = await startDaemon({ root, env: { APPINSTALLD_FAULT: 'rollback.restored:1' } }).catch((e: Error) => e);
  expect(again).toBeInstanceOf(Error); // killed itself during recovery, before its methods opened
  await withDaemonClient(root, {}, async (c2) => {
    expect(await checkAfterRestart(c2, root, ['v1'])).toBe('v1');
    const lines = await runTask(c2, 'install', { id: ID, ipkUrl: v2 });
    expect(finalOf(lines).statusValue).toBe(Stage.INSTALLED.statusValue);
    expect(await checkAfterRestart(c2, root, ['v2'])).toBe('v2');
  });
}, 60000);

/** A "disk full" error injected at a boundary before the commit point: the task fails with -3 (install) or -7 (remove), is rolled back at once. */
async function enospcCase(op: Op, fault: string): Promise<string[]> {
  const o = OPS[op];
  const root = copyRoot(o.from());
  try {
    await withDaemonClient(root, { APPINSTALLD_FAULT: `${fault}:enospc` }, async (c) => {
      const final = finalOf(await o.run(c));
      if (op === 'remove') expect(final).toMatchObject({ statusValue: Stage.REMOVE_FAILED.statusValue, details: { errorCode: ErrorCode.REMOVE_FAILED } });
      else expect(final).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { errorCode: ErrorCode.NO_SPACE, reason: expect.stringMatching(new RegExp(`^${ErrorText.NO_SPACE}: .*ENOSPC`)) } });
      // rolled back while the daemon runs: nothing lost, nothing left, the hub agrees
      expect(await checkAfterRestart(c, root, [o.old])).toBe(o.old);
      const next = o.target === 'v2' ? v2 : v1;
      expect(finalOf(await runTask(c, 'install', { id: ID, ipkUrl: next })).statusValue).toBe(Stage.INSTALLED.statusValue);
      expect(await checkAfterRestart(c, root, [next === v2 ? 'v2' : 'v1'])).toBe(next === v2 ? 'v2' : 'v1');
    });
    return [];
  } catch (e) {
    return [`${op} with ENOSPC at ${fault}: ${(e as Error).message}`];
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

describe.each(['fresh', 'upgrade', 'remove'] as Op[])('%s with a full disk at every boundary before the commit point', (op) => {
  test('fails with -3 (install) or -7 (remove), rolled back at once: wholly old, hub agrees, no leftovers; install works again', async () => {
    const before = trace[op].slice(0, trace[op].indexOf(`${OPS[op].commit}:1`));
    expect(before.length).toBeGreaterThan(2);
    const problems: string[] = [];
    const queue = [...before];
    await Promise.all([0, 1].map(async () => {
      for (let f = queue.shift(); f; f = queue.shift()) problems.push(...(await enospcCase(op, f)));
    }));
    expect(problems).toEqual([]);
  }, 120000);
});
