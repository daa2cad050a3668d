// Control `Depends:` fields: parse them (Debian syntax), say which clauses an installed set leaves unmet, and which
// installed packages would lose a dependency if one were removed. Pure; not a resolver (no Provides, no Conflicts,
// no choosing what to fetch from feeds) and no I/O: callers pass the installed set in.
//
// Syntax accepted (Debian policy 7.1, as opkg and dpkg read binary control files):
//   Depends: clause, clause, …          a trailing comma is tolerated, an empty clause is not
//   clause:  alternative | alternative …
//   alternative: name[:arch] [(op version)]   op one of << <= = >= >> and the obsolete < > (meaning <= >=)
// Names follow ipk/control.ts PACKAGE_ID_RE (and start with a letter or digit); an architecture qualifier (`:any`,
// `:native`, `:armv7a`) is kept but plays no part in matching (one architecture per device). White space, including
// the newlines of continuation lines, may appear anywhere between tokens.
import { EngineErrorCode, EngineErrorText } from '../status-codes/engine';
import { PACKAGE_ID_RE } from '../ipk/control';
import { DebianVersion, parseRelation, parseVersion, compareParsed, relationHolds, Relation } from './dpkg-version';
import { fail, ok, Result } from './result';

/** Longest Depends field accepted, in characters. */
export const MAX_DEPENDS_LENGTH = 16384;
/** Most package names (alternatives counted one by one) in one Depends field. */
export const MAX_DEPENDS_ENTRIES = 256;
/** Longest package name accepted in a Depends field. */
export const MAX_NAME_LENGTH = 255;

export interface DependAlternative {
  readonly name: string;
  /** The architecture qualifier as written (`any`, `native`, …), if any. */
  readonly arch?: string;
  /** The version restriction, if any: its relation (obsolete spellings mapped) and version. */
  readonly restriction?: { readonly relation: Relation; readonly version: DebianVersion; readonly text: string };
}

/** One comma-separated clause: met when any one of its alternatives is. */
export type DependClause = readonly DependAlternative[];

/** An installed package as the checks need it: its id, version and (raw) Depends field, if it has one. */
export interface InstalledPackage {
  readonly id: string;
  readonly version: string;
  readonly depends?: string;
}

const ALT_RE = /^([^\s:(),|]+)(?::([^\s(),|]*))?\s*(?:\((.*)\))?\s*(.*)$/s;
const ARCH_RE = /^[a-z0-9][a-z0-9-]{0,63}$/;

function syntax(clause: string, why: string): Result<never> {
  const shown = clause.replace(/\s+/g, ' ').trim();
  return fail(EngineErrorCode.BAD_DEPENDS, EngineErrorText.dependsSyntax(shown.length > 80 ? `${shown.slice(0, 77)}...` : shown, why));
}

function parseAlternative(text: string): Result<DependAlternative> {
  const t = text.trim();
  if (t === '') return syntax(text, 'missing package name');
  const m = ALT_RE.exec(t);
  if (!m) return syntax(t, 'expected "name", "name:arch" or "name (op version)"');
  const [, name, arch, restriction, rest] = m;
  if (name.length > MAX_NAME_LENGTH) return syntax(t, `package name is longer than ${MAX_NAME_LENGTH} characters`);
  if (!PACKAGE_ID_RE.test(name) || !/^[a-z0-9]/.test(name)) return syntax(t, `invalid package name '${name}' (allowed: a-z 0-9 . + -, starting with a letter or digit)`);
  if (arch !== undefined && !ARCH_RE.test(arch)) return syntax(t, `invalid architecture qualifier '${arch}'`);
  if (rest !== '') {
    if (rest.startsWith('(')) return syntax(t, "'(' without a closing ')'");
    if (rest.startsWith('[')) return syntax(t, 'architecture restrictions [...] belong in source packages, not in a binary Depends');
    return syntax(t, `unexpected text '${rest.slice(0, 20)}' after the package`);
  }
  if (restriction === undefined) return ok(arch === undefined ? { name } : { name, arch });
  const r = /^\s*([<>=]+)\s*([^\s()]*)\s*$/.exec(restriction);
  if (!r) return syntax(t, 'a version restriction is "(op version)", e.g. "(>= 1.2)"');
  const rel = parseRelation(r[1]);
  if (!rel.ok) return syntax(t, rel.error.text);
  if (r[2] === '') return syntax(t, 'version missing after the relation');
  const v = parseVersion(r[2]);
  if (!v.ok) return syntax(t, v.error.text);
  const alt: DependAlternative = { name, restriction: { relation: rel.value, version: v.value, text: r[2] } };
  return ok(arch === undefined ? alt : { ...alt, arch });
}

