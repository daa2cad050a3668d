// Bus benchmark: sequential round trip and pipelined throughput of one call through our hub (client -> ls-hubd
// -> echo service, three processes), beside raw node:net in one hop (client -> echo server, the floor) and
// beside dbus-daemon with dbus-next (client -> daemon -> service). Measures only; judging is figures.ts's job.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type * as DBus from 'dbus-next';
import { LunaClient } from '../ipc/client';
import { FrameDecoder, encodeFrame } from '../ipc/framing';
import { startChild, type BenchChild } from './bench-process';
import { ECHO_URI } from './bus-echo-service';
import { DBUS_DAEMON, DBUS_IFACE, DBUS_NAME, DBUS_PATH, startDbusSession } from './dbus-session';
import { ensureDebianTools } from './baseline-tools';
import { median, nowNs, round } from './stats';

const DIST = path.resolve(__dirname, '..');

export interface BusBenchOptions {
  /** Sequential calls measured per round (after warm-up). */
  seqCalls: number;
  /** Calls per pipelined round. */
  pipelinedCalls: number;
  /** Calls kept outstanding in the pipelined rounds. */
  window: number;
  rounds: number;
  log(line: string): void;
}

export const DEFAULT_BUS_OPTIONS: Omit<BusBenchOptions, 'log'> = { seqCalls: 3000, pipelinedCalls: 30000, window: 256, rounds: 3 };

/** One request/response of the system under test; resolves when the reply arrived. */
type Call = (i: number) => Promise<unknown>;

interface Side {
  call: Call;
  close(): Promise<void>;
}

/** Median per-call round trip in µs over `n` sequential calls. */
async function sequential(call: Call, n: number): Promise<number> {
  const times: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const t = nowNs();
    await call(i);
    times[i] = Number(nowNs() - t) / 1000;
  }
  return median(times);
}

/** Calls per second with `window` calls outstanding until `n` have completed. */
async function pipelined(call: Call, n: number, window: number): Promise<number> {
  let next = 0;
  const t = nowNs();
  const worker = async () => {
    while (next < n) await call(next++);
  };
  await Promise.all(Array.from({ length: Math.min(window, n) }, worker));
  return n / (Number(nowNs() - t) / 1e9);
}

async function measure(name: string, side: Side, o: BusBenchOptions): Promise<{ rttUs: number; opsPerS: number }> {
  // Warm-up: let the JIT settle on every path (ours, the server's, the daemon's).
  await sequential(side.call, Math.min(1000, o.seqCalls));
  await pipelined(side.call, Math.min(5000, o.pipelinedCalls), o.window);
  const rtts: number[] = [];
  const ops: number[] = [];
  for (let r = 0; r < o.rounds; r++) {
    rtts.push(await sequential(side.call, o.seqCalls));
    ops.push(await pipelined(side.call, o.pipelinedCalls, o.window));
  }
  const res = { rttUs: round(median(rtts), 1), opsPerS: Math.round(median(ops)) };
  o.log(`bus: ${name}: rtt ${res.rttUs} µs (rounds ${rtts.map((x) => round(x, 1)).join(', ')}), ` +
    `pipelined ${res.opsPerS} ops/s (rounds ${ops.map(Math.round).join(', ')})`);
  return res;
}

function payload(i: number): Record<string, unknown> {
  return { n: i, text: 'hello' };
}

// ---- our hub ----
async function hubSide(work: string, children: BenchChild[]): Promise<Side> {
  const root = path.join(work, 'hub-root');
  const socketPath = path.join(work, 'hub.sock');
  children.push(await startChild(process.execPath, [path.join(DIST, 'ipc/ls-hubd.js'), '--root', root, '--socket', socketPath], 'listening on'));
  children.push(await startChild(process.execPath, [path.join(DIST, 'bench/bus-echo-service.js'), socketPath], 'ready'));
  const client = await LunaClient.connect({ socketPath });
  return {
    call: async (i) => {
      const r = await client.callOne(ECHO_URI, payload(i));
      if (r.n !== i) throw new Error(`hub echo: wrong reply ${JSON.stringify(r)}`);
    },
    close: () => client.close(),
  };
}

