// The `appinstall` CLI as a person runs it: real daemon, real CLI processes, a real terminal (tmux) for the progress
// bar, pipes for plain lines and --json, and every subcommand (feeds, catalog and URL installs live against a real nginx).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { ErrorText } from '../status-codes';
import { CliText, ExitCode } from '../status-codes/cli';
import { overallPercent } from '../appinstall-cli/render';
import { track } from './helpers/child-processes';
import { ensureTool } from '../bench/debian-tool';
import { REPO, killAllChildren, makeIpk, startDaemon, type Daemon, type Json } from './helpers/appinstall-daemon';
import { startNginx, type NginxServer } from './helpers/nginx';
import { startBadServer, type BadServer } from './helpers/bad-http-server';
import { writeConf, writeFeed, type GenPackage } from './helpers/opkg-feed';
import { scriptFor } from './helpers/unprivileged';

const CLI = path.join(REPO, 'dist/appinstall-cli/appinstall.js');
const AS = 'luna://com.webos.appInstallService';
const PKG = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };

interface Run { code: number | null; stdout: string; stderr: string }

function cli(root: string, args: string[], limitMs = 30000, opts: { uid?: number; env?: NodeJS.ProcessEnv; onSpawn?(p: ChildProcess): void } = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, APPINSTALLD_ROOT: root, ...opts.env };
  if (!opts.env?.LUNA_HUB_SOCKET) delete env.LUNA_HUB_SOCKET;
  const ids = opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {};
  const proc = track(spawn(process.execPath, [scriptFor(CLI, opts.uid), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env, cwd: '/tmp', ...ids }));
  opts.onSpawn?.(proc);
  let stdout = '', stderr = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  proc.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`appinstall ${args.join(' ')} hung; ${stdout} ${stderr}`)); }, limitMs);
    proc.once('exit', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
  });
}

