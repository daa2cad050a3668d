// com.webos.service.downloadmanager on the bus: luna-downloadmgr's methods and payloads (docs/appinstall.md) over the daemon's one
// Downloader (download/downloader.ts), with its tickets, progress/final records and history from download/tickets.ts.
// Given a state file (layout.downloadManagerState), the next ticket, the history and the downloads not ended are kept
// there across restarts (ticket-store.ts); a download's ticket is on disk before it is replied.
import fs from 'node:fs';
import path from 'node:path';
import type { LunaClient, MethodSpec, Message } from '../../ipc/client';
import { IncomingMessage } from '../../ipc/method-registry';
import type { Payload } from '../../ipc/protocol';
import type { Downloader } from '../../download/downloader';
import type { DownloadResult, DownloadState } from '../../download/types';
import {
  addToHistory, clearHistory, downloadReply, finalRecord, historyReplyItem, issueTicket, markFileDeleted, newTicketBook, parseTicket, pendingTickets,
  progressDue, progressRecord, statusItem, type HistoryItem, type TicketBook, type TicketInfo,
} from '../../download/tickets';
import { checkFilename, targetPaths } from '../../download/names';
import { DownloadErrorCode, DownloadErrorText } from '../../status-codes';
import { DownloadManagerErrorCode, DownloadManagerText } from '../../status-codes/distribution';
import { callerFromPeer } from '../../engine/caller-access';
import { type ActiveEntry, HISTORY_LIMIT, loadBook, StateWriter, stateOf, ticketAfterDamage } from './ticket-store';

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
  private book: TicketBook = newTicketBook(HISTORY_LIMIT);
  private readonly byDownload = new Map<number, TicketInfo>();
  private readonly lastSent = new Map<number, number>();
  private readonly subscribers = new Map<number, Message>();
  /** The request of each download not ended, as written to the state file (ticket → entry). */
  private readonly active = new Map<number, ActiveEntry>();
  private readonly writer: StateWriter | null;
  private stopping = false;

  /** Without `stateFile` the tickets and history live in memory only (unit tests). */
  constructor(private readonly client: LunaClient, private readonly downloader: Downloader, private readonly log: (l: string) => void, private readonly stateFile?: string) {
    downloader.on('progress', (s: DownloadState) => this.onProgress(s));
    downloader.on('end', (r: DownloadResult) => this.onEnd(r.state));
    this.writer = stateFile ? new StateWriter(stateFile, () => stateOf(this.book, [...this.active.values()])) : null;
  }

  /**
   * Reads the state file (before open): the history and the next ticket come back; a download that had not ended
   * when the daemon stopped is recorded as interrupted (or completed, if its file was already in place), and the
   * result is written back so a second restart does not record it again. A damaged file or record is logged, never fatal.
   */
  async load(): Promise<void> {
    if (!this.stateFile) return;
    let loaded: Awaited<ReturnType<typeof loadBook>>;
    try {
      loaded = await loadBook(this.stateFile, this.dir);
    } catch (e) {
      // Unreadable (EACCES, EIO): start empty, with tickets above any handed out before.
      this.log(`downloadmanager: cannot read ${this.stateFile}: ${(e as Error).message}; starting with an empty history`);
      this.book = newTicketBook(HISTORY_LIMIT, ticketAfterDamage());
      return;
    }
    const { book, problems, recovered } = loaded;
    this.book = book;
    for (const p of problems) this.log(`downloadmanager: ${p}`);
    for (const r of recovered) {
      const kept = r.state.phase === 'failed' && r.state.received > 0 ? `; its partial file (${r.state.received} bytes) is kept: downloading the same URL again resumes it` : '';
      this.log(`download ticket ${r.ticket}: ${r.state.phase === 'completed' ? 'completed (found in place after a restart)' : DownloadErrorText.interrupted}${kept}`);
    }
    if (recovered.length || problems.length) await this.persist().catch(() => undefined);
  }

  /** Writes the state; a failed write is logged (and thrown to a caller that waits for it). */
  private async persist(): Promise<void> {
    if (!this.writer) return;
    try {
      await this.writer.save();
    } catch (e) {
      this.log(`downloadmanager: ${DownloadManagerText.stateNotSaved((e as Error).message)}`);
      throw e;
    }
  }

  /**
   * The daemon stops: this service's downloads are paused (their partial files and sidecars stay) and their ends no
   * longer recorded, so the state file still lists them as not ended and the next start records them interrupted, as
   * after a crash. Returns their downloader ids (the daemon cancels the other pending downloads).
   */
  suspendForStop(): number[] {
    this.stopping = true;
    const ids = [...this.book.tickets.values()].map((t) => t.downloadId);
    for (const id of ids) this.downloader.pause(id);
    return ids;
  }

  /** Waits for the state writes asked so far (the daemon's stop). */
  async close(): Promise<void> {
    await this.writer?.flush();
  }

  /** The one directory downloads go to (targetDir must name it). */
  get dir(): string {
    return this.downloader.options.dir;
  }

  /**
   * File names the cache cleaner keeps: the manager's completed downloads still listed in its history (and not
   * deleted), and those a daemon stop interrupted, whose partial files a later download of the same URL resumes
   * (the cleaner still drops a partial file once it is stale).
   */
  keptFiles(): string[] {
    const out: string[] = [];
    for (const h of this.book.history) {
      try {
        const r = JSON.parse(h.recordString) as { completed?: boolean; destFile?: string; errorCode?: number };
        const keep = (r.completed && !h.fileDeleted) || r.errorCode === DownloadErrorCode.INTERRUPTED;
        if (keep && r.destFile) out.push(r.destFile);
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
    if (!t || this.stopping) return;
    this.byDownload.delete(s.id);
    this.lastSent.delete(t.ticket);
    this.active.delete(t.ticket);
    this.book = addToHistory(this.book, t, s);
    this.persist().catch(() => undefined);
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
    const n = parseTicket(payload.ticket);
    return n === null ? undefined : this.book.tickets.get(n);
  }

  /** Whether a caller may act on a download: its own, or any for root. */
  private reaches(uid: number, owner: number | undefined): boolean {
    return uid === 0 || owner === uid;
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
      handler: async (msg) => {
        const p = msg.payload;
        const url = String(p.target);
        if (!/^https?:\/\//i.test(url)) return fail(DownloadManagerErrorCode.INVALID_PARAMETER, DownloadManagerText.badTarget);
        if (p.targetDir !== undefined && path.resolve(String(p.targetDir)) !== path.resolve(this.dir)) {
          return fail(DownloadManagerErrorCode.TARGET_OUTSIDE, DownloadManagerText.targetOutside(String(p.targetDir), this.dir));
        }
        const uid = callerFromPeer(msg.peer).uid;
        const mine = [...this.book.tickets.values()].filter((t) => t.owner === uid).length;
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
          autoResume: p.autoResume as boolean | undefined, owner: uid,
        });
        this.book = issued.book;
        const t = issued.ticket;
        this.byDownload.set(h.id, t);
        this.active.set(t.ticket, {
          ticket: t.ticket, url, filename: s.filename, owner: uid, startTime: new Date(s.startedAt).toISOString(),
          ...Object.fromEntries((['interface', 'mimetype', 'deviceId', 'canHandlePause', 'autoResume'] as const).filter((k) => t[k] !== undefined).map((k) => [k, t[k]])),
        });
        if (msg.isSubscription) {
          this.subscribers.set(t.ticket, msg);
          this.client.subscriptions.add(this.key(t.ticket), msg);
        }
        // The ticket goes out only once it is on disk (a restart never hands it out again, and a crash finds this
        // download). If it cannot be written the download is called off, as if it had never been asked for.
        try {
          await this.persist();
        } catch (e) {
          this.byDownload.delete(h.id);
          this.active.delete(t.ticket);
          const tickets = new Map(this.book.tickets);
          tickets.delete(t.ticket);
          this.book = { ...this.book, tickets };
          this.subscribers.delete(t.ticket);
          this.client.subscriptions.remove(this.key(t.ticket), msg);
          await this.downloader.cancel(h.id);
          return fail(DownloadErrorCode.FILESYSTEM, DownloadManagerText.stateNotSaved((e as Error).message));
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
        if (!t && kind === 'resume') return this.resumeInterrupted(parseTicket(msg.payload.ticket), uid);
        if (!t || !this.reaches(uid, t.owner)) return fail(DownloadManagerErrorCode.NO_SUCH_TICKET, DownloadErrorText.notDownloading);
        const err = kind === 'pause' ? this.downloader.pause(t.downloadId) : kind === 'resume' ? this.downloader.resume(t.downloadId) : await this.downloader.cancel(t.downloadId);
        if (err) return fail(err.code, err.text);
        return { returnValue: true, ticket: t.ticket };
      },
    };
  }

  /**
   * resumeDownload of a download a daemon stop or crash interrupted (as luna-downloadmgr resumes an interrupted
   * ticket): the same ticket goes on from its kept partial file (a Range request from its last byte), with the URL and
   * file name of its record. The request's secrets (authToken, cookieHeader) were never written to disk, so they are not
   * sent again. Any other ended download is refused as not downloading.
   */
  private async resumeInterrupted(n: number | null, uid: number): Promise<Payload> {
    const notDownloading = fail(DownloadManagerErrorCode.NO_SUCH_TICKET, DownloadErrorText.notDownloading);
    const h = n === null ? undefined : this.book.history.find((x) => x.ticket === n);
    if (n === null || !h || !this.reaches(uid, h.owner) || h.state !== 'interrupted') return notDownloading;
    let r: { url?: unknown; destFile?: unknown; errorCode?: unknown; mimetype?: unknown; deviceId?: unknown };
    try {
      r = JSON.parse(h.recordString) as typeof r;
    } catch {
      return notDownloading;
    }
    if (r.errorCode !== DownloadErrorCode.INTERRUPTED || typeof r.url !== 'string' || !/^https?:\/\//i.test(r.url)) return notDownloading;
    if (typeof r.destFile !== 'string' || checkFilename(r.destFile) || this.downloader.busyFilenames().includes(r.destFile)) return notDownloading;
    const headers: Record<string, string> = typeof r.deviceId === 'string' && r.deviceId ? { 'Device-Id': r.deviceId } : {};
    const started = this.downloader.start({ url: r.url, filename: r.destFile, headers });
    const s = this.downloader.get(started.id)!;
    if (s.phase === 'failed') return fail(s.error!.code, s.error!.text);
    const t: TicketInfo = {
      ticket: n, downloadId: started.id, url: r.url, interface: h.interface, owner: h.owner ?? uid,
      ...(typeof r.mimetype === 'string' && r.mimetype ? { mimetype: r.mimetype } : {}),
      ...(typeof r.deviceId === 'string' && r.deviceId ? { deviceId: r.deviceId } : {}),
    };
    const tickets = new Map(this.book.tickets);
    tickets.set(n, t);
    this.book = { ...this.book, tickets, history: this.book.history.filter((x) => x.ticket !== n) };
    this.byDownload.set(started.id, t);
    this.active.set(n, { ticket: n, url: r.url, filename: s.filename, owner: t.owner!, startTime: h.startTime ?? new Date(s.startedAt).toISOString(), interface: h.interface });
    await this.persist().catch(() => undefined);
    this.log(`download ticket ${n}: resumed after a restart, from its kept partial file`);
    return { returnValue: true, ticket: n };
  }

  /**
   * deleteDownloadedFile: removes the file a completed download of the caller's (any, for root) placed, and nothing
   * else: the path is rebuilt from the record's plain file name inside the download directory and must be the
   * record's target, must still be a regular file of the size downloaded, and must not have been taken over by a
   * later download of the same name. Reply `{"returnValue":true,"ticket":N}`.
   */
  private deleteDownloadedFile(): MethodSpec {
    return {
      schema: ticketSchema,
      groups: [...DOWNLOAD_GROUPS.management],
      handler: async (msg) => {
        const n = parseTicket(msg.payload.ticket);
        if (n === null) return fail(DownloadManagerErrorCode.INVALID_PARAMETER, DownloadManagerText.badTicket(msg.payload.ticket));
        const uid = callerFromPeer(msg.peer).uid;
        const noSuch = () => ({ ...fail(DownloadManagerErrorCode.NO_SUCH_TICKET, DownloadManagerText.noSuchTicket(n)), ticket: n });
        const pending = this.book.tickets.get(n);
        if (pending) {
          return this.reaches(uid, pending.owner) ? { ...fail(DownloadManagerErrorCode.STILL_DOWNLOADING, DownloadManagerText.stillDownloading(n)), ticket: n } : noSuch();
        }
        const h = this.book.history.find((x) => x.ticket === n);
        if (!h || !this.reaches(uid, h.owner)) return noSuch();
        const refused = (code: number, text: string) => ({ ...fail(code, text), ticket: n });
        if (h.state !== 'completed') return refused(DownloadManagerErrorCode.NOT_COMPLETED, DownloadManagerText.notCompleted(n, h.state));
        if (h.fileDeleted) return refused(DownloadManagerErrorCode.FILE_GONE, DownloadManagerText.alreadyDeleted(n));
        const file = this.fileOf(h);
        if (typeof file !== 'string') return refused(DownloadManagerErrorCode.NOT_THE_DOWNLOADED_FILE, DownloadManagerText.notTheDownloadedFile(n, file.why));
        const later = this.book.history.find((x) => x.ticket > n && x.state === 'completed' && !x.fileDeleted && this.fileOf(x) === file);
        if (later || this.downloader.busyFilenames().includes(path.basename(file))) {
          return refused(DownloadManagerErrorCode.NOT_THE_DOWNLOADED_FILE, DownloadManagerText.notTheDownloadedFile(n, `${file} now belongs to ${later ? `download ${later.ticket}` : 'a download in progress'}`));
        }
        let st: fs.Stats;
        try {
          st = await fs.promises.lstat(file);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') return refused(DownloadManagerErrorCode.FILE_GONE, DownloadManagerText.fileGone(n, file));
          return refused(DownloadErrorCode.FILESYSTEM, DownloadErrorText.filesystem((e as Error).message));
        }
        const size = Number((JSON.parse(h.recordString) as { e_amountReceived?: unknown }).e_amountReceived);
        if (!st.isFile()) return refused(DownloadManagerErrorCode.NOT_THE_DOWNLOADED_FILE, DownloadManagerText.notTheDownloadedFile(n, `${file} is not a regular file`));
        if (st.size !== size) return refused(DownloadManagerErrorCode.NOT_THE_DOWNLOADED_FILE, DownloadManagerText.notTheDownloadedFile(n, `${file} is ${st.size} bytes, the download was ${size}`));
        try {
          await fs.promises.unlink(file);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') return refused(DownloadManagerErrorCode.FILE_GONE, DownloadManagerText.fileGone(n, file));
          return refused(DownloadErrorCode.FILESYSTEM, DownloadErrorText.filesystem((e as Error).message));
        }
        this.book = markFileDeleted(this.book, n);
        await this.persist().catch(() => undefined);
        this.log(`download ticket ${n}: file ${file} deleted`);
        return { returnValue: true, ticket: n };
      },
    };
  }

  /** The path of a history record's file, rebuilt inside the download directory from its plain file name; or why not. */
  private fileOf(h: HistoryItem): string | { why: string } {
    let r: { destFile?: unknown; target?: unknown };
    try {
      r = JSON.parse(h.recordString) as typeof r;
    } catch {
      return { why: 'its record is not JSON' };
    }
    if (typeof r.destFile !== 'string' || checkFilename(r.destFile)) return { why: 'its record has no plain file name' };
    const final = targetPaths(this.dir, r.destFile).final;
    if (r.target !== final) return { why: `its record's target is not ${final} in the download directory` };
    return final;
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
          const n = parseTicket(msg.payload.ticket);
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
      deleteDownloadedFile: this.deleteDownloadedFile(),
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
        handler: () => ({ returnValue: true, items: this.book.history.map(historyReplyItem) }) as Payload,
      },
      cancelAllDownloads: {
        schema: { type: 'object' },
        groups: operation,
        // Every download of this service, whoever asked for it (the group is the system's); the URL and catalog
        // installs' downloads are not its own and go on. Each ends cancelled (partial file removed, final record sent).
        handler: async () => {
          const ids = [...this.book.tickets.values()].map((t) => t.downloadId);
          await Promise.all(ids.map((id) => this.downloader.cancel(id)));
          await this.persist().catch(() => undefined);
          return { returnValue: true };
        },
      },
      clearHistory: {
        schema: { type: 'object' },
        groups: operation,
        handler: async () => {
          this.book = clearHistory(this.book);
          await this.persist().catch(() => undefined);
          return { returnValue: true };
        },
      },
    });
  }
}
