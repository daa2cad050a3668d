// One peer connection as the hub sees it: the kernel identity read at accept, decoded incoming frames,
// batched outgoing frames with a bound on what may queue up, and closing with a logged reason. No routing here.
import type { Socket } from 'node:net';
import { FrameDecoder, FrameError, OutgoingFrames, parseClientFrame, encodeFrame, encodeReply } from './framing';
import type { ClientToHub, HubToClient, PeerIdentity } from './protocol';

/**
 * Bytes the hub holds for a group of connections (one uid's, or all of them) and its bound: what is queued for
 * them to read, and the unfinished frames they sent. Each connection adds what changed in its share whenever it
 * queues a frame, receives part of one, drains or closes (O(1)); between those a share may be stale (high), so
 * whoever acts on an exceeded bound first calls syncQueued() on the group's connections.
 */
export class QueueAccount {
  queuedBytes = 0;
  readonly conns = new Set<Connection>();
  constructor(readonly limit: number) {}
}

export interface ConnectionOptions {
  id: number;
  socket: Socket;
  peer: PeerIdentity;
  maxFrameBytes: number;
  /** Bytes that may wait for a peer that does not read; past it the connection is dropped. */
  maxQueuedBytes: number;
  /** How long others may wait (paused) for this peer to drain its queue before it is dropped. */
  maxDrainWaitMs: number;
  /** The queued bytes of this connection's uid and of the whole hub; each has its own bound. */
  uidQueue: QueueAccount;
  hubQueue: QueueAccount;
  /** A bound of uidQueue or hubQueue is exceeded (after this connection queued a frame). */
  onQueueOverLimit(conn: Connection): void;
  onMessage(conn: Connection, msg: ClientToHub): void;
  /** Called exactly once, when the connection closes for any reason. `fault` = the peer misbehaved. */
  onClose(conn: Connection, reason: string, fault: boolean): void;
}

/** How long a connection closed with `flush` may take to drain before it is destroyed. */
const FLUSH_GRACE_MS = 2000;

export class Connection {
  readonly id: number;
  readonly peer: PeerIdentity;
  private readonly socket: Socket;
  private readonly decoder: FrameDecoder<ClientToHub>;
  /** This tick's frames, encoded as they are queued; written in one go at the next tick. */
  private readonly out = new OutgoingFrames();
  private flushScheduled = false;
  private isClosed = false;
  /** Connections not read until this one's queue drains (their calls were filling it); see waitFor. */
  private waiters: Connection[] | null = null;
  private waitingOn: Connection | null = null;
  /** Drops this peer if it has not drained by then while others wait on it: a peer that never reads must not stall them. */
  private drainDeadline: NodeJS.Timeout | null = null;
  /** This connection's queued bytes as last added to its QueueAccounts. */
  private accounted = 0;
  /** Bytes of an unfinished incoming frame as last accounted. */
  private inbound = 0;

