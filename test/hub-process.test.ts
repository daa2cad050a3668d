// Peers as real processes that die: a killed service's open calls end with "X is not running.", a killed
// subscriber's calls are cancelled at the service, and registerServerStatus follows the service down and up.
import { spawn, ChildProcess } from 'node:child_process';
import { HUB_SERVICE } from '../ipc/protocol';
import { BusErrorCode, BusErrorText } from '../status-codes';
import { spawnHub, HubProcess } from './helpers/hub-process';
import { RawPeer } from './helpers/hub-raw-peer';

jest.setTimeout(60000);

/** A peer process speaking raw NDJSON: `service NAME` (holds every call; answers `sub` once and keeps it open)
 *  or `subscriber URI` (calls it and keeps the call open). Prints "ready" when in place. */
const PEER_PROGRAM = `
const net = require('net');
const [sock, role, arg] = process.argv.slice(1);
const s = net.connect(sock);
const send = (f) => s.write(JSON.stringify(f) + '\\n');
let buf = '';
s.setEncoding('utf8');
s.on('data', (d) => {
  buf += d;
  let nl;
  while ((nl = buf.indexOf('\\n')) >= 0) {
    const f = JSON.parse(buf.slice(0, nl));
    buf = buf.slice(nl + 1);
    if (f.t === 'welcome' && role === 'service') {
      send({ t: 'methods', category: '/', methods: ['hold', 'sub'] });
      send({ t: 'call', token: 1, uri: 'luna://${HUB_SERVICE}/isCallAllowed', payload: { uri: 'luna://a.b/c', requester: 'a.b' } });
    } else if (f.t === 'welcome') {
      send({ t: 'call', token: 1, uri: arg, payload: { subscribe: true } });
    } else if (f.t === 'reply' && f.token === 1) {
      process.stdout.write('ready\\n');
    } else if (f.t === 'call' && f.method === 'sub') {
      send({ t: 'reply', token: f.token, payload: { returnValue: true, subscribed: true } });
    }
  }
});
s.on('connect', () => send({ t: 'hello', name: role === 'service' ? arg : null }));
s.on('close', () => process.exit(0));
`;

function spawnPeer(socketPath: string, role: 'service' | 'subscriber', arg: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', PEER_PROGRAM, socketPath, role, arg], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve(child));
    child.on('exit', (code) => reject(new Error(`${role} exited early (${code})`)));
  });
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.on('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

let hub: HubProcess;
const children: ChildProcess[] = [];
beforeAll(async () => {
  hub = await spawnHub();
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  if (hub) expect(await hub.stop()).toBe(0);
});

it('a killed service: its open calls get "X is not running."; registerServerStatus reports down and up', async () => {
  const name = 'com.test.victim';
  const watcher = await RawPeer.hello(hub.socketPath, null);
  const st = watcher.call(`luna://${HUB_SERVICE}/signal/registerServerStatus`, { serviceName: name });
  expect((await watcher.reply(st)).payload).toEqual({ serviceName: name, connected: false });

  const svc = await spawnPeer(hub.socketPath, 'service', name);
  children.push(svc);
  expect((await watcher.reply(st)).payload).toEqual({ serviceName: name, connected: true });

  const caller = await RawPeer.hello(hub.socketPath, null);
  const held = [caller.call(`luna://${name}/hold`, {}), caller.call(`luna://${name}/hold`, {}), caller.call(`luna://${name}/sub`, { subscribe: true })];
  expect((await caller.reply(held[2])).payload).toEqual({ returnValue: true, subscribed: true });

  await kill(svc);
  const down = { returnValue: false, errorCode: BusErrorCode.GENERAL, errorText: BusErrorText.serviceNotRunning(name), serviceName: name };
  for (const t of held) expect(await caller.reply(t)).toEqual({ t: 'reply', token: t, payload: down, last: true });
  expect((await watcher.reply(st)).payload).toEqual({ serviceName: name, connected: false });
  // now gone: a new call is refused at the hub (the name is in no service file)
  expect(await caller.callOne(`luna://${name}/hold`, {})).toEqual({
    returnValue: false, errorCode: BusErrorCode.GENERAL, errorText: BusErrorText.serviceDoesNotExist(name),
  });

  const again = await spawnPeer(hub.socketPath, 'service', name);
  children.push(again);
  expect((await watcher.reply(st)).payload).toEqual({ serviceName: name, connected: true });
  const t = caller.call(`luna://${name}/sub`, {});
  expect((await caller.reply(t)).payload).toEqual({ returnValue: true, subscribed: true });
  caller.destroy();
  watcher.destroy();
  await kill(again);
});

it('a killed subscriber: the service gets a cancel for its call', async () => {
  const name = 'com.test.publisher';
  const svc = await RawPeer.hello(hub.socketPath, name);
  svc.send({ t: 'methods', category: '/', methods: ['sub'] });
  await svc.callOne(`luna://${HUB_SERVICE}/isCallAllowed`, { uri: 'luna://a.b/c', requester: 'a.b' });
  let callToken = -1;
  svc.onFrame = (f) => {
    if (f.t === 'call') {
      callToken = f.token;
      svc.send({ t: 'reply', token: f.token, payload: { returnValue: true, subscribed: true } });
    }
  };
  const sub = await spawnPeer(hub.socketPath, 'subscriber', `luna://${name}/sub`);
  children.push(sub);
  expect(callToken).toBeGreaterThan(0);
  svc.send({ t: 'reply', token: callToken, payload: { push: 1 } }); // a push to a live subscriber: fine
  await kill(sub);
  expect(await svc.next((f) => f.t === 'cancel')).toEqual({ t: 'cancel', token: callToken });
  svc.send({ t: 'reply', token: callToken, payload: { push: 2 } }); // a push racing the cancel: dropped quietly
  expect(await svc.callOne(`luna://${HUB_SERVICE}/isCallAllowed`, { uri: 'luna://a.b/c', requester: 'a.b' })).toMatchObject({ returnValue: true });
  expect(svc.closed).toBe(false);
  svc.destroy();
});
