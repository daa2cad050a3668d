// The pure core of the install service, without sockets or daemons: version order, request checks, sticky details,
// the step-table runner (order, progress, undo in reverse), failure mapping, bus-file generation, config and fault specs.
import fs from 'node:fs';
import path from 'node:path';
import { BehaviorSubject } from 'rxjs';
import { layout as layoutOf } from '../layout/paths';
import { AppInstallService } from '../services/appinstall/appinstall-service';
import { DevModeService } from '../services/devmode/devmode-service';
import { SystemServiceService } from '../services/systemservice/systemservice-service';
import { SystemPropertyService } from '../services/systemproperty/systemproperty-service';
import { AppManagerService } from '../services/appmanager/appmanager-service';
import { CodedError, ErrorCode, ErrorText, Stage } from '../status-codes';
import { compareVersions, classifyVersion } from '../engine/version-compare';
import { checkId, checkIpkUrlShape, isPrivilegedName, canRead } from '../services/appinstall/request-validation';
import { foldEvent, initialEvent, requestFields } from '../services/appinstall/status-events';
import { driveSteps, checkStepTable, type Step, type StepEvent } from '../engine/steps';
import { taskEnd } from '../engine/task-queue';
import { endUpdate, stepUpdates, INSTALL_STAGES, REMOVE_STAGES } from '../services/appinstall/stage-map';
import type { StageName } from '../status-codes';
import { packageBusFiles, manifestEntries, serviceGroup } from '../engine/bus-files';
import { parseDaemonConfig, DEFAULT_CONFIG } from '../services/appinstall/daemon-config';
import { parseFaultSpec, FAULT_POINTS } from '../engine/fault-points';
import { INSTALL_STEPS } from '../engine/install-steps';
import { REMOVE_STEPS } from '../engine/remove-steps';
import type { InstalledPackage } from '../engine/package-db';
import type { InstallEngine } from '../engine/install-engine';

describe('version order', () => {
  test.each([
    ['1.0.0', '1.0.0', 0], ['1.0', '1.0.0', 0], ['1.0.1', '1.0.0', 1], ['1.10.0', '1.9.0', 1], ['2', '1.9.9', 1],
    ['1.0.0', '1.0.0.1', -1], ['1.0.0-beta', '1.0.0', -1], ['1.0.0', '1.0.0-beta', 1], ['0.0.9', '0.0.10', -1],
  ])('%s vs %s → %d', (a, b, want) => {
    expect(Math.sign(compareVersions(a as string, b as string))).toBe(want);
  });
  test('classify', () => {
    expect(classifyVersion(undefined, '1.0.0')).toBe('fresh');
    expect(classifyVersion('1.0.0', '1.0.1')).toBe('upgrade');
    expect(classifyVersion('1.0.0', '1.0.0')).toBe('reinstall');
    expect(classifyVersion('1.2.0', '1.0.0')).toBe('downgrade');
  });
});

