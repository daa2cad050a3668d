// Loaders: real webOS-format security files load unchanged from a root on disk and give webOS's decisions;
// a bad file is reported (path + what is wrong) and skipped without taking the others down.
import fs from 'node:fs';
import path from 'node:path';
import { decideCall, decideRegister, knownService } from '../acg/decision';
import { PolicyStore } from '../acg/policy-store';
import {
  parseGroupsFile, parseManifestFile, parseRoleFile, parseServiceFile, SecurityFileError,
} from '../acg/security-files';
import { layout } from '../layout/paths';
import { BusErrorText } from '../status-codes';
import {
  peer, REAL_APPINSTALLD_API, REAL_APPINSTALLD_GROUPS, REAL_APPINSTALLD_PERM, REAL_APPINSTALLD_ROLE, REAL_APPINSTALLD_SERVICE,
  REAL_BUS_API, REAL_BUS_GROUPS, REAL_LS2_API, REAL_LS2_GROUPS, REAL_LS2_PERM, REAL_LUNASEND_ROLE, REAL_LUNASENDPUB_ROLE,
} from './helpers/acg-fixtures';

let root: string;
let logs: string[];
beforeEach(() => { root = fs.mkdtempSync('/tmp/ai-'); logs = []; });
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const put = (rel: string, text: string) => {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text);
  return p;
};
const S = 'usr/share/luna-service2';
const INSTALL = { service: 'com.webos.appInstallService', category: '/', method: 'install' };
const DEV_INSTALL = { service: 'com.webos.appInstallService', category: '/dev', method: 'install' };

function writeRealTree(viaManifest: boolean) {
  const files = {
    roleFiles: [`/${S}/roles.d/com.webos.lunasend.role.json`, `/${S}/roles.d/com.webos.lunasendpub.role.json`, `/${S}/roles.d/com.webos.appinstalld.role.json`],
    clientPermissionFiles: [`/${S}/client-permissions.d/com.webos.appinstalld.perm.json`, `/${S}/client-permissions.d/luna-service2.perm.json`, `/${S}/client-permissions.d/lunasendpub.perm.json`],
    apiPermissionFiles: [`/${S}/api-permissions.d/com.webos.appinstalld.api.json`, `/${S}/api-permissions.d/luna-service2.api.json`, `/${S}/api-permissions.d/com.webos.service.bus.api.json`],
    groupsFiles: [`/${S}/groups.d/appinstalld.groups.json`, `/${S}/groups.d/luna-service2.groups.json`, `/${S}/groups.d/com.webos.service.bus.groups.json`],
    serviceFiles: [`/${S}/services.d/com.webos.appinstalld.service`],
  };
  const texts = [REAL_LUNASEND_ROLE, REAL_LUNASENDPUB_ROLE, REAL_APPINSTALLD_ROLE, REAL_APPINSTALLD_PERM, REAL_LS2_PERM,
    '{\n  "com.webos.lunasendpub-*": ["ares.webos.cli"]\n}\n', REAL_APPINSTALLD_API, REAL_LS2_API, REAL_BUS_API,
    REAL_APPINSTALLD_GROUPS, REAL_LS2_GROUPS, REAL_BUS_GROUPS, REAL_APPINSTALLD_SERVICE];
  const all = [...files.roleFiles, ...files.clientPermissionFiles, ...files.apiPermissionFiles, ...files.groupsFiles, ...files.serviceFiles];
  all.forEach((f, i) => put(f, texts[i]));
  put(`${S}/devmode_certificate.json`, '{"devmodeGroups":["ares.webos.cli","public"]}');
  if (viaManifest) put(`${S}/manifests.d/com.webos.appinstalld.manifest.json`, JSON.stringify({ id: 'com.webos.appinstalld', version: '1.0.0', ...files }, null, 4));
}

