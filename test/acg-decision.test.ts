// Decision table for the ACG's pure functions: (caller identity, security files, method) → allowed or the exact
// denial. No sockets, no disk: the files are texts compiled in memory.
import { appRole, clientGroups, decideCall, decideCallByName, decideRegister, kernelRole, methodPath } from '../acg/decision';
import type { CallerContext, CallTarget, Denial } from '../acg/policy';
import type { SecurityData } from '../acg/security-data';
import { BusErrorText } from '../status-codes';
import {
  dataFrom, peer, REAL_APPINSTALLD_API, REAL_APPINSTALLD_GROUPS, REAL_APPINSTALLD_PERM, REAL_APPINSTALLD_ROLE,
  REAL_LS2_API, REAL_LS2_GROUPS, REAL_LS2_PERM, REAL_LUNASEND_ROLE, type FixtureFile,
} from './helpers/acg-fixtures';

// ---- security files of the table (the shipped defaults' content, plus roles that exercise each rule) ----
const role = (o: object): FixtureFile => ({ kind: 'role', text: JSON.stringify(o) });
const FILES: FixtureFile[] = [
  role({ exeName: '*', uid: 0, type: 'privileged', trustLevel: 'oem', allowedNames: ['*'] }),
  role({ exeName: '*', type: 'devmode', trustLevel: 'dev', allowedNames: ['com.webos.lunasendpub-*'] }),
  { kind: 'role', text: REAL_LUNASEND_ROLE },
  { kind: 'role', text: REAL_APPINSTALLD_ROLE },
  role({ exeName: '/usr/sbin/partd', type: 'regular', trustLevel: 'part', allowedNames: ['com.part.svc'] }),
  role({ exeName: '/usr/sbin/chatty', type: 'regular', trustLevel: 'oem', allowedNames: ['com.chatty'], permissions: [{ service: 'com.chatty', outbound: ['com.webos.service.bus'] }] }),
  role({ exeName: '/usr/sbin/vault', allowedNames: ['com.vault'], permissions: [{ service: 'com.vault', inbound: ['com.chatty', 'com.trusted.*'] }] }),
  role({ appId: 'com.example.app', type: 'regular', trustLevel: 'part', allowedNames: ['com.example.app', 'com.example.app.*'] }),
  role({ exeName: '/usr/sbin/gated', uid: 500, gid: 500, type: 'regular', trustLevel: 'oem', allowedNames: ['com.gated'] }),
  role({ exeName: '/usr/bin/node', type: 'privileged', trustLevel: 'oem', allowedNames: ['*'] }), // names a container: ignored
  role({ appId: 'com.dev.app', type: 'devmode', allowedNames: ['com.dev.app'] }),
  { kind: 'container', text: '{"exeNames":["/usr/bin/node"]}' },
  {
    kind: 'clientPermissions', text: JSON.stringify({
      '*': ['public'], '': ['arescli.interface', 'public'], 'com.webos.lunasendpub-*': ['arescli.interface', 'public'],
      'com.webos.appInstallService': ['all', 'applications.management'], 'com.part.svc': ['applicationinstall.management', 'parts.group'],
      'com.example.app': ['applications.management', 'parts.group', 'arescli.interface'], 'com.chatty': ['applicationinstall.management'],
      'com.gated': ['applicationinstall.management'], 'com.dev.app': ['arescli.interface', 'applicationinstall.management'],
    }),
  },
  { kind: 'clientPermissions', text: REAL_LS2_PERM },
  {
    kind: 'apiPermissions', text: JSON.stringify({
      'applicationinstall.management': ['com.webos.appInstallService/install', 'com.webos.appInstallService/remove', 'com.webos.appInstallService/status'],
      'applicationinstall.devmode': ['com.webos.appInstallService/dev/install', 'com.webos.appInstallService/dev/remove'],
      'arescli.interface': ['com.webos.appInstallService/dev/install', 'com.webos.appInstallService/dev/remove', 'com.webos.applicationManager/dev/listApps'],
      'applications.management': ['com.webos.applicationManager/listApps', 'com.webos.applicationManager/closeByAppId'],
      public: ['com.webos.service.bus/signal/registerServerStatus', 'com.webos.service.bus/isCallAllowed', 'com.vault/open'],
      'servicebus.configuration': ['com.webos.service.bus/addOneManifest', 'com.webos.service.bus/removeOneManifest'],
      'parts.group': ['com.parts/query/*', 'com.parts/get*'],
    }),
  },
  { kind: 'apiPermissions', text: REAL_LS2_API },
  { kind: 'groups', text: JSON.stringify({ allowedNames: ['com.webos.appInstallService'], 'applicationinstall.management': ['oem'], 'applicationinstall.devmode': ['dev'], 'arescli.interface': ['dev'] }) },
  { kind: 'groups', text: JSON.stringify({ allowedNames: ['com.webos.applicationManager'], 'applications.management': ['oem'], 'arescli.interface': ['dev'] }) },
  { kind: 'groups', text: JSON.stringify({ allowedNames: ['com.webos.service.bus'], public: ['dev'], 'servicebus.configuration': ['oem'] }) },
  { kind: 'groups', text: JSON.stringify({ allowedNames: ['com.parts'], 'parts.group': ['part'] }) },
  { kind: 'groups', text: REAL_LS2_GROUPS },
];
const D = dataFrom(FILES);
const NO_CERT = dataFrom(FILES, []);
const CERT_PUBLIC_ONLY = dataFrom(FILES, ['public']);
const NO_ROLES = dataFrom(FILES.filter((f) => f.kind !== 'role'));

