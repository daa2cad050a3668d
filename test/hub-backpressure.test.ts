// A caller flooding a slow but well-behaved service is made to wait (the hub stops reading it); the service is
// not dropped for a queue it did not cause. The flooding caller is a separate process, so it is not slowed by
// the service this test plays.
import { spawn } from 'node:child_process';
import { spawnHub, type HubProcess } from './helpers/hub-process';
import { RawPeer, type Frame } from './helpers/hub-raw-peer';

const SERVICE = 'com.test.slow';
const CALLS = 300;

/** Node code of the flooding caller: CALLS calls of 100 KiB at once to SERVICE; prints how many replies were answers. */
const flood = (service: string) => FLOOD.split(SERVICE).join(service);
const FLOOD = `
const s = require('net').connect(process.argv[1]);
const big = 'b'.repeat(100 * 1024);
let buf = '', replies = 0, answers = 0;
s.on('connect', () => {
  s.write('{"t":"hello"}\\n');
  for (let i = 1; i <= ${CALLS}; i++) s.write(JSON.stringify({ t: 'call', token: i, uri: 'luna://${SERVICE}/echo', payload: { i, big } }) + '\\n');
});
s.on('data', (d) => {
  buf += d;
  let nl;
  while ((nl = buf.indexOf('\\n')) >= 0) {
    const f = JSON.parse(buf.slice(0, nl));
    buf = buf.slice(nl + 1);
    if (f.t !== 'reply') continue;
    replies++;
    if (f.payload.returnValue === true) answers++;
    if (replies === ${CALLS}) { process.stdout.write(String(answers)); process.exit(0); }
  }
});
s.on('close', () => { process.stdout.write('closed after ' + replies); process.exit(0); });
`;

let hub: HubProcess;

beforeAll(async () => {
  hub = await spawnHub(['--max-queued-bytes', String(4 * 1024 * 1024), '--max-drain-wait-ms', '1000']);
});

afterAll(async () => {
  if (hub) expect(await hub.stop()).toBe(0);
});

it('a caller whose calls pile up at a slow service waits; the service stays connected and answers every call', async () => {
  const svc = await RawPeer.hello(hub.socketPath, SERVICE);
  svc.onFrame = (f: Frame) => {
    svc.frames.length = 0;
    if (f.t !== 'call') return;
    const until = Date.now() + 2; // a slow service: 2 ms per call, ~30 MB of calls coming in
    while (Date.now() < until) { /* busy */ }
    svc.send({ t: 'reply', token: f.token, payload: { returnValue: true }, last: true });
  };
  svc.send({ t: 'methods', category: '/', methods: ['echo'] });
  await new Promise((r) => setTimeout(r, 100));
  const child = spawn(process.execPath, ['-e', FLOOD, hub.socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise((r) => child.on('exit', r));
  expect(out).toBe(String(CALLS));
  expect(svc.closed).toBe(false);
  expect(hub.log()).not.toMatch(/closed com\.test\.slow/);
  svc.destroy();
});

it('a service that never reads does not stall its callers for ever: past the drain wait it is dropped and they carry on', async () => {
  const deaf = await RawPeer.hello(hub.socketPath, 'com.test.deaf');
  deaf.send({ t: 'methods', category: '/', methods: ['echo'] });
  await new Promise((r) => setTimeout(r, 100));
  deaf.socket.pause(); // registered, then never reads again
  const child = spawn(process.execPath, ['-e', flood('com.test.deaf'), hub.socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise((r) => child.on('exit', r));
  // Every call got a reply (none an answer: the service was dropped), so the caller was released and read again.
  expect(out).toBe('0');
  expect(hub.log()).toMatch(/com\.test\.deaf[^\n]*not drained in 1000 ms while callers wait/);
  deaf.destroy();
});
