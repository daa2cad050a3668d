// The install engine without any protocol (engine/install-engine.ts): typed requests in, protocol-neutral task events
// out to any number of listeners, on real files and real packages. Nothing runs on this machine's bus here, so the
// engine is given no hub and an application manager that has nothing running (what a headless device would say).
import fs from 'node:fs';
import path from 'node:path';
import { InstallEngine } from '../engine/install-engine';
import { INSTALL_STEPS } from '../engine/install-steps';
import { REMOVE_STEPS } from '../engine/remove-steps';
import type { TaskNews } from '../engine/task-events';
import { layout as layoutOf } from '../layout/paths';
import { journalDir } from '../engine/journal';
import { stagingRoot } from '../engine/package-switch';
import { DEFAULT_CONFIG } from '../services/appinstall/daemon-config';
import { CodedError, ErrorCode, ErrorText } from '../status-codes';
import { makeIpk, makeRoot } from './helpers/appinstall-daemon';

let root: string;
let engine: InstallEngine;
const logLines: string[] = [];

beforeAll(async () => {
  root = makeRoot();
  engine = await InstallEngine.open({
    root, layout: layoutOf(root), config: DEFAULT_CONFIG, hub: null,
    appManager: { closeApp: async () => 'not-running' }, log: (l) => logLines.push(l),
  });
});
afterAll(async () => {
  await engine?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

/** Everything one listener hears of one task, as short words. */
function recorder() {
  const heard = new Map<string, string[]>();
  const stop = engine.tasks.listen(({ task, event }: TaskNews) => {
    const words = event.type === 'step' ? `${event.step} ${event.at}` : event.type === 'end' ? `end ${event.outcome}${event.error ? ` ${event.error.code}` : ''}` : event.type;
    heard.set(task.taskId, [...(heard.get(task.taskId) ?? []), words]);
  });
  return { heard, stop };
}

const withoutProgress = (words: string[]) => words.filter((w) => !w.endsWith(' progress'));

test('an install and a remove: every listener hears the same events, step by step, ending in the outcome', async () => {
  const a = recorder();
  const b = recorder();
  let info!: { taskId: string };
  const ipk = await makeIpk(root, 'com.test.engine', '1.0.0');
  const end = await engine.tasks.submit('install', { id: 'com.test.engine', developer: false, client: 'engine test', source: { path: ipk } }, undefined, (i) => (info = i));
  expect(end).toEqual({ outcome: 'succeeded', facts: { packageId: 'com.test.engine', signature: 'unsigned' } });
  const want = ['queued', ...INSTALL_STEPS.flatMap((s) => [`${s.name} start`, `${s.name} done`]), 'end succeeded'];
  expect(withoutProgress(a.heard.get(info.taskId)!)).toEqual(want);
  expect(a.heard.get(info.taskId)).toEqual(b.heard.get(info.taskId));
  expect(a.heard.get(info.taskId)).toContain('unpack progress');
  expect(fs.existsSync(path.join(layoutOf(root).verifiedApps.base, 'usr/palm/applications/com.test.engine/appinfo.json'))).toBe(true);

  const removed = await engine.tasks.submit('remove', { id: 'com.test.engine', developer: false, client: 'engine test' }, 'com.test.engine', (i) => (info = i));
  expect(removed.outcome).toBe('succeeded');
  expect(a.heard.get(info.taskId)).toEqual(['queued', ...REMOVE_STEPS.flatMap((s) => [`${s.name} start`, `${s.name} done`]), 'end succeeded']);
  a.stop();
  b.stop();
});

test('a bad package ends failed at its step with the error in words; nothing is left behind; a listener that throws changes nothing', async () => {
  const bad = path.join(root, 'not-an.ipk');
  fs.writeFileSync(bad, 'hello');
  const rec = recorder();
  const thrower = engine.tasks.listen(() => { throw new Error('a careless listener'); });
  const end = await engine.tasks.submit('install', { id: 'com.test.bad', developer: false, client: 'engine test', source: { path: bad } });
  thrower();
  rec.stop();
  expect(end).toMatchObject({ outcome: 'failed', step: 'parse', error: { code: ErrorCode.INSTALL_FAILED, text: expect.stringContaining('not an ar archive') } });
  expect([...rec.heard.values()][0]).toEqual(['queued', 'parse start', 'end failed -5']);
  expect(logLines.some((l) => l.includes('a listener failed') && l.includes('a careless listener'))).toBe(true);
  const l = layoutOf(root);
  const entries = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);
  expect(entries(journalDir(l.installerState))).toEqual([]);
  expect(entries(stagingRoot(l.verifiedApps.base))).toEqual([]);
});

test('a request without a package, or a URL to an engine that cannot download, is refused at once', () => {
  expect(() => engine.tasks.submit('install', { id: 'com.test.x', developer: false, client: 'engine test' })).toThrow(new CodedError(ErrorCode.INVALID_PARAMETER, ErrorText.NO_PACKAGE_SOURCE));
  expect(() => engine.tasks.submit('install', { id: 'com.test.x', developer: false, client: 'engine test', source: { download: { url: 'http://127.0.0.1:9/x.ipk', filename: 'x.ipk' } } }))
    .toThrow(new CodedError(ErrorCode.INVALID_PARAMETER, ErrorText.NO_DOWNLOADER));
  expect(engine.tasks.size).toBe(0);
});