// ---- identities ----
const ROOT_NODE = peer(0, '/usr/bin/node');
const USER_NODE = peer(1000, '/usr/bin/node');
const NOBODY = peer(65534, '/usr/bin/node');
const UNKNOWN = { pid: 0, uid: 65534, gid: 65534, exe: null };
const NEG_UID = peer(-1, '/usr/bin/node');
const LUNASEND_ROOT = peer(0, '/usr/bin/luna-send');
const LUNASEND_USER = peer(1000, '/usr/bin/luna-send');
const APPINSTALLD = peer(0, '/usr/sbin/appinstalld');
const PARTD = peer(0, '/usr/sbin/partd');
const CHATTY = peer(0, '/usr/sbin/chatty');
const GATED = peer(500, '/usr/sbin/gated');

// ---- targets ----
const t = (uri: string): CallTarget => {
  const [service, ...rest] = uri.split('/');
  const method = rest.pop() as string;
  return { service, category: rest.length ? `/${rest.join('/')}` : '/', method };
};
const INSTALL = t('com.webos.appInstallService/install');
const DEV_INSTALL = t('com.webos.appInstallService/dev/install');
const DEV_REMOVE = t('com.webos.appInstallService/dev/remove');
const LIST_APPS = t('com.webos.applicationManager/listApps');
const DEV_LIST_APPS = t('com.webos.applicationManager/dev/listApps');
const CLOSE_APP = t('com.webos.applicationManager/closeByAppId');
const SERVER_STATUS = t('com.webos.service.bus/signal/registerServerStatus');
const ADD_MANIFEST = t('com.webos.service.bus/addOneManifest');
const UNLISTED = t('com.unlisted/any/thing');
const PARTS_QUERY = t('com.parts/query/list');
const PARTS_GET = t('com.parts/getInfo');
const PARTS_OTHER = t('com.parts/setInfo');
const VAULT_OPEN = t('com.vault/open');
const PING = t('com.any/com/palm/luna/private/ping');
const PRIVATE_FOO = t('com.any/com/palm/luna/private/foo');

const denied = (target: CallTarget) => BusErrorText.deniedMethodCall(target.method, target.category);
const notSend = (s: string) => BusErrorText.notPermittedToSend(s);
const ALLOW = null;
type Expect = null | string | Denial;

