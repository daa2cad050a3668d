// luna-send and luna-send-pub as real processes against a real hub (ls-hubd) and the real test service:
// every option of docs/luna-send.md with its exact output format and exit code.
import { spawnSync } from 'node:child_process';
import { LunaSendText } from '../status-codes';
const { MISSING_MODE_WARNING } = LunaSendText;
import { BusErrorText } from '../status-codes';
import {
  DIST, killAll, runLunaSend, startHub, startLunaSend, startTestService, type HubProcess, type ServiceProcess,
} from './helpers/client-bus';
import { NOBODY } from './helpers/unprivileged';

const T = 'luna://com.example.test';
let hub: HubProcess;
let svc: ServiceProcess;

beforeAll(async () => {
  // The test service's `caller` method is public, so a call made as an app (-a) may reach it.
  hub = await startHub({ extraApiPermissions: { public: ['com.example.test/caller'] } });
  svc = await startTestService(hub.socketPath);
}, 30000);
afterAll(async () => {
  await svc?.stop();
  await hub?.stop();
  killAll();
});

const ls = (args: string[], opts: Parameters<typeof runLunaSend>[1] = {}) => runLunaSend(args, { socketPath: hub.socketPath, ...opts });
const start = (args: string[], opts: Parameters<typeof startLunaSend>[1] = {}) => startLunaSend(args, { socketPath: hub.socketPath, ...opts });

interface Stats { watchers: number; counters: number; cancels: number; calls: Record<string, number> }
async function stats(): Promise<Stats> {
  const r = await ls(['-n', '1', `${T}/stats`, '{}']);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}
/** Poll the service's counts until `ok` holds (bounded: the cancel travels through two processes). */
async function statsUntil(ok: (s: Stats) => boolean): Promise<Stats> {
  let s = await stats();
  for (let i = 0; i < 100 && !ok(s); i++) {
    await new Promise((r) => setTimeout(r, 30));
    s = await stats();
  }
  return s;
}

describe('plain calls', () => {
  test('-n 1 prints the reply as compact JSON on its own line, exit 0', async () => {
    const r = await ls(['-n', '1', `${T}/echo`, '{"a":1, "b": {"c": [1, 2]}}']);
    expect(r).toMatchObject({ code: 0, stdout: '{"returnValue":true,"a":1,"b":{"c":[1,2]}}\n', stderr: '' });
  });

  test('a reply with returnValue:false still exits 0', async () => {
    const r = await ls(['-n', '1', `${T}/fail`, '{"code":-7,"text":"nope"}']);
    expect(r).toMatchObject({ code: 0, stdout: '{"returnValue":false,"errorCode":-7,"errorText":"nope","subscribed":false}\n' });
  });

  test('schema failures and bus errors arrive as replies naming the key / method', async () => {
    const typed = await ls(['-n', '1', `${T}/typed`, '{"id":5}']);
    expect(JSON.parse(typed.stdout)).toEqual({ returnValue: false, errorCode: -2, errorText: 'Invalid parameter: "id" must be string' });
    const unknown = await ls(['-n', '1', `${T}/dev/nope`, '{}']);
    expect(JSON.parse(unknown.stdout)).toEqual({ returnValue: false, errorCode: -1, errorText: BusErrorText.unknownMethod('nope', '/dev') });
    const cat = await ls(['-n', '1', `palm://com.example.test/dev/ping`, '{}']);
    expect(JSON.parse(cat.stdout)).toEqual({ returnValue: true, category: '/dev', method: 'ping' });
  });

  test('without -i, -n, -s or -t: the WARNING on stderr, exit 1, and nothing is sent', async () => {
    const before = (await stats()).calls.echo ?? 0;
    const r = await ls([`${T}/echo`, '{}']);
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: MISSING_MODE_WARNING + '\n' });
    expect(MISSING_MODE_WARNING).toBe('WARNING: you must always call luna-send with "-i" or "-n". Exiting with failure return code.');
    expect((await stats()).calls.echo ?? 0).toBe(before);
  });

  test('-h prints the usage on stdout and exits 0 (both commands)', async () => {
    const a = await ls(['-h']);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/^Usage: luna-send \[options\] URI JSON\n/);
    for (const opt of ['-n N', '-i', '-f', '-l', '-q PATH', '-w MS', '-t N', '-s', '-a APPID', '-m NAME', '-d', '-P']) expect(a.stdout).toContain(`  ${opt} `);
    const b = await ls(['-h'], { pub: true });
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/^Usage: luna-send-pub /);
    expect(b.stdout).toContain('com.webos.lunasendpub-<pid>');
  });

  test('-P warns on stderr and is otherwise ignored', async () => {
    const r = await ls(['-P', '-n', '1', `${T}/echo`, '{}']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('{"returnValue":true}\n');
    expect(r.stderr).toMatch(/-P is deprecated/);
  });

  test('bad URI, bad JSON, bad options: a clear error on stderr, exit 1', async () => {
    const cases: [string[], string][] = [
      [['-n', '1', 'luna://nodots/m', '{}'], 'luna-send: Invalid URI "luna://nodots/m": service name "nodots" must contain at least one "."\n'],
      [['-n', '1', `${T}/echo`, ''], `luna-send: ${BusErrorText.emptyPayload}\n`],
      [['-n', '1', `${T}/echo`, '[1]'], `luna-send: ${BusErrorText.payloadNotObject}\n`],
      [['-n', '1', `${T}/echo`], 'luna-send: missing JSON payload\n'],
    ];
    for (const [args, err] of cases) {
      const r = await ls(args);
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 1, stdout: '' });
      expect(r.stderr.startsWith(err)).toBe(true);
    }
    const malformed = await ls(['-n', '1', `${T}/echo`, '{"a":']);
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toMatch(/^luna-send: Malformed JSON payload: /);
    const opt = await ls(['-z', `${T}/echo`, '{}']);
    expect(opt.code).toBe(1);
    expect(opt.stderr).toMatch(/^luna-send: unknown option -z\n/);
  });
});