let d: Daemon;
let work: string;
let ipk: string;
beforeAll(async () => {
  d = await startDaemon();
  work = fs.mkdtempSync('/tmp/aicli-');
  fs.chmodSync(work, 0o755);
  ipk = await makeIpk(work, 'com.example.cli', '2.0.0');
});
afterAll(async () => {
  await d?.stop();
  killAllChildren();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('on a terminal (tmux)', () => {
  const tmux = ensureTool(['tmux'], ['tmux']);
  const sock = `aicli-${process.pid}`;
  afterAll(() => { spawnSync(tmux, ['-L', sock, 'kill-server']); });

  test('install draws a progress bar that ends at 100% and a success line; exit 0', async () => {
    const raw = path.join(work, 'tty.raw');
    const done = path.join(work, 'tty.exit');
    const cmd = `sleep 0.5; APPINSTALLD_ROOT=${d.root} ${process.execPath} ${CLI} install ${ipk}; echo $? > ${done}; sleep 60`;
    expect(spawnSync(tmux, ['-L', sock, 'new-session', '-d', '-s', 'cli', '-x', '150', '-y', '20', 'sh', '-c', cmd]).status).toBe(0);
    spawnSync(tmux, ['-L', sock, 'pipe-pane', '-t', 'cli', '-o', `cat >> ${raw}`]);
    for (let i = 0; i < 300 && !fs.existsSync(done); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 200));
    const pane = spawnSync(tmux, ['-L', sock, 'capture-pane', '-p', '-t', 'cli'], { encoding: 'utf8' }).stdout;
    expect(fs.readFileSync(done, 'utf8').trim()).toBe('0');
    // The bar (cli-progress) ends full, with the last phase; the success line follows it.
    expect(pane).toMatch(/com\.example\.cli \[#{10,}\] 100% \| installed/);
    expect(pane).toMatch(/^com\.example\.cli installed$/m);
    expect(pane).not.toMatch(/: ipk parsing$/m); // no plain lines on a terminal
    // The bar was redrawn in place (cursor movement), not printed as lines.
    expect(fs.readFileSync(raw, 'latin1')).toMatch(/\x1b\[/);
  });
});

describe('under a pipe', () => {
  test('install prints one plain line per stage change and a success line; exit 0', async () => {
    const r = await cli(d.root, ['install', ipk]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('com.example.cli: ipk parsing');
    expect(lines).toContain('com.example.cli: installing : unpacking');
    expect(lines.at(-2)).toBe('com.example.cli: installed');
    expect(lines.at(-1)).toBe('com.example.cli installed');
    expect(new Set(lines).size).toBe(lines.length); // a stage once, not once per progress push
    expect(r.stdout).not.toMatch(/\x1b/);
  });

  test('--json: JSON lines, the call return then every status event, the last one installed', async () => {
    const r = await cli(d.root, ['--json', 'install', ipk]);
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Json);
    expect(events[0]).toEqual({ returnValue: true, subscribed: true });
    expect(events.at(-1)).toMatchObject({ id: 'com.example.cli', statusValue: 30, details: { state: 'installed', progress: 100 } });
  });

  test('a failing install exits 1 with the reason in words on stderr', async () => {
    expect((await cli(d.root, ['install', ipk])).code).toBe(0); // 2.0.0 installed, so 1.0.0 is a downgrade
    const older = await makeIpk(work, 'com.example.cli', '1.0.0');
    const r = await cli(d.root, ['install', older]);
    expect(r.code).toBe(ExitCode.FAILURE);
    expect(r.stderr).toContain(`appinstall: install of com.example.cli failed: ${ErrorText.DOWNGRADE_REFUSED}`);
    expect(r.stdout).toMatch(/^com\.example\.cli: install failed$/m);
    const bad = path.join(work, 'not-a-package.ipk');
    fs.writeFileSync(bad, 'hello');
    const j = await cli(d.root, ['install', older, '--json']);
    expect(j.code).toBe(ExitCode.FAILURE);
    expect(JSON.parse(j.stdout.trim().split('\n').at(-1)!)).toEqual({ returnValue: false, exitCode: 1, errorText: r.stderr.replace(/^appinstall: /, '').trimEnd() });
    const b = await cli(d.root, ['install', bad]);
    expect(b.code).toBe(ExitCode.FAILURE);
    expect(b.stderr).toMatch(/^appinstall: cannot read .*not-a-package\.ipk: /);
  });

  test('info of an installed app, and of an unknown one (exit 1)', async () => {
    expect((await cli(d.root, ['install', ipk])).code).toBe(0);
    const r = await cli(d.root, ['info', 'com.example.cli']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/title: +App com\.example\.cli/);
    expect(r.stdout).toMatch(/version: +2\.0\.0/);
    const j = await cli(d.root, ['info', 'com.example.cli', '--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({ id: 'com.example.cli', appInfo: { id: 'com.example.cli', version: '2.0.0' } });
    const none = await cli(d.root, ['info', 'com.example.nothing']);
    expect(none.code).toBe(ExitCode.FAILURE);
    expect(none.stderr).toBe('appinstall: com.example.nothing is neither installed nor in any feed\n');
  });

  test('remove: success line and exit 0; again: exit 1 with the service\'s reason', async () => {
    const extra = await makeIpk(work, 'com.example.gone', '1.0.0');
    expect((await cli(d.root, ['install', extra])).code).toBe(0);
    const r = await cli(d.root, ['remove', 'com.example.gone']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('com.example.gone removed');
    const again = await cli(d.root, ['remove', 'com.example.gone']);
    expect(again.code).toBe(ExitCode.FAILURE);
    expect(again.stderr).toBe(`appinstall: /remove failed: ${ErrorText.NO_SUCH_ID}\n`);
  });
});

describe('engine subcommands', () => {
  const cases: Array<{ args: () => string[]; check(r: Run): void }> = [
    { args: () => ['list'], check: (r) => expect(r.stdout).toMatch(/^com\.example\.cli +2\.0\.0/m) },
    { args: () => ['list', '--json'], check: (r) => expect(JSON.parse(r.stdout).packages).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'com.example.cli' })])) },
    { args: () => ['list', '--firmware', '--json'], check: (r) => expect(Array.isArray(JSON.parse(r.stdout).packages)).toBe(true) },
    { args: () => ['tasks', '--json'], check: (r) => expect(JSON.parse(r.stdout).operations.length).toBeGreaterThan(0) },
  ];
  test.each(cases.map((c) => [c.args().join(' '), c] as const))('%s', async (_name, c) => {
    const r = await cli(d.root, c.args());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    c.check(r);
  });

  test('tasks, log, log -f and cancel of an ended operation', async () => {
    const ops = JSON.parse((await cli(d.root, ['tasks', '--json'])).stdout).operations as Json[];
    const op = ops.find((o) => o.id === 'com.example.cli' && o.state !== 'running')!;
    const log = await cli(d.root, ['log', op.handle]);
    expect(log.code).toBe(0);
    expect(log.stdout.length).toBeGreaterThan(0);
    const follow = await cli(d.root, ['log', op.handle, '-f', '--json']);
    expect(follow.stdout.trim().split('\n').map((l) => JSON.parse(l)).at(-1).operation.handle).toBe(op.handle);
    const cancel = await cli(d.root, ['cancel', op.handle]);
    expect(cancel.code).toBe(ExitCode.FAILURE); // an ended operation cannot be cancelled: the daemon's reason
    expect(cancel.stderr).toMatch(/^appinstall: \/operations\/cancel failed: /);
  });

  test('lock and unlock', async () => {
    const l = await cli(d.root, ['lock', 'com.example.cli', '--reason', 'exam', '--owner', 'ops', '--json']);
    expect(l.code).toBe(0);
    const { handle } = JSON.parse(l.stdout);
    expect(typeof handle).toBe('string');
    const u = await cli(d.root, ['unlock', handle]);
    expect(u.code).toBe(0);
    // By the package's id, as a person would type it; an id with no lock says so.
    const again = JSON.parse((await cli(d.root, ['lock', 'com.example.cli', '--reason', 'exam', '--owner', 'ops', '--json'])).stdout).handle;
    const byId = await cli(d.root, ['unlock', 'com.example.cli']);
    expect(byId).toMatchObject({ code: 0, stdout: `lock ${again} of com.example.cli released\n` });
    const none = await cli(d.root, ['unlock', 'com.example.cli']);
    expect(none.code).toBe(ExitCode.FAILURE);
    expect(none.stderr).toMatch(/^appinstall: \/getLockInfo failed: .*com\.example\.cli/);
  });
});

describe('feeds, catalog and URL installs, live against a feed on nginx', () => {
  // A real opkg feed on the real nginx: com.example.app depends on com.example.lib; com.example.tool stands alone.
  // Then the feed gains app 1.1.0 and tool 1.1.0 (upgrade NAME, upgrade --all). A slow server for URL installs.
  let nginx: NginxServer;
  let slow: BadServer;
  let www: string;
  const files: Record<string, string> = {};
  const stanza = (name: string, version: string, depends?: string): GenPackage => {
    const data = fs.readFileSync(files[`${name}_${version}`]);
    return {
      name, version, depends, section: 'apps', maintainer: 'Test <t@example.com>', size: data.length, installedSize: data.length * 4,
      md5: crypto.createHash('md5').update(data).digest('hex'), sha256: crypto.createHash('sha256').update(data).digest('hex'),
      filename: path.basename(files[`${name}_${version}`]), description: `The ${name.split('.').pop()} of the CLI tests`,
    };
  };
  const tmux = ensureTool(['tmux'], ['tmux']);
  const sock = `aicli-feeds-${process.pid}`;

  beforeAll(async () => {
    www = path.join(work, 'www');
    fs.mkdirSync(path.join(www, 'feed'), { recursive: true });
    fs.chmodSync(www, 0o755);
    for (const [name, version] of [['com.example.lib', '1.0.0'], ['com.example.app', '1.0.0'], ['com.example.app', '1.1.0'], ['com.example.tool', '1.0.0'], ['com.example.tool', '1.1.0']]) {
      const f = await makeIpk(path.join(work, 'src'), name, version);
      files[`${name}_${version}`] = path.join(www, 'feed', path.basename(f));
      fs.copyFileSync(f, files[`${name}_${version}`]);
    }
    writeFeed(path.join(www, 'feed'), [stanza('com.example.lib', '1.0.0'), stanza('com.example.app', '1.0.0', 'com.example.lib (>= 1.0)'), stanza('com.example.tool', '1.0.0')]);
    nginx = await startNginx({ root: www });
    writeConf(d.root, 'feeds.conf', [`src/gz main ${nginx.url}/feed`]);
    // 2 MiB of incompressible bytes: about 3 s at 1 MiB/s, long enough to see bytes and speed, and to cancel.
    const big = await makeIpk(path.join(work, 'src'), 'com.example.slow', '1.0.0', { files: { 'blob.bin': crypto.randomBytes(2 * 1024 * 1024).toString('base64') } });
    slow = await startBadServer(fs.readFileSync(big), (_n, req) => (String(req.url).includes('stall') ? { stallAfter: 10 } : String(req.url).includes('crawl') ? { bytesPerSecond: 256 * 1024 } : { bytesPerSecond: 1024 * 1024 }));
  }, 60000);
  afterAll(async () => {
    spawnSync(tmux, ['-L', sock, 'kill-server']);
    await nginx?.stop();
    await slow?.close();
  });

  test('refresh, then feeds: the feed with its packages', async () => {
    const r = await cli(d.root, ['refresh']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // Under a pipe: one line per phase of the refresh operation, then the end.
    expect(r.stdout).toBe(`feeds: download\nfeeds: verify\n${CliText.feedsRefreshed}\n`);
    const f = await cli(d.root, ['feeds']);
    expect(f.code).toBe(0);
    expect(f.stdout).toMatch(new RegExp(`^main +${nginx.url.replace(/[.]/g, '\\.')}/feed +0 +3 +\\d{4}-`, 'm'));
    const j = JSON.parse((await cli(d.root, ['feeds', '--json'])).stdout);
    expect(j.feeds).toEqual([expect.objectContaining({ name: 'main', packages: 3 })]);
    // The refresh was an engine operation: `tasks` lists it.
    expect((await cli(d.root, ['tasks'])).stdout).toMatch(/^\d+ +refresh +feeds +- +succeeded +100%/m);
  });

  test('list --available, search and info NAME', async () => {
    const a = await cli(d.root, ['list', '--available']);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/^NAME +INSTALLED +CANDIDATE +STATUS +FEED +DESCRIPTION$/m);
    expect(a.stdout).toMatch(/^com\.example\.app +- +1\.0\.0 +not installed +main +The app of the CLI tests$/m);
    expect(a.stdout).toMatch(/^com\.example\.lib +- +1\.0\.0 +not installed/m);
    const s = await cli(d.root, ['search', 'tool']);
    expect(s.code).toBe(0);
    expect(s.stdout.trim().split('\n').slice(1).map((l) => l.split(/ +/)[0])).toEqual(['com.example.tool']);
    const i = await cli(d.root, ['info', 'com.example.app']);
    expect(i.code).toBe(0);
    expect(i.stdout).toContain('  installed:   no');
    expect(i.stdout).toMatch(/ {2}candidate: {3}1\.0\.0 from main \(\d+ bytes, not installed\)/);
    expect(i.stdout).toContain('  depends:     com.example.lib (>= 1.0)');
  });

  test('install NAME: one operation (one bar) for it and its dependency, the dependency first; both installed', async () => {
    const r = await cli(d.root, ['install', 'com.example.app'], 60000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    // Under a pipe: the one bar's lines, each naming the package at work (1/2 the dependency, 2/2 the target).
    expect(lines.slice(0, -1).every((l) => l.startsWith('com.example.app: '))).toBe(true);
    expect(lines.findIndex((l) => l.startsWith('com.example.app: 1/2 com.example.lib: '))).toBeLessThan(lines.findIndex((l) => l.startsWith('com.example.app: 2/2 com.example.app: ')));
    expect(lines).toContain('com.example.app: 1/2 com.example.lib: installed');
    expect(lines.at(-1)).toBe('com.example.app installed');
    // The engine's view: one install operation for the request, none of the dependency's own.
    const tasks = (await cli(d.root, ['tasks'])).stdout;
    expect(tasks).toMatch(/^\d+ +install +com\.example\.app +1\.0\.0 +succeeded +100%/m);
    expect(tasks).not.toMatch(/install +com\.example\.lib/);
    const t = await cli(d.root, ['install', 'com.example.tool'], 60000);
    expect(t.code).toBe(0);
    const list = await cli(d.root, ['list']);
    for (const id of ['com.example.app', 'com.example.lib', 'com.example.tool']) expect(list.stdout).toMatch(new RegExp(`^${id.replace(/\./g, '\\.')} +1\\.0\\.0`, 'm'));
    expect((await cli(d.root, ['info', 'com.example.app'])).stdout).toMatch(/ {2}installed: {3}1\.0\.0/);
  });

  test('the feed changes: list --upgradable, upgrade NAME, upgrade --all, then nothing to upgrade', async () => {
    writeFeed(path.join(www, 'feed'), [stanza('com.example.lib', '1.0.0'), stanza('com.example.app', '1.1.0', 'com.example.lib (>= 1.0)'), stanza('com.example.tool', '1.1.0')]);
    const t = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(www, 'feed', 'Packages.gz'), t, t);
    expect((await cli(d.root, ['refresh'])).code).toBe(0);
    const up = await cli(d.root, ['list', '--upgradable']);
    expect(up.code).toBe(0);
    expect(up.stdout.trim().split('\n').slice(1).map((l) => l.split(/ +/).slice(0, 4).join(' '))).toEqual([
      'com.example.app 1.0.0 1.1.0 upgradable', 'com.example.tool 1.0.0 1.1.0 upgradable',
    ]);
    const one = await cli(d.root, ['upgrade', 'com.example.app'], 60000);
    expect(one.stderr).toBe('');
    expect(one.code).toBe(0);
    expect(one.stdout.trim().split('\n').at(-1)).toBe('com.example.app installed');
    expect((await cli(d.root, ['list', '--upgradable'])).stdout).not.toContain('com.example.app');
    const all = await cli(d.root, ['upgrade', '--all'], 60000);
    expect(all.code).toBe(0);
    expect(all.stdout.trim().split('\n').at(-1)).toBe('com.example.tool installed');
    const list = await cli(d.root, ['list']);
    expect(list.stdout).toMatch(/^com\.example\.app +1\.1\.0/m);
    expect(list.stdout).toMatch(/^com\.example\.tool +1\.1\.0/m);
    const none = await cli(d.root, ['upgrade', '--all']);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe(`${CliText.nothingToUpgrade}\n`);
  }, 120000);

  test('install URL on a terminal (tmux): a bar with bytes, total and speed while downloading, then installed; exit 0', async () => {
    const raw = path.join(work, 'url-tty.raw');
    const done = path.join(work, 'url-tty.exit');
    const url = `${slow.url}/com.example.slow_1.0.0_all.ipk`;
    const cmd = `sleep 0.5; APPINSTALLD_ROOT=${d.root} ${process.execPath} ${CLI} install ${url}; echo $? > ${done}; sleep 60`;
    expect(spawnSync(tmux, ['-L', sock, 'new-session', '-d', '-s', 'url', '-x', '150', '-y', '20', 'sh', '-c', cmd]).status).toBe(0);
    spawnSync(tmux, ['-L', sock, 'pipe-pane', '-t', 'url', '-o', `cat >> ${raw}`]);
    for (let i = 0; i < 600 && !fs.existsSync(done); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 200));
    const pane = spawnSync(tmux, ['-L', sock, 'capture-pane', '-p', '-t', 'url'], { encoding: 'utf8' }).stdout;
    expect(fs.readFileSync(done, 'utf8').trim()).toBe('0');
    expect(pane).toMatch(/com\.example\.slow \[#{10,}\] 100% \| installed/);
    expect(pane).toMatch(/^com\.example\.slow installed$/m);
    // While downloading, the bar showed bytes of the total and a speed (redrawn in place).
    expect(fs.readFileSync(raw, 'latin1')).toMatch(/ipk download : current \| \d+\.\d MiB of \d+\.\d MiB at \d+(\.\d)? (KiB|MiB)\/s/);
  }, 90000);

  test('cancel HANDLE of a running URL install: the CLI that started it exits 1 saying it was cancelled; nothing installed', async () => {
    const url = `${slow.url}/crawl/com.example.crawl_1.0.0_all.ipk`;
    const started = cli(d.root, ['install', url], 60000);
    let handle: string | undefined;
    for (let i = 0; i < 100 && !handle; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const ops = JSON.parse((await cli(d.root, ['tasks', '--json', '--state', 'running'])).stdout).operations as Json[];
      handle = ops.find((o) => o.kind === 'install' && o.id === 'com.example.crawl' && o.phase === 'download' && o.progress > 0)?.handle;
    }
    expect(handle).toBeDefined();
    const c = await cli(d.root, ['cancel', handle!]);
    expect(c.stderr).toBe('');
    expect(c.code).toBe(0);
    expect(c.stdout).toBe(`${handle}: cancelling\n`);
    const r = await started;
    expect(r.code).toBe(ExitCode.FAILURE);
    expect(r.stderr).toBe(`appinstall: ${CliText.cancelled('com.example.crawl')}\n`);
    const log = await cli(d.root, ['log', handle!]);
    expect(log.stdout).toContain(`download ${url} -> url-`);
    expect(log.stdout).toMatch(/cancelled\n$/);
    expect((await cli(d.root, ['tasks'])).stdout).toMatch(new RegExp(`^${handle} +install +com\\.example\\.crawl +- +cancelled`, 'm'));
    expect((await cli(d.root, ['list'])).stdout).not.toContain('com.example.crawl');
  }, 60000);

  test('cancel HANDLE of a running refresh (a feed that stalls): the refresh exits 1 saying it was cancelled', async () => {
    writeConf(d.root, 'feeds.conf', [`src/gz main ${nginx.url}/feed`, `src stall ${slow.url}/stall`]);
    try {
      const started = cli(d.root, ['refresh'], 60000);
      let handle: string | undefined;
      for (let i = 0; i < 100 && !handle; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const ops = JSON.parse((await cli(d.root, ['tasks', '--json', '--state', 'running'])).stdout).operations as Json[];
        handle = ops.find((o) => o.kind === 'refresh')?.handle;
      }
      expect(handle).toBeDefined();
      await new Promise((r) => setTimeout(r, 300));
      expect((await cli(d.root, ['cancel', handle!])).code).toBe(0);
      const r = await started;
      expect(r.code).toBe(ExitCode.FAILURE);
      expect(r.stderr).toBe(`appinstall: ${CliText.operationCancelled(handle!)}\n`);
      // The feed that was fetched keeps its index.
      expect(JSON.parse((await cli(d.root, ['feeds', '--json'])).stdout).feeds).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'main', packages: 3 })]));
    } finally {
      writeConf(d.root, 'feeds.conf', [`src/gz main ${nginx.url}/feed`]);
    }
  }, 60000);

  test('install URL of a missing file and install of a name no feed has: exit 1 with the reason', async () => {
    const missing = await cli(d.root, ['install', `${nginx.url}/feed/com.example.none_1.0.0_all.ipk`], 60000);
    expect(missing.code).toBe(ExitCode.FAILURE);
    expect(missing.stderr).toMatch(/^appinstall: install of com\.example\.none failed: download failed: .*404/);
    const byName = await cli(d.root, ['install', 'com.example.notinanyfeed']);
    expect(byName.code).toBe(ExitCode.FAILURE);
    expect(byName.stderr).toBe('appinstall: /catalog/install failed: com.example.notinanyfeed is not in the catalog (refresh the feeds, or check the name)\n');
  }, 60000);
});

