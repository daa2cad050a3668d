// createPolicy over a temp root on disk: the shipped defaults installed (never over a user's file) and in effect,
// manifests added/removed at runtime take effect at once, reload picks up edits, install trees keep their limits.
import fs from 'node:fs';
import path from 'node:path';
import { createPolicy, installDefaultPolicy } from '../acg';
import { layout } from '../layout/paths';
import { BusErrorText } from '../status-codes';
import { peer } from './helpers/acg-fixtures';

let root: string;
let logs: string[];
beforeEach(() => { root = fs.mkdtempSync('/tmp/ai-'); logs = []; });
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const put = (rel: string, content: unknown) => {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content, null, 4));
  return p;
};
const ROOT = peer(0, process.execPath);
const USER = peer(65534, process.execPath);
const t = (service: string, category: string, method: string) => ({ service, category, method });
const INSTALL = t('com.webos.appInstallService', '/', 'install');
const DEV_INSTALL = t('com.webos.appInstallService', '/dev', 'install');
const denied = (m: string, c: string) => ({ errorCode: -1, errorText: BusErrorText.deniedMethodCall(m, c) });

test('the shipped default policy: root may do everything, other uids only arescli.interface and public', () => {
  const p = createPolicy(layout(root), (l) => logs.push(l));
  expect(logs.filter((l) => /skipped|cannot/.test(l))).toEqual([]);
  const allRoot: [string, string, string][] = [
    ['com.webos.appInstallService', '/', 'install'], ['com.webos.appInstallService', '/', 'remove'], ['com.webos.appInstallService', '/', 'status'],
    ['com.webos.appInstallService', '/dev', 'install'], ['com.webos.service.devmode', '/', 'setDevMode'], ['com.webos.applicationManager', '/', 'lockApp'],
    ['com.webos.service.bus', '/', 'addOneManifest'], ['com.some.test', '/x', 'y'],
  ];
  for (const [s, c, m] of allRoot) expect(p.checkCall({ peer: ROOT, name: null }, t(s, c, m))).toBeNull();
  const userOk: [string, string, string][] = [
    ['com.webos.appInstallService', '/dev', 'install'], ['com.webos.appInstallService', '/dev', 'remove'], ['com.webos.applicationManager', '/dev', 'listApps'],
    ['com.webos.service.devmode', '/', 'getDevMode'], ['com.webos.service.bus', '/signal', 'registerServerStatus'], ['com.webos.service.bus', '/signal', 'addmatch'],
    ['com.webos.service.bus', '/', 'isCallAllowed'],
  ];
  for (const name of [null, 'com.webos.lunasendpub-123']) {
    for (const [s, c, m] of userOk) expect(p.checkCall({ peer: USER, name }, t(s, c, m))).toBeNull();
  }
  const userNo: [string, string, string][] = [
    ['com.webos.appInstallService', '/', 'install'], ['com.webos.appInstallService', '/', 'remove'], ['com.webos.appInstallService', '/', 'status'],
    ['com.webos.service.devmode', '/', 'setDevMode'], ['com.webos.applicationManager', '/', 'listApps'], ['com.webos.applicationManager', '/', 'closeByAppId'],
    ['com.webos.applicationManager', '/', 'getAppInfo'], ['com.webos.applicationManager', '/', 'running'], ['com.webos.service.bus', '/', 'addOneManifest'],
    ['com.webos.service.bus', '/', 'removeOneManifest'], ['com.some.test', '/x', 'y'],
  ];
  for (const [s, c, m] of userNo) expect(p.checkCall({ peer: USER, name: null }, t(s, c, m))).toEqual(denied(m, c));
  expect(p.checkRegister(ROOT, 'com.webos.appInstallService')).toBeNull();
  expect(p.checkRegister(USER, 'com.webos.lunasendpub-1')).toBeNull();
  expect(p.checkRegister(USER, 'com.webos.lunasend-1')).toEqual({ errorCode: -1027, errorText: BusErrorText.invalidPermissions('com.webos.lunasend-1') });
  expect(p.checkCall({ peer: USER, name: null, appId: 'com.x' }, DEV_INSTALL)).toEqual({ errorCode: -1031, errorText: BusErrorText.notPrivilegedAppCall('com.x') });
  for (const s of ['com.webos.appInstallService', 'com.webos.service.devmode', 'com.webos.applicationManager']) expect(p.isKnownService(s)).toBe(true);
  expect(p.isKnownService('com.nope')).toBe(false);
  expect(p.isCallAllowedByName('com.webos.lunasendpub-9', DEV_INSTALL)).toBe(true);
  expect(p.isCallAllowedByName('com.webos.lunasendpub-9', INSTALL)).toBe(false);
});

