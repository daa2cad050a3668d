// The `appinstall` CLI as a person runs it: real daemon, real CLI processes, a real terminal (tmux) for the progress
// bar, pipes for plain lines and --json, and every subcommand (engine/feeds ones guarded by whether the daemon offers them).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { ErrorText } from '../status-codes';
import { CliText, ExitCode } from '../status-codes/cli';
import { overallPercent } from '../appinstall-cli/render';
import { track } from './helpers/child-processes';
import { ensureTool } from '../bench/debian-tool';
import { REPO, call, killAllChildren, makeIpk, startDaemon, type Daemon, type Json } from './helpers/appinstall-daemon';

const CLI = path.join(REPO, 'dist/appinstall-cli/appinstall.js');
const AS = 'luna://com.webos.appInstallService';
const PKG = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };

interface Run { code: number | null; stdout: string; stderr: string }

function cli(root: string, args: string[], limitMs = 30000, opts: { uid?: number; env?: NodeJS.ProcessEnv; onSpawn?(p: ChildProcess): void } = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, APPINSTALLD_ROOT: root, ...opts.env };
  if (!opts.env?.LUNA_HUB_SOCKET) delete env.LUNA_HUB_SOCKET;
  const ids = opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {};
  const proc = track(spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env, cwd: '/tmp', ...ids }));
  opts.onSpawn?.(proc);
  let stdout = '', stderr = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  proc.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`appinstall ${args.join(' ')} hung; ${stdout} ${stderr}`)); }, limitMs);
    proc.once('exit', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
  });
}

