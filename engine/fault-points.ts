// The named step boundaries of install and remove, and the crash-on-purpose switch for tests:
// APPINSTALLD_FAULT=<point>[:<n>] makes the daemon SIGKILL itself the n-th time (default 1st) it passes <point>;
// APPINSTALLD_FAULT=<point>[:<n>]:enospc instead makes that pass fail with a "disk full" error (ENOSPC) that the
// task handles like a real one (the daemon lives on). APPINSTALLD_FAULT_TRACE=1 logs every pass ("fault point <point>:<n>"), so a test can list the boundaries a run crosses.
import { createLogger } from '../cli-common/log';

const log = createLogger('appinstalld');

/** Every boundary at which a crash must leave each app fully old or fully new after restart (tests walk this list). */
export const FAULT_POINTS = [
  /** Install: journal written (phase begun), staging directory created, nothing extracted yet. */
  'install.begun',
  /** Install: package extracted into staging, not yet fsynced. */
  'install.extracted',
  /** Install: staged tree and database files durable, journal phase staged. */
  'install.staged',
  /** Install: one live target of the old version moved aside (passed once per target). */
  'install.moved-aside',
  /** Install: one new target renamed into place (passed once per target). */
  'install.placed',
  /** Install: switch durable, journal phase committed (the new version is the installed one from here). */
  'install.committed',
  /** A package's new bus manifest written (naming every file of the new set), the files themselves not yet. */
  'bus.manifest-written',
  /** Install: bus files and manifest written, hub not told yet. */
  'install.bus-files',
  /** Install: hub told, old version and journal not yet cleaned up. */
  'install.hub-told',
  /** Install: staging (with the old version) deleted, journal not yet. */
  'install.cleaned',
  /** Remove: journal written (phase begun). */
  'remove.begun',
  /** Remove: bus files and manifest deleted, hub told, app still on disk. */
  'remove.bus-files',
  /** Remove: one live target moved aside (passed once per target). */
  'remove.moved-aside',
  /** Remove: everything moved aside, journal phase committed (the app is gone from here). */
  'remove.committed',
  /** Remove: staging (with the removed files) deleted, journal not yet. */
  'remove.cleaned',
  /** Rollback: one target restored (passed once per target). */
  'rollback.restored',
] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

export type FaultAction = 'kill' | 'enospc';

/** Parses APPINSTALLD_FAULT: "<point>[:<n>][:enospc]"; unknown point names are an error (a typo would make a test pass vacuously). */
export function parseFaultSpec(spec: string | undefined): { point: FaultPoint; nth: number; action: FaultAction } | null {
  if (!spec) return null;
  const m = /^([a-z.-]+)(?::(\d+))?(?::(enospc))?$/.exec(spec.trim());
  if (!m || !(FAULT_POINTS as readonly string[]).includes(m[1])) {
    throw new Error(`APPINSTALLD_FAULT="${spec}": expected <point>[:<n>][:enospc] with point one of ${FAULT_POINTS.join(', ')}`);
  }
  const nth = m[2] ? Number(m[2]) : 1;
  if (nth < 1) throw new Error(`APPINSTALLD_FAULT="${spec}": n must be at least 1`);
  return { point: m[1] as FaultPoint, nth, action: m[3] === 'enospc' ? 'enospc' : 'kill' };
}

const armed = parseFaultSpec(process.env.APPINSTALLD_FAULT);
const trace = process.env.APPINSTALLD_FAULT_TRACE === '1';
const passes = new Map<string, number>();

/** Marks a step boundary; kills the process here if APPINSTALLD_FAULT names it (and this is the n-th pass). */
export function faultPoint(point: FaultPoint): void {
  const n = (passes.get(point) ?? 0) + 1;
  passes.set(point, n);
  if (trace) log.debug(`fault point ${point}:${n}`);
  if (armed && armed.point === point && armed.nth === n) {
    if (armed.action === 'enospc') {
      log.warn(`APPINSTALLD_FAULT: failing with ENOSPC at ${point} (pass ${n})`);
      throw Object.assign(new Error(`ENOSPC: no space left on device (injected at ${point})`), { code: 'ENOSPC', errno: -28 });
    }
    log.warn(`APPINSTALLD_FAULT: killing myself at ${point} (pass ${n})`);
    process.kill(process.pid, 'SIGKILL');
  }
}