test('default files are installed only where absent: a user edit survives and wins', () => {
  const l = layout(root);
  const mine = put('usr/share/luna-service2/roles.d/users.role.json', { exeName: '*', type: 'regular', trustLevel: 'oem', allowedNames: ['*'] });
  const before = fs.readFileSync(mine, 'utf8');
  const p = createPolicy(l);
  expect(fs.readFileSync(mine, 'utf8')).toBe(before);
  expect(fs.existsSync(path.join(l.staticBus.rolesD, 'root.role.json'))).toBe(true);
  expect(fs.existsSync(path.join(l.staticBus.base, 'devmode_certificate.json'))).toBe(true);
  expect(p.checkRegister(USER, 'com.anything')).toBeNull(); // the user's role is in effect
  expect(installDefaultPolicy(l)).toEqual([]); // second start writes nothing
});

// Without the git history (a tarball checkout) there is nothing to compare with.
const repo = path.join(__dirname, '..');
const inGit = require('node:child_process').spawnSync('git', ['-C', repo, 'rev-parse', '--git-dir']).status === 0;
(inGit ? test : test.skip)('acg/shipped-policy-history.json lists every earlier shipped version of the policy (so devices made with it are updated)', () => {
  const r = require('node:child_process').spawnSync(process.execPath, [path.join(repo, 'scripts/policy-history.mjs'), '--check'], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});

test('reload after editing a file takes effect', () => {
  const p = createPolicy(layout(root));
  const status = t('com.webos.appInstallService', '/', 'status');
  expect(p.checkCall({ peer: USER, name: null }, status)).toEqual(denied('status', '/'));
  const f = path.join(layout(root).staticBus.apiPermissionsD, 'com.webos.appInstallService.api.json');
  const api = JSON.parse(fs.readFileSync(f, 'utf8'));
  api['arescli.interface'].push('com.webos.appInstallService/status');
  fs.writeFileSync(f, JSON.stringify(api));
  expect(p.checkCall({ peer: USER, name: null }, status)).toEqual(denied('status', '/')); // not before reload
  p.reload();
  expect(p.checkCall({ peer: USER, name: null }, status)).toBeNull();
});

/** What the installer writes for an app com.example.app with a service com.example.svc (verified tree). */
function writeInstalledApp(tree: string, version = '1.0.0', group = 'example.read', type = 'regular') {
  const base = `var/${tree}`;
  put(`${base}/roles.d/com.example.app.app.json`, { appId: 'com.example.app', type, trustLevel: 'oem', allowedNames: ['com.example.app'] });
  put(`${base}/client-permissions.d/com.example.app.app.json`, { 'com.example.app': [group, 'public'] });
  put(`${base}/roles.d/com.example.svc.service.json`, { exeName: `/media/cryptofs/apps/usr/palm/services/com.example.svc/bin/svc`, type: 'regular', allowedNames: ['com.example.svc'] });
  put(`${base}/api-permissions.d/com.example.svc.api.json`, { [group]: ['com.example.svc/read'], public: ['com.webos.appInstallService/install'] });
  put(`${base}/groups.d/com.example.svc.group.json`, { allowedNames: ['com.example.svc'], [group]: ['dev'] });
  put(`${base}/services.d/com.example.svc.service`, '[D-BUS Service]\nName=com.example.svc\nExec=/media/cryptofs/apps/usr/palm/services/com.example.svc/bin/svc\nType=static\n');
  const d = (k: string, f: string) => `/${base}/${k}/${f}`;
  return put(`${base}/manifests.d/com.example.app.json`, {
    id: 'com.example.app', version,
    roleFiles: [d('roles.d', 'com.example.app.app.json'), d('roles.d', 'com.example.svc.service.json')],
    clientPermissionFiles: [d('client-permissions.d', 'com.example.app.app.json')],
    apiPermissionFiles: [d('api-permissions.d', 'com.example.svc.api.json')],
    groupsFiles: [d('groups.d', 'com.example.svc.group.json')],
    serviceFiles: [d('services.d', 'com.example.svc.service')],
  });
}

describe('manifests at runtime', () => {
  const READ = t('com.example.svc', '/', 'read');
  const asApp = { peer: ROOT, name: null, appId: 'com.example.app' };

  test('addOneManifest grants at once; removeOneManifest takes it away though the files stay; reload keeps that', () => {
    const p = createPolicy(layout(root), (l) => logs.push(l));
    expect(p.checkCall(asApp, READ)).toEqual(denied('read', '/'));
    const manifest = writeInstalledApp('luna-service2');
    expect(p.isKnownService('com.example.svc')).toBe(false); // not told yet
    expect(p.addManifest(manifest, '')).toBeNull();
    expect(p.isKnownService('com.example.svc')).toBe(true);
    expect(p.checkCall(asApp, READ)).toBeNull();
    expect(p.isCallAllowedByName('com.example.app', READ)).toBe(true);
    // an app role applies to a container process only as far as its kernel identity allows
    expect(p.checkCall({ peer: USER, name: 'com.example.app' }, READ)).toEqual(denied('read', '/'));
    // an installed file may not open someone else's method
    expect(logs.some((l) => l.includes('com.webos.appInstallService/install') && /ignored/.test(l))).toBe(true);
    expect(p.checkCall({ peer: USER, name: null }, INSTALL)).toEqual(denied('install', '/'));

    expect(p.removeManifest(manifest, '')).toBeNull();
    expect(p.isKnownService('com.example.svc')).toBe(false);
    expect(p.checkCall(asApp, READ)).toEqual(denied('read', '/'));
    p.reload();
    expect(p.checkCall(asApp, READ)).toEqual(denied('read', '/'));
    expect(p.addManifest(manifest, '')).toBeNull();
    expect(p.checkCall(asApp, READ)).toBeNull();
  });

  test('a manifest outside manifests.d, with a prefix, survives reload', () => {
    const p = createPolicy(layout(root));
    const m = writeInstalledApp('luna-service2');
    const elsewhere = put('opt/pkg/app.manifest.json', fs.readFileSync(m, 'utf8').replaceAll('/var/luna-service2/', '/'));
    fs.renameSync(m, path.join(root, 'opt/pkg/unused.txt'));
    // entries are now /roles.d/... relative to the prefix <root>/var/luna-service2
    expect(p.addManifest(elsewhere, path.join(root, 'var/luna-service2'))).toBeNull();
    expect(p.checkCall(asApp, READ)).toBeNull();
    p.reload();
    expect(p.checkCall(asApp, READ)).toBeNull();
  });

  test('newest version of a manifest id wins; removing it falls back to the older one', () => {
    const p = createPolicy(layout(root));
    const v1 = writeInstalledApp('luna-service2', '1.0.0', 'example.read');
    const v1text = fs.readFileSync(v1, 'utf8');
    // v2 lives in its own files (another group name) and its own manifest
    const v2text = v1text.replaceAll('com.example.app.app.json', 'com.example.app.v2.json').replace('"1.0.0"', '"2.0.0"');
    put('var/luna-service2/client-permissions.d/com.example.app.v2.json', { 'com.example.app': ['example.v2'] });
    put('var/luna-service2/roles.d/com.example.app.v2.json', { appId: 'com.example.app', type: 'regular', allowedNames: ['com.example.app'] });
    put('var/luna-service2/api-permissions.d/com.example.svc.v2.api.json', { 'example.v2': ['com.example.svc/write'] });
    const v2 = put('var/luna-service2/manifests.d/com.example.app.v2.manifest.json', v2text.replace('com.example.svc.api.json', 'com.example.svc.v2.api.json'));
    p.reload();
    const WRITE = t('com.example.svc', '/', 'write');
    expect(p.checkCall(asApp, WRITE)).toBeNull();
    expect(p.checkCall(asApp, READ)).toEqual(denied('read', '/'));
    expect(p.removeManifest(v2, '')).toBeNull();
    expect(p.checkCall(asApp, READ)).toBeNull();
    expect(p.checkCall(asApp, WRITE)).toEqual(denied('write', '/'));
  });

  test('addOneManifest refuses a bad manifest or a missing/bad listed file, naming it; nothing changes', () => {
    const p = createPolicy(layout(root));
    const m = writeInstalledApp('luna-service2');
    fs.rmSync(path.join(root, 'var/luna-service2/api-permissions.d/com.example.svc.api.json'));
    const r = p.addManifest(m, '');
    expect(r?.errorCode).toBe(-1);
    expect(r?.errorText).toMatch(new RegExp(`^Invalid manifest ${m}: listed file .*com.example.svc.api.json: cannot read: ENOENT`));
    const bad = put('var/luna-service2/manifests.d/bad.json', '{"id":"x"');
    expect(p.addManifest(bad, '')?.errorText).toMatch(/not valid JSON/);
    expect(p.addManifest('/no/such/manifest.json', '')?.errorText).toMatch(/cannot read: ENOENT/);
    put('var/luna-service2/roles.d/broken.json', '{"appId":"a","type":"boss","allowedNames":["a"]}');
    const m2 = put('var/luna-service2/manifests.d/m2.json', { id: 'm2', version: '1', roleFiles: ['/var/luna-service2/roles.d/broken.json'] });
    expect(p.addManifest(m2, '')?.errorText).toMatch(/"type" must be one of/);
  });

  test('developer-install files are capped at devmode trust dev', () => {
    const p = createPolicy(layout(root));
    const m = writeInstalledApp('luna-service2-dev', '1.0.0', 'example.read', 'privileged');
    expect(p.addManifest(m, '')).toBeNull();
    // the app's role said privileged/oem; from the developer tree it is devmode: only certificate groups
    expect(p.checkCall(asApp, READ)).toEqual(denied('read', '/'));
    expect(p.checkCall(asApp, t('com.webos.service.bus', '/signal', 'registerServerStatus'))).toBeNull();
  });
});

describe('the installer\'s own bus files (engine/bus-files.ts) once the hub is told', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { packageBusFiles } = require('../engine/bus-files') as typeof import('../engine/bus-files');
  const install = (developer: boolean) => {
    const l = layout(root);
    const tree = developer ? l.volatileDevBus : l.volatileBus;
    const apps = developer ? l.developerApps : l.verifiedApps;
    const pkg = {
      packageId: 'com.example.app', version: '1.0.0', developer, base: apps.base, control: {}, packageInfo: {}, targets: [],
      apps: [{ id: 'com.example.app', dir: path.join(apps.applications, 'com.example.app'), appInfo: { requiredPermissions: ['applicationinstall.management', 'public'] } }],
      services: [{ id: 'com.example.app.service', dir: path.join(apps.services, 'com.example.app.service'), servicesJson: {} }],
    };
    const files = packageBusFiles(pkg, tree, root);
    for (const f of [...files.files, files.manifest]) put(path.relative(root, f.path), f.content);
    return { manifest: files.manifest.path, prefix: root };
  };
  const SVC = t('com.example.app.service', '/', 'hello');
  const asApp = { peer: ROOT, name: null, appId: 'com.example.app' };

  test.each([false, true])('developer install: %s — the app may call its own service, nothing more', (developer) => {
    const p = createPolicy(layout(root), (l) => logs.push(l));
    const { manifest, prefix } = install(developer);
    expect(p.checkCall(asApp, SVC)).toEqual(denied('hello', '/'));
    expect(p.addManifest(manifest, prefix)).toBeNull();
    expect(p.isKnownService('com.example.app.service')).toBe(true);
    expect(p.checkCall(asApp, SVC)).toBeNull();
    expect(p.isCallAllowedByName('com.example.app', SVC)).toBe(true);
    // requiredPermissions cannot lift an app to an oem method (trust dev)
    expect(p.checkCall(asApp, INSTALL)).toEqual(denied('install', '/'));
    expect(p.isCallAllowedByName('com.example.app', INSTALL)).toBe(false);
    // a stranger holds none of the app's groups
    expect(p.checkCall({ peer: USER, name: null }, SVC)).toEqual(denied('hello', '/'));
    expect(p.removeManifest(manifest, prefix)).toBeNull();
    expect(p.checkCall(asApp, SVC)).toEqual(denied('hello', '/'));
    expect(p.isKnownService('com.example.app.service')).toBe(false);
  });
});

test('a hub run by an ordinary user: that uid owns the bus (privileged), other uids stay devmode', () => {
  const p = createPolicy(layout(root), (l) => logs.push(l), { ownerUid: 1000 });
  const owner = peer(1000, process.execPath);
  expect(logs).toContain('acg: the hub runs as uid 1000: that uid gets the privileged role root has');
  expect(p.checkRegister(owner, 'com.webos.appInstallService')).toBeNull();
  expect(p.checkCall({ peer: owner, name: 'com.webos.appInstallService' }, t('com.webos.applicationManager', '/', 'closeByAppId'))).toBeNull();
  expect(p.checkCall({ peer: USER, name: null }, INSTALL)).toEqual(denied('install', '/'));
  expect(p.checkRegister(USER, 'com.webos.appInstallService')).not.toBeNull();
  expect(p.checkCall({ peer: ROOT, name: null }, INSTALL)).toBeNull();
});
