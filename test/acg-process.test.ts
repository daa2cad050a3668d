// ACG end to end: the real ls-hubd process with the shipped default policy, luna-send/luna-send-pub processes as
// root and as uid 65534, a real service registered as com.webos.appInstallService; SIGHUP and addOneManifest.
import fs from 'node:fs';
import path from 'node:path';
import { BusErrorText } from '../status-codes';
import { killAll, runLunaSend, startHub, startLunaSend, startTestService, type HubProcess, type ServiceProcess } from './helpers/client-bus';
import { NOBODY } from './helpers/unprivileged';

const asRoot = process.getuid?.() === 0;
const AIS = 'luna://com.webos.appInstallService';

let hub: HubProcess;
let svc: ServiceProcess;
let other: ServiceProcess;

beforeAll(async () => {
  hub = await startHub();
  svc = await startTestService(hub.socketPath, 'com.webos.appInstallService');
  other = await startTestService(hub.socketPath, 'com.example.acgtest');
}, 30000);
afterAll(async () => {
  await other?.stop();
  await svc?.stop();
  await hub?.stop();
  killAll();
});

async function send(args: string[], opts: { nobody?: boolean; pub?: boolean } = {}) {
  const r = await runLunaSend(args, { socketPath: hub.socketPath, pub: opts.pub, spawn: opts.nobody ? NOBODY : undefined });
  return r;
}
const reply = (stdout: string) => JSON.parse(stdout.trim().split('\n')[0]);
const deniedReply = (m: string, c: string) => ({ returnValue: false, errorCode: -1, errorText: BusErrorText.deniedMethodCall(m, c) });

