// The benchmark's contract without running it: figure names the issue promises, goal judgement, the printed table,
// and the run's arguments. Pure and fast; the benchmarks themselves run only with `npm run bench`.
import { CONTRACT_FIGURES, evaluate, formatMarkdown, formatTable, missingFigures } from '../bench/figures';
import { parseRunArgs } from '../bench/run';
import { parseStartScript } from '../bench/bench-daemon';
import { median, percentile } from '../bench/stats';

const ISSUE_NAMES = [
  'bus.seq.hub_rtt_us', 'bus.seq.raw_net_rtt_us', 'bus.seq.dbus_rtt_us',
  'bus.pipelined.hub_ops_per_s', 'bus.pipelined.raw_net_ops_per_s', 'bus.pipelined.dbus_ops_per_s',
  'install.ms', 'install.tar_ms', 'install.dpkg_ms',
  'fanout.subscribers', 'fanout.p99_ms',
  'rss.idle_mb', 'rss.after_mb', 'rss.node_baseline_mb',
  // issue 13
  'download.mb_per_s', 'download.curl_mb_per_s', 'download.resume_overhead_pct',
];

function fullFigures(): Record<string, number> {
  return Object.fromEntries(CONTRACT_FIGURES.map((n, i) => [n, i + 1]));
}

describe('bench contract', () => {
  test('the contract list is exactly the issue\'s names', () => {
    expect([...CONTRACT_FIGURES].sort()).toEqual([...ISSUE_NAMES].sort());
  });

  test('goals are judged on the ratios the issue states', () => {
    const base = { 'bus.pipelined.raw_net_ops_per_s': 100000, 'bus.pipelined.dbus_ops_per_s': 10000, 'install.tar_ms': 1000, 'install.dpkg_ms': 2000, 'rss.idle_mb': 50 };
    const met = (f: Record<string, number>) => Object.fromEntries(evaluate(f).filter((r) => r.goal).map((r) => [`${r.figure}/${r.baseline}`, r.met]));
    expect(met({ ...base, 'bus.pipelined.hub_ops_per_s': 50000, 'install.ms': 1500, 'rss.after_mb': 60 })).toEqual({
      'bus.pipelined.hub_ops_per_s/bus.pipelined.raw_net_ops_per_s': true,
      'bus.pipelined.hub_ops_per_s/bus.pipelined.dbus_ops_per_s': true,
      'install.ms/install.tar_ms': true,
      'install.ms/install.dpkg_ms': true,
      'rss.after_mb/rss.idle_mb': true,
    });
    expect(met({ ...base, 'bus.pipelined.hub_ops_per_s': 49999, 'install.ms': 2000, 'rss.after_mb': 60.1 })).toEqual({
      'bus.pipelined.hub_ops_per_s/bus.pipelined.raw_net_ops_per_s': false,
      'bus.pipelined.hub_ops_per_s/bus.pipelined.dbus_ops_per_s': false,
      'install.ms/install.tar_ms': false,
      'install.ms/install.dpkg_ms': false, // equal to dpkg is not faster
      'rss.after_mb/rss.idle_mb': false,
    });
  });

  test('a goal whose figures are missing is neither met nor missed', () => {
    const r = evaluate({ 'install.ms': 10 }).find((x) => x.baseline === 'install.tar_ms')!;
    expect(r.met).toBeUndefined();
    expect(formatTable({ 'install.ms': 10 })).toContain('not measured');
  });

  test('missing contract figures are reported unless a skip note names them', () => {
    const f = fullFigures();
    delete f['install.dpkg_ms'];
    delete f['bus.seq.dbus_rtt_us'];
    expect(missingFigures(f, [])).toEqual(['bus.seq.dbus_rtt_us', 'install.dpkg_ms']);
    expect(missingFigures(f, ['install.dpkg_ms skipped: dpkg missing'])).toEqual(['bus.seq.dbus_rtt_us']);
    expect(missingFigures(fullFigures(), [])).toEqual([]);
  });

  test('the table and the Markdown show every figure', () => {
    const f = fullFigures();
    for (const text of [formatTable(f), formatMarkdown(f)]) for (const n of CONTRACT_FIGURES) expect(text).toContain(n);
  });

  test('run arguments: sections and --quick, anything else refused', () => {
    expect(parseRunArgs([])).toEqual({ quick: false, sections: ['bus', 'install', 'extract', 'fanout', 'memory', 'feeds', 'download', 'gateway'] });
    expect(parseRunArgs(['--quick', 'bus'])).toEqual({ quick: true, sections: ['bus'] });
    expect(() => parseRunArgs(['--fast'])).toThrow(/unknown argument "--fast"/);
  });

  test('the daemon is started as package.json\'s start script says, flags and environment included', () => {
    expect(parseStartScript('node dist/services/main.js')).toEqual({ env: {}, nodeArgs: [], script: 'dist/services/main.js' });
    expect(parseStartScript('MALLOC_ARENA_MAX=1 node --max-semi-space-size=1 dist/services/main.js')).toEqual({
      env: { MALLOC_ARENA_MAX: '1' }, nodeArgs: ['--max-semi-space-size=1'], script: 'dist/services/main.js',
    });
    expect(() => parseStartScript('npm run build && node dist/services/main.js')).toThrow(/not "\[VAR=value/);
    expect(() => parseStartScript('node dist/services/main.js --root /x')).toThrow(/not "\[VAR=value/);
  });

  test('median and nearest-rank percentile', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(() => median([])).toThrow();
  });
});
