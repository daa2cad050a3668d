// The real ares-cli 3.2.1 against the product as a device: over SSH on loopback to the product deployed as the README
// says and started by deploy/appinstalld.service's command with root "/", in a private view of the filesystem
// (test/helpers/device-namespace.sh), logged in as the developer user "prisoner". Needs root (unshare, mounts).
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { AppManagerErrorText, ErrorText, SystemInfoText } from '../status-codes';
import { ensureTool } from '../bench/debian-tool';

const REPO = path.resolve(__dirname, '..');
const ARES = path.join(REPO, 'node_modules/@webos-tools/cli/bin');
/**
 * The Node that runs ares-cli, the developer's side. ares-cli 3.2.1 brings ssh2 1.15, whose SFTP code calls util.isDate, gone
 * since Node 23: on a newer Node every ares-cli command over SSH fails ("isDate is not a function") before it reaches
 * the device. So under Node 23+ (the suite's second run, on Node 24) the developer's side uses the machine's own older
 * node. (The device side runs the unit's `/usr/bin/env node`, whichever node the device's PATH has.)
 */
const ARES_NODE = (() => {
  if (Number(process.versions.node.split('.')[0]) < 23) return process.execPath;
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node']) {
    const r = spawnSync(candidate, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' });
    if (r.status === 0 && Number(r.stdout.trim()) < 23) return candidate;
  }
  throw new Error(`ares-cli 3.2.1 (ssh2 1.15) cannot run on Node ${process.versions.node} and no Node older than 23 was found for it`);
})();
const SCRIPT = path.join(__dirname, 'helpers/device-namespace.sh');
const SSHD = '/usr/sbin/sshd';
const PATHS = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const APP = 'com.example.hello';
/** What the product writes on a device; none of it may appear in the real root. */
const DEVICE_PATHS = ['/opt/appinstalld', '/usr/bin/luna-send-pub', '/usr/share/luna-service2', '/var/luna-service2-dev', '/var/luna', '/media/developer', '/etc/palm'];

const asRoot = process.getuid?.() === 0;
const canUnshare = asRoot && spawnSync('unshare', ['--mount', '--propagation', 'private', 'true']).status === 0;

