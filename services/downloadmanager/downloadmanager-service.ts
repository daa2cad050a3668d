// com.webos.service.downloadmanager on the bus: luna-downloadmgr's methods and payloads (SPEC §8) over the daemon's one
// Downloader (download/downloader.ts), with its tickets, progress/final records and history from download/tickets.ts.
import fs from 'node:fs';
import path from 'node:path';
import type { LunaClient, MethodSpec, Message } from '../../ipc/client';
import { IncomingMessage } from '../../ipc/method-registry';
import type { Payload } from '../../ipc/protocol';
import type { Downloader } from '../../download/downloader';
import type { DownloadResult, DownloadState } from '../../download/types';
import {
  addToHistory, clearHistory, downloadReply, finalRecord, issueTicket, newTicketBook, pendingTickets, progressDue, progressRecord, statusItem,
  type TicketBook, type TicketInfo,
} from '../../download/tickets';
import { DownloadErrorText } from '../../status-codes';
import { DownloadManagerErrorCode, DownloadManagerText } from '../../status-codes/distribution';
import { callerFromPeer } from '../../engine/caller-access';

export const DOWNLOADMANAGER_SERVICE = 'com.webos.service.downloadmanager';

/** ACG groups as luna-downloadmgr ships them (acg/default-policy/api-permissions.d must say the same). */
export const DOWNLOAD_GROUPS = { management: ['download.management'], operation: ['download.operation'] } as const;

/** Pending downloads (queued, running, paused) one caller (bus unique name's uid) may hold. */
export const MAX_PENDING_PER_CALLER = 16;
const MAX_STR = 4096;

const str = { type: 'string', maxLength: MAX_STR } as const;
const ticketSchema = { type: 'object', required: ['ticket'], properties: { ticket: { anyOf: [{ type: 'integer' }, { type: 'string', maxLength: 20 }] } } } as const;

/** luna-downloadmgr's error reply: errorCode is a string there. */
function fail(code: number, text: string): Payload {
  return { returnValue: false, errorCode: String(code), errorText: text, subscribed: false };
}

/** The last path part of a URL, as a file name (luna-downloadmgr's default destFile), else "download". */
export function fileNameOfUrl(url: string): string {
  let base = '';
  try {
    base = decodeURIComponent(path.posix.basename(new URL(url).pathname));
  } catch {
    base = '';
  }
  base = base.replace(/[^A-Za-z0-9._+-]/g, '_').replace(/^\.+/, '').slice(0, 150);
  return base || 'download';
}

export class DownloadManagerService {
  private book: TicketBook = newTicketBook(100);
  private readonly byDownload = new Map<number, TicketInfo>();
  private readonly owners = new Map<number, number>(); // ticket → caller uid
  private readonly lastSent = new Map<number, number>();
  private readonly subscribers = new Map<number, Message>();

  constructor(private readonly client: LunaClient, private readonly downloader: Downloader, private readonly log: (l: string) => void) {
    downloader.on('progress', (s: DownloadState) => this.onProgress(s));
    downloader.on('end', (r: DownloadResult) => this.onEnd(r.state));
  }

  /** The one directory downloads go to (targetDir must name it). */
  get dir(): string {
    return this.downloader.options.dir;
  }

  /** File names of the manager's finished downloads still listed in its history (the cache cleaner keeps them). */
  keptFiles(): string[] {
    const out: string[] = [];
    for (const h of this.book.history) {
      try {
        const r = JSON.parse(h.recordString) as { completed?: boolean; destFile?: string };
        if (r.completed && r.destFile) out.push(r.destFile);
      } catch {
        // a record of ours is always JSON
      }
    }
    return out;
  }

  private key(ticket: number): string {
    return `dl_ticket_${ticket}`;
  }

  private onProgress(s: DownloadState): void {
    const t = this.byDownload.get(s.id);
    if (!t || s.phase !== 'running') return;
    const last = this.lastSent.get(t.ticket) ?? 0;
    if (!progressDue(last, s.received, s.total)) return;
    this.lastSent.set(t.ticket, s.received);
    this.client.subscriptions.reply(this.key(t.ticket), progressRecord(t, s) as Payload);
  }

  private onEnd(s: DownloadState): void {
    const t = this.byDownload.get(s.id);
    if (!t) return;
    this.byDownload.delete(s.id);
    this.lastSent.delete(t.ticket);
    this.owners.delete(t.ticket);
    this.book = addToHistory(this.book, t, s);
    const msg = this.subscribers.get(t.ticket);
    this.subscribers.delete(t.ticket);
    if (msg) this.endWith(this.key(t.ticket), msg, finalRecord(t, s) as Payload);
    this.log(`download ticket ${t.ticket}: ${s.phase}${s.error ? `: ${s.error.text}` : ''}`);
  }

  private endWith(key: string, msg: Message, payload: Payload): void {
    if (msg instanceof IncomingMessage && !msg.hasReturned && !msg.ended) { setImmediate(() => this.endWith(key, msg, payload)); return; }
    this.client.subscriptions.remove(key, msg);
    msg.respond(payload, { last: true });
  }

  private ticketOf(payload: Payload): TicketInfo | undefined {
    const n = Number(payload.ticket);
    return Number.isSafeInteger(n) ? this.book.tickets.get(n) : undefined;
  }

  private onDisk(s: DownloadState): { exists: boolean; size: number } {
    const file = s.phase === 'completed' ? s.path : s.partPath;
    try {
      return { exists: true, size: fs.statSync(file).size };
    } catch {
      return { exists: false, size: 0 };
    }
  }

