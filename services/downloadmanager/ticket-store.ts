// com.webos.service.downloadmanager's state on disk (layout.downloadManagerState): the next ticket, the bounded
// history and the downloads not yet ended, as one JSON file rewritten whole, crash-safely (engine/state-file.ts),
// on every change. Read at start: a damaged file is set aside and reported, a bad record is skipped and reported,
// and a download that had not ended when the daemon died becomes a history record (interrupted, or completed when
// its file was already in place). Not the bus methods (downloadmanager-service.ts) nor the record shapes (download/tickets.ts).
//
// On disk: {"nextTicket":N, "history":[HistoryItem…], "active":[ActiveEntry…]}. The secrets of a request (authToken,
// cookieHeader) are never written: they are blanked in the history's records and absent from the active entries.
import { promises as fs } from 'node:fs';
import { type Checked, counterAfterDamage, readJsonState, removeStaleTemps, SerialQueue, writeStateFile } from '../../engine/state-file';
import { checkFilename, targetPaths } from '../../download/names';
import { addToHistory, type HistoryItem, type TicketBook, type TicketInfo, type TicketStateName } from '../../download/tickets';
import type { DownloadState } from '../../download/types';
import { DownloadErrorCode, DownloadErrorText } from '../../status-codes';

/** Finished, failed and cancelled downloads kept (the oldest drop out). */
export const HISTORY_LIMIT = 100;
/** Downloads not ended that the file may list (the downloader holds fewer: its queue bound plus those running). */
const MAX_ACTIVE = 256;
/** Bound of the whole file: every field of a record is bounded (URLs 4096 characters), a record is below 32 KiB. */
const MAX_STATE_BYTES = 8 * 1024 * 1024;
const MAX_RECORD_CHARS = 32 * 1024;
const MAX_TEXT = 4096;
const STATES: readonly TicketStateName[] = ['running', 'queued', 'paused', 'cancelled', 'completed', 'interrupted'];
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
const SECRETS = ['authToken', 'cookieHeader'] as const;

/** A download not yet ended, as written before its ticket is replied (so a crash finds it). */
export interface ActiveEntry {
  ticket: number;
  url: string;
  filename: string;
  owner: number;
  startTime: string;
  interface?: string;
  mimetype?: string;
  deviceId?: string;
  canHandlePause?: boolean;
  autoResume?: boolean;
}