const ctx = (p: CallerContext['peer'], name: string | null = null, appId?: string): CallerContext => (appId === undefined ? { peer: p, name } : { peer: p, name, appId });

const CALLS: [string, SecurityData, CallerContext, CallTarget, Expect][] = [
  // privileged root role (uid 0, trust oem)
  ['root anonymous: management install', D, ctx(ROOT_NODE), INSTALL, ALLOW],
  ['root anonymous: appManager oem method', D, ctx(ROOT_NODE), CLOSE_APP, ALLOW],
  ['root anonymous: method no api-permission lists', D, ctx(ROOT_NODE), UNLISTED, ALLOW],
  ['root anonymous: oem bus configuration', D, ctx(ROOT_NODE), ADD_MANIFEST, ALLOW],
  ['root registered as a service name: still privileged', D, ctx(ROOT_NODE, 'com.webos.service.devmode'), INSTALL, ALLOW],
  // devmode role of every other uid (trust dev, arescli.interface + public)
  ['uid 1000 anonymous: management install denied', D, ctx(USER_NODE), INSTALL, denied(INSTALL)],
  ['uid 1000 anonymous: dev/install (arescli.interface)', D, ctx(USER_NODE), DEV_INSTALL, ALLOW],
  ['uid 1000 as luna-send-pub: dev/remove', D, ctx(USER_NODE, 'com.webos.lunasendpub-12'), DEV_REMOVE, ALLOW],
  ['uid 1000 anonymous: appManager dev/listApps', D, ctx(USER_NODE), DEV_LIST_APPS, ALLOW],
  ['uid 1000 anonymous: appManager listApps denied', D, ctx(USER_NODE), LIST_APPS, denied(LIST_APPS)],
  ['uid 1000: public bus method', D, ctx(USER_NODE), SERVER_STATUS, ALLOW],
  ['uid 1000: oem bus method denied', D, ctx(USER_NODE, 'com.webos.lunasendpub-3'), ADD_MANIFEST, denied(ADD_MANIFEST)],
  ['uid 1000: method nobody lists denied', D, ctx(USER_NODE), UNLISTED, denied(UNLISTED)],
  ['nobody (65534): management install denied', D, ctx(NOBODY), INSTALL, denied(INSTALL)],
  ['uid 1000: exact-exe role naming a container (node) is ignored', D, ctx(USER_NODE), CLOSE_APP, denied(CLOSE_APP)],
  // fail closed
  ['unknown identity (exe null): even public denied', D, ctx(UNKNOWN), SERVER_STATUS, denied(SERVER_STATUS)],
  ['unknown identity (uid -1): dev/install denied', D, ctx(NEG_UID), DEV_INSTALL, denied(DEV_INSTALL)],
  // devmode certificate filtering
  ['no devmode certificate: devmode role holds nothing', NO_CERT, ctx(USER_NODE), DEV_INSTALL, denied(DEV_INSTALL)],
  ['no devmode certificate: not even public', NO_CERT, ctx(USER_NODE), SERVER_STATUS, denied(SERVER_STATUS)],
  ['certificate with public only: dev/install denied', CERT_PUBLIC_ONLY, ctx(USER_NODE), DEV_INSTALL, denied(DEV_INSTALL)],
  ['certificate with public only: public allowed', CERT_PUBLIC_ONLY, ctx(USER_NODE), SERVER_STATUS, ALLOW],
  ['devmode role: group outside certificate (luna.internal.public) dropped', D, ctx(USER_NODE), PING, denied(PING)],
  // trust ordering
  ['part-trust role: part group', D, ctx(PARTD, 'com.part.svc'), PARTS_QUERY, ALLOW],
  ['part-trust role: oem group denied though held', D, ctx(PARTD, 'com.part.svc'), INSTALL, denied(INSTALL)],
  ['regular dev role: group whose trust list is [part, dev]', D, ctx(APPINSTALLD, 'com.webos.appInstallService'), PING, ALLOW],
  ['regular dev role: "all" group (*/*) of real files covers an oem method', D, ctx(APPINSTALLD, 'com.webos.appInstallService'), CLOSE_APP, ALLOW],
  ['regular role calling its own service', D, ctx(APPINSTALLD, 'com.webos.appInstallService'), INSTALL, ALLOW],
  // glob patterns
  ['glob com.parts/get* matches getInfo', D, ctx(ROOT_NODE, null, 'com.example.app'), PARTS_GET, ALLOW],
  ['glob com.parts/get* does not match setInfo', D, ctx(ROOT_NODE, null, 'com.example.app'), PARTS_OTHER, denied(PARTS_OTHER)],
  ['"all" group (*/*) matches a deep category', D, ctx(APPINSTALLD, 'com.webos.appInstallService'), t('com.other/com/palm/luna/private/foo'), ALLOW],
  ['glob: client pattern com.webos.monitor* not matched', D, ctx(PARTD, 'com.part.svc'), PRIVATE_FOO, denied(PRIVATE_FOO)],
  // calling as an app (appId): privileged only; then the app's role and groups
  ['root as app: app lacks the management group', D, ctx(ROOT_NODE, null, 'com.example.app'), INSTALL, denied(INSTALL)],
  ['root as app: app holds the group but trust part < oem', D, ctx(ROOT_NODE, null, 'com.example.app'), LIST_APPS, denied(LIST_APPS)],
  ['root as app: part covers a dev group', D, ctx(ROOT_NODE, null, 'com.example.app'), DEV_INSTALL, ALLOW],
  ['root as a devmode app: certificate filters its management group', D, ctx(ROOT_NODE, null, 'com.dev.app'), INSTALL, denied(INSTALL)],
  ['root as app with no role: public only', D, ctx(LUNASEND_ROOT, 'com.webos.lunasend-9', 'com.unknown.app'), DEV_INSTALL, denied(DEV_INSTALL)],
  ['root as app with no role: public allowed', D, ctx(LUNASEND_ROOT, 'com.webos.lunasend-9', 'com.unknown.app'), SERVER_STATUS, ALLOW],
  ['uid 1000 as app: -1031', D, ctx(USER_NODE, null, 'com.example.app'), DEV_INSTALL, { errorCode: -1031, errorText: BusErrorText.notPrivilegedAppCall('com.example.app') }],
  ['regular role as app: -1031', D, ctx(APPINSTALLD, 'com.webos.appInstallService', 'com.x'), SERVER_STATUS, { errorCode: -1031, errorText: BusErrorText.notPrivilegedAppCall('com.x') }],
  ['unknown identity as app: -1031', D, ctx(UNKNOWN, null, 'com.x'), SERVER_STATUS, { errorCode: -1031, errorText: BusErrorText.notPrivilegedAppCall('com.x') }],
  // container executables: a registered app id selects the app role, capped by the kernel role
  ['root node registered as app: app role (part), not privileged', D, ctx(ROOT_NODE, 'com.example.app'), LIST_APPS, denied(LIST_APPS)],
  ['root node registered as app: app groups apply', D, ctx(ROOT_NODE, 'com.example.app'), PARTS_GET, ALLOW],
  ['uid 1000 node named as app: capped to devmode', D, ctx(USER_NODE, 'com.example.app'), PARTS_GET, denied(PARTS_GET)],
  // the uid/gid extension
  ['uid/gid role: right uid and gid', D, ctx(GATED, 'com.gated'), INSTALL, ALLOW],
  ['uid/gid role: other uid falls back to devmode', D, ctx(peer(501, '/usr/sbin/gated'), 'com.gated'), INSTALL, denied(INSTALL)],
  ['uid/gid role: other gid falls back to devmode', D, ctx(peer(500, '/usr/sbin/gated', 501), 'com.gated'), INSTALL, denied(INSTALL)],
  // exact exeName beats the uid roles (real luna-send role)
  ['real luna-send role (exact exe) as uid 1000: privileged', D, ctx(LUNASEND_USER, 'com.webos.lunasend-5'), INSTALL, ALLOW],
  // outbound / inbound
  ['outbound list without the target', D, ctx(CHATTY, 'com.chatty'), INSTALL, { errorCode: -1, errorText: notSend('com.webos.appInstallService') }],
  ['outbound list with the target', D, ctx(CHATTY, 'com.chatty'), SERVER_STATUS, ALLOW],
  ['inbound list without the caller (anonymous root)', D, ctx(ROOT_NODE), VAULT_OPEN, { errorCode: -1, errorText: notSend('com.vault') }],
  ['inbound list with the caller by glob', D, ctx(LUNASEND_ROOT, 'com.trusted.tool'), VAULT_OPEN, ALLOW],
  // no role at all
  ['no role: public method allowed', NO_ROLES, ctx(ROOT_NODE), SERVER_STATUS, ALLOW],
  ['no role: anonymous groups capped to public', NO_ROLES, ctx(ROOT_NODE), DEV_INSTALL, denied(DEV_INSTALL)],
  ['no role: no trust beyond dev', NO_ROLES, ctx(ROOT_NODE), INSTALL, denied(INSTALL)],
];

