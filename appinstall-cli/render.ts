// How appinstall shows operations: on a terminal one cli-progress bar per operation (phase, percent, bytes and speed
// while downloading); otherwise one plain line per stage change, apt-like; with --json, JSON lines. No bus I/O here.
import { MultiBar, type SingleBar } from 'cli-progress';
import { Stage } from '../status-codes';

/** The download stages of the engine (/install with an http(s) ipkUrl, /catalog/install): before the local stages. */
export const DownloadStage = { START: 7, PROGRESS: 8, DONE: 10, FAILED: 23 } as const;

const INSTALL_ORDER: number[] = [
  Stage.PARSE_NEEDED, Stage.PARSE_REQUESTED, Stage.PARSE_COMPLETE, Stage.UPDATE_CHECK_NEEDED, Stage.UPDATE_CHECK_REQUESTED,
  Stage.UPDATE_CHECK_COMPLETE, Stage.CLOSE_APP_NEEDED, Stage.CLOSE_APP_REQUESTED, Stage.CLOSE_APP_COMPLETE, Stage.VERIFY_NEEDED,
  Stage.VERIFY_REQUESTED, Stage.VERIFY_COMPLETE, Stage.INSTALL_NEEDED, Stage.INSTALL_REQUESTED, Stage.INSTALL_START,
  Stage.INSTALL_UNPACKING, Stage.INSTALL_COMPLETE, Stage.ROLES_NEEDED, Stage.ROLES_REQUESTED, Stage.ROLES_COMPLETE, Stage.INSTALLED,
].map((s) => s.statusValue);
const REMOVE_ORDER: number[] = [
  Stage.CLOSE_APP_NEEDED, Stage.CLOSE_APP_REQUESTED, Stage.CLOSE_APP_COMPLETE, Stage.REMOVE_START, Stage.REMOVING,
  Stage.REMOVE_SERVICES_NEEDED, Stage.REMOVE_SERVICES_REQUESTED, Stage.REMOVE_SERVICES_COMPLETE, Stage.REMOVE_IPK_NEEDED,
  Stage.REMOVE_IPK_REQUESTED, Stage.REMOVE_IPK_COMPLETE, Stage.REMOVE_DATA_NEEDED, Stage.REMOVE_DATA, Stage.REMOVE_DATA_COMPLETE, Stage.REMOVED,
].map((s) => s.statusValue);

/** One status event as the CLI shows it. */
export interface OpView {
  /** What the operation is about (package id or name). */
  label: string;
  phase: string;
  /** 0..100 over the whole operation (monotonic per operation). */
  percent: number;
  /** While downloading: bytes received, total when known. */
  bytes?: number;
  total?: number;
}

/** Percent of the whole operation at a stage: the download (when there is one) is the first half. */
export function overallPercent(kind: 'install' | 'remove', statusValue: number, progress: number | undefined, downloaded: boolean): number {
  const p = typeof progress === 'number' && progress >= 0 ? Math.min(progress, 100) : undefined;
  if (statusValue === DownloadStage.START) return 0;
  if (statusValue === DownloadStage.PROGRESS) return (p ?? 0) / 2;
  if (statusValue === DownloadStage.DONE) return 50;
  const order = kind === 'install' ? INSTALL_ORDER : REMOVE_ORDER;
  const i = order.indexOf(statusValue);
  if (i < 0) return -1;
  let local = (i / (order.length - 1)) * 100;
  if (statusValue === Stage.INSTALL_UNPACKING.statusValue && p !== undefined) local += (p / 100) * (100 / (order.length - 1));
  return downloaded ? 50 + local / 2 : local;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export interface Renderer {
  update(key: string, view: OpView): void;
  /** The operation ended: its bar (if any) is completed or left where it failed. */
  end(key: string, ok: boolean): void;
  /** Stop drawing (before the final line is printed). */
  stop(): void;
}

/** A terminal: one cli-progress bar per operation on stdout. */
export class BarRenderer implements Renderer {
  private readonly multi = new MultiBar({
    stream: process.stdout,
    format: ' {label} [{bar}] {percentage}% | {phase}{transfer}',
    barCompleteChar: '#',
    barIncompleteChar: '-',
    hideCursor: true,
    clearOnComplete: false,
    stopOnComplete: false,
    autopadding: true,
    fps: 10,
  });
  private readonly bars = new Map<string, { bar: SingleBar; percent: number; startMs: number; startBytes?: number }>();

  update(key: string, v: OpView): void {
    let entry = this.bars.get(key);
    if (!entry) {
      entry = { bar: this.multi.create(100, 0, { label: v.label, phase: v.phase, transfer: '' }), percent: 0, startMs: Date.now() };
      this.bars.set(key, entry);
    }
    entry.percent = Math.max(entry.percent, v.percent);
    let transfer = '';
    if (v.bytes !== undefined) {
      entry.startBytes ??= v.bytes;
      const seconds = (Date.now() - entry.startMs) / 1000;
      const speed = seconds > 0.2 ? (v.bytes - entry.startBytes) / seconds : 0;
      transfer = ` | ${formatBytes(v.bytes)}${v.total ? ` of ${formatBytes(v.total)}` : ''}${speed > 0 ? ` at ${formatBytes(Math.round(speed))}/s` : ''}`;
    }
    entry.bar.update(Math.round(entry.percent), { label: v.label, phase: v.phase, transfer });
  }

  end(key: string, ok: boolean): void {
    const entry = this.bars.get(key);
    if (entry && ok) entry.bar.update(100, {});
    entry?.bar.stop();
  }

  stop(): void {
    this.multi.stop();
  }
}

/** Not a terminal: one line per stage change (`label: phase`), as apt prints its steps. */
export class LineRenderer implements Renderer {
  private readonly last = new Map<string, string>();
  update(key: string, v: OpView): void {
    if (this.last.get(key) === v.phase) return;
    this.last.set(key, v.phase);
    process.stdout.write(`${v.label}: ${v.phase}${v.bytes !== undefined ? ` (${formatBytes(v.bytes)})` : ''}\n`);
  }
  end(): void { /* the final line is the caller's */ }
  stop(): void { /* nothing drawn */ }
}

/** --json: every event as one JSON line. */
export class JsonLinesRenderer {
  event(value: unknown): void {
    process.stdout.write(JSON.stringify(value) + '\n');
  }
}