  constructor(private readonly opts: ConnectionOptions) {
    this.id = opts.id;
    this.peer = opts.peer;
    this.socket = opts.socket;
    this.decoder = new FrameDecoder<ClientToHub>({
      maxFrameBytes: opts.maxFrameBytes,
      parse: parseClientFrame,
      onFrame: (msg) => this.dispatch(msg),
      onError: (err: FrameError) => this.close(`protocol violation: ${err.reason}`, { fault: true }),
    });
    this.socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk);
      // Most chunks end on a frame boundary: only a frame left unfinished changes what this peer makes the hub hold.
      if (this.decoder.bufferedBytes !== this.inbound) this.accountInbound();
    });
    this.socket.on('end', () => {
      this.decoder.end(); // a frame cut off by the disconnect is reported as a violation
      this.close('peer disconnected');
    });
    this.socket.on('error', (e: NodeJS.ErrnoException) => this.close(`socket error: ${e.code ?? e.message}`));
    this.socket.on('close', () => this.close('peer disconnected'));
    this.socket.on('drain', () => {
      this.syncQueued();
      this.releaseWaiters();
    });
    opts.uidQueue.conns.add(this);
    opts.hubQueue.conns.add(this);
  }

  /** Bring this connection's share of its QueueAccounts up to date. */
  syncQueued(): void {
    this.account(this.isClosed ? 0 : this.heldBytes);
  }

  /** What the hub holds for this peer: bytes queued for it and an unfinished frame from it. */
  get heldBytes(): number {
    return this.out.bytes + this.socket.writableLength + this.decoder.bufferedBytes;
  }

  private accountInbound(): void {
    this.inbound = this.decoder.bufferedBytes;
    if (this.isClosed) return;
    this.account(this.heldBytes);
    this.checkAccounts();
  }

  private checkAccounts(): void {
    const u = this.opts.uidQueue;
    const h = this.opts.hubQueue;
    if (u.queuedBytes > u.limit || h.queuedBytes > h.limit) this.opts.onQueueOverLimit(this);
  }

  private account(queued: number): void {
    const d = queued - this.accounted;
    if (d === 0) return;
    this.accounted = queued;
    this.opts.uidQueue.queuedBytes += d;
    this.opts.hubQueue.queuedBytes += d;
  }

  /** Bytes on their way to the peer: queued this tick plus held by the socket. */
  get queuedBytes(): number {
    return this.out.bytes + this.socket.writableLength;
  }

  /**
   * Stop reading this peer until `busy` has drained (or closed): a caller whose calls pile up at a slow service
   * waits, rather than the service being dropped for a queue it did not cause. Only call it while busy's queue
   * is at least its socket's high-water mark (so that a 'drain' is sure to come).
   */
  waitFor(busy: Connection): void {
    if (this.isClosed || busy.isClosed || busy === this || this.waitingOn !== null) return;
    this.waitingOn = busy;
    this.socket.pause();
    (busy.waiters ??= []).push(this);
    const ms = busy.opts.maxDrainWaitMs;
    busy.drainDeadline ??= setTimeout(() => {
      busy.close(`peer does not read its messages: ${busy.queuedBytes} bytes not drained in ${ms} ms while callers wait`, { fault: true });
    }, ms);
    busy.drainDeadline.unref();
  }

  /** The smallest queue for which waitFor may be used. */
  get drainThreshold(): number {
    return this.socket.writableHighWaterMark;
  }

  private releaseWaiters(): void {
    if (this.drainDeadline !== null) {
      clearTimeout(this.drainDeadline);
      this.drainDeadline = null;
    }
    const waiters = this.waiters;
    if (waiters === null) return;
    this.waiters = null;
    for (const c of waiters) {
      c.waitingOn = null;
      if (!c.isClosed) c.socket.resume();
    }
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Queue one message; frames queued in one tick go out in one write. */
  send(msg: HubToClient): void {
    if (this.isClosed) return;
    this.enqueue(encodeFrame(msg));
  }

  /** Queue a reply frame (the hot path: no intermediate message object). */
  sendReply(token: number, payload: unknown, last: boolean | undefined): void {
    if (this.isClosed) return;
    this.enqueue(encodeReply(token, payload, last));
  }

  /** Queue an already encoded frame (e.g. from encodeIncomingCall). */
  sendEncoded(frame: string): void {
    if (this.isClosed) return;
    this.enqueue(frame);
  }

  /**
   * Close once, with a reason for the log. `flush` sends what is queued first (e.g. a `refused` frame) and
   * ends the socket gracefully; otherwise the socket is destroyed at once.
   */
  close(reason: string, opts: { flush?: boolean; fault?: boolean } = {}): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.decoder.stop();
    if (opts.flush && !this.socket.destroyed) {
      const out = this.out.take();
      if (out !== null) this.socket.write(out);
      this.socket.end();
      setTimeout(() => this.socket.destroy(), FLUSH_GRACE_MS).unref();
    } else {
      this.out.take();
      this.socket.destroy();
    }
    this.releaseWaiters();
    // What the socket still holds is freed with it: nothing of this connection stays accounted (or referenced).
    this.account(0);
    this.opts.uidQueue.conns.delete(this);
    this.opts.hubQueue.conns.delete(this);
    this.opts.onClose(this, reason, opts.fault === true);
  }

  private dispatch(msg: ClientToHub): void {
    try {
      this.opts.onMessage(this, msg);
    } catch (e) {
      // e.g. a payload nested too deeply to re-serialise: this peer's frame, this peer's connection.
      this.close(`protocol violation: cannot handle "${msg.t}" frame: ${(e as Error).message}`, { fault: true });
    }
  }

  private enqueue(frame: string): void {
    this.out.add(frame);
    const queued = this.out.bytes + this.socket.writableLength;
    if (queued > this.opts.maxQueuedBytes) {
      this.close(`peer does not read its messages: ${queued} bytes queued (limit ${this.opts.maxQueuedBytes})`, { fault: true });
      return;
    }
    const held = queued + this.inbound;
    if (held !== this.accounted) {
      this.account(held);
      this.checkAccounts();
      if (this.isClosed) return;
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.isClosed) return;
    const out = this.out.take();
    if (out !== null) this.socket.write(out);
  };
}