describe('request checks', () => {
  const codeText = (f: () => void) => {
    try {
      f();
      return null;
    } catch (e) {
      return [(e as CodedError).code, (e as CodedError).text];
    }
  };
  test('ids and ipkUrls', () => {
    expect(codeText(() => checkId(''))).toEqual([ErrorCode.INVALID_PARAMETER, ErrorText.ID_EMPTY]);
    expect(codeText(() => checkId('  '))).toEqual([ErrorCode.INVALID_PARAMETER, ErrorText.ID_EMPTY]);
    expect(codeText(() => checkId('com.x'))).toBeNull();
    expect(codeText(() => checkIpkUrlShape(''))).toEqual([ErrorCode.INVALID_PARAMETER, ErrorText.IPKURL_EMPTY]);
    expect(codeText(() => checkIpkUrlShape('a.ipk'))).toEqual([ErrorCode.INVALID_PARAMETER, ErrorText.INVALID_IPKURL]);
    expect(codeText(() => checkIpkUrlShape('/a.tar'))).toEqual([ErrorCode.INVALID_PARAMETER, ErrorText.INVALID_IPKURL]);
    expect(codeText(() => checkIpkUrlShape('/media/developer/temp/a.ipk'))).toBeNull();
  });
  test('readable by the caller', () => {
    const f = (uid: number, gid: number, mode: number) => ({ uid, gid, mode: 0o100000 | mode });
    expect(canRead(f(0, 0, 0o600), { uid: 0, gid: 0 })).toBe(true);
    expect(canRead(f(0, 0, 0o600), { uid: 65534, gid: 65534 })).toBe(false);
    expect(canRead(f(0, 0, 0o644), { uid: 65534, gid: 65534 })).toBe(true);
    expect(canRead(f(65534, 0, 0o400), { uid: 65534, gid: 65534 })).toBe(true);
    expect(canRead(f(65534, 0, 0o044), { uid: 65534, gid: 65534 })).toBe(false);
    expect(canRead(f(0, 65534, 0o640), { uid: 65534, gid: 65534 })).toBe(true);
  });
  test('privileged ids', () => {
    for (const id of ['com.palm.x', 'com.webos.app.y', 'com.lge.z']) expect(isPrivilegedName(id)).toBe(true);
    // the prefix itself, and a name above one (its sub-names would reach into it)
    for (const id of ['com.palm', 'com.webos', 'com.lge', 'com']) expect(isPrivilegedName(id)).toBe(true);
    for (const id of ['com.example.x', 'com.webosx.y', 'org.lge.z', 'co', 'org', 'com.lg']) expect(isPrivilegedName(id)).toBe(false);
  });
});

describe('status events', () => {
  test('details: request fields minus id and subscribe, sticky until overwritten, progress never back', () => {
    expect(requestFields({ id: 'a', subscribe: true, ipkUrl: '/x.ipk', extra: 1 })).toEqual({ ipkUrl: '/x.ipk', extra: 1 });
    let ev = initialEvent('a', { id: 'a', subscribe: true, ipkUrl: '/x.ipk' }, { client: 'c', verified: true });
    ev = foldEvent(ev, { stage: 'PARSE_NEEDED' });
    ev = foldEvent(ev, { stage: 'PARSE_COMPLETE', patch: { packageId: 'p' } });
    ev = foldEvent(ev, { stage: 'INSTALL_UNPACKING', patch: { progress: 40 } });
    ev = foldEvent(ev, { stage: 'INSTALL_UNPACKING', patch: { progress: 20 } });
    expect(ev).toEqual({
      id: 'a', statusValue: Stage.INSTALL_UNPACKING.statusValue,
      details: { ipkUrl: '/x.ipk', client: 'c', verified: true, packageId: 'p', progress: 40, state: Stage.INSTALL_UNPACKING.state },
    });
  });
});

