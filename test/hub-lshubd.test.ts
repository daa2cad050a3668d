// The ls-hubd entry point as a process (signals, a second hub, a stale socket, bad arguments), its argument
// parsing, and the kernel identity the hub reads for each peer (including fail-closed when it cannot).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseHubArgs } from '../ipc/ls-hubd';
import { UNKNOWN_PEER, exeOf, peerIdentity, readPeerCredentials } from '../ipc/peer-credentials';
import { spawnHub, LS_HUBD } from './helpers/hub-process';
import { NOBODY } from './helpers/unprivileged';

jest.setTimeout(60000);

describe('parseHubArgs', () => {
  it('reads root, socket and limits', () => {
    expect(parseHubArgs(['--root', '/r', '--socket', '/s', '--max-connections', '5', '--max-frame-bytes', '1024'])).toEqual({
      root: '/r', socketPath: '/s', limits: { maxConnections: 5, maxFrameBytes: 1024 },
    });
    expect(parseHubArgs(['--root', 'rel']).root).toBe(path.resolve('rel'));
  });

  it('reads the per-uid quotas, the root reserve (0 allowed) and the hello timeout', () => {
    expect(parseHubArgs(['--reserved-connections', '0', '--max-connections-per-uid', '7', '--hello-timeout-ms', '500',
      '--max-outstanding-calls-per-uid', '8', '--max-subscriptions-per-uid', '9', '--max-queued-bytes-per-uid', '10',
      '--max-hub-queued-bytes', '11']).limits).toEqual({
      reservedConnections: 0, maxConnectionsPerUid: 7, helloTimeoutMs: 500, maxOutstandingCallsPerUid: 8,
      maxSubscriptionsPerUid: 9, maxQueuedBytesPerUid: 10, maxQueuedBytes: 11,
    });
  });

  it.each([
    [['--bogus'], 'unknown option --bogus'],
    [['--root'], '--root needs a value'],
    [['--max-queued-bytes', '0'], '--max-queued-bytes needs a positive integer, got "0"'],
    [['--max-outstanding-calls', 'lots'], '--max-outstanding-calls needs a positive integer, got "lots"'],
    [['--reserved-connections', '-1'], '--reserved-connections needs a non-negative integer, got "-1"'],
    [['--hello-timeout-ms', '0'], '--hello-timeout-ms needs a positive integer, got "0"'],
  ])('%j → %s', (argv, msg) => {
    expect(() => parseHubArgs(argv)).toThrow(msg);
  });
});

describe('ls-hubd process', () => {
  it('SIGHUP reloads, a second hub on the same socket fails clearly, SIGTERM removes the socket', async () => {
    const hub = await spawnHub();
    hub.proc.kill('SIGHUP');
    await hub.waitLog(/security policy reloaded/);
    const second = spawnSync(process.execPath, [LS_HUBD, '--root', hub.root, '--socket', hub.socketPath], { encoding: 'utf8' });
    expect(second.status).toBe(1);
    expect(second.stderr).toContain(`ls-hubd: cannot start: A hub is already listening on ${hub.socketPath}`);
    expect(fs.statSync(hub.socketPath).mode & 0o777).toBe(0o666);
    const sock = hub.socketPath;
    hub.proc.kill('SIGTERM');
    await hub.waitLog(/stopped/);
    await new Promise((r) => hub.proc.on('exit', r));
    expect(hub.proc.exitCode).toBe(0);
    expect(fs.existsSync(sock)).toBe(false);
    await hub.stop();
  });

  it('after a crash (SIGKILL) the next hub removes the stale socket and starts', async () => {
    const hub = await spawnHub();
    hub.proc.kill('SIGKILL');
    await new Promise((r) => hub.proc.on('exit', r));
    expect(fs.existsSync(hub.socketPath)).toBe(true);
    const next = spawn(process.execPath, [LS_HUBD, '--root', hub.root, '--socket', hub.socketPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    await new Promise<void>((resolve) => next.stderr!.on('data', (d) => {
      log += d;
      if (log.includes('listening on')) resolve();
    }));
    expect(log).toContain(`removed stale socket ${hub.socketPath}`);
    next.kill('SIGTERM');
    await new Promise((r) => next.on('exit', r));
    await hub.stop();
  });

  it('bad arguments exit 2 with the usage', () => {
    const r = spawnSync(process.execPath, [LS_HUBD, '--max-connections', 'x'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--max-connections needs a positive integer');
    expect(r.stderr).toContain('usage: ls-hubd');
  });

  it('a socket path too long for a Unix socket is a clear error', () => {
    const r = spawnSync(process.execPath, [LS_HUBD, '--root', '/tmp', '--socket', '/tmp/' + 'x'.repeat(200)], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cannot start: Socket path is 205 bytes, longer than the 107/);
  });
});

describe('peer identity', () => {
  it('is the kernel identity of the connecting process, here a process running as nobody', async () => {
    const hub = await spawnHub();
    fs.chmodSync(hub.root, 0o755); // let nobody reach the socket
    const program = `const s = require('net').connect(process.argv[1], () => s.write('{"t":"hello"}\\n'));
      s.on('data', (d) => { process.stdout.write(d); s.destroy(); });`;
    const r = spawnSync(process.execPath, ['-e', program, hub.socketPath], { encoding: 'utf8', cwd: '/tmp', ...NOBODY });
    const welcome = JSON.parse(r.stdout);
    expect(welcome).toMatchObject({ t: 'welcome', name: null, peer: { uid: 65534, gid: 65534, exe: fs.realpathSync(process.execPath) } });
    expect(welcome.peer.pid).toBeGreaterThan(0);
    expect(await hub.stop()).toBe(0);
  });

  it('fails closed to nobody with no executable when credentials cannot be read', () => {
    const reasons: string[] = [];
    expect(peerIdentity({} as net.Socket, (why) => reasons.push(why))).toEqual(UNKNOWN_PEER);
    expect(UNKNOWN_PEER).toEqual({ pid: 0, uid: 65534, gid: 65534, exe: null });
    const fd = fs.openSync(__filename, 'r'); // not a socket: the kernel refuses SO_PEERCRED
    try {
      expect(() => readPeerCredentials(fd)).toThrow(/SO_PEERCRED/);
      expect(peerIdentity({ _handle: { fd } } as unknown as net.Socket, (why) => reasons.push(why))).toEqual(UNKNOWN_PEER);
    } finally {
      fs.closeSync(fd);
    }
    expect(reasons).toEqual(['socket has no file descriptor', expect.stringMatching(/getsockopt\(SO_PEERCRED\) failed/)]);
    expect(exeOf(process.pid)).toBe(fs.realpathSync(process.execPath));
    expect(exeOf(0)).toBeNull();
    expect(exeOf(2 ** 30)).toBeNull();
  });
});