/** Does the daemon have this method yet? (The engine and feeds methods land with their branches.) */
async function offers(root: string, method: string, payload: Json = {}): Promise<boolean> {
  const r = await call(root, `${AS}/${method}`, payload);
  return !(r.returnValue === false && /^Unknown method "/.test(String(r.errorText)));
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

describe('engine and feeds subcommands', () => {
  // Each runs for real when the daemon offers its method; until the engine and feeds branches merge, this branch's
  // daemon does not, and the CLI must say so in words and exit 1 (no crash, no hang). The `offered` branches become
  // live when the engine branch merges.
  const cases: Array<{ args: () => string[]; method: string; payload?: Json; code?: number; check(r: Run): void }> = [
    { args: () => ['list'], method: 'installed', check: (r) => expect(r.stdout).toMatch(/^com\.example\.cli +2\.0\.0/m) },
    { args: () => ['list', '--json'], method: 'installed', check: (r) => expect(JSON.parse(r.stdout).packages).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'com.example.cli' })])) },
    { args: () => ['list', '--firmware', '--json'], method: 'installed', check: (r) => expect(Array.isArray(JSON.parse(r.stdout).packages)).toBe(true) },
    { args: () => ['list', '--available', '--json'], method: 'catalog/list', check: (r) => expect(Array.isArray(JSON.parse(r.stdout).packages)).toBe(true) },
    { args: () => ['list', '--upgradable'], method: 'catalog/list', check: (r) => expect(r.stdout).toMatch(/^NAME +INSTALLED/) },
    { args: () => ['search', 'cli', '--json'], method: 'catalog/list', check: (r) => expect(Array.isArray(JSON.parse(r.stdout).packages)).toBe(true) },
    { args: () => ['feeds', '--json'], method: 'feeds/list', check: (r) => expect(Array.isArray(JSON.parse(r.stdout).feeds)).toBe(true) },
    { args: () => ['refresh'], method: 'feeds/refresh', check: (r) => expect(r.stdout).toMatch(/^feeds refresh(ed| started \(operation \S+; this daemon cannot report its end\))\n$/m) },
    { args: () => ['tasks', '--json'], method: 'operations/list', check: (r) => expect(JSON.parse(r.stdout).operations.length).toBeGreaterThan(0) },
    // No feed is configured here: the upgrade of a name no feed has fails, with the daemon's reason in words.
    { args: () => ['upgrade', 'com.example.cli'], method: 'catalog/install', payload: { name: 'com.example.nothing' }, code: ExitCode.FAILURE,
      check: (r) => expect(r.stderr).toMatch(/^appinstall: (install of com\.example\.cli failed|\/catalog\/install failed): ./) },
    { args: () => ['upgrade', '--all'], method: 'catalog/list', check: (r) => expect(r.stdout).toMatch(/nothing to upgrade|installed/) },
  ];
  test.each(cases.map((c) => [c.args().join(' '), c] as const))('%s', async (_name, c) => {
    const r = await cli(d.root, c.args());
    if (await offers(d.root, c.method, c.payload)) {
      if (!c.code) expect(r.stderr).toBe('');
      expect(r.code).toBe(c.code ?? 0);
      c.check(r);
    } else {
      expect(r.code).toBe(ExitCode.FAILURE);
      const [category, method] = c.method.includes('/') ? c.method.split('/') : ['', c.method];
      expect(r.stderr).toBe(`appinstall: this daemon does not offer /${c.method} (Unknown method "${method}" for category "/${category}")\n`);
    }
  });

  test('tasks, log, log -f and cancel of a real operation', async () => {
    if (!(await offers(d.root, 'operations/list'))) {
      for (const args of [['tasks'], ['log', 'h1'], ['log', 'h1', '-f'], ['cancel', 'h1']]) {
        const r = await cli(d.root, args);
        expect(r.code).toBe(ExitCode.FAILURE);
        expect(r.stderr).toMatch(/^appinstall: this daemon does not offer \/operations\/(list|get|cancel) \(Unknown method/);
      }
      return;
    }
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
    if (!(await offers(d.root, 'lock', { id: 'x', reason: 'r', owner: 'o' }))) {
      const l = await cli(d.root, ['lock', 'com.example.cli', '--reason', 'exam', '--owner', 'ops']);
      expect(l.code).toBe(ExitCode.FAILURE);
      expect(l.stderr).toBe('appinstall: this daemon does not offer /lock (Unknown method "lock" for category "/")\n');
      const u = await cli(d.root, ['unlock', 'h1']);
      expect(u.code).toBe(ExitCode.FAILURE);
      expect(u.stderr).toBe('appinstall: this daemon does not offer /unlock (Unknown method "unlock" for category "/")\n');
      return;
    }
    const l = await cli(d.root, ['lock', 'com.example.cli', '--reason', 'exam', '--owner', 'ops', '--json']);
    expect(l.code).toBe(0);
    const { handle } = JSON.parse(l.stdout);
    expect(typeof handle).toBe('string');
    const u = await cli(d.root, ['unlock', handle]);
    expect(u.code).toBe(0);
  });

  test('install by URL (download) and by feed name', async () => {
    const server = http.createServer((req, res) => {
      if (req.url === '/com.example.web_1.0.0_all.ipk') { res.writeHead(200); fs.createReadStream(ipk.replace('com.example.cli_2.0.0', 'com.example.web_1.0.0')).pipe(res); }
      else { res.writeHead(404); res.end(); }
    });
    await makeIpk(work, 'com.example.web', '1.0.0').then((f) => fs.renameSync(f, path.join(path.dirname(ipk), 'com.example.web_1.0.0.ipk')));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const byUrl = await cli(d.root, ['install', `${base}/com.example.web_1.0.0_all.ipk`]);
      const missing = await cli(d.root, ['install', `${base}/com.example.none_1.0.0_all.ipk`]);
      const byName = await cli(d.root, ['install', 'com.example.notinanyfeed']);
      const downloads = await offers(d.root, 'catalog/install', { name: 'x' });
      if (downloads) {
        // Live with the engine branch: 7, 8, 10, then the local stages; a 404 is a failed download (23) with its reason.
        expect(byUrl.code).toBe(0);
        expect(byUrl.stdout).toMatch(/com\.example\.web installed\n$/);
        expect(missing.code).toBe(ExitCode.FAILURE);
        expect(missing.stderr).toMatch(/^appinstall: install of com\.example\.none failed: /);
        expect(byName.code).toBe(ExitCode.FAILURE);
        expect(byName.stderr).toMatch(/^appinstall: /);
      } else {
        // Today /install takes only local paths: the daemon's validation text, in words, exit 1.
        expect(byUrl.code).toBe(ExitCode.FAILURE);
        expect(byUrl.stderr).toBe(`appinstall: /install failed: ${ErrorText.INVALID_IPKURL}\n`);
        expect(byName.code).toBe(ExitCode.FAILURE);
        expect(byName.stderr).toBe('appinstall: this daemon does not offer /catalog/install (Unknown method "install" for category "/catalog")\n');
      }
    } finally {
      server.close();
    }
  });
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