describe('formatting options', () => {
  test('-f pretty-prints with a 4-space indent', async () => {
    const r = await ls(['-f', '-n', '1', `${T}/echo`, '{"a":[1,{"b":"x"}]}']);
    expect(r.stdout).toBe('{\n    "returnValue": true,\n    "a": [\n        1,\n        {\n            "b": "x"\n        }\n    ]\n}\n');
  });

  test('-l prefixes each reply with its index (%2d: ), also with -f', async () => {
    const r = await ls(['-l', '-n', '3', `${T}/counter`, '{"count":5,"intervalMs":5,"subscribe":true}']);
    expect(r.stdout).toBe(' 0: {"returnValue":true,"subscribed":true,"n":0}\n 1: {"n":1}\n 2: {"n":2}\n');
    const f = await ls(['-lf', '-n', '2', `${T}/counter`, '{"count":5,"intervalMs":5,"subscribe":true}']);
    expect(f.stdout).toBe(' 0: {\n        "returnValue": true,\n        "subscribed": true,\n        "n": 0\n    }\n 1: {\n        "n": 1\n    }\n');
  });

  test('-q (repeatable) prints only {"PATH": value}; absent paths are null', async () => {
    const r = await ls(['-n', '1', '-q', 'a.b[2].c', '-q', 'returnValue', '-q', 'nope.x', `${T}/echo`, '{"a":{"b":[0,1,{"c":"deep"}]}}']);
    expect(r.stdout).toBe('{"a.b[2].c":"deep","returnValue":true,"nope.x":null}\n');
  });

  // luna-send's pretty printer (luna-send/output.ts prettyPrint) puts the brackets of an empty object or array on
  // lines of their own, at the enclosing indent, where JSON.stringify would write {} / [].
  const EMPTIES = '{"o":{},"a":[],"n":{"x":{},"y":[[],{}]}}';
  test('-f: empty objects and arrays open and close on lines of their own, also nested', async () => {
    const r = await ls(['-f', '-n', '1', `${T}/echo`, EMPTIES]);
    expect(r.stdout).toBe([
      '{',
      '    "returnValue": true,',
      '    "o": {',
      '    },',
      '    "a": [',
      '    ],',
      '    "n": {',
      '        "x": {',
      '        },',
      '        "y": [',
      '            [',
      '            ],',
      '            {',
      '            }',
      '        ]',
      '    }',
      '}',
      '',
    ].join('\n'));
    const l = await ls(['-lf', '-n', '1', `${T}/echo`, '{"o":{}}']);
    expect(l.stdout).toBe(' 0: {\n        "returnValue": true,\n        "o": {\n        }\n    }\n');
  });

  test('-q picks empties, array elements and nested indexes; paths that miss (wrong type, out of range) are null; -f lays the picks out', async () => {
    const q = ['-q', 'o', '-q', 'a', '-q', 'n.y[0]', '-q', 'n.y[1]', '-q', 'n.y[5]', '-q', 'a.b', '-q', '[0]', '-q', 'n.x.z', '-q', 'm[1][0]'];
    const payload = EMPTIES.replace(/}$/, ',"m":[[1],[[2,3]]]}');
    const compact = await ls(['-n', '1', ...q, `${T}/echo`, payload]);
    expect(compact.stdout).toBe('{"o":{},"a":[],"n.y[0]":[],"n.y[1]":{},"n.y[5]":null,"a.b":null,"[0]":null,"n.x.z":null,"m[1][0]":[2,3]}\n');
    const pretty = await ls(['-f', '-l', '-n', '1', '-q', 'o', '-q', 'n.y', '-q', 'm[1][0]', '-q', 'nope', `${T}/echo`, payload]);
    expect(pretty.stdout).toBe([
      ' 0: {',
      '        "o": {',
      '        },',
      '        "n.y": [',
      '            [',
      '            ],',
      '            {',
      '            }',
      '        ],',
      '        "m[1][0]": [',
      '            2,',
      '            3',
      '        ],',
      '        "nope": null',
      '    }',
      '',
    ].join('\n'));
  });

  test('-d logs the bus frames on stderr', async () => {
    const r = await ls(['-d', '-n', '1', `${T}/echo`, '{}']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('luna-send: -> {"t":"call"');
    expect(r.stderr).toContain('luna-send: <- {"t":"reply"');
  });
});