// ---- raw node:net, one hop ----
async function rawSide(work: string, children: BenchChild[]): Promise<Side> {
  const socketPath = path.join(work, 'raw.sock');
  children.push(await startChild(process.execPath, [path.join(DIST, 'bench/net-echo-server.js'), socketPath], 'ready'));
  const socket = net.connect(socketPath);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const pending = new Map<number, (p: Record<string, unknown>) => void>();
  const decoder = new FrameDecoder<{ token: number; payload: Record<string, unknown> }>({
    maxFrameBytes: 1024 * 1024,
    parse: (line) => JSON.parse(line),
    onFrame: (msg) => {
      const done = pending.get(msg.token);
      pending.delete(msg.token);
      done?.(msg.payload);
    },
    onError: (e) => socket.destroy(e),
  });
  socket.on('data', (c: Buffer) => decoder.push(c));
  let token = 1;
  return {
    call: (i) => new Promise((resolve, reject) => {
      const t = token++;
      pending.set(t, (p) => (p.n === i ? resolve(p) : reject(new Error(`raw echo: wrong reply ${JSON.stringify(p)}`))));
      socket.write(encodeFrame({ t: 'call', token: t, uri: ECHO_URI, payload: payload(i) }));
    }),
    close: async () => {
      socket.end();
    },
  };
}

// ---- dbus-daemon + dbus-next ----
async function dbusSide(work: string, children: BenchChild[], stops: Array<() => Promise<void>>): Promise<Side> {
  const session = await startDbusSession(work);
  stops.push(session.stop);
  children.push(await startChild(process.execPath, [path.join(DIST, 'bench/dbus-echo-service.js'), session.address], 'ready'));
  const dbus = require('dbus-next') as typeof DBus;
  const bus = dbus.sessionBus({ busAddress: session.address, authMethods: ['EXTERNAL'] });
  const obj = await bus.getProxyObject(DBUS_NAME, DBUS_PATH);
  const iface = obj.getInterface(DBUS_IFACE);
  return {
    call: async (i) => {
      const r = JSON.parse((await iface.Echo(JSON.stringify(payload(i)))) as string) as Record<string, unknown>;
      if (r.n !== i) throw new Error(`dbus echo: wrong reply ${JSON.stringify(r)}`);
    },
    close: async () => bus.disconnect(),
  };
}

function canRequire(mod: string): boolean {
  try {
    require.resolve(mod);
    return true;
  } catch {
    return false;
  }
}

/** Runs the three sides one after another (each alone on the machine) and returns the contract figures. */
export async function runBusBench(o: BusBenchOptions): Promise<{ figures: Record<string, number>; skipped: string[] }> {
  const work = fs.mkdtempSync('/tmp/ai-bus-');
  const figures: Record<string, number> = {};
  const skipped: string[] = [];
  const run = async (name: string, make: (children: BenchChild[], stops: Array<() => Promise<void>>) => Promise<Side>, key: string) => {
    const children: BenchChild[] = [];
    const stops: Array<() => Promise<void>> = [];
    try {
      const side = await make(children, stops);
      const r = await measure(name, side, o);
      figures[`bus.seq.${key}_rtt_us`] = r.rttUs;
      figures[`bus.pipelined.${key}_ops_per_s`] = r.opsPerS;
      await side.close();
    } finally {
      for (const c of children.reverse()) await c.stop();
      for (const s of stops) await s();
    }
  };
  try {
    await run('hub (client -> ls-hubd -> service)', (c) => hubSide(work, c), 'hub');
    await run('raw node:net (client -> server)', (c) => rawSide(work, c), 'raw_net');
    const noDaemon = ensureDebianTools({ [DBUS_DAEMON]: 'dbus-daemon' }, o.log).length > 0;
    const noLib = !canRequire('dbus-next');
    if (noLib) o.log('dbus-next is not installed (a devDependency: run npm ci)');
    if (!noDaemon && !noLib) await run('D-Bus (dbus-next -> dbus-daemon -> dbus-next)', (c, s) => dbusSide(work, c, s), 'dbus');
    else skipped.push(`bus.seq.dbus_rtt_us and bus.pipelined.dbus_ops_per_s skipped: ${noLib ? 'dbus-next is not installed (npm ci installs it)' : `${DBUS_DAEMON} is not installed and could not be installed`}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return { figures, skipped };
}