export interface SavedState {
  nextTicket: number;
  history: HistoryItem[];
  active: ActiveEntry[];
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const isTicket = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;
const isUid = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;
const isText = (v: unknown, max = MAX_TEXT): v is string => typeof v === 'string' && v.length <= max;
const optText = (v: unknown, max = MAX_TEXT) => v === undefined || isText(v, max);
const optBool = (v: unknown) => v === undefined || typeof v === 'boolean';
const optIso = (v: unknown) => v === undefined || (typeof v === 'string' && ISO.test(v));

function checkHistoryItem(v: unknown, nextTicket: number): Checked<HistoryItem> {
  if (!isObject(v)) return { problem: 'a history record is not an object' };
  const shown = String(v.ticket).slice(0, 20);
  if (!isTicket(v.ticket) || v.ticket >= nextTicket) return { problem: `history record ${shown}: bad ticket` };
  if (!STATES.includes(v.state as TicketStateName)) return { problem: `history record ${shown}: bad state` };
  if (!isText(v.interface, 64)) return { problem: `history record ${shown}: bad interface` };
  if (!isText(v.recordString, MAX_RECORD_CHARS)) return { problem: `history record ${shown}: bad recordString` };
  try {
    if (!isObject(JSON.parse(v.recordString))) return { problem: `history record ${shown}: recordString is not a JSON object` };
  } catch {
    return { problem: `history record ${shown}: recordString is not JSON` };
  }
  if (!optIso(v.startTime) || !optIso(v.endTime)) return { problem: `history record ${shown}: bad time` };
  if (v.owner !== undefined && !isUid(v.owner)) return { problem: `history record ${shown}: bad owner` };
  if (!optBool(v.fileDeleted)) return { problem: `history record ${shown}: bad fileDeleted` };
  const item: HistoryItem = { ticket: v.ticket, state: v.state as TicketStateName, interface: v.interface, recordString: v.recordString };
  if (v.startTime !== undefined) item.startTime = v.startTime as string;
  if (v.endTime !== undefined) item.endTime = v.endTime as string;
  if (v.owner !== undefined) item.owner = v.owner as number;
  if (v.fileDeleted === true) item.fileDeleted = true;
  return { value: item };
}

function checkActive(v: unknown, nextTicket: number): Checked<ActiveEntry> {
  if (!isObject(v)) return { problem: 'an active download record is not an object' };
  const shown = String(v.ticket).slice(0, 20);
  if (!isTicket(v.ticket) || v.ticket >= nextTicket) return { problem: `active download ${shown}: bad ticket` };
  if (!isText(v.url) || v.url === '') return { problem: `active download ${shown}: bad url` };
  if (typeof v.filename !== 'string' || checkFilename(v.filename)) return { problem: `active download ${shown}: bad file name` };
  if (!isUid(v.owner)) return { problem: `active download ${shown}: bad owner` };
  if (typeof v.startTime !== 'string' || !ISO.test(v.startTime)) return { problem: `active download ${shown}: bad startTime` };
  if (!optText(v.interface, 64) || !optText(v.mimetype) || !optText(v.deviceId) || !optBool(v.canHandlePause) || !optBool(v.autoResume)) {
    return { problem: `active download ${shown}: bad request field` };
  }
  const e: ActiveEntry = { ticket: v.ticket, url: v.url, filename: v.filename, owner: v.owner, startTime: v.startTime };
  for (const k of ['interface', 'mimetype', 'deviceId'] as const) if (v[k] !== undefined) e[k] = v[k] as string;
  for (const k of ['canHandlePause', 'autoResume'] as const) if (v[k] !== undefined) e[k] = v[k] as boolean;
  return { value: e };
}

/** Pure: the file's content checked. Bad records are left out and named in `problems`; a bad frame is a damaged file. */
export function checkState(json: unknown): Checked<{ state: SavedState; problems: string[] }> {
  if (!isObject(json)) return { problem: 'not a JSON object' };
  const { nextTicket, history, active } = json;
  if (!isTicket(nextTicket)) return { problem: 'nextTicket is not a positive integer' };
  if (!Array.isArray(history) || !Array.isArray(active)) return { problem: 'history or active is not a list' };
  const problems: string[] = [];
  const seen = new Set<number>();
  const take = <T extends { ticket: number }>(c: Checked<T>, into: T[]) => {
    if ('problem' in c) problems.push(c.problem);
    else if (seen.has(c.value.ticket)) problems.push(`ticket ${c.value.ticket}: listed twice`);
    else {
      seen.add(c.value.ticket);
      into.push(c.value);
    }
  };
  const state: SavedState = { nextTicket, history: [], active: [] };
  for (const h of history) take(checkHistoryItem(h, nextTicket), state.history);
  for (const a of active.slice(0, MAX_ACTIVE)) take(checkActive(a, nextTicket), state.active);
  if (active.length > MAX_ACTIVE) problems.push(`more than ${MAX_ACTIVE} active downloads listed; the rest are left out`);
  state.history = state.history.sort((a, b) => a.ticket - b.ticket).slice(-HISTORY_LIMIT);
  return { value: { state, problems } };
}

/**
 * Tickets handed out after a damaged file: the time in seconds (so above any count reached one download at a time),
 * not counterAfterDamage's milliseconds, because luna-downloadmgr's clients read a ticket as a 32-bit int.
 */
export function ticketAfterDamage(nowMs = Date.now()): number {
  return Math.max(1, Math.floor(counterAfterDamage(nowMs) / 1000));
}

/** Reads the state file; never throws for its content (a damaged file is set aside, the problems say what). */
export async function readState(file: string, nowMs = Date.now()): Promise<{ state: SavedState; problems: string[] }> {
  await removeStaleTemps(file);
  const read = await readJsonState(file, MAX_STATE_BYTES, checkState);
  if (read.kind === 'ok') return read.value;
  const empty: SavedState = { nextTicket: 1, history: [], active: [] };
  if (read.kind === 'absent') return { state: empty, problems: [] };
  return { state: { ...empty, nextTicket: ticketAfterDamage(nowMs) }, problems: [read.problem] };
}

/** A record string with the request's secrets blanked (as written to disk). */
function withoutSecrets(recordString: string): string {
  try {
    const r = JSON.parse(recordString) as Record<string, unknown>;
    let changed = false;
    for (const k of SECRETS) {
      if (typeof r[k] === 'string' && r[k] !== '') {
        r[k] = '';
        changed = true;
      }
    }
    return changed ? JSON.stringify(r) : recordString;
  } catch {
    return recordString;
  }
}

/** Pure: what is written for a ticket book and its downloads not ended. */
export function stateOf(book: TicketBook, active: readonly ActiveEntry[]): SavedState {
  return { nextTicket: book.nextTicket, history: book.history.map((h) => ({ ...h, recordString: withoutSecrets(h.recordString) })), active: [...active] };
}

/** The request of an active entry as a ticket (its download is gone with the process that ran it). */
export function ticketOfEntry(e: ActiveEntry): TicketInfo {
  const { filename: _f, startTime: _s, ...rest } = e;
  return { ...rest, downloadId: 0 };
}

/**
 * How a download that had not ended when the daemon died ends: completed when its file is in place and no partial
 * file is left (it was renamed after verification, the history write was lost), else interrupted, its partial file
 * and sidecar left where they are for the downloader to resume when the same URL is downloaded to the same name.
 */
export async function endOfInterrupted(dir: string, e: ActiveEntry, nowMs = Date.now()): Promise<DownloadState> {
  const p = targetPaths(dir, e.filename);
  const size = async (f: string): Promise<number | null> => {
    try {
      const st = await fs.lstat(f);
      return st.isFile() ? st.size : null;
    } catch {
      return null;
    }
  };
  const [part, final] = await Promise.all([size(p.part), size(p.final)]);
  const completed = part === null && final !== null;
  return {
    id: 0, url: e.url, filename: e.filename, path: p.final, partPath: p.part, phase: completed ? 'completed' : 'failed',
    received: (completed ? final : part) ?? 0, total: completed ? (final as number) : undefined, initialOffset: 0, speed: 0, attempts: 0, restarts: 0, fetchedBytes: 0,
    ...(completed ? {} : { error: { code: DownloadErrorCode.INTERRUPTED, text: DownloadErrorText.interrupted } }),
    startedAt: Date.parse(e.startTime), endedAt: nowMs,
  };
}

/** Loads the state: the book (history with the interrupted downloads added) and what to log. Writes nothing. */
export async function loadBook(file: string, dir: string, nowMs = Date.now()): Promise<{ book: TicketBook; problems: string[]; recovered: { ticket: number; state: DownloadState }[] }> {
  const { state, problems } = await readState(file, nowMs);
  let book: TicketBook = { nextTicket: state.nextTicket, tickets: new Map(), history: state.history, historyLimit: HISTORY_LIMIT };
  const recovered: { ticket: number; state: DownloadState }[] = [];
  for (const e of [...state.active].sort((a, b) => a.ticket - b.ticket)) {
    const s = await endOfInterrupted(dir, e, nowMs);
    book = addToHistory(book, ticketOfEntry(e), s);
    recovered.push({ ticket: e.ticket, state: s });
  }
  return { book, problems, recovered };
}

/**
 * Writes the state file in order; a save asked while one waits joins it (each write takes the state current when
 * it starts, so the last save always writes the latest state).
 */
export class StateWriter {
  private readonly queue = new SerialQueue();
  private waiting: Promise<void> | null = null;

  constructor(private readonly file: string, private readonly current: () => SavedState) {}

  save(): Promise<void> {
    if (this.waiting) return this.waiting;
    const p = this.queue.run(async () => {
      this.waiting = null;
      await writeStateFile(this.file, JSON.stringify(this.current()));
    });
    this.waiting = p;
    return p;
  }

  /** Resolves once every save asked so far has been tried. */
  async flush(): Promise<void> {
    await this.queue.run(async () => undefined);
  }
}
