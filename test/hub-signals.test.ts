// Who may send a signal, and how a receiver knows who did: the real ls-hubd with the shipped policy, senders as
// uid 65534 (luna-send-pub -s, and a raw peer that writes forged sender fields into its frame), root senders, and
// the service the signal names. Only the last two get through the hub, each stamped with its kernel-checked sender.
import path from 'node:path';
import { spawn } from 'node:child_process';
import { LunaClient, type BusSignal } from '../ipc/client';
import { HUB_SERVICE, type Payload } from '../ipc/protocol';
import { track } from './helpers/child-processes';
import { killAll, runLunaSend, startHub, type HubProcess } from './helpers/client-bus';
import { scriptFor } from './helpers/unprivileged';

jest.setTimeout(60000);

const asRoot = process.getuid?.() === 0;
const DEVMODE = 'com.webos.service.devmode';
const SIGNAL = `luna://${DEVMODE}/devModeChanged`;
const HOSTILE = path.join(__dirname, 'helpers', 'hostile-peers.js');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let hub: HubProcess;
beforeAll(async () => {
  hub = await startHub();
});
afterAll(async () => {
  await hub?.stop();
  killAll();
});

/** Send the signal with forged sender fields from a raw peer running as uid 65534; resolves once it is out. */
async function forgedSignal(payload: Payload): Promise<void> {
  const proc = track(spawn(process.execPath, [scriptFor(HOSTILE, 65534), 'signal', '--socket', hub.socketPath, '--uri', SIGNAL, '--payload', JSON.stringify(payload)],
    { stdio: ['pipe', 'pipe', 'pipe'], uid: 65534, gid: 65534, cwd: '/tmp' }));
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('SENT\n')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`hostile-peers exited ${code}: ${err}`)));
  });
  proc.stdin!.end();
}

(asRoot ? describe : describe.skip)('signals carry their kernel-checked sender, and only the named service (or root) sends them', () => {
  test('a devModeChanged faked by uid 65534 reaches nobody; the real one arrives stamped, and `from` keeps only it', async () => {
    const listener = await LunaClient.connect({ socketPath: hub.socketPath });
    const raw: Payload[] = [];
    const rawSub = listener.call(`luna://${HUB_SERVICE}/signal/addmatch`, { category: '/', method: 'devModeChanged' }).subscribe((p) => raw.push(p));
    const all: BusSignal[] = [];
    const trusted: BusSignal[] = [];
    const allSub = listener.signals('/', 'devModeChanged').subscribe((s) => all.push(s));
    const trustedSub = listener.signals('/', 'devModeChanged', { from: DEVMODE }).subscribe((s) => trusted.push(s));
    for (let i = 0; i < 100 && raw.length === 0; i++) await sleep(10); // addmatch answered: the matches are in place
    expect(raw).toEqual([{ returnValue: true }]);

    // uid 65534: with luna-send-pub -s (anonymous), and with forged sender fields in the frame
    const r = await runLunaSend(['-s', SIGNAL, '{"enabled":true,"fake":1}'], { socketPath: hub.socketPath, pub: true, spawn: { uid: 65534, gid: 65534 } });
    expect(r.code).toBe(0);
    await forgedSignal({ enabled: true, fake: 2 });
    await hubLog(/uid 65534 .*: signal luna:\/\/com\.webos\.service\.devmode\/devModeChanged dropped: only the service it names/);
    // root registered under another name may send it (root may), but it is stamped as what it is
    const other = await LunaClient.connect({ socketPath: hub.socketPath, name: 'com.example.other' });
    other.sendSignal(SIGNAL, { enabled: true, fake: 3 });
    // the service the signal names
    const devmode = await LunaClient.connect({ socketPath: hub.socketPath, name: DEVMODE });
    devmode.sendSignal(SIGNAL, { enabled: false });
    for (let i = 0; i < 200 && trusted.length === 0; i++) await sleep(10);

    // nothing of 65534's arrived, not even to a plain addmatch; a plain addmatch still gets payloads only
    expect(raw).toEqual([{ returnValue: true }, { enabled: true, fake: 3 }, { enabled: false }]);
    expect(all).toEqual([
      { sender: 'com.example.other', senderId: other.uniqueId, senderUid: 0, payload: { enabled: true, fake: 3 } },
      { sender: DEVMODE, senderId: devmode.uniqueId, senderUid: 0, payload: { enabled: false } },
    ]);
    expect(trusted).toEqual([{ sender: DEVMODE, senderId: devmode.uniqueId, senderUid: 0, payload: { enabled: false } }]);
    // the hub logs one line per offending connection, not one per signal
    expect(hub.stderr().match(/devModeChanged dropped/g)).toHaveLength(2);

    rawSub.unsubscribe();
    allSub.unsubscribe();
    trustedSub.unsubscribe();
    await Promise.all([listener.close(), other.close(), devmode.close()]);
  });

  test('root may send any signal with luna-send -s; it arrives stamped with luna-send\'s own name and uid 0', async () => {
    const listener = await LunaClient.connect({ socketPath: hub.socketPath });
    const got: BusSignal[] = [];
    const sub = listener.signals('/test', 'ping').subscribe((s) => got.push(s));
    await sleep(100);
    const r = await runLunaSend(['-s', 'luna://com.example.x/test/ping', '{"n":1}'], { socketPath: hub.socketPath });
    expect(r.code).toBe(0);
    for (let i = 0; i < 200 && got.length === 0; i++) await sleep(10);
    expect(got).toEqual([{ sender: expect.stringMatching(/^com\.webos\.lunasend-\d+$/), senderId: expect.stringMatching(/^:1\.\d+$/), senderUid: 0, payload: { n: 1 } }]);
    sub.unsubscribe();
    await listener.close();
  });
});

async function hubLog(re: RegExp): Promise<void> {
  for (let i = 0; i < 400 && !re.test(hub.stderr()); i++) await sleep(25);
  expect(hub.stderr()).toMatch(re);
}
