// Many installs at once: a status subscriber in another process (luna-send -i) sees every event of 20 concurrent
// installs of different apps, all reach "installed", and no more than maxConcurrentTasks run at a time.
import fs from 'node:fs';
import path from 'node:path';
import { firstValueFrom } from 'rxjs';
import { filter } from 'rxjs/operators';
import { Stage } from '../status-codes';
import { LunaClient } from '../ipc/client';
import { startDaemon, killAllChildren, lunaSend, makeIpk, call, type Daemon, type Json } from './helpers/appinstall-daemon';

const AS = 'luna://com.webos.appInstallService';
const N = 20;
const MAX = 3;

let d: Daemon;
let work: string;
beforeAll(async () => {
  d = await startDaemon({ config: { maxConcurrentTasks: MAX } });
  work = fs.mkdtempSync('/tmp/ai-w-');
});
afterAll(async () => {
  await d?.stop();
  killAllChildren();
  fs.rmSync(work, { recursive: true, force: true });
  if (d) fs.rmSync(d.root, { recursive: true, force: true });
});

test(`${N} concurrent installs: a status subscriber in another process sees all their events; all reach 30`, async () => {
  const ids = Array.from({ length: N }, (_, i) => `com.example.many${i}`);
  const ipks = await Promise.all(ids.map((id) => makeIpk(work, id, '1.0.0', { files: { 'data.txt': 'x'.repeat(50000 + ids.indexOf(id)) } })));

  const finished = new Set<string>();
  let subscribed!: () => void;
  const subscribedP = new Promise<void>((r) => (subscribed = r));
  const watcher = lunaSend(d.root, ['-i', `${AS}/status`, '{"subscribe":true}'], {
    until: (l) => {
      if (l.statusValue === Stage.INSTALLED.statusValue || l.statusValue === Stage.INSTALL_FAILED.statusValue) finished.add(l.id);
      return finished.size === N;
    },
    onLine: (l) => l.returnValue === true && subscribed(),
    limitMs: 60000,
  });
  await subscribedP; // its call return is there: the subscription is in place

  const c = await LunaClient.connect({ root: d.root });
  try {
    const finals = ids.map((id, i) =>
      firstValueFrom(c.call(`${AS}/install`, { id, ipkUrl: ipks[i], subscribe: true }).pipe(
        filter((p) => p.returnValue === false || p.statusValue === Stage.INSTALLED.statusValue || p.statusValue === Stage.INSTALL_FAILED.statusValue),
      )));
    const results = await Promise.all(finals);
    expect(results.map((r) => r.statusValue)).toEqual(ids.map(() => Stage.INSTALLED.statusValue));
  } finally {
    await c.close();
  }
  const w = await watcher;
  expect(w.lines[0]).toMatchObject({ returnValue: true, subscribed: true });
  const events = w.lines.slice(1);
  const byId = new Map<string, Json[]>();
  for (const e of events) byId.set(e.id, [...(byId.get(e.id) ?? []), e]);
  expect([...byId.keys()].sort()).toEqual([...ids].sort());
  for (const id of ids) {
    const seq = byId.get(id)!.map((e) => e.statusValue).filter((v, i, a) => i === 0 || a[i - 1] !== v);
    expect(seq[0]).toBe(Stage.PARSE_NEEDED.statusValue);
    expect(seq[seq.length - 1]).toBe(Stage.INSTALLED.statusValue);
    expect(seq).toHaveLength(20);
  }
  // a task's events only flow while it runs: at no point were more than MAX between their first and last event
  let running = 0, peak = 0;
  const open = new Set<string>();
  for (const e of events) {
    if (!open.has(e.id) && e.statusValue !== Stage.INSTALLED.statusValue) { open.add(e.id); running++; }
    if (e.statusValue === Stage.INSTALLED.statusValue) { open.delete(e.id); running--; }
    peak = Math.max(peak, running);
  }
  expect(peak).toBeLessThanOrEqual(MAX);
  expect(peak).toBeGreaterThan(1);
  const list = await call(d.root, 'luna://com.webos.applicationManager/listApps', {});
  expect(list.apps.map((a: Json) => a.id).sort()).toEqual([...ids].sort());
  expect(fs.readdirSync(path.join(d.root, 'var/luna-service2/manifests.d')).sort()).toEqual(ids.map((i) => `${i}.json`).sort());
});
