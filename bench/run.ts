// `npm run bench`: every benchmark in one run (bus, install, extract, fan-out, memory, feeds), a table on stdout and
// bench/results/latest.json (one flat object of named figures) plus latest.md (the table and the machine).
// Usage: node dist/bench/run.js [--quick] [bus|install|extract|fanout|memory|feeds|download|gateway ...]; --quick shrinks every count.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UNSAFE_NO_SYNC_ENV } from '../engine/durable-fs';
import { killAllChildren } from './bench-process';
import { DEFAULT_BUS_OPTIONS, runBusBench } from './bus-bench';
import { DEFAULT_DOWNLOAD_OPTIONS, runDownloadBench } from './download-bench';
import { DEFAULT_FANOUT_OPTIONS, runFanoutBench } from './fanout-bench';
import { runFeedsBench } from './feeds-bench';
import { DEFAULT_GATEWAY_OPTIONS, runGatewayBench } from './gateway-bench';
import { formatMarkdown, formatTable, missingFigures, evaluate, type Figures } from './figures';
import { DEFAULT_INSTALL_OPTIONS, runInstallBench } from './install-bench';
import { DEFAULT_MEMORY_OPTIONS, runMemoryBench } from './memory-bench';
import { msSince, nowNs } from './stats';

const RESULTS = path.resolve(__dirname, '../../bench/results');
const SECTIONS = ['bus', 'install', 'extract', 'fanout', 'memory', 'feeds', 'download', 'gateway'] as const;
type Section = (typeof SECTIONS)[number];

/** The install service's benchmark-only switch that skips its fsyncs (engine/durable-fs.ts), to measure what durability costs. */
export const NOSYNC_ENV: NodeJS.ProcessEnv = { [UNSAFE_NO_SYNC_ENV]: '1' };