let T = '';
let home = '';
let device: ChildProcess | null = null;
let deviceExited: Promise<void> = Promise.resolve();
let deviceLog = '';
let existedBefore: string[] = [];
let sshPort = 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error}`);
}

interface Ran { code: number | null; out: string }
/** One ares-cli command as a developer runs it: its own HOME (ares-cli's config and ~/.ssh), nothing else set. */
function ares(tool: string, args: string[], limitMs = 180000): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(ARES_NODE, [path.join(ARES, `${tool}.js`), ...args], { cwd: T, env: { PATH: PATHS, HOME: home }, timeout: limitMs, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : null) : 0;
        resolve({ code, out: `${stdout}${stderr}` });
      });
  });
}
/** Success as a developer reads it: exit 0, and the output (without ares-cli's "[Info] Set target device" line). */
async function ok(tool: string, args: string[]): Promise<string> {
  const r = await ares(tool, args);
  if (r.code !== 0) throw new Error(`${tool} ${args.join(' ')} exited ${r.code}:\n${r.out}\n--- device:\n${deviceLog}\n${readLog('daemon.log')}`);
  return r.out.split('\n').filter((l) => !l.startsWith('[Info] Set target device')).join('\n').trim();
}
function readLog(name: string): string {
  try { return fs.readFileSync(path.join(T, name), 'utf8').slice(-4000); } catch { return ''; }
}

async function startDevice(): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    fs.rmSync(path.join(T, 'ready'), { force: true });
    deviceLog = '';
    const child = spawn('unshare', ['--mount', '--propagation', 'private', '--fork', '--', 'bash', SCRIPT], {
      env: { PATH: PATHS, T, PORT: String(port), REPO }, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => (deviceLog += d));
    child.stderr!.on('data', (d) => (deviceLog += d));
    let exited = false;
    deviceExited = new Promise((r) => child.once('exit', () => { exited = true; r(); }));
    const until = Date.now() + 400000;
    while (!fs.existsSync(path.join(T, 'ready')) && !exited && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    if (fs.existsSync(path.join(T, 'ready'))) {
      device = child;
      sshPort = port;
      const r = await ares('ares-setup-device', ['-a', 'device', '-i', 'host=127.0.0.1', '-i', `port=${port}`, '-i', 'username=prisoner', '-i', 'privatekey=appinstalld_key', '-i', 'default=true']);
      expect(r.code).toBe(0);
      expect(r.out).toContain(`device (default)  prisoner@127.0.0.1:${port}`);
      return;
    }
    try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
    await deviceExited;
    // The port picked may have been taken in between (a busy shared machine): try another, a few times.
    if (attempt >= 3 || !/sshd exited/.test(deviceLog)) throw new Error(`the device did not come up:\n${deviceLog}\n${readLog('daemon.log')}\n${readLog('sshd.log')}`);
  }
}

(canUnshare ? describe : describe.skip)('the real ares-cli against the product as a device (SSH on loopback, private filesystem view)', () => {
  beforeAll(async () => {
    ensureTool([SSHD], ['openssh-server']);
    existedBefore = DEVICE_PATHS.filter((p) => fs.existsSync(p));
    // Not os.tmpdir(): TMPDIR may be private, and sshd reads authorized_keys as prisoner, who must reach it.
    T = fs.mkdtempSync('/tmp/ares-device-');
    fs.chmodSync(T, 0o755);
    fs.mkdirSync(path.join(T, 'ns'));
    home = path.join(T, 'home');
    fs.mkdirSync(path.join(home, '.ssh'), { recursive: true, mode: 0o700 });
    sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'appinstalld-test-host', '-f', path.join(T, 'ssh_host_ed25519_key')]);
    sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'appinstalld-test-developer', '-f', path.join(home, '.ssh/appinstalld_key')]);
    fs.copyFileSync(path.join(home, '.ssh/appinstalld_key.pub'), path.join(T, 'authorized_keys'));
    fs.chmodSync(path.join(T, 'authorized_keys'), 0o644);
    await startDevice();
  }, 900000);

  afterAll(async () => {
    if (device?.pid) {
      try { process.kill(-device.pid, 'SIGTERM'); } catch { /* gone */ }
      const killer = setTimeout(() => { try { process.kill(-device!.pid!, 'SIGKILL'); } catch { /* gone */ } }, 20000);
      await deviceExited;
      clearTimeout(killer);
    }
    if (T) fs.rmSync(T, { recursive: true, force: true });
  }, 60000);

  test('ares-package, ares-install, -l, -F, ares-launch, --running, --close, ares-device --system-info, --remove: each exits 0 and says what a developer expects', async () => {
    fs.cpSync(path.join(REPO, 'examples/hello'), path.join(T, 'hello'), { recursive: true });
    expect(await ok('ares-package', ['-o', path.join(T, 'out'), path.join(T, 'hello')])).toContain('Success');
    const ipk = path.join(T, 'out', `${APP}_1.0.0_all.ipk`);
    expect(fs.existsSync(ipk)).toBe(true);

    expect(await ok('ares-install', [ipk])).toMatch(new RegExp(`^Installing package ${ipk.replace(/\./g, '\\.')}[\\s\\S]*\\nSuccess$`));
    expect(await ok('ares-install', ['-l'])).toBe(APP);
    const full = await ok('ares-install', ['-F']);
    expect(full).toContain(`id : ${APP}`);
    expect(full).toContain('version : 1.0.0');
    expect(full).toContain('title : Hello');
    expect(full).toContain(`folderPath : /media/developer/apps/usr/palm/applications/${APP}`);

    expect(await ok('ares-launch', [APP])).toBe(`Launched application ${APP}`);
    expect(await ok('ares-launch', ['--running'])).toBe(APP);
    expect(await ok('ares-launch', ['--close', APP])).toBe(`Closed application ${APP}`);
    expect(await ok('ares-launch', ['--running'])).toBe('');

    // tv profile (ares-cli's default): the five keys, each a fact of this machine or "(unknown)"
    const info = Object.fromEntries((await ok('ares-device', ['--system-info'])).split('\n').map((l) => l.split(' : ')));
    const osRelease = fs.readFileSync('/etc/os-release', 'utf8');
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1];
    expect(Object.keys(info)).toEqual(['modelName', 'sdkVersion', 'firmwareVersion', 'boardType', 'otaId']);
    expect(info.firmwareVersion).toBe(pretty);
    expect(info.sdkVersion).toBe(SystemInfoText.UNKNOWN_VALUE);
    expect(info.otaId).toBe(SystemInfoText.UNKNOWN_VALUE);

    // the developer's own shell finds the device's luna-send-pub on its PATH too, with no settings (ares-device
    // --resource-monitor runs it so); ares-shell is not in ares-cli's tv profile, so plain OpenSSH logs in here
    const shell = spawnSync('ssh', ['-i', path.join(home, '.ssh/appinstalld_key'), '-p', String(sshPort), '-o', 'BatchMode=yes',
      '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', 'prisoner@127.0.0.1',
      'env; command -v luna-send-pub; luna-send-pub -n 1 luna://com.webos.applicationManager/dev/listApps \'{}\''], { encoding: 'utf8', timeout: 120000 });
    expect({ status: shell.status, stderr: shell.stderr }).toEqual({ status: 0, stderr: '' });
    expect(shell.stdout).not.toMatch(/APPINSTALLD_ROOT|LUNA_HUB_SOCKET/);
    expect(shell.stdout).toContain('\n/usr/bin/luna-send-pub\n');
    expect(JSON.parse(shell.stdout.trim().split('\n').pop()!)).toMatchObject({ returnValue: true, apps: [expect.objectContaining({ id: APP, developer: true })] });

    expect(await ok('ares-install', ['--remove', APP])).toBe(`Removed package ${APP}`);
    expect(await ok('ares-install', ['-l'])).toBe('');
  }, 900000);

  test('ose profile: ares-device --system-info asks systemservice\'s osInfo, deviceInfo and softwareInfo, and prints this machine\'s facts', async () => {
    // ares-config writes the profile into ares-cli's own package: here into an overlay of a private mount namespace;
    // devices are kept per profile, so the device is added again for ose
    const conf = path.join(REPO, 'node_modules/@webos-tools/cli/files/conf');
    const o = path.join(T, 'ares-conf');
    for (const d of ['up', 'work']) fs.mkdirSync(path.join(o, d), { recursive: true });
    const js = (tool: string) => `'${ARES_NODE}' '${path.join(ARES, `${tool}.js`)}'`;
    const script = `set -e; mount -t overlay overlay -o lowerdir='${conf}',upperdir='${o}/up',workdir='${o}/work' '${conf}'
      ${js('ares-config')} -p ose >/dev/null
      ${js('ares-setup-device')} -a osedevice -i host=127.0.0.1 -i port=${sshPort} -i username=prisoner -i privatekey=appinstalld_key >/dev/null
      ${js('ares-device')} -d osedevice --system-info`;
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', 'bash', '-c', script],
      { cwd: T, env: { PATH: PATHS, HOME: home }, encoding: 'utf8', timeout: 180000 });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    const info = Object.fromEntries(r.stdout.trim().split('\n').filter((l) => l.includes(' : ')).map((l) => l.split(' : ')));
    const name = /^NAME="?([^"\n]*)"?$/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1];
    expect(info).toMatchObject({
      webos_name: name,
      webos_manufacturing_version: SystemInfoText.UNKNOWN_VALUE,
      core_os_kernel_version: spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim(),
      device_name: spawnSync('hostname', [], { encoding: 'utf8' }).stdout.trim(),
      // the device runs the unit's `/usr/bin/env node`: the node on the device's PATH
      nodejs_versions: spawnSync('/usr/bin/env', ['node', '--version'], { encoding: 'utf8', env: { PATH: PATHS } }).stdout.trim(),
      chromium_version: 'not supported',
    });
    expect(fs.readFileSync(path.join(conf, 'config.json'), 'utf8')).toMatch(/"profile": "tv"/); // ares-cli's own file untouched
  }, 300000);

  test('a corrupt package and an unknown id fail with the daemon\'s reason', async () => {
    const good = fs.readdirSync(path.join(T, 'out')).find((f) => f.endsWith('.ipk'))!;
    const flipped = path.join(T, 'flipped.ipk');
    const bytes = fs.readFileSync(path.join(T, 'out', good));
    bytes.fill(0xff, bytes.length - 200, bytes.length - 184); // inside data.tar.gz, the last member
    fs.writeFileSync(flipped, bytes);
    const r1 = await ares('ares-install', [flipped]);
    expect(r1.code).not.toBe(0);
    expect(r1.out).toContain(`luna-send command failed <${ErrorText.FAILED_PACKAGEFILE_CORRUPT}: data.tar.gz`);

    const random = path.join(T, 'random.ipk');
    fs.writeFileSync(random, Buffer.alloc(1000, 7)); // over 200 bytes: ares-cli compares the MD5 of the last 200
    const r2 = await ares('ares-install', [random]);
    expect(r2.code).not.toBe(0);
    expect(r2.out).toContain(`luna-send command failed <${ErrorText.FAILED_PACKAGEFILE_CORRUPT}: not an ar archive`);

    const r3 = await ares('ares-install', ['--remove', 'com.example.nothing']);
    expect(r3.code).not.toBe(0);
    expect(r3.out).toContain(`luna-send command failed <${ErrorText.NO_SUCH_ID}>`);
    const r4 = await ares('ares-launch', ['com.example.nothing']);
    expect(r4.code).not.toBe(0);
    expect(r4.out).toContain(`luna-send command failed <${AppManagerErrorText.notDeveloperApp('com.example.nothing')}>`);
    expect(await ok('ares-install', ['-l'])).toBe('');
  }, 600000);

  test('the real root is untouched: nothing the device wrote is outside its private view', () => {
    expect(DEVICE_PATHS.filter((p) => fs.existsSync(p))).toEqual(existedBefore);
  });
});
