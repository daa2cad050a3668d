// luna-downloadmgr's ticket model for the later com.webos.service.downloadmanager bus service: ticket numbers, the
// first reply, progress/final records and downloadStatusQuery/getAllHistory items with luna-downloadmgr's field
// names, and a bounded history. Pure functions over DownloadState; no bus and no I/O here.
import path from 'node:path';
import { DownloadCompletionStatus, DownloadErrorCode } from '../status-codes';
import type { DownloadState } from './types';

/** What a `download` call asked for, beside the downloader's own state. */
export interface TicketInfo {
  ticket: number;
  downloadId: number;
  url: string;
  mimetype?: string;
  authToken?: string;
  deviceId?: string;
  cookieHeader?: string;
  interface?: string;
  canHandlePause?: boolean;
  autoResume?: boolean;
  /** uid of the caller who asked (pause, resume, cancel and deleteDownloadedFile are its own, or root's). */
  owner?: number;
}

/** luna-downloadmgr's `state` strings of a query or history item. */
export type TicketStateName = 'running' | 'queued' | 'paused' | 'cancelled' | 'completed' | 'interrupted';

export interface HistoryItem {
  ticket: number;
  state: TicketStateName;
  interface: string;
  /** The final record as a JSON string, as luna-downloadmgr stores it. */
  recordString: string;
  /** When the download was asked for and when it ended (ISO 8601). */
  startTime?: string;
  endTime?: string;
  /** uid of the caller who asked (not in replies). */
  owner?: number;
  /** deleteDownloadedFile removed its file (not in replies). */
  fileDeleted?: boolean;
}

export interface TicketBook {
  nextTicket: number;
  tickets: ReadonlyMap<number, TicketInfo>;
  /** Oldest first, at most `historyLimit` items. */
  history: readonly HistoryItem[];
  historyLimit: number;
}

const INT32_MAX = 2 ** 31 - 1;

export function newTicketBook(historyLimit = 100, firstTicket = 1): TicketBook {
  return { nextTicket: firstTicket, tickets: new Map(), history: [], historyLimit: Math.max(1, Math.min(10000, historyLimit)) };
}

/**
 * luna-downloadmgr's progress cadence: an event every `bytesTotal / 20` bytes, at least 100 KiB and at most
 * 2000 KiB apart (DOWNLOADMANAGER_UPDATEINTERVAL, UPDATENUM); 100 KiB when the total is unknown.
 */
export function updateIntervalBytes(total: number | undefined): number {
  const floor = 100 * 1024;
  if (total === undefined || total <= 0) return floor;
  return Math.min(2000 * 1024, Math.max(floor, Math.floor(total / 20)));
}

/** Whether a progress event is due: `received` moved at least one update interval past the last one sent. */
export function progressDue(lastSentBytes: number, received: number, total: number | undefined): boolean {
  return received - lastSentBytes >= updateIntervalBytes(total) || (total !== undefined && received >= total && lastSentBytes < total);
}

/** A new ticket for a download the downloader accepted. */
export function issueTicket(book: TicketBook, info: Omit<TicketInfo, 'ticket'>): { book: TicketBook; ticket: TicketInfo } {
  const ticket: TicketInfo = { ...info, ticket: book.nextTicket };
  const tickets = new Map(book.tickets);
  tickets.set(ticket.ticket, ticket);
  return { book: { ...book, nextTicket: book.nextTicket + 1, tickets }, ticket };
}

/** A ticket from a payload: a positive whole number, or its decimal digits as a string; anything else is none. */
export function parseTicket(v: unknown): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v > 0 ? v : null;
  if (typeof v === 'string' && /^[1-9][0-9]{0,15}$/.test(v)) {
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : null;
  }
  return null;
}

export function ticketStateName(s: DownloadState): TicketStateName {
  return s.phase === 'failed' ? 'interrupted' : s.phase;
}

/** completionStatusCode of an ended download (luna-downloadmgr's DownloadManager.h values). */
export function completionStatusCode(s: DownloadState): number {
  if (s.phase === 'completed') return DownloadCompletionStatus.SUCCESS;
  if (s.phase === 'cancelled') return DownloadCompletionStatus.CANCELLED;
  switch (s.error?.code) {
    case DownloadErrorCode.NETWORK:
    case DownloadErrorCode.STALLED:
    case DownloadErrorCode.INTERRUPTED:
      return DownloadCompletionStatus.INTERRUPTED;
    case DownloadErrorCode.HTTP_ERROR:
    case DownloadErrorCode.TOO_MANY_REDIRECTS:
      return DownloadCompletionStatus.HTTP_ERROR;
    case DownloadErrorCode.CHECKSUM_MISMATCH:
    case DownloadErrorCode.SIZE_MISMATCH:
    case DownloadErrorCode.BAD_RANGE_REPLY:
    case DownloadErrorCode.TOO_LARGE:
      return DownloadCompletionStatus.FILE_CORRUPT;
    case DownloadErrorCode.NO_SPACE:
    case DownloadErrorCode.FILESYSTEM:
      return DownloadCompletionStatus.FILESYSTEM;
    default:
      return DownloadCompletionStatus.GENERAL;
  }
}

