// Every hostile or broken package of the ipk corpus, installed through the running service: each is refused with
// stage 24, an error code and its specific reason, and nothing is left behind (app root, staging, journal, bus files).
import fs from 'node:fs';
import path from 'node:path';
import { firstValueFrom } from 'rxjs';
import { filter } from 'rxjs/operators';
import { Stage, ErrorCode, ErrorText } from '../status-codes';
import { LunaClient } from '../ipc/client';
import { writeCorpus, writeGoodIpk, CORPUS_PKG, CORPUS_LIMITS } from './helpers/ipk-corpus';
import { startDaemon, killAllChildren, listTree, type Daemon } from './helpers/appinstall-daemon';

const AS = 'luna://com.webos.appInstallService';
let d: Daemon;
let c: LunaClient;
let work: string;

beforeAll(async () => {
  d = await startDaemon({ config: { extractLimits: CORPUS_LIMITS } });
  c = await LunaClient.connect({ root: d.root });
  work = fs.mkdtempSync('/tmp/ai-w-');
});
afterAll(async () => {
  await c?.close();
  await d?.stop();
  killAllChildren();
  fs.rmSync(work, { recursive: true, force: true });
  if (d) fs.rmSync(d.root, { recursive: true, force: true });
});

/** Every file (empty infrastructure directories such as the staging root do not count as leftovers) and every app/package dir. */
function snapshot(): string[] {
  const keep = (f: string) => !f.endsWith('/') || /usr\/palm\/(applications|packages|services)\/[^/]+\/$|\.appinstalld-staging\/[^/]+\/$/.test(f);
  return [
    ...listTree(path.join(d.root, 'media')).map((f) => `media/${f}`),
    ...listTree(path.join(d.root, 'var/luna-service2')).map((f) => `bus/${f}`),
    ...listTree(path.join(d.root, 'var/lib/appinstalld')).map((f) => `state/${f}`),
  ].filter(keep).filter((f) => !f.startsWith('state/engine/operations/')); // the operation history records each refusal, by design
}

async function installFinal(id: string, ipkUrl: string) {
  const all = c.call(`${AS}/install`, { id, ipkUrl, subscribe: true }).pipe(
    filter((p) => p.returnValue === false || p.statusValue === Stage.INSTALL_FAILED.statusValue || p.statusValue === Stage.INSTALLED.statusValue),
  );
  return firstValueFrom(all);
}

test('every package of the hostile corpus is refused with stage 24 and its reason, leaving nothing behind', async () => {
  const cases = writeCorpus(path.join(work, 'corpus'));
  expect(cases.length).toBeGreaterThan(20);
  const before = snapshot();
  for (const k of cases) {
    const final = await installFinal(CORPUS_PKG, k.file);
    const ctx = `${k.name}: ${JSON.stringify(final)}`;
    expect([ctx, final.statusValue]).toEqual([ctx, Stage.INSTALL_FAILED.statusValue]);
    expect([ctx, (final.details as any).state]).toEqual([ctx, Stage.INSTALL_FAILED.state]);
    const details = final.details as { errorCode: number; reason: string };
    if (k.name === 'huge-installed-size') {
      // the space check comes before unpacking, against the declared unpacked size
      expect([ctx, details.errorCode, details.reason.startsWith(ErrorText.NO_SPACE)]).toEqual([ctx, ErrorCode.NO_SPACE, true]);
    } else {
      expect([ctx, details.errorCode]).toEqual([ctx, ErrorCode.INSTALL_FAILED]);
      expect([ctx, k.expectDetail.test(details.reason)]).toEqual([ctx, true]);
    }
    expect([k.name, snapshot()]).toEqual([k.name, before]);
  }
  // the daemon is still healthy: a good package from the same generator installs
  const good = path.join(work, 'good.ipk');
  writeGoodIpk(good);
  expect((await installFinal(CORPUS_PKG, good)).statusValue).toBe(Stage.INSTALLED.statusValue);
}, 120000);

test('a package that is not an ipk at all is refused with FAILED_PACKAGEFILE_CORRUPT or a parse error', async () => {
  const junk = path.join(work, 'junk.ipk');
  fs.writeFileSync(junk, 'this is not an ar archive');
  const final = await installFinal('com.example.junk', junk);
  expect(final).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { errorCode: ErrorCode.INSTALL_FAILED } });
  expect((final.details as any).reason).toMatch(new RegExp(`^(${ErrorText.FAILED_PACKAGEFILE_CORRUPT}|${ErrorText.PARSE_CONTROL_FAILED}|${ErrorText.EXTRACT_FAILED})`));
});
