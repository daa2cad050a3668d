// ACG decisions as small pure functions over compiled security data: which role a caller has, which names it may
// register, which groups and trust it holds, and whether it may call a method. No I/O, no file formats here.

import type { PeerIdentity } from '../ipc/protocol';
import type { CallerContext, CallTarget, Denial } from './policy';
import { BusErrorCode, BusErrorText } from '../status-codes';
import { globMatch, specificity } from './glob';
import type { Role, SecurityData } from './security-data';
import type { Trust } from './security-files';

export const TRUST_RANK: Record<Trust, number> = { dev: 0, part: 1, oem: 2 };

/** The group every caller without a role may hold at most. */
export const PUBLIC_GROUP = 'public';

/** Kernel identity usable? The hub marks unreadable credentials with exe null or a negative/non-integer uid/gid. */
export function identityKnown(peer: PeerIdentity | null | undefined): peer is PeerIdentity {
  return !!peer && peer.exe !== null && typeof peer.exe === 'string' && peer.exe.length > 0
    && Number.isInteger(peer.uid) && peer.uid >= 0 && Number.isInteger(peer.gid) && peer.gid >= 0;
}

export function isContainer(data: SecurityData, exe: string): boolean {
  return data.containers.some((c) => globMatch(c, exe));
}

/**
 * The role of a peer by its kernel identity. A role applies when its exeName matches the exe (an exeName naming a
 * container does not: an interpreter identifies no program) and its uid/gid, if given, are the peer's. Most
 * specific wins: exact exeName, then more uid/gid constraints, then the longer pattern, then the earlier file.
 */
export function kernelRole(data: SecurityData, peer: PeerIdentity | null | undefined): Role | null {
  if (!identityKnown(peer)) return null;
  const exe = peer.exe as string;
  const container = isContainer(data, exe);
  let best: Role | null = null;
  let bestScore: number[] = [];
  for (const role of data.roles) {
    if (!role.kernelMatch) continue;
    if (role.uid !== undefined && role.uid !== peer.uid) continue;
    if (role.gid !== undefined && role.gid !== peer.gid) continue;
    let exeScore = 0;
    if (role.exeName !== undefined) {
      const hit = role.exePatterns.filter((p) => globMatch(p, exe));
      if (hit.length === 0) continue;
      const exact = hit.some((p) => p === exe);
      if (exact && container) continue;
      exeScore = Math.max(...hit.map(specificity));
    } else if (role.uid === undefined && role.gid === undefined) {
      continue; // an appId-only role is never a kernel identity
    }
    const score = [exeScore >= 1_000_000 ? 1 : 0, (role.uid !== undefined ? 1 : 0) + (role.gid !== undefined ? 1 : 0), exeScore];
    if (!best || compareScore(score, bestScore) > 0) { best = role; bestScore = score; }
  }
  return best;
}