/** The first reply to `download`. */
export function downloadReply(t: TicketInfo, s: DownloadState, subscribed: boolean): Record<string, unknown> {
  return { returnValue: true, ticket: t.ticket, url: t.url, target: s.path, subscribed };
}

/** A progress event (DownloadTask::toJSON): no `completed` key. `target` is the partial file while running. */
export function progressRecord(t: TicketInfo, s: DownloadState): Record<string, unknown> {
  const destPath = path.dirname(s.path) + '/';
  const total = s.total ?? -1;
  return {
    ticket: t.ticket,
    url: t.url,
    sourceUrl: t.url,
    deviceId: t.deviceId ?? '',
    authToken: t.authToken ?? '',
    target: s.phase === 'completed' ? s.path : s.partPath,
    destTempPrefix: '',
    destFile: s.filename,
    destPath,
    mimetype: t.mimetype ?? '',
    amountReceived: Math.min(INT32_MAX, s.received),
    e_amountReceived: String(s.received),
    amountTotal: Math.min(INT32_MAX, total),
    e_amountTotal: String(total),
    initialOffset: Math.min(INT32_MAX, s.initialOffset),
    e_initialOffsetBytes: String(s.initialOffset),
    e_rangeLow: '0',
    e_rangeHigh: '0',
    canHandlePause: t.canHandlePause ?? false,
    autoResume: t.autoResume ?? false,
    cookieHeader: t.cookieHeader ?? '',
  };
}

/** The final event of an ended download: the progress fields plus the completion fields. */
export function finalRecord(t: TicketInfo, s: DownloadState): Record<string, unknown> {
  const code = completionStatusCode(s);
  const interrupted = code === DownloadCompletionStatus.INTERRUPTED;
  const aborted = s.phase === 'cancelled';
  const r: Record<string, unknown> = {
    ...progressRecord(t, s),
    completionStatusCode: code,
    interrupted,
    completed: s.phase === 'completed',
    aborted,
    target: s.path,
  };
  if (!interrupted && s.httpStatus !== undefined) r.httpStatus = s.httpStatus;
  if (s.error && !aborted) {
    r.errorCode = s.error.code;
    r.errorText = s.error.text;
  }
  return r;
}

/** A downloadStatusQuery / getAllHistory item. */
export function statusItem(t: TicketInfo, s: DownloadState, onDisk: { exists: boolean; size: number }): Record<string, unknown> {
  const ended = s.phase === 'completed' || s.phase === 'failed' || s.phase === 'cancelled';
  return {
    ticket: t.ticket,
    state: ticketStateName(s),
    interface: t.interface ?? 'ANY',
    recordString: JSON.stringify(ended ? finalRecord(t, s) : progressRecord(t, s)),
    fileExistsOnFilesys: onDisk.exists,
    fileSizeOnFilesys: onDisk.size,
  };
}

/** Record an ended download in the bounded history (the oldest items drop out) and forget its ticket. */
export function addToHistory(book: TicketBook, t: TicketInfo, s: DownloadState): TicketBook {
  const item: HistoryItem = {
    ticket: t.ticket, state: ticketStateName(s), interface: t.interface ?? 'ANY', recordString: JSON.stringify(finalRecord(t, s)),
    startTime: new Date(s.startedAt).toISOString(), endTime: new Date(s.endedAt ?? Date.now()).toISOString(),
    ...(t.owner !== undefined ? { owner: t.owner } : {}),
  };
  const history = [...book.history.filter((h) => h.ticket !== t.ticket), item].slice(-book.historyLimit);
  const tickets = new Map(book.tickets);
  tickets.delete(t.ticket);
  return { ...book, history, tickets };
}

/** A history item as getAllHistory sends it (what only the service needs stays out). */
export function historyReplyItem(h: HistoryItem): Record<string, unknown> {
  const { owner: _owner, fileDeleted: _deleted, ...shown } = h;
  return shown;
}

/** The history with one ticket's file marked deleted (deleteDownloadedFile). */
export function markFileDeleted(book: TicketBook, ticket: number): TicketBook {
  return { ...book, history: book.history.map((h) => (h.ticket === ticket ? { ...h, fileDeleted: true } : h)) };
}

export function clearHistory(book: TicketBook): TicketBook {
  return { ...book, history: [] };
}

/** listPending: tickets whose downloads have not ended, in ticket order. */
export function pendingTickets(book: TicketBook, stateOf: (downloadId: number) => DownloadState | undefined): { ticket: TicketInfo; state: DownloadState }[] {
  const out: { ticket: TicketInfo; state: DownloadState }[] = [];
  for (const t of [...book.tickets.values()].sort((a, b) => a.ticket - b.ticket)) {
    const s = stateOf(t.downloadId);
    if (s && ['running', 'queued', 'paused'].includes(s.phase)) out.push({ ticket: t, state: s });
  }
  return out;
}
