// Memory benchmark: RSS of the daemon (`npm start`'s process: hub and services) idle after start, and after
// 1,000 install/remove cycles of a tiny package (a few ids at a time, as the task queue allows), beside the RSS
// of a bare node process. RSS is read from /proc after the process has been left alone for a moment; also after the
// first few cycles ("warm": every code path loaded and compiled), which separates warm-up from growth.
import fs from 'node:fs';
import { makeTinyPackage, type BenchPackage } from './bench-app';
import { installOverBus, removeOverBus, startBenchDaemon } from './bench-daemon';
import { rssMb, sleep, startChild } from './bench-process';
import { msSince, nowNs, round } from './stats';

export interface MemoryBenchOptions {
  cycles: number;
  /** RSS is also read after this many cycles (code paths loaded and compiled: "warm"). */
  warmCycles: number;
  /** Ids installed and removed side by side (each id's cycles run one after another). */
  parallel: number;
  settleMs: number;
  /** Extra environment and node flags for the daemon (to try a memory setting before it goes into `npm start`). */
  daemonEnv?: NodeJS.ProcessEnv;
  daemonNodeArgs?: string[];
  log(line: string): void;
}

export const DEFAULT_MEMORY_OPTIONS: Omit<MemoryBenchOptions, 'log'> = { cycles: 1000, warmCycles: 20, parallel: 4, settleMs: 3000 };

async function bareNodeRss(settleMs: number): Promise<number> {
  const child = await startChild(process.execPath, ['-e', 'setInterval(() => {}, 1000); console.log("ready")'], 'ready');
  try {
    await sleep(settleMs);
    return rssMb(child.proc.pid!);
  } finally {
    await child.stop();
  }
}

export async function runMemoryBench(o: MemoryBenchOptions): Promise<Record<string, number>> {
  const work = fs.mkdtempSync('/tmp/ai-mem-');
  fs.chmodSync(work, 0o755);
  try {
    const pkgs: BenchPackage[] = [];
    for (let i = 0; i < o.parallel; i++) pkgs.push(await makeTinyPackage(work, `com.bench.tiny${i}`));
    const daemon = await startBenchDaemon(work, 'root', o.daemonEnv, o.daemonNodeArgs);
    try {
      const pid = daemon.child.proc.pid!;
      await sleep(o.settleMs);
      const idle = rssMb(pid);
      const t = nowNs();
      let done = 0;
      let next = 0;
      let limit = o.warmCycles;
      const lane = async (pkg: BenchPackage) => {
        while (next < limit) {
          next++;
          await installOverBus(daemon.client, pkg.id, pkg.ipk);
          await removeOverBus(daemon.client, pkg.id);
          if (++done % 250 === 0) o.log(`memory: ${done} cycles, RSS ${round(rssMb(pid), 1)} MB, ${Math.round(msSince(t) / 1000)} s`);
        }
      };
      await Promise.all(pkgs.map(lane));
      await sleep(o.settleMs);
      const warm = rssMb(pid);
      limit = o.cycles;
      await Promise.all(pkgs.map(lane));
      await sleep(o.settleMs);
      const after = rssMb(pid);
      const node = await bareNodeRss(o.settleMs);
      o.log(`memory: daemon RSS idle ${round(idle, 1)} MB, after ${o.warmCycles} cycles ${round(warm, 1)} MB, after ${o.cycles} install/remove cycles ${round(after, 1)} MB (${round(msSince(t) / 1000, 1)} s); bare node ${round(node, 1)} MB`);
      return {
        'rss.idle_mb': round(idle, 1),
        'rss.warm_mb': round(warm, 1),
        'rss.after_mb': round(after, 1),
        'rss.node_baseline_mb': round(node, 1),
        'rss.cycles': o.cycles,
      };
    } finally {
      await daemon.stop();
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