describe.each([true, false])('real webOS files (listed by a manifest: %s)', (viaManifest) => {
  test('load unchanged and give the decisions webOS gives', () => {
    writeRealTree(viaManifest);
    const store = new PolicyStore(layout(root), (l) => logs.push(l));
    store.reload();
    expect(logs.filter((l) => /skipped/.test(l))).toEqual([]);
    const d = store.data;
    const lunaSend = peer(0, '/usr/bin/luna-send');
    const lunaSendPub = peer(1000, '/usr/bin/luna-send-pub');
    const appinstalld = peer(0, '/usr/sbin/appinstalld');
    // luna-send: privileged, oem, any name, and "all" by its name
    expect(decideRegister(d, lunaSend, 'com.webos.lunasend-77')).toBeNull();
    expect(decideCall(d, { peer: lunaSend, name: 'com.webos.lunasend-77' }, INSTALL)).toBeNull();
    // luna-send-pub: devmode; holds ares.webos.cli through the certificate
    expect(decideCall(d, { peer: lunaSendPub, name: 'com.webos.lunasendpub-5' }, DEV_INSTALL)).toBeNull();
    expect(decideCall(d, { peer: lunaSendPub, name: 'com.webos.lunasendpub-5' }, INSTALL))
      .toEqual({ errorCode: -1, errorText: BusErrorText.deniedMethodCall('install', '/') });
    expect(decideCall(d, { peer: lunaSendPub, name: 'com.webos.lunasendpub-5', appId: 'com.x' }, DEV_INSTALL))
      .toEqual({ errorCode: -1031, errorText: BusErrorText.notPrivilegedAppCall('com.x') });
    // appinstalld: regular role, only its own name; its "all" group reaches other services' methods
    expect(decideRegister(d, appinstalld, 'com.webos.appInstallService')).toBeNull();
    expect(decideRegister(d, appinstalld, 'com.webos.other')).toEqual({ errorCode: -1027, errorText: BusErrorText.invalidPermissions('com.webos.other') });
    expect(decideCall(d, { peer: appinstalld, name: 'com.webos.appInstallService' }, { service: 'com.webos.service.bus', category: '/', method: 'addOneManifest' })).toBeNull();
    // an unknown exe has no role: only anonymous, public groups
    expect(decideRegister(d, peer(0, '/usr/bin/other'), 'com.foo')).not.toBeNull();
    // the bus's own files: registerServerStatus is servicebus.communication (dev) but nobody anonymous holds it
    expect(decideCall(d, { peer: peer(0, '/usr/bin/other'), name: null }, { service: 'com.webos.service.bus', category: '/signal', method: 'registerServerStatus' }))
      .toEqual({ errorCode: -1, errorText: BusErrorText.deniedMethodCall('registerServerStatus', '/signal') });
    expect(knownService(d, 'com.webos.appInstallService')).toBe(true);
    expect(knownService(d, 'com.webos.nothere')).toBe(false);
  });
});

test('bad files are reported with their path and reason; the others still load', () => {
  writeRealTree(false);
  const bad = {
    json: put(`${S}/roles.d/broken.role.json`, '{"exeName": "/usr/bin/x", '),
    type: put(`${S}/roles.d/badtype.role.json`, '{"exeName":"/usr/bin/y","type":"superuser","allowedNames":["*"]}'),
    names: put(`${S}/roles.d/nonames.role.json`, '{"exeName":"/usr/bin/z"}'),
    api: put(`${S}/api-permissions.d/bad.api.json`, '{"group.a": "com.foo/bar"}'),
    trust: put(`${S}/groups.d/bad.groups.json`, '{"group.a": ["gold"]}'),
    service: put(`${S}/services.d/bad.service`, 'Name=com.nogroup\n'),
    manifest: put(`${S}/manifests.d/bad.manifest.json`, '{"version":"1.0"}'),
    perms: put(`${S}/client-permissions.d/bad.perm.json`, '["not", "an", "object"]'),
  };
  const store = new PolicyStore(layout(root), (l) => logs.push(l));
  store.reload();
  const line = (f: string) => logs.find((l) => l.includes(f)) ?? `(nothing logged for ${f})`;
  expect(line(bad.json)).toMatch(/not valid JSON/);
  expect(line(bad.type)).toMatch(/"type" must be one of .*superuser/);
  expect(line(bad.names)).toMatch(/"allowedNames" is missing/);
  expect(line(bad.api)).toMatch(/"group.a" must be an array of strings/);
  expect(line(bad.trust)).toMatch(/must be one of "oem", "part", "dev" \(got "gold"\)/);
  expect(line(bad.service)).toMatch(/no \[D-BUS Service\] group/);
  expect(line(bad.manifest)).toMatch(/"id" must be a non-empty string; manifest skipped/);
  expect(line(bad.perms)).toMatch(/must be a JSON object/);
  // the good files are all in effect
  const d = store.data;
  expect(decideCall(d, { peer: peer(0, '/usr/bin/luna-send'), name: 'com.webos.lunasend-1' }, INSTALL)).toBeNull();
  expect(decideCall(d, { peer: peer(1000, '/usr/bin/luna-send-pub'), name: 'com.webos.lunasendpub-1' }, DEV_INSTALL)).toBeNull();
  expect(knownService(d, 'com.webos.appInstallService')).toBe(true);
  expect(d.roles).toHaveLength(3);
});

