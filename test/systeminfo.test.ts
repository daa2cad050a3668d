// Device facts for ares-device --system-info: com.webos.service.tv.systemproperty/getSystemInfo and
// com.webos.service.systemservice's osInfo, deviceInfo and softwareInfo queries, called as ares-cli calls them (luna-send-pub
// as uid 65534, its "//" URIs) on the real daemon; every value is the machine's own, or "(unknown)". Plus the pure parts.
import fs from 'node:fs';
import os from 'node:os';
import { SystemInfoErrorCode, SystemInfoText } from '../status-codes';
import { parseOsRelease, readOsFacts } from '../services/systemservice/os-facts';
import { answerKeys, OS_INFO } from '../services/systemservice/systemservice-service';
import { startDaemon, killAllChildren, call, type Daemon } from './helpers/appinstall-daemon';

const asRoot = process.getuid?.() === 0;
const asDev = asRoot ? { pub: true, uid: 65534 } : { pub: true };
const UNKNOWN = SystemInfoText.UNKNOWN_VALUE;
const osRelease = parseOsRelease(fs.readFileSync(fs.existsSync('/etc/os-release') ? '/etc/os-release' : '/usr/lib/os-release', 'utf8'));
const readOr = (f: string) => { try { return fs.readFileSync(f, 'utf8').replace(/\0+$/, '').trim() || undefined; } catch { return undefined; } };

let d: Daemon;
beforeAll(async () => { d = await startDaemon(); }, 60000);
afterAll(async () => {
  await d?.stop();
  killAllChildren();
  if (d) fs.rmSync(d.root, { recursive: true, force: true });
});

test('tv profile: getSystemInfo answers the five keys ares-device asks, each a true fact or "(unknown)"', async () => {
  const keys = ['modelName', 'sdkVersion', 'firmwareVersion', 'boardType', 'otaId'];
  const r = await call(d.root, 'luna://com.webos.service.tv.systemproperty//getSystemInfo', { keys, subscribe: false }, asDev);
  expect(Object.keys(r).sort()).toEqual([...keys, 'returnValue'].sort());
  expect(r.returnValue).toBe(true);
  expect(r.firmwareVersion).toBe(osRelease.PRETTY_NAME);
  expect(r.modelName).toBe(readOr('/sys/class/dmi/id/product_name') ?? readOr('/proc/device-tree/model') ?? UNKNOWN);
  expect(r.sdkVersion).toBe(UNKNOWN);
  expect(r.otaId).toBe(UNKNOWN);
});

test('ose profile: osInfo, deviceInfo and softwareInfo queries with ares-device\'s parameters', async () => {
  const S = 'luna://com.webos.service.systemservice';
  const parameters = ['webos_build_id', 'webos_imagename', 'webos_name', 'webos_release', 'webos_manufacturing_version', 'core_os_kernel_version'];
  const osInfo = await call(d.root, `${S}/osInfo/query`, { parameters, subscribe: false }, asDev);
  expect(osInfo).toEqual({
    returnValue: true,
    webos_build_id: osRelease.BUILD_ID ?? UNKNOWN,
    webos_imagename: osRelease.IMAGE_ID ?? UNKNOWN,
    webos_name: osRelease.NAME,
    webos_release: osRelease.VERSION_ID ?? UNKNOWN,
    webos_manufacturing_version: UNKNOWN,
    core_os_kernel_version: os.release(),
  });
  const dev = await call(d.root, `${S}/deviceInfo/query`, { subscribe: false }, asDev);
  expect(dev).toMatchObject({ returnValue: true, device_name: os.hostname(), device_id: readOr('/etc/machine-id') ?? UNKNOWN });
  const sw = await call(d.root, `${S}/softwareInfo/query`, { parameters: ['nodejs_versions'] }, asDev);
  expect(sw).toEqual({ returnValue: true, nodejs_versions: [process.version] });
  const bad = await call(d.root, `${S}/osInfo/query`, { parameters: ['no_such_key'] }, asDev);
  expect(bad).toEqual({ returnValue: false, errorCode: SystemInfoErrorCode.UNKNOWN_KEY, errorText: SystemInfoText.unknownKey('no_such_key', Object.keys(OS_INFO)) });
});

describe('pure parts', () => {
  test('os-release parsing: quotes, escapes, comments', () => {
    expect(parseOsRelease('# c\nNAME="Debian GNU/Linux"\nVERSION_ID=12\nX=\'a b\'\nY="say \\"hi\\""\nbad line\n')).toEqual({ NAME: 'Debian GNU/Linux', VERSION_ID: '12', X: 'a b', Y: 'say "hi"' });
  });
  test('answerKeys: all known keys when none are asked; no value is "(unknown)", never made up', () => {
    const facts = { ...readOsFacts(), osRelease: { NAME: 'X' } };
    const all = answerKeys(OS_INFO, undefined, facts);
    expect(Object.keys(all).filter((k) => k !== 'returnValue')).toEqual(Object.keys(OS_INFO));
    expect(all.webos_name).toBe('X');
    expect(all.webos_release).toBe(UNKNOWN);
  });
});