describe('ACG call decision table', () => {
  test.each(CALLS)('%s', (_label, data, caller, target, expected) => {
    const got = decideCall(data, caller, target);
    if (expected === null) expect(got).toBeNull();
    else if (typeof expected === 'string') expect(got).toEqual({ errorCode: -1, errorText: expected });
    else expect(got).toEqual(expected);
  });
});

const REGISTRATIONS: [string, SecurityData, CallerContext['peer'], string | null, boolean][] = [
  ['uid 1000 may not take a service name', D, USER_NODE, 'com.webos.appInstallService', false],
  ['uid 1000 may take com.webos.lunasendpub-*', D, USER_NODE, 'com.webos.lunasendpub-42', true],
  ['uid 1000 may not take com.webos.lunasend-*', D, USER_NODE, 'com.webos.lunasend-42', false],
  ['uid 1000 may be anonymous', D, USER_NODE, null, true],
  ['root may take any name', D, ROOT_NODE, 'com.anything.at.all', true],
  ['unknown identity may not take a name', D, UNKNOWN, 'com.webos.lunasendpub-1', false],
  ['unknown identity may be anonymous', D, UNKNOWN, null, true],
  ['regular role: its own name', D, APPINSTALLD, 'com.webos.appInstallService', true],
  ['regular role (exact exe beats the root uid role): other name', D, APPINSTALLD, 'com.other', false],
  ['uid/gid role: right identity', D, GATED, 'com.gated', true],
  ['uid/gid role: wrong uid', D, peer(501, '/usr/sbin/gated'), 'com.gated', false],
  ['no role: no name', NO_ROLES, ROOT_NODE, 'com.x', false],
];

