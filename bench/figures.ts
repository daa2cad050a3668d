// The benchmark's contract: the figure names `npm run bench` writes to bench/results/latest.json, the product's
// goals as ratios between figures, and the table printed from them. Pure: no measuring, no I/O.

/** Figure names promised by the issue ("the names below are a contract"). */
export const CONTRACT_FIGURES = [
  'bus.seq.hub_rtt_us',
  'bus.seq.raw_net_rtt_us',
  'bus.seq.dbus_rtt_us',
  'bus.pipelined.hub_ops_per_s',
  'bus.pipelined.raw_net_ops_per_s',
  'bus.pipelined.dbus_ops_per_s',
  'install.ms',
  'install.tar_ms',
  'install.dpkg_ms',
  'fanout.subscribers',
  'fanout.p99_ms',
  'rss.idle_mb',
  'rss.after_mb',
  'rss.node_baseline_mb',
  'download.mb_per_s',
  'download.curl_mb_per_s',
  'download.resume_overhead_pct',
] as const;

export type Figures = Record<string, number>;

/** A figure set beside a baseline: ratio = figure / baseline; `goal` (if any) bounds that ratio. */
export interface Comparison {
  figure: string;
  baseline: string;
  goal?: { op: '>=' | '<=' | '<'; ratio: number; text: string };
}

export const COMPARISONS: Comparison[] = [
  { figure: 'bus.seq.hub_rtt_us', baseline: 'bus.seq.raw_net_rtt_us' },
  { figure: 'bus.seq.hub_rtt_us', baseline: 'bus.seq.dbus_rtt_us' },
  { figure: 'bus.pipelined.hub_ops_per_s', baseline: 'bus.pipelined.raw_net_ops_per_s', goal: { op: '>=', ratio: 0.5, text: '≥ 50% of raw one-hop net' } },
  { figure: 'bus.pipelined.hub_ops_per_s', baseline: 'bus.pipelined.dbus_ops_per_s', goal: { op: '>=', ratio: 5, text: '≥ 5× D-Bus' } },
  { figure: 'bus.pipelined.hub_cpu_us_per_op', baseline: 'bus.pipelined.raw_net_cpu_us_per_op' },
  { figure: 'bus.pipelined.hub_cpu_us_per_op', baseline: 'bus.pipelined.dbus_cpu_us_per_op' },
  { figure: 'install.ms', baseline: 'install.tar_ms', goal: { op: '<=', ratio: 1.5, text: '≤ 1.5× GNU tar' } },
  { figure: 'install.ms', baseline: 'install.dpkg_ms', goal: { op: '<', ratio: 1, text: 'faster than dpkg' } },
  { figure: 'install.ms', baseline: 'install.nosync_ms' },
  { figure: 'extract.ms', baseline: 'extract.tar_ms' },
  { figure: 'feeds.refresh_ms', baseline: 'feeds.gunzip_ms', goal: { op: '<=', ratio: 3, text: '≤ 3× gzip -dc' } },
  { figure: 'feeds.refresh_cpu_ms', baseline: 'feeds.gunzip_cpu_ms' },
  { figure: 'rss.after_mb', baseline: 'rss.idle_mb', goal: { op: '<=', ratio: 1.2, text: '≤ 1.2× idle' } },
  { figure: 'rss.after_mb', baseline: 'rss.warm_mb' },
  { figure: 'rss.idle_mb', baseline: 'rss.node_baseline_mb' },
  { figure: 'gateway.rss_idle_mb', baseline: 'gateway.rss_node_mb' },
  { figure: 'download.mb_per_s', baseline: 'download.curl_mb_per_s', goal: { op: '>=', ratio: 0.9, text: '≥ 0.9× curl' } },
  { figure: 'gateway.rps', baseline: 'gateway.nginx_rps', goal: { op: '>=', ratio: 0.3, text: '≥ 0.3× nginx' } },
];

export interface ComparisonResult extends Comparison {
  value?: number;
  baselineValue?: number;
  ratio?: number;
  /** undefined when there is no goal or a figure is missing. */
  met?: boolean;
}

export function evaluate(figures: Figures): ComparisonResult[] {
  return COMPARISONS.map((c) => {
    const value = figures[c.figure];
    const baselineValue = figures[c.baseline];
    if (value === undefined || baselineValue === undefined || baselineValue === 0) return { ...c, value, baselineValue };
    const ratio = value / baselineValue;
    let met: boolean | undefined;
    if (c.goal) met = c.goal.op === '>=' ? ratio >= c.goal.ratio : c.goal.op === '<=' ? ratio <= c.goal.ratio : ratio < c.goal.ratio;
    return { ...c, value, baselineValue, ratio, met };
  });
}

/** Contract figures neither measured nor named in a skip note. */
export function missingFigures(figures: Figures, skipped: string[]): string[] {
  return CONTRACT_FIGURES.filter((name) => figures[name] === undefined && !skipped.some((s) => s.includes(name)));
}

function fmt(n: number | undefined): string {
  if (n === undefined) return '—';
  if (Number.isInteger(n)) return String(n);
  return Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(Math.abs(n) >= 10 ? 1 : 2);
}

function pad(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
}

function comparisonRows(figures: Figures): string[][] {
  return evaluate(figures)
    .filter((r) => r.value !== undefined || CONTRACT_FIGURES.includes(r.figure as (typeof CONTRACT_FIGURES)[number]))
    .map((r) => [
      r.figure,
      fmt(r.value),
      `${r.baseline} = ${fmt(r.baselineValue)}`,
      r.ratio === undefined ? '—' : r.ratio.toFixed(2),
      r.goal ? r.goal.text : '',
      r.goal ? (r.met === undefined ? 'not measured' : r.met ? 'yes' : 'NO') : '',
    ]);
}

/** The plain-text table printed at the end of a run: comparisons first, then every figure. */
export function formatTable(figures: Figures): string {
  const head = ['figure', 'value', 'baseline', 'ratio', 'goal', 'met?'];
  const all = Object.keys(figures).sort().map((k) => [k, fmt(figures[k])]);
  return [...pad([head, ...comparisonRows(figures)]), '', ...pad([['figure', 'value'], ...all])].join('\n');
}

/** The same as a Markdown table (for the README's Performance section). */
export function formatMarkdown(figures: Figures): string {
  const head = ['figure', 'value', 'baseline', 'ratio', 'goal', 'met?'];
  const line = (r: string[]) => `| ${r.join(' | ')} |`;
  const rows = comparisonRows(figures);
  const all = Object.keys(figures).sort().map((k) => line([`\`${k}\``, fmt(figures[k])]));
  return [line(head), line(head.map(() => '---')), ...rows.map((r) => line([`\`${r[0]}\``, ...r.slice(1)])), '', line(['figure', 'value']), line(['---', '---']), ...all].join('\n');
}
