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
  /**
   * Calls kept outstanding in the pipelined rounds. 1,024 saturates every side on a 2-CPU machine; at 256 the
   * three-process paths (hub, D-Bus) are still bound by wake-up latency, not by work (measured: hub 55k ops/s at
   * 256, 81k at 1,024, 76k at 4,096; raw one hop ~180k at every window).
   */
  window: number;
  rounds: number;
  /** Which sides to run (default all three); e.g. ['hub'] when profiling. */
  sides?: Array<'hub' | 'raw_net' | 'dbus'>;
  log(line: string): void;
}

export const DEFAULT_BUS_OPTIONS: Omit<BusBenchOptions, 'log'> = { seqCalls: 3000, pipelinedCalls: 40000, window: 1024, rounds: 5 };

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

/** CPU time (user + system, every thread) used so far by this process, then by each of `pids`, in µs. */
function cpuUs(pids: number[]): number[] {
  const self = process.cpuUsage();
  const out = [self.user + self.system];
  for (const pid of pids) {
    // /proc/<pid>/stat: fields 14 and 15 (utime, stime) in clock ticks, counted after the ")" of the name.
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    out.push(((Number(f[11]) + Number(f[12])) * 1e6) / CLOCK_TICKS);
  }
  return out;
}
const CLOCK_TICKS = 100;

async function measure(name: string, side: Side, pids: number[], labels: string[], o: BusBenchOptions): Promise<{ rttUs: number; opsPerS: number; cpuUsPerOp: number }> {
  // Warm-up: let the JIT settle on every path (ours, the server's, the daemon's).
  await sequential(side.call, Math.min(1000, o.seqCalls));
  await pipelined(side.call, Math.min(5000, o.pipelinedCalls), o.window);
  const rtts: number[] = [];
  const ops: number[] = [];
  const cpu = pids.map(() => 0).concat(0);
  for (let r = 0; r < o.rounds; r++) {
    rtts.push(await sequential(side.call, o.seqCalls));
    const c0 = cpuUs(pids);
    ops.push(await pipelined(side.call, o.pipelinedCalls, o.window));
    cpuUs(pids).forEach((c, i) => (cpu[i] += c - c0[i]));
  }
  const perOp = cpu.map((c) => c / (o.rounds * o.pipelinedCalls));
  // CPU per call summed over every process on the path: unlike ops/s, it does not depend on what else the machine runs.
  const res = { rttUs: round(median(rtts), 1), opsPerS: Math.round(median(ops)), cpuUsPerOp: round(perOp.reduce((a, b) => a + b, 0), 1) };
  o.log(`bus: ${name}: rtt ${res.rttUs} µs (rounds ${rtts.map((x) => round(x, 1)).join(', ')}), ` +
    `pipelined ${res.opsPerS} ops/s (rounds ${ops.map(Math.round).join(', ')}), ${res.cpuUsPerOp} µs CPU per call (${perOp.map((c, i) => `${labels[i]} ${round(c, 1)}`).join(' + ')})`);
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
async function dbusSide(work: string, children: BenchChild[]): Promise<Side> {
  const session = await startDbusSession(work);
  children.push(session.child);
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
  const run = async (name: string, make: (children: BenchChild[]) => Promise<Side>, key: string) => {
    const children: BenchChild[] = [];
    try {
      const side = await make(children);
      const r = await measure(name, side, children.map((c) => c.proc.pid!), ['client', ...children.map((c) => c.label)], o);
      figures[`bus.seq.${key}_rtt_us`] = r.rttUs;
      figures[`bus.pipelined.${key}_ops_per_s`] = r.opsPerS;
      figures[`bus.pipelined.${key}_cpu_us_per_op`] = r.cpuUsPerOp;
      await side.close();
    } finally {
      for (const c of children.reverse()) await c.stop();
    }
  };
  try {
    const sides = o.sides ?? ['hub', 'raw_net', 'dbus'];
    if (sides.includes('hub')) await run('hub (client -> ls-hubd -> service)', (c) => hubSide(work, c), 'hub');
    if (sides.includes('raw_net')) await run('raw node:net (client -> server)', (c) => rawSide(work, c), 'raw_net');
    if (!sides.includes('dbus')) return { figures, skipped };
    const noDaemon = ensureDebianTools({ [DBUS_DAEMON]: 'dbus-daemon' }, o.log).length > 0;
    const noLib = !canRequire('dbus-next');
    if (noLib) o.log('dbus-next is not installed (a devDependency: run npm ci)');
    if (!noDaemon && !noLib) await run('D-Bus (dbus-next -> dbus-daemon -> dbus-next)', (c) => dbusSide(work, c), 'dbus');
    else skipped.push(`bus.seq.dbus_rtt_us and bus.pipelined.dbus_ops_per_s skipped: ${noLib ? 'dbus-next is not installed (npm ci installs it)' : `${DBUS_DAEMON} is not installed and could not be installed`}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return { figures, skipped };
}