function compareScore(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** The role of an app or service by its id (roles with "appId"): exact id first, then the most specific pattern. */
export function appRole(data: SecurityData, appId: string): Role | null {
  let best: Role | null = null;
  let bestScore = -1;
  for (const role of data.roles) {
    if (role.appId === undefined || !globMatch(role.appId, appId)) continue;
    const s = specificity(role.appId);
    if (s > bestScore) { best = role; bestScore = s; }
  }
  return best;
}

/**
 * The role that speaks for a name (isCallAllowed by name): the app role with that id, else the role whose
 * allowedNames cover it most specifically; a bare "*" (any name) says nothing about a particular name.
 */
export function roleForName(data: SecurityData, name: string): Role | null {
  const byApp = appRole(data, name);
  if (byApp) return byApp;
  let best: Role | null = null;
  let bestScore = -1;
  for (const role of data.roles) {
    for (const p of role.allowedNames) {
      if (p === '*' || !globMatch(p, name)) continue;
      const s = specificity(p);
      if (s > bestScore) { best = role; bestScore = s; }
    }
  }
  return best;
}

/** Registration: anonymous is always allowed; a name must be in the kernel role's allowedNames (a privileged role may take any). */
export function decideRegister(data: SecurityData, peer: PeerIdentity | null | undefined, name: string | null): Denial | null {
  if (name === null) return null;
  const role = kernelRole(data, peer);
  if (role && (role.type === 'privileged' || role.allowedNames.some((p) => globMatch(p, name)))) return null;
  return { errorCode: BusErrorCode.INVALID_PERMISSIONS, errorText: BusErrorText.invalidPermissions(name) };
}

/** What a caller holds for one decision. `allGroups`: a privileged role holds every group (it may act as any app anyway). */
export interface CallerView {
  role: Role | null;
  /** The name groups and role permissions are looked up under ("" for an anonymous client). */
  name: string;
  groups: Set<string>;
  allGroups: boolean;
  trust: Trust;
}

/** Groups client permissions give a name (every matching pattern adds its groups; "" = anonymous). */
export function clientGroups(data: SecurityData, name: string): Set<string> {
  const out = new Set<string>();
  for (const cp of data.clientPermissions) if (globMatch(cp.pattern, name)) cp.groups.forEach((g) => out.add(g));
  return out;
}

function viewFor(data: SecurityData, role: Role | null, name: string, identityOk: boolean): CallerView {
  if (!identityOk) return { role: null, name, groups: new Set(), allGroups: false, trust: 'dev' };
  let groups = clientGroups(data, name);
  if (!role) groups = new Set([...groups].filter((g) => g === PUBLIC_GROUP));
  else if (role.type === 'devmode') groups = new Set([...groups].filter((g) => data.devmodeGroups.includes(g)));
  return { role, name, groups, allGroups: role?.type === 'privileged', trust: role?.trustLevel ?? 'dev' };
}

/**
 * Who the caller is for a call: its kernel role; when it calls as an app (appId), that app's role, which only a
 * privileged role may ask for (-1031). A container process registered under an app's id gets that app's role,
 * never more than its kernel role allows (trust capped, privileged only if both are).
 */
export function callerView(data: SecurityData, ctx: CallerContext): CallerView | Denial {
  const known = identityKnown(ctx.peer);
  const kRole = kernelRole(data, ctx.peer);
  if (ctx.appId !== undefined) {
    if (!kRole || kRole.type !== 'privileged') {
      return { errorCode: BusErrorCode.NOT_PRIVILEGED_APP_CALL, errorText: BusErrorText.notPrivilegedAppCall(ctx.appId) };
    }
    return viewFor(data, appRole(data, ctx.appId), ctx.appId, known);
  }
  const name = ctx.name ?? '';
  if (known && ctx.name && isContainer(data, ctx.peer.exe as string)) {
    const aRole = appRole(data, ctx.name);
    if (aRole) return viewFor(data, capRole(aRole, kRole), name, known);
  }
  return viewFor(data, kRole, name, known);
}

/** An app role as run by a process whose kernel role is `kernel`: never above it. */
export function capRole(app: Role, kernel: Role | null): Role {
  const kTrust = kernel?.trustLevel ?? 'dev';
  const trust = TRUST_RANK[app.trustLevel] <= TRUST_RANK[kTrust] ? app.trustLevel : kTrust;
  let type = app.type;
  if (type === 'privileged' && kernel?.type !== 'privileged') type = 'regular';
  if (kernel?.type === 'devmode' || !kernel) type = 'devmode';
  return { ...app, trustLevel: trust, type };
}

/** The method's path as API permission patterns name it: "service/category/method", root category "service/method". */
export function methodPath(t: CallTarget): string {
  let cat = t.category.startsWith('/') ? t.category : `/${t.category}`;
  cat = cat.replace(/\/+$/, '');
  return `${t.service}${cat}/${t.method}`;
}

/** The groups API permissions put this method in. */
export function methodGroups(data: SecurityData, t: CallTarget): Set<string> {
  const p = methodPath(t);
  const out = new Set<string>();
  for (const ap of data.apiPermissions) {
    const pattern = ap.pattern.includes('/') ? ap.pattern : `${ap.pattern}/*`;
    if (globMatch(pattern, p)) out.add(ap.group);
  }
  return out;
}

/** Trust levels that satisfy a group on a service (groups.d): the strictest of the files that speak for it; none = dev. */
export function groupTrust(data: SecurityData, group: string, service: string): Trust {
  let need: Trust = 'dev';
  for (const gt of data.groupTrust) {
    if (gt.group !== group || gt.trust.length === 0) continue;
    if (gt.providers && !gt.providers.some((p) => globMatch(p, service))) continue;
    const easiest = gt.trust.reduce((a, b) => (TRUST_RANK[a] <= TRUST_RANK[b] ? a : b));
    if (TRUST_RANK[easiest] > TRUST_RANK[need]) need = easiest;
  }
  return need;
}

export function trustCovers(have: Trust, need: Trust): boolean {
  return TRUST_RANK[have] >= TRUST_RANK[need];
}

/** Role permissions (outbound of the caller, inbound of the target) — enforced only where a role states them. */
export function sendDenied(data: SecurityData, caller: CallerView, target: string): boolean {
  if (caller.role) {
    for (const p of caller.role.permissions) {
      if (p.outbound && globMatch(p.service, caller.name) && !p.outbound.some((o) => globMatch(o, target))) return true;
    }
  }
  for (const role of data.roles) {
    for (const p of role.permissions) {
      if (p.inbound && p.inbound.length > 0 && globMatch(p.service, target) && !p.inbound.some((i) => globMatch(i, caller.name))) return true;
    }
  }
  return false;
}

/** Is the method allowed for this view? Groups meet and the caller's trust covers a met group's trust. */
export function groupsAllow(data: SecurityData, view: CallerView, t: CallTarget): boolean {
  const provided = methodGroups(data, t);
  if (view.allGroups) {
    if (provided.size === 0) return trustCovers(view.trust, 'dev');
    return [...provided].some((g) => trustCovers(view.trust, groupTrust(data, g, t.service)));
  }
  for (const g of provided) {
    if (view.groups.has(g) && trustCovers(view.trust, groupTrust(data, g, t.service))) return true;
  }
  return false;
}

/** The whole call decision: -1031 app impersonation, outbound/inbound, then groups and trust. */
export function decideCall(data: SecurityData, ctx: CallerContext, t: CallTarget): Denial | null {
  const view = callerView(data, ctx);
  if ('errorCode' in view) return view;
  if (!identityKnown(ctx.peer)) return denied(t);
  if (ctx.appId === undefined && ctx.name && ctx.name === t.service) return null; // a service calling itself
  if (sendDenied(data, view, t.service)) {
    return { errorCode: BusErrorCode.GENERAL, errorText: BusErrorText.notPermittedToSend(t.service) };
  }
  return groupsAllow(data, view, t) ? null : denied(t);
}

function denied(t: CallTarget): Denial {
  const cat = t.category.startsWith('/') ? t.category : `/${t.category}`;
  return { errorCode: BusErrorCode.GENERAL, errorText: BusErrorText.deniedMethodCall(t.method, cat) };
}

/** isCallAllowed by name: groups by the name's client permissions, trust from the role that speaks for the name. */
export function decideCallByName(data: SecurityData, requester: string, t: CallTarget): boolean {
  if (requester === t.service) return true;
  const role = roleForName(data, requester);
  let groups = clientGroups(data, requester);
  if (!role) groups = new Set([...groups].filter((g) => g === PUBLIC_GROUP));
  else if (role.type === 'devmode') groups = new Set([...groups].filter((g) => data.devmodeGroups.includes(g)));
  const view: CallerView = { role, name: requester, groups, allGroups: false, trust: role?.trustLevel ?? 'dev' };
  if (sendDenied(data, view, t.service)) return false;
  return groupsAllow(data, view, t);
}

export function knownService(data: SecurityData, name: string): boolean {
  return data.services.some((s) => globMatch(s.name, name));
}