describe('step-table runner', () => {
  type Ctx = { log: string[]; failAt?: string };
  const step = (name: string, extra: Partial<Step<Ctx>> = {}): Step<Ctx> => ({
    name,
    async work(ctx, progress) {
      ctx.log.push(`do ${name}`);
      if (name === 'unpack') for (const p of [10, 60]) progress({ progress: p });
      if (ctx.failAt === name) throw new CodedError(ErrorCode.INSTALL_FAILED, ErrorText.EXTRACT_FAILED, 'boom');
      return name === 'parse' ? { packageId: 'p' } : undefined;
    },
    async undo(ctx) {
      ctx.log.push(`undo ${name}`);
    },
    ...extra,
  });
  const table = [step('parse'), step('prepare'), step('unpack'), step('finish', { undo: undefined })];
  const show = (e: StepEvent) => `${e.step} ${e.at}${'facts' in e && e.facts ? JSON.stringify(e.facts) : ''}`;

  test('runs in order: each step starts, reports progress and is done, with its facts', async () => {
    const ctx: Ctx = { log: [] };
    const seen: string[] = [];
    expect(await driveSteps(table, ctx, () => undefined, (e) => seen.push(show(e)))).toEqual({ ok: true });
    expect(seen).toEqual([
      'parse start', 'parse done{"packageId":"p"}', 'prepare start', 'prepare done', 'unpack start',
      'unpack progress{"progress":10}', 'unpack progress{"progress":60}', 'unpack done', 'finish start', 'finish done',
    ]);
    expect(ctx.log).toEqual(['do parse', 'do prepare', 'do unpack', 'do finish']);
  });

  test('a failure runs the undos of every started step in reverse, and names the error and the step', async () => {
    const ctx: Ctx = { log: [], failAt: 'unpack' };
    const r = await driveSteps(table, ctx, () => undefined, () => undefined);
    expect(ctx.log).toEqual(['do parse', 'do prepare', 'do unpack', 'undo unpack', 'undo prepare', 'undo parse']);
    expect(r).toMatchObject({ ok: false, step: 'unpack', error: { code: ErrorCode.INSTALL_FAILED } });
    if (r.ok) return;
    expect(taskEnd('install', r.error, {}, r.step)).toEqual({ outcome: 'failed', step: 'unpack', facts: {}, error: { code: ErrorCode.INSTALL_FAILED, text: `${ErrorText.EXTRACT_FAILED}: boom` } });
  });

  test('an event that cannot be delivered fails the task with its undos done; an undo that throws does not stop the others', async () => {
    const ctx: Ctx = { log: [] };
    const undoFailures: string[] = [];
    const bad = [step('parse', { undo: async () => { throw new Error('undo broke'); } }), ...table.slice(1)];
    const r = await driveSteps(bad, ctx, (name) => undoFailures.push(name), (e) => {
      if (e.step === 'unpack' && e.at === 'start') throw new RangeError('Maximum call stack size exceeded');
    });
    expect(r).toMatchObject({ ok: false, step: 'unpack' });
    expect(ctx.log).toEqual(['do parse', 'do prepare', 'undo unpack', 'undo prepare']);
    expect(undoFailures).toEqual(['parse']);
  });

  test('the real tables are well-formed, and every step has its stages on the bus', () => {
    expect(() => checkStepTable(INSTALL_STEPS)).not.toThrow();
    expect(() => checkStepTable(REMOVE_STEPS)).not.toThrow();
    for (const s of INSTALL_STEPS) expect(INSTALL_STAGES[s.name]).toBeDefined();
    for (const s of REMOVE_STEPS) expect(REMOVE_STAGES[s.name]).toBeDefined();
    const named = (name: string): Step<unknown> => ({ name, work: async () => undefined });
    expect(() => checkStepTable([named('a'), named('a')])).toThrow(/duplicate step "a"/);
    expect(() => checkStepTable([named('')])).toThrow(/a step has no name/);
  });
});

describe('engine events in webOS words (stage-map.ts)', () => {
  test('a step\'s start and end are its stages; progress repeats the last stage; nothing before any stage', () => {
    expect(stepUpdates('install', { type: 'step', step: 'verify', at: 'start' }, undefined)).toEqual([{ stage: 'VERIFY_NEEDED' }, { stage: 'VERIFY_REQUESTED' }]);
    expect(stepUpdates('install', { type: 'step', step: 'verify', at: 'done', facts: { signature: 'unsigned' } }, 'VERIFY_REQUESTED')).toEqual([{ stage: 'VERIFY_COMPLETE', patch: { signature: 'unsigned' } }]);
    expect(stepUpdates('install', { type: 'step', step: 'unpack', at: 'progress', facts: { progress: 40 } }, 'INSTALL_UNPACKING' as StageName)).toEqual([{ stage: 'INSTALL_UNPACKING', patch: { progress: 40 } }]);
    expect(stepUpdates('install', { type: 'step', step: 'download', at: 'progress', facts: { progress: 1 } }, undefined)).toEqual([]);
    expect(stepUpdates('remove', { type: 'step', step: 'prepare', at: 'start' }, undefined)).toEqual([{ stage: 'REMOVE_START' }, { stage: 'REMOVING' }]);
  });
  test('the end: 30/31 on success, 22 for a cancelled install, 25 for a cancelled remove, 23 for a failed download', () => {
    const cancelled = { outcome: 'cancelled' as const, error: { code: ErrorCode.CANCELLED, text: ErrorText.INSTALL_CANCELLED }, facts: { packageId: 'p' } };
    expect(endUpdate('install', { outcome: 'succeeded', facts: {} })).toEqual({ stage: 'INSTALLED', patch: { progress: 100 } });
    expect(endUpdate('remove', { outcome: 'succeeded', facts: {} }).stage).toBe('REMOVED');
    expect(endUpdate('install', cancelled)).toEqual({ stage: 'INSTALL_CANCELLED', patch: { packageId: 'p', errorCode: ErrorCode.CANCELLED, reason: ErrorText.INSTALL_CANCELLED } });
    expect(endUpdate('remove', cancelled).stage).toBe('REMOVE_FAILED');
    expect(endUpdate('install', { outcome: 'failed', phase: 'download', error: { code: -1, text: 'x' }, facts: {} }).stage).toBe('DOWNLOAD_FAILED');
    expect(endUpdate('install', { outcome: 'failed', error: { code: -5, text: 'x' }, facts: {} })).toEqual({ stage: 'INSTALL_FAILED', patch: { errorCode: -5, reason: 'x' } });
  });
});

