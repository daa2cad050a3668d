// Installed firmware packages (docs/appinstall.md "Firmware packages"): each at <root>/lib/firmware/<name>/ (<name> is
// its Package field), its record opkg-style in <root>/lib/firmware/.appinstalld/info/<name>.control and .list, its
// staging in <root>/lib/firmware/.appinstalld-staging/ (the same filesystem as the firmware, so the switch is renames).
// The firmware root is a root of its own, apart from the app roots: listings of apps (package-db.ts) never see it.
// Reading only; the files are replaced by renames (package-switch.ts), never rewritten in place.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Layout } from '../layout/paths';
import { parseControlText } from '../ipk/control';
import { isSafeName } from './package-db';
import type { JournalRecord } from './journal';

export interface InstalledFirmware {
  name: string;
  version: string;
  /** The firmware root (journal appRoot). */
  base: string;
  /** <base>/<name>: what the hand-off command gets. */
  dir: string;
  control: Record<string, string>;
  /** Paths relative to the firmware root that the record owns. */
  targets: string[];
  /** Set when the record cannot be trusted (a reinstall or remove replaces it): what is wrong. */
  damaged?: string;
}

/** Relative paths (to the firmware root) of one firmware package's record. */
export function firmwareDbFiles(name: string): { control: string; list: string } {
  return { control: `.appinstalld/info/${name}.control`, list: `.appinstalld/info/${name}.list` };
}

/** A name a firmware package can have: a plain name that cannot be one of the root's own dot folders. */
export function isFirmwareName(name: unknown): name is string {
  return typeof name === 'string' && isSafeName(name) && !name.startsWith('.');
}

/** The only paths a firmware record (list or journal) may name: its folder and its two record files, in that order of owning. */
export function firmwareTargets(name: string): string[] {
  const db = firmwareDbFiles(name);
  return [name, db.list, db.control];
}

export function isFirmwareTarget(name: string, rel: unknown): rel is string {
  return isFirmwareName(name) && typeof rel === 'string' && firmwareTargets(name).includes(rel);
}

/** One firmware package's record; null when it has neither control nor list file. */
export async function readFirmware(layout: Layout, name: string): Promise<InstalledFirmware | null> {
  if (!isFirmwareName(name)) return null;
  const base = layout.firmware.base;
  const db = firmwareDbFiles(name);
  const read = (rel: string) => fs.readFile(path.join(base, rel), 'utf8').then((t) => t, (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : `unreadable (${e.code ?? e.message})`));
  const controlText = await read(db.control);
  const listText = await read(db.list);
  if (controlText === null && listText === null) return null;
  const problems: string[] = [];
  let control: Record<string, string> = {};
  if (controlText === null) problems.push(`${db.control} is missing`);
  else {
    try {
      control = parseControlText(controlText);
      if (control.Package !== name) problems.push(`${db.control} names package ${JSON.stringify(control.Package)}`);
    } catch (e) {
      problems.push(`${db.control} is malformed (${(e as Error).message})`);
    }
  }
  const fw: InstalledFirmware = { name, version: problems.length ? '' : control.Version ?? '', base, dir: path.join(base, name), control, targets: firmwareTargets(name) };
  return problems.length ? { ...fw, damaged: problems.join('; ') } : fw;
}

/** Every installed firmware package (records that are damaged only with `damaged: true`). */
export async function listFirmware(layout: Layout, opts: { damaged?: boolean } = {}): Promise<InstalledFirmware[]> {
  const names = await fs.readdir(layout.firmware.info).catch(() => [] as string[]);
  const out: InstalledFirmware[] = [];
  for (const n of names.sort()) {
    if (!n.endsWith('.control')) continue;
    const fw = await readFirmware(layout, n.slice(0, -'.control'.length));
    if (fw && (!fw.damaged || opts.damaged)) out.push(fw);
  }
  return out;
}

/** What is wrong with a firmware task's journal record beyond where it acts (recovery.ts journalProblem checks that),
 *  or null: its name is a plain firmware name and it is never a developer task. */
export function firmwareJournalProblem(rec: JournalRecord): string | null {
  const r = rec as unknown as Record<string, unknown>;
  if (!isFirmwareName(r.packageId)) return `firmware name ${JSON.stringify(r.packageId)} is not a plain name`;
  if (r.developer !== false) return 'a firmware task is never a developer one';
  return null;
}