describe('parsers', () => {
  test('roles: unknown keys tolerated, old format, defaults', () => {
    expect(parseRoleFile('{"exeName":"/a","allowedNames":["x"],"description":"hi","extra":{"k":1}}'))
      .toMatchObject({ exeName: '/a', type: 'regular', trustLevel: 'dev', allowedNames: ['x'], permissions: [] });
    expect(parseRoleFile('{"role":{"exeName":"/b","type":"privileged","allowedNames":["com.b"]},"permissions":[{"service":"com.b","outbound":["*"]}]}'))
      .toMatchObject({ exeName: '/b', type: 'privileged', allowedNames: ['com.b'], permissions: [{ service: 'com.b', outbound: ['*'] }] });
    expect(parseRoleFile('{"exeName":"*","uid":0,"gid":0,"allowedNames":["*"]}')).toMatchObject({ uid: 0, gid: 0 });
    expect(() => parseRoleFile('{"exeName":"/c","uid":-3,"allowedNames":["*"]}')).toThrow(/"uid" must be a non-negative integer/);
    expect(() => parseRoleFile('{"allowedNames":["*"]}')).toThrow(SecurityFileError);
    expect(() => parseRoleFile('{"exeName":"/d","allowedNames":["*"],"permissions":[{"inbound":[]}]}')).toThrow(/"service" string/);
  });

  test('groups: trust lists, provider names, old descriptive form, // comments', () => {
    expect(parseGroupsFile('{\n // provider\n "allowedNames":["com.a"], "g1":["oem"], "g2":["part","dev"]}'))
      .toEqual({ allowedNames: ['com.a'], trust: { g1: ['oem'], g2: ['part', 'dev'] } });
    expect(parseGroupsFile(REAL_APPINSTALLD_GROUPS)).toEqual({ allowedNames: null, trust: {} });
  });

  test('service files: key file with comments, other groups, several names', () => {
    expect(parseServiceFile('# c\n[Other]\nName=no.this\n\n[D-BUS Service]\nName=com.a;com.b\nExec=/usr/bin/a --x\nType=dynamic\nX-Unknown=1\n'))
      .toEqual({ names: ['com.a', 'com.b'], exec: '/usr/bin/a --x', type: 'dynamic' });
    expect(() => parseServiceFile('[D-BUS Service]\nExec=/x\n')).toThrow(/no Name=/);
    expect(() => parseServiceFile('[D-BUS Service]\nName\n')).toThrow(/line 2 is neither/);
  });

  test('manifests: lists default to empty; old public/private role lists are roles', () => {
    expect(parseManifestFile('{"id":"a","version":"1","roleFilesPub":["/r.json"]}')).toMatchObject({ id: 'a', roleFiles: ['/r.json'], apiPermissionFiles: [] });
    expect(() => parseManifestFile('{"id":"a","version":"1","roleFiles":[""]}')).toThrow(/empty path/);
    expect(() => parseManifestFile('{"id":"a","version":1}')).toThrow(/"version" must be a string/);
  });
});