describe('ACG registration decision table', () => {
  test.each(REGISTRATIONS)('%s', (_label, data, p, name, ok) => {
    const got = decideRegister(data, p, name);
    if (ok) expect(got).toBeNull();
    else expect(got).toEqual({ errorCode: -1027, errorText: BusErrorText.invalidPermissions(name as string) });
  });
});

const BY_NAME: [string, string, CallTarget, boolean][] = [
  ['luna-send-pub name: dev/install', 'com.webos.lunasendpub-5', DEV_INSTALL, true],
  ['luna-send-pub name: install', 'com.webos.lunasendpub-5', INSTALL, false],
  ['app name: its part group', 'com.example.app', PARTS_GET, true],
  ['app name: oem method it holds at part trust', 'com.example.app', LIST_APPS, false],
  ['unknown name: public', 'com.random', SERVER_STATUS, true],
  ['unknown name: dev/install', 'com.random', DEV_INSTALL, false],
  ['a name is never privileged by a bare "*" role', 'com.random', UNLISTED, false],
  ['uid/gid role speaks for its name', 'com.gated', INSTALL, true],
  ['a service calling itself', 'com.webos.appInstallService', INSTALL, true],
  ['outbound of the role covering the name', 'com.chatty', INSTALL, false],
];

describe('ACG isCallAllowed by name', () => {
  test.each(BY_NAME)('%s', (_label, requester, target, ok) => {
    expect(decideCallByName(D, requester, target)).toBe(ok);
  });
});