(asRoot ? describe : describe.skip)('ACG against the real hub', () => {
  test('as root everything is callable: the ACG lets it through to the service (or to the hub\'s unknown-method answer)', async () => {
    expect(reply((await send(['-n', '1', `${AIS}/echo`, '{"x":1}'])).stdout)).toEqual({ returnValue: true, x: 1 });
    expect(reply((await send(['-n', '1', `${AIS}/install`, '{}'])).stdout))
      .toEqual({ returnValue: false, errorCode: -1, errorText: BusErrorText.unknownMethod('install', '/') });
    expect(reply((await send(['-n', '1', 'luna://com.example.acgtest/echo', '{}'])).stdout)).toEqual({ returnValue: true });
  });

  test('as uid 65534 an absent service gets the bus\'s "Service does not exist" and luna-send-pub exits 0, also for ares-cli\'s "//method" URIs', async () => {
    // ares-cli joins "luna:/", service, folder and method with "/": no folder gives "//getSessionList".
    for (const uri of ['luna://com.webos.service.sessionmanager//getSessionList', 'luna://com.example.absent/a//m', 'luna://com.example.absent/m']) {
      const service = uri.slice('luna://'.length, uri.indexOf('/', 'luna://'.length));
      const r = await send(['-i', uri, '{"subscribe":false}'], { nobody: true, pub: true });
      expect({ uri, code: r.code }).toEqual({ uri, code: 0 });
      expect(reply(r.stdout)).toEqual({ returnValue: false, errorCode: -1, errorText: BusErrorText.serviceDoesNotExist(service) });
    }
    // a present service with a "//" URI is the root category, and the ACG decides as for "/"
    expect(reply((await send(['-n', '1', 'luna://com.webos.appInstallService//install', '{}'], { nobody: true, pub: true })).stdout))
      .toEqual(deniedReply('install', '/'));
  });

  test('isCallAllowed about a unique id answers for that connection\'s kernel identity, and "no" once it is gone', async () => {
    // a uid 65534 luna-send-pub that stays connected (-i on a call that does not end) and says its unique id (-d)
    const dev = startLunaSend(['-d', '-i', 'luna://com.webos.service.bus/signal/registerServerStatus', '{"serviceName":"com.example.x"}'],
      { socketPath: hub.socketPath, pub: true, spawn: NOBODY });
    let err = '';
    dev.proc.stderr!.on('data', (d) => (err += d));
    await dev.lines(1);
    const uniqueId = /registered as \S+ \((:1\.\d+)\)/.exec(err)?.[1];
    expect(uniqueId).toBeDefined();
    const allowed = async (uri: string, requester: string) =>
      reply((await send(['-n', '1', 'luna://com.webos.service.bus/isCallAllowed', JSON.stringify({ uri, requester })])).stdout);
    expect(await allowed(`${AIS}/install`, uniqueId!)).toEqual({ returnValue: true, allowed: false });
    expect(await allowed(`${AIS}/dev/install`, uniqueId!)).toEqual({ returnValue: true, allowed: true });
    dev.proc.kill('SIGTERM');
    await dev.done;
    expect(await allowed(`${AIS}/dev/install`, uniqueId!)).toEqual({ returnValue: true, allowed: false });
    expect(await allowed(`${AIS}/dev/install`, ':1.999999')).toEqual({ returnValue: true, allowed: false });
  });

  test('as uid 65534 a management method is denied, a dev method is not', async () => {
    const r = await send(['-n', '1', `${AIS}/install`, '{}'], { nobody: true, pub: true });
    expect(r.code).toBe(0);
    expect(reply(r.stdout)).toEqual(deniedReply('install', '/'));
    expect(reply((await send(['-n', '1', `${AIS}/echo`, '{}'], { nobody: true, pub: true })).stdout)).toEqual(deniedReply('echo', '/'));
    // dev/install passes the ACG (arescli.interface); this service has no such method, so the hub says so
    expect(reply((await send(['-n', '1', `${AIS}/dev/install`, '{}'], { nobody: true, pub: true })).stdout))
      .toEqual({ returnValue: false, errorCode: -1, errorText: BusErrorText.unknownMethod('install', '/dev') });
    expect(reply((await send(['-n', '1', 'luna://com.webos.service.bus/addOneManifest', '{"path":"/x"}'], { nobody: true, pub: true })).stdout))
      .toEqual(deniedReply('addOneManifest', '/'));
  });

  test('as uid 65534 registering a name outside the role fails -1027', async () => {
    const r = await send(['-n', '1', `${AIS}/dev/install`, '{}'], { nobody: true }); // luna-send's name com.webos.lunasend-<pid>
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Invalid permissions for com\.webos\.lunasend-\d+/);
    const m = await send(['-m', 'com.webos.appInstallService2', '-n', '1', `${AIS}/dev/install`, '{}'], { nobody: true, pub: true });
    expect(m.code).toBe(1);
    expect(m.stderr).toContain(BusErrorText.invalidPermissions('com.webos.appInstallService2'));
  });

  test('as uid 65534 calling as an app (-a) fails -1031; as root it is allowed', async () => {
    const r = await send(['-a', 'com.some.app', '-n', '1', `${AIS}/dev/install`, '{}'], { nobody: true, pub: true });
    expect(reply(r.stdout)).toEqual({ returnValue: false, errorCode: -1031, errorText: BusErrorText.notPrivilegedAppCall('com.some.app') });
    // root may, and then speaks with the app's (here: no role, public only) rights
    expect(reply((await send(['-a', 'com.some.app', '-n', '1', `${AIS}/install`, '{}'])).stdout)).toEqual(deniedReply('install', '/'));
  });

  test('SIGHUP after editing a security file takes effect', async () => {
    const f = path.join(hub.root, 'usr/share/luna-service2/api-permissions.d/com.webos.appInstallService.api.json');
    const original = fs.readFileSync(f, 'utf8');
    expect(reply((await send(['-n', '1', `${AIS}/status`, '{}'], { nobody: true, pub: true })).stdout)).toEqual(deniedReply('status', '/'));
    const api = JSON.parse(original);
    api['arescli.interface'].push('com.webos.appInstallService/echo');
    fs.writeFileSync(f, JSON.stringify(api));
    const before = (hub.stderr().match(/security policy reloaded/g) ?? []).length;
    hub.proc.kill('SIGHUP');
    for (let i = 0; i < 200 && (hub.stderr().match(/security policy reloaded/g) ?? []).length === before; i++) await new Promise((r) => setTimeout(r, 25));
    expect(reply((await send(['-n', '1', `${AIS}/echo`, '{"y":2}'], { nobody: true, pub: true })).stdout)).toEqual({ returnValue: true, y: 2 });
    fs.writeFileSync(f, original);
    hub.proc.kill('SIGHUP');
  });

  test('addOneManifest (root only) grants at once; removeOneManifest takes it away', async () => {
    const base = path.join(hub.root, 'var/luna-service2');
    const put = (rel: string, v: unknown) => {
      fs.mkdirSync(path.dirname(path.join(base, rel)), { recursive: true });
      fs.writeFileSync(path.join(base, rel), JSON.stringify(v));
    };
    put('api-permissions.d/com.example.acgtest.api.json', { 'acgtest.read': ['com.example.acgtest/echo'] });
    put('groups.d/com.example.acgtest.group.json', { allowedNames: ['com.example.acgtest'], 'acgtest.read': ['dev'] });
    fs.mkdirSync(path.join(base, 'services.d'), { recursive: true });
    fs.writeFileSync(path.join(base, 'services.d/com.example.acgtest.service'), '[D-BUS Service]\nName=com.example.acgtest\nExec=/usr/bin/acgtest\nType=static\n');
    const serviceFiles = ['/var/luna-service2/services.d/com.example.acgtest.service'];
    const manifest = path.join(base, 'manifests.d/com.example.acgtest.json');
    put('manifests.d/com.example.acgtest.json', {
      id: 'com.example.acgtest', version: '1.0.0',
      apiPermissionFiles: ['/var/luna-service2/api-permissions.d/com.example.acgtest.api.json'],
      groupsFiles: ['/var/luna-service2/groups.d/com.example.acgtest.group.json'],
      serviceFiles,
    });
    // the group is held by the caller's name: give it to luna-send-pub's name pattern in the static tree
    const cp = path.join(hub.root, 'usr/share/luna-service2/client-permissions.d/acgtest.perm.json');
    fs.writeFileSync(cp, JSON.stringify({ 'com.webos.lunasendpub-*': ['acgtest.read'] }));

    const ECHO = 'luna://com.example.acgtest/echo';
    expect(reply((await send(['-n', '1', ECHO, '{}'], { nobody: true, pub: true })).stdout)).toEqual(deniedReply('echo', '/'));
    // a non-root caller may not add manifests
    expect(reply((await send(['-n', '1', 'luna://com.webos.service.bus/addOneManifest', JSON.stringify({ path: manifest, prefix: '' })], { nobody: true, pub: true })).stdout))
      .toEqual(deniedReply('addOneManifest', '/'));
    expect(reply((await send(['-n', '1', 'luna://com.webos.service.bus/addOneManifest', JSON.stringify({ path: manifest, prefix: '' })])).stdout)).toEqual({ returnValue: true });
    // the devmode certificate limits luna-send-pub's groups: acgtest.read is not in it, so still denied
    expect(reply((await send(['-n', '1', ECHO, '{}'], { nobody: true, pub: true })).stdout)).toEqual(deniedReply('echo', '/'));
    // put the method in the public group instead: add a second manifest version
    put('api-permissions.d/com.example.acgtest.v2.api.json', { public: ['com.example.acgtest/echo'] });
    const manifest2 = path.join(base, 'manifests.d/com.example.acgtest.v2.json');
    put('manifests.d/com.example.acgtest.v2.json', { id: 'com.example.acgtest', version: '2.0.0', apiPermissionFiles: ['/var/luna-service2/api-permissions.d/com.example.acgtest.v2.api.json'], serviceFiles });
    expect(reply((await send(['-n', '1', 'luna://com.webos.service.bus/addOneManifest', JSON.stringify({ path: manifest2, prefix: '' })])).stdout)).toEqual({ returnValue: true });
    expect(reply((await send(['-n', '1', ECHO, '{"z":3}'], { nobody: true, pub: true })).stdout)).toEqual({ returnValue: true, z: 3 });
    expect(reply((await send(['-n', '1', 'luna://com.webos.service.bus/removeOneManifest', JSON.stringify({ path: manifest2, prefix: '' })])).stdout)).toEqual({ returnValue: true });
    expect(reply((await send(['-n', '1', ECHO, '{}'], { nobody: true, pub: true })).stdout)).toEqual(deniedReply('echo', '/'));
    // a bad manifest is refused with a clear text
    const bad = await send(['-n', '1', 'luna://com.webos.service.bus/addOneManifest', JSON.stringify({ path: path.join(base, 'manifests.d/none.json'), prefix: '' })]);
    expect(reply(bad.stdout)).toMatchObject({ returnValue: false, errorCode: -1 });
    expect(reply(bad.stdout).errorText).toMatch(/^Invalid manifest .*none\.json: cannot read: ENOENT/);
  });
});