/** Parses a Depends field; an absent or blank field is no dependencies. Errors name the clause and what is wrong. */
export function parseDepends(field: unknown): Result<DependClause[]> {
  if (field === undefined || field === null) return ok([]);
  if (typeof field !== 'string') return fail(EngineErrorCode.BAD_DEPENDS, EngineErrorText.fieldType('Depends', 'a string'));
  if (field.length > MAX_DEPENDS_LENGTH) return fail(EngineErrorCode.BAD_DEPENDS, EngineErrorText.dependsTooLong(MAX_DEPENDS_LENGTH));
  if (field.trim() === '') return ok([]);
  const parts = field.split(',');
  if (parts.length > 1 && parts[parts.length - 1].trim() === '') parts.pop(); // one trailing comma
  const clauses: DependClause[] = [];
  let entries = 0;
  for (const part of parts) {
    if (part.trim() === '') return syntax(field, 'empty clause between commas');
    const alts: DependAlternative[] = [];
    for (const altText of part.split('|')) {
      if (++entries > MAX_DEPENDS_ENTRIES) return fail(EngineErrorCode.BAD_DEPENDS, EngineErrorText.dependsTooMany(MAX_DEPENDS_ENTRIES));
      if (altText.trim() === '') return syntax(part, 'empty alternative around "|"');
      const a = parseAlternative(altText);
      if (!a.ok) return a;
      alts.push(a.value);
    }
    clauses.push(alts);
  }
  return ok(clauses);
}

/** `name`, `name:any`, `name (>= 1.2)`: an alternative in words, as a user would write it. */
export function formatAlternative(a: DependAlternative): string {
  const base = a.arch === undefined ? a.name : `${a.name}:${a.arch}`;
  return a.restriction ? `${base} (${a.restriction.relation} ${a.restriction.text})` : base;
}

/** `a | b (<< 2)`: a clause in words. */
export function formatClause(c: DependClause): string {
  return c.map(formatAlternative).join(' | ');
}

/** The installed set as the checks use it: id → parsed version (an installed version dpkg would refuse matches no restriction). */
export type InstalledVersions = ReadonlyMap<string, DebianVersion | null>;

export function installedVersions(installed: Iterable<Pick<InstalledPackage, 'id' | 'version'>>): InstalledVersions {
  const m = new Map<string, DebianVersion | null>();
  for (const p of installed) {
    const v = parseVersion(p.version, { lenient: true });
    m.set(p.id, v.ok ? v.value : null);
  }
  return m;
}

/** Whether one alternative is met by the installed set. */
export function alternativeMet(a: DependAlternative, installed: InstalledVersions): boolean {
  if (!installed.has(a.name)) return false;
  if (!a.restriction) return true;
  const v = installed.get(a.name);
  return v != null && relationHolds(compareParsed(v, a.restriction.version), a.restriction.relation);
}

/** The clauses the installed set leaves unmet, in words (`libfoo (>= 1.2)`, `a | b`), in field order. */
export function unmetClauses(clauses: readonly DependClause[], installed: InstalledVersions): string[] {
  return clauses.filter((c) => !c.some((a) => alternativeMet(a, installed))).map(formatClause);
}

/**
 * Before an install: parses `depends` (the new package's field) and checks it against the installed set. `ok` when
 * all is met; else DEPENDS_UNMET naming every unmet clause (`unmet` carries the list for front-ends), or BAD_DEPENDS.
 */
export function checkDependsForInstall(
  depends: unknown,
  installed: Iterable<Pick<InstalledPackage, 'id' | 'version'>>,
): Result<void> & { unmet?: string[] } {
  const parsed = parseDepends(depends);
  if (!parsed.ok) return parsed;
  const unmet = unmetClauses(parsed.value, installedVersions(installed));
  if (unmet.length === 0) return ok(undefined);
  return { ...fail(EngineErrorCode.DEPENDS_UNMET, EngineErrorText.dependsUnmet(unmet)), unmet };
}

/**
 * The installed packages that need `id`: those with a clause met now and unmet once `id` is gone (a clause `id | b`
 * with b installed does not count). Sorted ids. Packages whose own Depends cannot be parsed are skipped (they could not
 * have been installed through the engine; a front-end may list them apart with parseDepends).
 */
export function dependantsOf(id: string, installed: readonly InstalledPackage[]): string[] {
  const before = installedVersions(installed);
  const after = new Map(before);
  after.delete(id);
  const out: string[] = [];
  for (const p of installed) {
    if (p.id === id || !p.depends) continue;
    const parsed = parseDepends(p.depends);
    if (!parsed.ok) continue;
    const needs = parsed.value.some((c) => c.some((a) => a.name === id) && c.some((a) => alternativeMet(a, before)) && !c.some((a) => alternativeMet(a, after)));
    if (needs) out.push(p.id);
  }
  return [...new Set(out)].sort();
}

/** Before a remove: `ok`, or HAS_DEPENDANTS naming them (`dependants` carries the list for front-ends). */
export function checkRemove(id: string, installed: readonly InstalledPackage[]): Result<void> & { dependants?: string[] } {
  const dependants = dependantsOf(id, installed);
  if (dependants.length === 0) return ok(undefined);
  return { ...fail(EngineErrorCode.HAS_DEPENDANTS, EngineErrorText.hasDependants(id, dependants)), dependants };
}