describe('command line', () => {
  test('--version, --help, help CMD and CMD --help for every command', async () => {
    const v = await cli(d.root, ['--version']);
    expect(v.stdout).toBe(`appinstall ${PKG.version}\n`);
    expect((await cli(d.root, ['-V'])).stdout).toBe(v.stdout);
    const h = await cli(d.root, ['--help']);
    expect(h.code).toBe(0);
    const commands = ['install', 'remove', 'list', 'info', 'search', 'refresh', 'upgrade', 'tasks', 'log', 'cancel', 'lock', 'unlock', 'feeds'];
    for (const c of commands) expect(h.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(h.stdout).toContain('2 usage error, 3 cannot reach the bus, 4 denied');
    for (const c of commands) {
      const a = await cli(d.root, ['help', c]);
      const b = await cli(d.root, [c, '--help']);
      expect(a.code).toBe(0);
      expect(a.stdout).toMatch(new RegExp(`^usage: appinstall ${c}`));
      expect(b.stdout).toBe(a.stdout);
    }
  });

  test('usage errors exit 2 with the reason and a pointer to --help; no bus is needed', async () => {
    const cases: Array<[string[], string]> = [
      [[], 'no command given'],
      [['frob'], 'unknown command "frob"'],
      [['install'], 'missing FILE.ipk|URL|NAME'],
      [['install', ''], 'FILE.ipk|URL|NAME is empty'],
      [['log', ' '], 'HANDLE is empty'],
      [['remove', 'a', 'b'], 'unexpected argument "b"'],
      [['list', '--frob'], 'unknown option --frob'],
      [['lock', 'com.x'], 'missing --reason R and --owner O'],
      [['lock', 'com.x', '--reason'], 'option --reason needs a value'],
      [['upgrade'], 'upgrade needs package names or --all'],
      [['list', '--available', '--upgradable'], '--available and --upgradable exclude each other'],
    ];
    for (const [args, text] of cases) {
      const r = await cli('/nonexistent-root', args);
      expect([args, r.code]).toEqual([args, ExitCode.USAGE]);
      expect(r.stderr).toBe(`appinstall: ${text}\nTry 'appinstall --help' for more information.\n`);
    }
  });

  test('no hub: exit 3 naming the socket', async () => {
    const r = await cli('/nonexistent-root', ['list']);
    expect(r.code).toBe(ExitCode.NO_BUS);
    expect(r.stderr).toBe('appinstall: cannot reach the bus: Cannot connect to the bus hub at /nonexistent-root/var/run/luna-service2/com.palm.hub: no such socket (is the hub running?)\n');
  });

  (process.getuid?.() === 0 ? test : test.skip)('a caller the bus refuses (an ordinary user asking for /remove): exit 4 with the bus\'s words', async () => {
    const r = await cli(d.root, ['remove', 'com.example.cli'], 30000, { uid: 65534 });
    expect(r.code).toBe(ExitCode.DENIED);
    expect(r.stderr).toBe('appinstall: not allowed to call /remove: Denied method call "remove" for category "/"\n');
  });

  test('interrupted while waiting (a hub that never answers): the cursor back, the words, exit 130', async () => {
    const sockPath = path.join(work, 'mute.sock');
    const mute = net.createServer(() => undefined);
    await new Promise<void>((r) => mute.listen(sockPath, r));
    try {
      let child: ChildProcess | undefined;
      const running = cli(d.root, ['list'], 30000, { env: { LUNA_HUB_SOCKET: sockPath }, onSpawn: (p) => (child = p) });
      await new Promise((r) => setTimeout(r, 700));
      child!.kill('SIGINT');
      const r = await running;
      expect(r.code).toBe(ExitCode.INTERRUPTED);
      expect(r.stderr).toBe(`appinstall: ${CliText.interrupted}\n`);
    } finally {
      mute.close();
    }
  });
});

test('the bar\'s percent rises monotonically through download and install stages, and through remove', () => {
  const install = [7, 8, 8, 10, 35, 37, 262, 263, 264, 32, 33, 34, 268, 269, 270, 11, 12, 13, 14, 14, 17, 27, 28, 29, 30];
  const progress = [undefined, 20, 90, 100, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, 10, 90];
  const got = install.map((sv, i) => overallPercent('install', sv, progress[i], true));
  for (let i = 1; i < got.length; i++) expect(got[i]).toBeGreaterThanOrEqual(got[i - 1]);
  expect([got[0], got[3], got.at(-1)]).toEqual([0, 50, 100]);
  expect(overallPercent('install', 35, 0, false)).toBe(0);
  const remove = [32, 33, 34, 41, 42, 38, 39, 40, 18, 19, 21, 43, 44, 45, 31].map((sv) => overallPercent('remove', sv, undefined, false));
  for (let i = 1; i < remove.length; i++) expect(remove[i]).toBeGreaterThan(remove[i - 1]);
  expect(remove.at(-1)).toBe(100);
});