describe('failure mapping', () => {
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  const err = (op: 'install' | 'remove', e: unknown) => taskEnd(op, e).error;
  test('a full disk is -3 on install and -7 on remove; coded errors keep their code; others are FAILED_*', () => {
    expect(err('install', enospc)).toMatchObject({ code: ErrorCode.NO_SPACE, text: expect.stringMatching(new RegExp(`^${ErrorText.NO_SPACE}: `)) });
    // a full disk wrapped by a lower layer is recognised by the errno code it keeps as `cause`, not by its text
    expect(err('install', new CodedError(ErrorCode.INSTALL_FAILED, ErrorText.EXTRACT_FAILED, 'cannot write "x"', { cause: enospc }))).toMatchObject({ code: ErrorCode.NO_SPACE });
    expect(err('install', new CodedError(ErrorCode.INSTALL_FAILED, ErrorText.EXTRACT_FAILED, 'ENOSPC in a file name'))).toMatchObject({ code: ErrorCode.INSTALL_FAILED });
    expect(taskEnd('remove', enospc)).toMatchObject({ outcome: 'failed', error: { code: ErrorCode.REMOVE_FAILED } });
    expect(err('install', new CodedError(ErrorCode.PRIVILEGED_INSTALL_IN_DEVMODE, ErrorText.PRIVILEGED_INSTALL_IN_DEVMODE))).toEqual({ code: -15, text: ErrorText.PRIVILEGED_INSTALL_IN_DEVMODE });
    expect(err('install', new Error('weird'))).toEqual({ code: ErrorCode.INSTALL_FAILED, text: `${ErrorText.FAILED_IPKG_INSTALL}: weird` });
    expect(err('remove', new CodedError(ErrorCode.GENERAL, 'x'))).toEqual({ code: ErrorCode.REMOVE_FAILED, text: `${ErrorText.FAILED_REMOVE}: x` });
  });
  test('a cancel is its own outcome; the engine\'s own codes are kept, also on a remove', () => {
    expect(taskEnd('remove', new CodedError(ErrorCode.CANCELLED, ErrorText.REMOVE_CANCELLED))).toMatchObject({ outcome: 'cancelled', error: { code: ErrorCode.CANCELLED, text: ErrorText.REMOVE_CANCELLED } });
    expect(taskEnd('remove', new CodedError(-210, 'locked', 'by x'))).toMatchObject({ outcome: 'failed', error: { code: -210, text: 'locked: by x' } });
  });
});