describe('ACG pieces', () => {
  test('method paths: root category is service/method', () => {
    expect(methodPath(INSTALL)).toBe('com.webos.appInstallService/install');
    expect(methodPath(DEV_INSTALL)).toBe('com.webos.appInstallService/dev/install');
    expect(methodPath({ service: 'a.b', category: '/x/', method: 'm' })).toBe('a.b/x/m');
  });

  test('real appinstalld files: regular role, old descriptive groups file (no trust = dev)', () => {
    const data = dataFrom([
      { kind: 'role', text: REAL_APPINSTALLD_ROLE },
      { kind: 'apiPermissions', text: REAL_APPINSTALLD_API },
      { kind: 'groups', text: REAL_APPINSTALLD_GROUPS },
      { kind: 'clientPermissions', text: REAL_APPINSTALLD_PERM },
      { kind: 'clientPermissions', text: '{"com.webos.settingsservice": ["appinstalld.internal"], "com.webos.lunasendpub-*": ["ares.webos.cli"]}' },
      { kind: 'role', text: '{"exeName":"/usr/bin/settingsservice","type":"regular","allowedNames":["com.webos.settingsservice"]}' },
      { kind: 'role', text: '{"exeName":"/usr/bin/luna-send-pub","type":"devmode","allowedNames":["*"]}' },
    ], ['ares.webos.cli', 'public']);
    expect(kernelRole(data, peer(0, '/usr/sbin/appinstalld'))?.allowedNames).toEqual(['com.webos.appInstallService']);
    expect(decideCall(data, ctx(peer(0, '/usr/bin/settingsservice'), 'com.webos.settingsservice'), INSTALL)).toBeNull();
    expect(decideCall(data, ctx(peer(0, '/usr/bin/luna-send-pub'), 'com.webos.lunasendpub-1'), DEV_INSTALL)).toBeNull();
    expect(decideCall(data, ctx(peer(0, '/usr/bin/luna-send-pub'), 'com.webos.lunasendpub-1'), INSTALL)).toEqual({ errorCode: -1, errorText: denied(INSTALL) });
  });

  test('developer-install files cannot widen access', () => {
    const data = dataFrom([
      ...FILES,
      { kind: 'role', origin: 'developer', text: '{"appId":"com.evil","type":"privileged","trustLevel":"oem","allowedNames":["com.evil","*"]}' },
      // claims a name a verified package owns: the claim does not count
      { kind: 'role', origin: 'verified', unit: 'bank', text: '{"appId":"com.bank","allowedNames":["com.bank"]}' },
      { kind: 'apiPermissions', origin: 'verified', unit: 'bank', text: '{"bank.own":["com.bank/pay"]}' },
      { kind: 'role', origin: 'developer', text: '{"appId":"com.bank.fake","allowedNames":["com.bank"]}' },
      { kind: 'apiPermissions', origin: 'developer', text: '{"arescli.interface":["com.bank/pay"]}' },
      { kind: 'role', origin: 'developer', text: '{"exeName":"*","uid":1000,"type":"privileged","trustLevel":"oem","allowedNames":["*"]}' },
      { kind: 'clientPermissions', origin: 'developer', text: '{"*":["applicationinstall.management"],"com.evil":["applicationinstall.management","arescli.interface"]}' },
      { kind: 'apiPermissions', origin: 'developer', text: '{"public":["com.webos.appInstallService/install","*/*"],"arescli.interface":["com.evil/ok"]}' },
    ]);
    expect(decideCall(data, ctx(USER_NODE), INSTALL)).toEqual({ errorCode: -1, errorText: denied(INSTALL) });
    expect(decideRegister(data, USER_NODE, 'com.webos.appInstallService')).not.toBeNull();
    expect(decideCall(data, ctx(ROOT_NODE, null, 'com.evil'), INSTALL)).toEqual({ errorCode: -1, errorText: denied(INSTALL) });
    expect(decideCall(data, ctx(ROOT_NODE, null, 'com.evil'), t('com.evil/ok'))).toBeNull();
    expect(decideCall(data, ctx(USER_NODE), t('com.evil/ok'))).toBeNull();
    expect(decideCall(data, ctx(USER_NODE), t('com.bank/pay'))).toEqual({ errorCode: -1, errorText: denied(t('com.bank/pay')) });
    expect(decideCall(data, ctx(ROOT_NODE, null, 'com.bank'), t('com.bank/pay'))).toEqual({ errorCode: -1, errorText: denied(t('com.bank/pay')) });
  });

  test('developer-install files act only on their own package\'s names (issue #10 class 1)', () => {
    const data = dataFrom([
      ...FILES,
      // a verified package: app com.bank, service com.bank.svc in group com.bank.svc.api
      { kind: 'role', origin: 'verified', unit: 'bank', text: '{"appId":"com.bank","allowedNames":["com.bank","com.bank-*"]}' },
      { kind: 'service', origin: 'verified', unit: 'bank', text: '[D-BUS Service]\nName=com.bank.svc\n' },
      { kind: 'apiPermissions', origin: 'verified', unit: 'bank', text: '{"com.bank.svc.api":["com.bank.svc/*"]}' },
      { kind: 'clientPermissions', origin: 'verified', unit: 'bank', text: '{"com.bank":["com.bank.svc.api"]}' },
      // a developer package naming the bank's service next to one of its own, to be credited with the bank's group
      { kind: 'role', origin: 'developer', unit: 'dev', text: '{"appId":"com.dev","allowedNames":["com.dev","com.bank.svc.evil"]}' },
      { kind: 'service', origin: 'developer', unit: 'dev', text: '[D-BUS Service]\nName=com.bank.svc;com.bank.svc.evil\n' },
      { kind: 'apiPermissions', origin: 'developer', unit: 'dev', text: '{"com.bank.svc.api":["com.bank.svc/*","com.bank.svc.evil/*"]}' },
      // granting groups to names it does not own, and a role speaking for the bank's app
      { kind: 'clientPermissions', origin: 'developer', unit: 'dev', text: '{"com.dev":["com.bank.svc.api"],"com.bank":["arescli.interface"]}' },
      { kind: 'role', origin: 'developer', unit: 'dev', text: '{"appId":"com.bank","allowedNames":["com.bank"],"permissions":[{"service":"com.bank.svc","inbound":["com.dev"]}]}' },
      // names in a privileged name space
      { kind: 'role', origin: 'developer', unit: 'dev', text: '{"appId":"com.webos.fake","allowedNames":["com.webos.fake"]}' },
    ]);
    const pay = t('com.bank.svc/pay');
    expect(decideCallByName(data, 'com.dev', pay)).toBe(false);
    expect(decideCallByName(data, 'com.bank', pay)).toBe(true);
    expect(decideCall(data, { peer: ROOT_NODE, name: null, appId: 'com.bank' }, pay)).toBeNull();
    expect(clientGroups(data, 'com.bank').has('arescli.interface')).toBe(false);
    expect(appRole(data, 'com.bank')?.origin).toBe('verified');
    expect(appRole(data, 'com.webos.fake')).toBeNull();
    // its own extra name stays its own: a group of its own for it would be granted
    expect(data.apiPermissions.filter((a) => a.origin === 'developer').map((a) => a.pattern)).toEqual(['com.bank.svc.evil/*']);
  });
});