describe('modes', () => {
  test('-n N: N replies, then the call is cancelled (the service sees the cancel)', async () => {
    const before = await stats();
    const r = await ls(['-n', '2', `${T}/counter`, '{"count":1000,"intervalMs":20,"subscribe":true}']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('{"returnValue":true,"subscribed":true,"n":0}\n{"n":1}\n');
    const after = await statsUntil((s) => s.cancels > before.cancels);
    expect(after.cancels).toBe(before.cancels + 1);
    expect(after.counters).toBe(0);
  });

  test('-n 1 on a subscription: one reply, cancelled', async () => {
    const before = await stats();
    const r = await ls(['-n', '1', `${T}/watch`, '{"subscribe":true}']);
    expect(r.stdout).toBe('{"returnValue":true,"subscribed":true}\n');
    const after = await statsUntil((s) => s.cancels > before.cancels);
    expect(after.watchers).toBe(before.watchers);
  });

  test('-i prints pushes as they come (flushed per reply) and ends on stdin EOF', async () => {
    const before = await stats();
    const run = start(['-i', `${T}/watch`, '{"subscribe":true}']);
    expect(await run.lines(1)).toEqual(['{"returnValue":true,"subscribed":true}']);
    await statsUntil((s) => s.watchers === before.watchers + 1);
    expect(JSON.parse((await ls(['-n', '1', `${T}/notify`, '{"value":7}'])).stdout).delivered).toBe(before.watchers + 1);
    expect((await run.lines(2))[1]).toBe('{"value":7}');
    run.proc.stdin!.end();
    expect(await run.done).toMatchObject({ code: 0, stderr: '' });
    const after = await statsUntil((s) => s.watchers === before.watchers);
    expect(after.watchers).toBe(before.watchers);
  });

  test('a stdin closed from the start (execFileSync without input): -n is not affected; -i still prints the call return', async () => {
    const n = start(['-n', '2', `${T}/counter`, '{"count":5,"intervalMs":5,"subscribe":true}']);
    n.proc.stdin!.end();
    expect(await n.done).toMatchObject({ code: 0, stdout: '{"returnValue":true,"subscribed":true,"n":0}\n{"n":1}\n' });
    const i = start(['-i', `${T}/watch`, '{"subscribe":true}']);
    i.proc.stdin!.end();
    expect(await i.done).toMatchObject({ code: 0, stdout: '{"returnValue":true,"subscribed":true}\n' });
  });

  test.each(['SIGINT', 'SIGTERM'] as const)('-i ends on %s with exit 0', async (sig) => {
    const run = start(['-i', `${T}/watch`, '{"subscribe":true}']);
    await run.lines(1);
    run.proc.kill(sig);
    expect((await run.done).code).toBe(0);
  });

  test('-i ends when the call ends (last reply)', async () => {
    const r = await ls(['-i', `${T}/counter`, '{"count":2,"intervalMs":5,"end":true,"subscribe":true}']);
    expect(r).toMatchObject({ code: 0, stdout: '{"returnValue":true,"subscribed":true,"n":0}\n{"n":1}\n{"n":2}\n' });
  });

  test('-w MS quits after MS even though the subscription stays open and stdin is open', async () => {
    const r = await ls(['-i', '-w', '300', `${T}/watch`, '{"subscribe":true}']);
    expect(r).toMatchObject({ code: 0, stdout: '{"returnValue":true,"subscribed":true}\n' });
  });

  test('-t N calls N times sequentially and prints the timing', async () => {
    const before = (await stats()).calls.echo ?? 0;
    const r = await ls(['-t', '4', `${T}/echo`, '{}']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Total time \d+\.\d\d ms, 4 iterations, \d+\.\d\d ms per iteration\n\d+ bytes sent, \d+ bytes received\n$/);
    expect((await stats()).calls.echo).toBe(before + 4);
  });

  test('-s sends a signal to signal/addmatch listeners', async () => {
    const listener = start(['-i', 'luna://com.webos.service.bus/signal/addmatch', '{"category":"/test","method":"ping"}']);
    await listener.lines(1);
    const other = start(['-i', 'luna://com.webos.service.bus/signal/addmatch', '{"category":"/other"}']);
    await other.lines(1);
    const r = await ls(['-s', `${T}/test/ping`, '{"x":1}']);
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect((await listener.lines(2))[1]).toBe('{"x":1}');
    listener.proc.stdin!.end();
    other.proc.stdin!.end();
    expect((await listener.done).code).toBe(0);
    expect((await other.done).stdout.split('\n').filter(Boolean)).toHaveLength(1);
  });
});

describe('identity', () => {
  test('default names: com.webos.lunasend-<pid> and com.webos.lunasendpub-<pid>; -m NAME', async () => {
    const a = start(['-n', '1', `${T}/caller`, '{}']);
    const ra = await a.done;
    expect(JSON.parse(ra.stdout)).toMatchObject({ sender: `com.webos.lunasend-${a.proc.pid}`, appId: null });
    const b = start(['-n', '1', `${T}/caller`, '{}'], { pub: true });
    expect(JSON.parse((await b.done).stdout)).toMatchObject({ sender: `com.webos.lunasendpub-${b.proc.pid}` });
    const m = await ls(['-m', 'com.example.caller', '-n', '1', `${T}/caller`, '{}']);
    expect(JSON.parse(m.stdout)).toMatchObject({ sender: 'com.example.caller' });
  });

  test('-a APPID is sent with the call', async () => {
    const r = await ls(['-a', 'com.some.app', '-n', '1', `${T}/caller`, '{}']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ returnValue: true, appId: 'com.some.app' });
  });

  (process.getuid?.() === 0 ? test : test.skip)('-a from an unprivileged caller: the hub refuses (-1031), luna-send prints it and exits 0', async () => {
    const r = await ls(['-a', 'com.some.app', '-n', '1', `${T}/caller`, '{}'], { pub: true, spawn: NOBODY });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ returnValue: false, errorCode: -1031, errorText: BusErrorText.notPrivilegedAppCall('com.some.app') });
  });

  (process.getuid?.() === 0 ? test : test.skip)('luna-send (not -pub) as an ordinary user: registration refused (-1027), exit 1 naming the socket', async () => {
    const r = await ls(['-n', '1', `${T}/echo`, '{}'], { spawn: NOBODY });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^luna-send: cannot register as "com\.webos\.lunasend-\d+" on the bus: Invalid permissions for com\.webos\.lunasend-\d+ \(hub socket /);
    expect(r.stderr).toContain(hub.socketPath);
  });

  test('a name that cannot be registered: exit 1 with the reason and the socket path', async () => {
    const r = await ls(['-m', 'com.example.test', '-n', '1', `${T}/echo`, '{}']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(BusErrorText.nameTaken('com.example.test'));
    expect(r.stderr).toContain(hub.socketPath);
  });
});