describe('bus files', () => {
  const pkg: InstalledPackage = {
    packageId: 'com.ex.app', version: '1.2.3', developer: true, base: '/r/media/developer/apps', control: {}, packageInfo: {}, targets: [],
    apps: [{ id: 'com.ex.app', dir: '/r/media/developer/apps/usr/palm/applications/com.ex.app', appInfo: { requiredPermissions: ['media.operation'] } }],
    services: [{ id: 'com.ex.app.svc', dir: '/r/media/developer/apps/usr/palm/services/com.ex.app.svc', servicesJson: { id: 'com.ex.app.svc', services: [{ name: 'com.ex.app.svc' }] } }],
  };
  test('every kind of file, in luna-service2 formats, listed by a manifest of device paths', () => {
    const out = packageBusFiles(pkg, layoutOf('/r').volatileDevBus, '/r');
    const byName = Object.fromEntries(out.files.map((f) => [f.path.replace('/r/var/luna-service2-dev/', ''), f.content]));
    expect(Object.keys(byName).sort()).toEqual([
      'api-permissions.d/com.ex.app.svc.api.json', 'client-permissions.d/com.ex.app.app.json', 'client-permissions.d/com.ex.app.svc.service.json',
      'groups.d/com.ex.app.svc.group.json', 'roles.d/com.ex.app.app.json', 'roles.d/com.ex.app.svc.service.json', 'services.d/com.ex.app.svc.service',
    ]);
    expect(JSON.parse(byName['client-permissions.d/com.ex.app.app.json'])).toEqual({ 'com.ex.app': ['media.operation', serviceGroup('com.ex.app.svc')] });
    expect(JSON.parse(byName['client-permissions.d/com.ex.app.svc.service.json'])).toEqual({ 'com.ex.app.svc': ['public'] });
    expect(JSON.parse(byName['api-permissions.d/com.ex.app.svc.api.json'])).toEqual({ 'com.ex.app.svc.api': ['com.ex.app.svc/*', 'com.ex.app.svc/*/*'] });
    expect(JSON.parse(byName['groups.d/com.ex.app.svc.group.json'])).toEqual({ allowedNames: ['com.ex.app.svc'], 'com.ex.app.svc.api': ['dev'] });
    expect(JSON.parse(byName['roles.d/com.ex.app.app.json'])).toMatchObject({ appId: 'com.ex.app', type: 'regular', allowedNames: ['com.ex.app', 'com.ex.app-*'] });
    expect(byName['services.d/com.ex.app.svc.service']).toMatch(/^\[D-BUS Service\]\nName=com\.ex\.app\.svc\nExec=.*\nType=dynamic\n$/);
    const manifest = JSON.parse(out.manifest.content);
    expect(out.manifest.path).toBe('/r/var/luna-service2-dev/manifests.d/com.ex.app.json');
    expect(manifest).toMatchObject({ id: 'com.ex.app', version: '1.2.3' });
    expect(manifestEntries(manifest).sort()).toEqual(Object.keys(byName).map((k) => `/var/luna-service2-dev/${k}`).sort());
  });
  test('an app without requiredPermissions gets ["public"]', () => {
    const out = packageBusFiles({ ...pkg, services: [], apps: [{ ...pkg.apps[0], appInfo: {} }] }, layoutOf('/r').volatileBus, '/r');
    expect(JSON.parse(out.files.find((f) => f.path.endsWith('client-permissions.d/com.ex.app.app.json'))!.content)).toEqual({ 'com.ex.app': ['public'] });
  });
});

describe('config and fault specs', () => {
  test('daemon config: defaults, known keys checked, unknown keys refused', () => {
    expect(parseDaemonConfig({})).toEqual(DEFAULT_CONFIG);
    expect(parseDaemonConfig({ requireSignature: true, maxConcurrentTasks: 2 })).toEqual({ ...DEFAULT_CONFIG, requireSignature: true, maxConcurrentTasks: 2 });
    expect(parseDaemonConfig({ extractLimits: { maxEntries: 500000 } }).extractLimits).toEqual({ ...DEFAULT_CONFIG.extractLimits, maxEntries: 500000 });
    expect(() => parseDaemonConfig({ extractLimits: { maxEntries: -1 } })).toThrow(/"extractLimits.maxEntries" must be a positive integer/);
    expect(() => parseDaemonConfig({ extractLimits: { maxFiles: 5 } })).toThrow(/unknown key "extractLimits.maxFiles"/);
    expect(() => parseDaemonConfig({ maxConcurrentTasks: 0 })).toThrow(/maxConcurrentTasks/);
    expect(() => parseDaemonConfig({ requireSignatures: true })).toThrow(/unknown key "requireSignatures"/);
    expect(() => parseDaemonConfig([])).toThrow(/JSON object/);
  });
  test('APPINSTALLD_FAULT: <point>[:<n>] with a known point only', () => {
    expect(parseFaultSpec(undefined)).toBeNull();
    expect(parseFaultSpec('install.placed:3')).toEqual({ point: 'install.placed', nth: 3, action: 'kill' });
    expect(parseFaultSpec('remove.committed')).toEqual({ point: 'remove.committed', nth: 1, action: 'kill' });
    expect(parseFaultSpec('install.staged:2:enospc')).toEqual({ point: 'install.staged', nth: 2, action: 'enospc' });
    expect(parseFaultSpec('install.staged:enospc')).toEqual({ point: 'install.staged', nth: 1, action: 'enospc' });
    expect(() => parseFaultSpec('install.staged:2:eio')).toThrow(/enospc/);
    expect(() => parseFaultSpec('install.placd')).toThrow(/point one of/);
    expect(new Set(FAULT_POINTS).size).toBe(FAULT_POINTS.length);
  });
});