  private download(): MethodSpec {
    return {
      schema: {
        type: 'object',
        required: ['target'],
        properties: {
          target: str, targetDir: str, targetFilename: str, mime: str, authToken: str, deviceId: str, cookieHeader: str, interface: str,
          canHandlePause: { type: 'boolean' }, autoResume: { type: 'boolean' }, subscribe: { type: 'boolean' },
        },
      },
      groups: [...DOWNLOAD_GROUPS.management],
      errorExtra: { subscribed: false },
      handler: (msg) => {
        const p = msg.payload;
        const url = String(p.target);
        if (!/^https?:\/\//i.test(url)) return fail(DownloadManagerErrorCode.INVALID_PARAMETER, DownloadManagerText.badTarget);
        if (p.targetDir !== undefined && path.resolve(String(p.targetDir)) !== path.resolve(this.dir)) {
          return fail(DownloadManagerErrorCode.TARGET_OUTSIDE, DownloadManagerText.targetOutside(String(p.targetDir), this.dir));
        }
        const uid = callerFromPeer(msg.peer).uid;
        const mine = [...this.owners.values()].filter((u) => u === uid).length;
        if (mine >= MAX_PENDING_PER_CALLER) return fail(DownloadManagerErrorCode.TOO_MANY_DOWNLOADS, DownloadManagerText.tooManyDownloads(MAX_PENDING_PER_CALLER));
        let filename = p.targetFilename !== undefined ? String(p.targetFilename) : fileNameOfUrl(url);
        // luna-downloadmgr never overwrites: a name in use gets the ticket number added.
        const taken = this.downloader.busyFilenames().includes(filename) || fs.existsSync(path.join(this.dir, filename));
        if (taken) {
          const ext = path.extname(filename);
          filename = `${filename.slice(0, filename.length - ext.length)}_${this.book.nextTicket}${ext}`;
        }
        const headers: Record<string, string> = {};
        if (p.authToken) headers['Auth-Token'] = String(p.authToken);
        if (p.deviceId) headers['Device-Id'] = String(p.deviceId);
        if (p.cookieHeader) headers.Cookie = String(p.cookieHeader);
        const h = this.downloader.start({ url, filename, headers });
        const s = this.downloader.get(h.id)!;
        if (s.phase === 'failed') return fail(s.error!.code, s.error!.text);
        const issued = issueTicket(this.book, {
          downloadId: h.id, url, mimetype: p.mime as string | undefined, authToken: p.authToken as string | undefined, deviceId: p.deviceId as string | undefined,
          cookieHeader: p.cookieHeader as string | undefined, interface: p.interface as string | undefined, canHandlePause: p.canHandlePause as boolean | undefined,
          autoResume: p.autoResume as boolean | undefined,
        });
        this.book = issued.book;
        const t = issued.ticket;
        this.byDownload.set(h.id, t);
        this.owners.set(t.ticket, uid);
        if (msg.isSubscription) {
          this.subscribers.set(t.ticket, msg);
          this.client.subscriptions.add(this.key(t.ticket), msg);
        }
        return downloadReply(t, s, msg.isSubscription) as Payload;
      },
    };
  }

  /** pause/resume/cancel: only the caller who started a download (or root) controls it. */
  private control(kind: 'pause' | 'resume' | 'cancel'): MethodSpec {
    return {
      schema: ticketSchema,
      groups: [...DOWNLOAD_GROUPS.management],
      handler: async (msg) => {
        const t = this.ticketOf(msg.payload);
        const uid = callerFromPeer(msg.peer).uid;
        if (!t || (uid !== 0 && this.owners.get(t.ticket) !== uid)) return fail(DownloadManagerErrorCode.NO_SUCH_TICKET, DownloadErrorText.notDownloading);
        const err = kind === 'pause' ? this.downloader.pause(t.downloadId) : kind === 'resume' ? this.downloader.resume(t.downloadId) : await this.downloader.cancel(t.downloadId);
        if (err) return fail(err.code, err.text);
        return { returnValue: true, ticket: t.ticket };
      },
    };
  }

  open(): void {
    const management = [...DOWNLOAD_GROUPS.management];
    const operation = [...DOWNLOAD_GROUPS.operation];
    this.client.registerCategory('/', {
      download: this.download(),
      downloadStatusQuery: {
        schema: ticketSchema,
        groups: management,
        handler: (msg) => {
          const n = Number(msg.payload.ticket);
          const t = this.ticketOf(msg.payload);
          const s = t && this.downloader.get(t.downloadId);
          if (t && s) return { returnValue: true, ...statusItem(t, s, this.onDisk(s)) };
          const h = this.book.history.find((x) => x.ticket === n);
          if (h) return { returnValue: true, ticket: h.ticket, state: h.state, interface: h.interface, recordString: h.recordString };
          return fail(DownloadManagerErrorCode.NO_SUCH_TICKET, DownloadManagerText.noSuchTicket(msg.payload.ticket));
        },
      },
      pauseDownload: this.control('pause'),
      resumeDownload: this.control('resume'),
      cancelDownload: this.control('cancel'),
      listPending: {
        schema: { type: 'object' },
        groups: management,
        handler: () => ({
          returnValue: true,
          count: pendingTickets(this.book, (id) => this.downloader.get(id)).length,
          downloads: pendingTickets(this.book, (id) => this.downloader.get(id)).map(({ ticket, state }) => statusItem(ticket, state, this.onDisk(state))),
        }) as Payload,
      },
      getAllHistory: {
        schema: { type: 'object' },
        groups: operation,
        handler: () => ({ returnValue: true, items: this.book.history.map((h) => ({ ...h })) }) as Payload,
      },
      clearHistory: {
        schema: { type: 'object' },
        groups: operation,
        handler: () => {
          this.book = clearHistory(this.book);
          return { returnValue: true };
        },
      },
    });
  }
}