describe('start-up cost', () => {
  test('luna-send and the client library never load ajv (only services with schemas do)', () => {
    const script = `require(${JSON.stringify(`${DIST}/luna-send/cli.js`)}); require(${JSON.stringify(`${DIST}/ipc/client.js`)});
      process.stdout.write(JSON.stringify(Object.keys(require.cache).filter((k) => k.includes('/node_modules/ajv/'))));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });
});

describe('no hub', () => {
  test('hub not running: exit 1 naming the socket it tried (LUNA_HUB_SOCKET or --root)', async () => {
    const sock = `${hub.root}/no-such-dir/com.palm.hub`;
    const r = await runLunaSend(['-n', '1', `${T}/echo`, '{}'], { env: { LUNA_HUB_SOCKET: sock } });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(sock);
    const env = { ...process.env };
    delete env.LUNA_HUB_SOCKET;
    const viaRoot = await runLunaSend(['--root', `${hub.root}/elsewhere`, '-n', '1', `${T}/echo`, '{}'], { spawn: { env } });
    expect(viaRoot.code).toBe(1);
    expect(viaRoot.stderr).toContain(`${hub.root}/elsewhere/var/run/luna-service2/com.palm.hub`);
  });

  test('hub going away during -i: exit 1 naming the socket', async () => {
    const hub2 = await startHub();
    try {
      const run = startLunaSend(['-i', 'luna://com.webos.service.bus/signal/addmatch', '{"category":"/x"}'], { socketPath: hub2.socketPath });
      await run.lines(1);
      hub2.proc.kill('SIGKILL');
      const r = await run.done;
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(BusErrorText.hubGone(hub2.socketPath));
    } finally {
      await hub2.stop();
    }
  });
});