describe('declared ACG groups agree with the shipped api-permissions', () => {
  // The services declare their methods on a client; this stand-in only records the declarations (no bus involved).
  function declarations(open: (client: any) => void): Record<string, Record<string, { groups?: string[] }>> {
    const seen: Record<string, Record<string, { groups?: string[] }>> = {};
    const client = { registerCategory: (c: string, m: Record<string, { groups?: string[] }>) => (seen[c] = m), unregisterCategory: () => undefined, subscriptions: {} };
    open(client);
    return seen;
  }
  function apiPermissions(): Record<string, string[]> {
    const dir = path.join(__dirname, '../acg/default-policy/api-permissions.d');
    const out: Record<string, string[]> = {};
    for (const f of fs.readdirSync(dir)) for (const [g, pats] of Object.entries(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Record<string, string[]>)) out[g] = [...(out[g] ?? []), ...pats];
    return out;
  }
  const check = (service: string, decl: Record<string, Record<string, { groups?: string[] }>>) => {
    const api = apiPermissions();
    const problems: string[] = [];
    for (const [category, methods] of Object.entries(decl)) {
      for (const [m, spec] of Object.entries(methods)) {
        const name = category === '/' ? `${service}/${m}` : `${service}${category}/${m}`;
        for (const g of spec.groups ?? []) if (!(api[g] ?? []).includes(name)) problems.push(`${name} not in group ${g}`);
        const holders = Object.entries(api).filter(([, pats]) => pats.includes(name)).map(([g]) => g).sort();
        if (JSON.stringify(holders) !== JSON.stringify([...(spec.groups ?? [])].sort())) problems.push(`${name}: declared ${spec.groups} but shipped in ${holders}`);
      }
    }
    return problems;
  };
  const layout = layoutOf('/nonexistent-root');
  test('com.webos.appInstallService', () => {
    const decl = declarations((c) => new AppInstallService(c, { tasks: { listen: () => () => undefined } } as unknown as InstallEngine, { layout, log: () => undefined }).open(new BehaviorSubject(true)));
    expect(Object.keys(decl).sort()).toEqual(['/', '/dev']);
    expect(check('com.webos.appInstallService', decl)).toEqual([]);
  });
  test('com.webos.service.devmode', () => {
    expect(check('com.webos.service.devmode', declarations((c) => new DevModeService(c, '/nonexistent-root/flag', () => undefined).open()))).toEqual([]);
  });
  test('com.webos.service.systemservice and com.webos.service.tv.systemproperty', () => {
    const sys = declarations((c) => new SystemServiceService(c).open());
    expect(Object.keys(sys).sort()).toEqual(['/deviceInfo', '/osInfo', '/softwareInfo']);
    expect(check('com.webos.service.systemservice', sys)).toEqual([]);
    const prop = declarations((c) => new SystemPropertyService(c).open());
    expect(Object.keys(prop['/'])).toEqual(['getSystemInfo']);
    expect(check('com.webos.service.tv.systemproperty', prop)).toEqual([]);
  });
  test('com.webos.applicationManager', () => {
    const decl = declarations((c) => new AppManagerService(c, layout, () => undefined).open(new BehaviorSubject(true)));
    expect(Object.keys(decl).sort()).toEqual(['/', '/dev']);
    expect(Object.keys(decl['/dev']).sort()).toEqual(['closeByAppId', 'listApps', 'running']);
    expect(check('com.webos.applicationManager', decl)).toEqual([]);
  });
});