function log(line: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

/** What this machine is, for the results. */
export function machine(): string {
  const cpu = /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, Linux ${os.release()}, node ${process.version}`;
}

export function parseRunArgs(argv: string[]): { quick: boolean; sections: Section[] } {
  let quick = false;
  const sections: Section[] = [];
  for (const a of argv) {
    if (a === '--quick') quick = true;
    else if ((SECTIONS as readonly string[]).includes(a)) sections.push(a as Section);
    else throw new Error(`unknown argument "${a}" (known: --quick ${SECTIONS.join(' ')})`);
  }
  return { quick, sections: sections.length ? sections : [...SECTIONS] };
}

async function main(): Promise<number> {
  const { quick, sections } = parseRunArgs(process.argv.slice(2));
  const figures: Figures = {};
  const skipped: string[] = [];
  const started = nowNs();
  const loadAtStart = os.loadavg()[0];
  log(`bench on ${machine()}${quick ? ' (quick)' : ''}: ${sections.join(', ')}; load average ${loadAtStart.toFixed(2)}`);
  if (loadAtStart > os.cpus().length / 2) log(`warning: the machine is busy (load ${loadAtStart.toFixed(2)} on ${os.cpus().length} CPUs): throughput and latency figures will be low and noisy; CPU per call is not affected`);
  const timed = async (name: string, fn: () => Promise<void>) => {
    const t = nowNs();
    await fn();
    log(`${name} done in ${Math.round(msSince(t) / 1000)} s`);
  };
  for (const s of sections) {
    if (s === 'bus') {
      await timed('bus', async () => {
        const o = quick ? { seqCalls: 500, pipelinedCalls: 5000, window: DEFAULT_BUS_OPTIONS.window, rounds: 1 } : DEFAULT_BUS_OPTIONS;
        const r = await runBusBench({ ...o, log });
        Object.assign(figures, r.figures);
        skipped.push(...r.skipped);
      });
    } else if (s === 'install') {
      await timed('install', async () => {
        const o = quick ? { files: 200, bytes: 5 * 1024 * 1024, rounds: 1 } : DEFAULT_INSTALL_OPTIONS;
        const r = await runInstallBench({ ...o, noSyncEnv: NOSYNC_ENV, log });
        Object.assign(figures, r.figures);
        skipped.push(...r.skipped);
      });
    } else if (s === 'extract') {
      const file = path.join(__dirname, 'extract-bench.js');
      if (!fs.existsSync(file)) {
        log('extract: bench/extract-bench.ts not present, skipped');
        continue;
      }
      await timed('extract', async () => {
        const mod = require(file) as { runExtractBench(rounds?: number): Promise<Record<string, number>> };
        const r = await mod.runExtractBench(quick ? 1 : 3);
        log(`extract: ${JSON.stringify(r)}`);
        Object.assign(figures, r);
      });
    } else if (s === 'fanout') {
      await timed('fan-out', async () => {
        Object.assign(figures, await runFanoutBench({ ...(quick ? { subscribers: 1000, events: 20, warmup: 5 } : DEFAULT_FANOUT_OPTIONS), log }));
      });
    } else if (s === 'download') {
      await timed('download', async () => {
        const r = await runDownloadBench({ ...(quick ? { mb: 50, rounds: 1 } : DEFAULT_DOWNLOAD_OPTIONS), log });
        Object.assign(figures, r.figures);
        skipped.push(...r.skipped);
      });
    } else if (s === 'gateway') {
      await timed('gateway', async () => {
        const r = await runGatewayBench({ ...(quick ? { concurrency: 50, seconds: 3, subscribers: 1000, installs: 1 } : DEFAULT_GATEWAY_OPTIONS), log });
        Object.assign(figures, r.figures);
        skipped.push(...r.skipped);
      });
    } else if (s === 'memory') {
      await timed('memory', async () => {
        Object.assign(figures, await runMemoryBench({ ...(quick ? { cycles: 40, warmCycles: 8, parallel: 4, settleMs: 1000 } : DEFAULT_MEMORY_OPTIONS), log }));
      });
    } else if (s === 'feeds') {
      await timed('feeds', async () => {
        Object.assign(figures, await runFeedsBench({ rounds: quick ? 1 : 5, log }));
      });
    }
  }

  const table = formatTable(figures);
  process.stdout.write(`\n${table}\n`);
  for (const s of skipped) process.stdout.write(`skipped: ${s}\n`);
  fs.mkdirSync(RESULTS, { recursive: true });
  // Partial runs (a subset of sections) merge into the previous results instead of erasing them.
  const file = path.join(RESULTS, 'latest.json');
  let previous: Figures = {};
  if (sections.length < SECTIONS.length && fs.existsSync(file)) {
    try {
      previous = JSON.parse(fs.readFileSync(file, 'utf8')) as Figures;
    } catch {
      previous = {};
    }
  }
  const all = { ...previous, ...figures };
  fs.writeFileSync(file, JSON.stringify(all, null, 2) + '\n');
  const missed = evaluate(all).filter((r) => r.met === false).map((r) => `${r.figure} vs ${r.baseline}: ${r.goal!.text}`);
  const load = `load average ${loadAtStart.toFixed(2)} at the start, ${os.loadavg()[0].toFixed(2)} at the end`;
  const md = [`Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine()}${quick ? ' (quick run)' : ''}; ${load}.`, '', formatMarkdown(all), '',
    ...skipped.map((s) => `Skipped: ${s}`)].join('\n');
  fs.writeFileSync(path.join(RESULTS, 'latest.md'), md + '\n');
  process.stdout.write(`\nwrote ${path.relative(process.cwd(), file) || file} and latest.md in ${Math.round(msSince(started) / 1000)} s` +
    `${missed.length ? `; goals missed: ${missed.join('; ')}` : '; every goal met'}\n`);
  const missing = sections.length === SECTIONS.length ? missingFigures(all, skipped) : [];
  if (missing.length) {
    process.stderr.write(`bench: contract figures missing without a skip note: ${missing.join(', ')}\n`);
    return 1;
  }
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => {
      killAllChildren();
      process.exit(code);
    },
    (e) => {
      killAllChildren();
      process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
