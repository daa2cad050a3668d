// A process's handle on the bus: connect and register a name, call methods (as Observables), declare methods and
// answer calls, send signals. Not the hub's routing (hub.ts), nor framing (framing.ts), nor call life (method-registry.ts).
import net from 'node:net';
import path from 'node:path';
// Deep imports: the same modules the 'rxjs' index re-exports (same classes), without loading all of rxjs
// (about 100 ms less start-up for luna-send, which runs once per command on a device).
import { AsyncSubject } from 'rxjs/internal/AsyncSubject';
import { Observable } from 'rxjs/internal/Observable';
import type { Subscriber } from 'rxjs/internal/Subscriber';
import { firstValueFrom } from 'rxjs/internal/firstValueFrom';
import { BusErrorCode, BusErrorText, CodedError, errorReply } from '../status-codes';
import { FrameDecoder, encodeCall, encodeFrame, parseHubFrame, type FrameError } from './framing';
import { MethodRegistry, type Message, type MethodSpec } from './method-registry';
import { checkSocketPath, resolveClientHubSocket } from '../layout/paths';
import { DEFAULT_LIMITS, HUB_SERVICE, type ClientToHub, type HubToClient, type Payload, type PeerIdentity, type ReplyMsg, type ServiceReplyMsg } from './protocol';
import { Subscriptions, type SubscriptionRegistry } from './subscriptions';
import { parseUri } from './uri';

export type { Message, MethodSpec } from './method-registry';
export type { SubscriptionRegistry } from './subscriptions';

export interface ConnectOptions {
  /** Root prefix used to find the hub socket when socketPath is not given (docs/layout.md). */
  root?: string;
  socketPath?: string;
  /** Service name to register; null/undefined = anonymous client. */
  name?: string | null;
  /** Largest frame accepted from the hub and sent to it (default DEFAULT_LIMITS.maxFrameBytes). */
  maxFrameBytes?: number;
  /** Debug log of every frame sent and received (luna-send -d). */
  log?: (line: string) => void;
  /** Give up when the hub has not answered hello within this time (default DEFAULT_CONNECT_TIMEOUT_MS). */
  connectTimeoutMs?: number;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 15000;

/** A signal as the hub delivered it: the payload and who sent it (stamped by the hub from the sender's connection). */
export interface BusSignal {
  /** The sender's registered service name; null for an anonymous sender (only root may send signals anonymously). */
  sender: string | null;
  senderId: string;
  senderUid: number;
  payload: Payload;
}

/** A frame's UTF-8 size is checked only when it could exceed the limit (UTF-8 is at most 3 bytes per UTF-16 unit). */
function frameBytesOver(text: string, max: number): number {
  if ((text.length - 1) * 3 <= max) return 0;
  const bytes = Buffer.byteLength(text) - 1;
  return bytes > max ? bytes : 0;
}

type State = 'connecting' | 'open' | 'closing' | 'closed';

/** Why a connect attempt failed, in words a user can act on. */
function connectFailure(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT': return 'no such socket (is the hub running?)';
    case 'ECONNREFUSED': return 'connection refused (stale socket; is the hub running?)';
    case 'EACCES': return 'permission denied';
    default: return err.code ?? err.message;
  }
}

export class LunaClient {
  private _name: string | null = null;
  private _uniqueId = '';
  private _peer: PeerIdentity = { pid: 0, uid: 0, gid: 0, exe: null };
  private state: State = 'connecting';
  /** The connection ended without close(): calls made now get hubGone rather than clientClosed. */
  private wasLost = false;
  private nextToken = 1;
  /** Open outgoing calls by token: the call's subscriber (a call is open exactly while it is in this map). */
  private readonly pending = new Map<number, Subscriber<Payload>>();
  /** signals() calls by token: they get each signal with its sender fields. */
  private readonly signalTaps = new Map<number, (msg: ReplyMsg) => void>();
  private readonly registry: MethodRegistry;
  private readonly gone = new AsyncSubject<void>();
  private readonly decoder: FrameDecoder<HubToClient>;
  private readonly maxFrameBytes: number;
  private readonly closed: Promise<void>;
  private handshake: { resolve(c: LunaClient): void; reject(e: CodedError): void } | null = null;
  /** Frames written this tick, sent in one socket write at the next tick (one write per frame costs far more). */
  private out = '';
  private flushScheduled = false;
  /** Why the handshake failed when it was this side that gave up. */
  private handshakeFailure: string | undefined;
  private fanoutDepth = 0;
  /** Payloads serialised during the current fan-out (cleared after it, so a payload changed later is serialised again). */
  private readonly payloadJson = new Map<Payload, string>();
  /** The URI of the latest call and its JSON (callers tend to call one URI many times). */
  private lastUri = '';
  private lastUriJson = '""';

  readonly subscriptions: Subscriptions = new Subscriptions({ fanout: (send) => this.fanout(send) });
  /** Emits once when the hub connection ends without close() having been called; completes on close(). */
  readonly hubGone$: Observable<void> = this.gone.asObservable();

  get name(): string | null { return this._name; }
  get uniqueId(): string { return this._uniqueId; }
  get peer(): PeerIdentity { return this._peer; }
  /** The hub socket this client is connected to. */
  get socketPath(): string { return this._socketPath; }

  /**
   * Connects (socket from opts.socketPath, else resolveClientHubSocket(opts.root)) and registers `name`
   * (null/undefined = anonymous). Rejects with CodedError: refused registration (its code and text), or cannot
   * connect: text names the socket path.
   */
  static connect(opts: ConnectOptions = {}): Promise<LunaClient> {
    let socketPath: string;
    try {
      socketPath = opts.socketPath ? path.resolve(opts.socketPath) : resolveClientHubSocket(opts.root);
      checkSocketPath(socketPath);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<LunaClient>((resolve, reject) => {
      const socket = net.createConnection(socketPath);
      const client = new LunaClient(socket, socketPath, opts);
      const limitMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
      // Something listening that never answers hello (a hung hub, not a hub) must not hang the caller.
      const timer = setTimeout(() => {
        client.handshakeFailure = `no answer from the hub within ${limitMs} ms`;
        socket.destroy();
      }, limitMs);
      client.handshake = {
        resolve: (c) => { clearTimeout(timer); resolve(c); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
      socket.once('connect', () => {
        const hello: ClientToHub = { t: 'hello', name: opts.name ?? null };
        client.send(hello);
      });
    });
  }

  private constructor(private readonly socket: net.Socket, private readonly _socketPath: string, private readonly opts: ConnectOptions) {
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_LIMITS.maxFrameBytes;
    this.registry = new MethodRegistry((frame) => this.sendReply(frame));
    this.decoder = new FrameDecoder<HubToClient>({
      maxFrameBytes: this.maxFrameBytes,
      parse: parseHubFrame,
      onFrame: (msg) => this.onFrame(msg),
      onError: (err: FrameError) => {
        this.log(`bad frame from the hub: ${err.reason}`);
        this.socket.destroy();
      },
    });
    socket.on('data', (chunk: Buffer) => this.decoder.push(chunk));
    socket.on('end', () => this.decoder.end());
    let lastError: NodeJS.ErrnoException | null = null;
    socket.on('error', (err: NodeJS.ErrnoException) => {
      lastError = err;
      this.log(`socket error: ${err.message}`);
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.onClose(lastError);
        resolve();
      });
    });
  }

  /**
   * Cold Observable: subscribing sends the call; each reply payload is emitted in order; unsubscribing sends
   * cancel; completes after a reply with last:true; errors (CodedError) if the hub connection is lost.
   */
  call(uri: string, payload: Payload, opts: { appId?: string } = {}): Observable<Payload> {
    return new Observable<Payload>((sub) => {
      if (this.state !== 'open') {
        sub.error(this.notOpenError());
        return;
      }
      const token = this.nextToken++;
      if (uri !== this.lastUri) {
        this.lastUri = uri;
        this.lastUriJson = JSON.stringify(uri);
      }
      const text = encodeCall(token, uri, payload, opts.appId, this.lastUriJson);
      const bytes = frameBytesOver(text, this.maxFrameBytes);
      if (bytes > 0) {
        sub.error(new CodedError(BusErrorCode.GENERAL, BusErrorText.frameTooLarge(bytes, this.maxFrameBytes)));
        return;
      }
      this.pending.set(token, sub);
      this.write(text);
      // Still open (no last reply, no failure): the caller cancels.
      return () => {
        if (this.pending.delete(token) && this.state === 'open') this.send({ t: 'cancel', token });
      };
    });
  }

  /** First reply, then cancel. */
  callOne(uri: string, payload: Payload, opts: { appId?: string } = {}): Promise<Payload> {
    return firstValueFrom(this.call(uri, payload, opts));
  }

  /** Declare the methods of one category (service side). Schemas are compiled once here with ajv. */
  registerCategory(category: string, methods: Record<string, MethodSpec>): void {
    if (this._name === null) {
      throw new CodedError(BusErrorCode.GENERAL, 'An anonymous client cannot declare methods; connect with a service name');
    }
    const names = this.registry.register(category, methods);
    this.send({ t: 'methods', category, methods: names });
  }

  unregisterCategory(category: string): void {
    this.registry.unregister(category);
    this.send({ t: 'methods', category, methods: [] });
  }

  /** Send a signal to every matching signal/addmatch call. */
  sendSignal(uri: string, payload: Payload): void {
    if (this.state !== 'open') throw this.notOpenError();
    parseUri(uri); // a bad signal URI has no reply to carry its error: the hub would drop the connection
    this.send({ t: 'signal', uri, payload });
  }

  /**
   * Signals of `category` (and of `method`, if given) through signal/addmatch, each with the sender the hub stamped.
   * With `from`, only signals sent by the connection registered as that service are emitted: the hub lets a signal
   * naming service S come only from S (or root, or a sender the ACG allows to publish it), and stamps who sent it,
   * so a receiver acting on a signal passes `from` and ignores everyone else's. Errors (CodedError) if addmatch fails.
   */
  signals(category: string, method?: string, opts: { from?: string } = {}): Observable<BusSignal> {
    return new Observable<BusSignal>((sub) => {
      const token = this.nextToken;
      const payload: Payload = method === undefined ? { category } : { category, method };
      const inner = this.call(`luna://${HUB_SERVICE}/signal/addmatch`, payload).subscribe({
        next: (p) => {
          if (p.returnValue === false) sub.error(new CodedError(typeof p.errorCode === 'number' ? p.errorCode : BusErrorCode.GENERAL, String(p.errorText)));
        },
        error: (e) => sub.error(e),
        complete: () => sub.complete(),
      });
      if (!inner.closed) {
        this.signalTaps.set(token, (msg) => {
          if (opts.from !== undefined && msg.sender !== opts.from) return;
          sub.next({ sender: msg.sender ?? null, senderId: msg.senderId!, senderUid: msg.senderUid!, payload: msg.payload });
        });
      }
      return () => {
        this.signalTaps.delete(token);
        inner.unsubscribe();
      };
    });
  }

  /** Number of incoming calls not yet ended (service side). */
  get openIncomingCalls(): number { return this.registry.openCalls; }

  /** Close the connection: open calls error (clientClosed), incoming calls are cancelled, hubGone$ completes. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    if (this.state !== 'closing') {
      this.state = 'closing';
      this.failPending(new CodedError(BusErrorCode.GENERAL, BusErrorText.clientClosed));
      this.registry.cancelAll();
      this.flush();
      this.socket.end();
      // A hub that does not answer the FIN must not keep us waiting forever.
      const timer = setTimeout(() => this.socket.destroy(), 2000);
      timer.unref();
    }
    await this.closed;
  }

  private notOpenError(): CodedError {
    return this.wasLost
      ? new CodedError(BusErrorCode.GENERAL, BusErrorText.hubGone(this._socketPath))
      : new CodedError(BusErrorCode.GENERAL, BusErrorText.clientClosed);
  }

  private onFrame(msg: HubToClient): void {
    if (this.opts.log) this.log(`<- ${JSON.stringify(msg)}`); // serialising every frame costs even when unlogged
    switch (msg.t) {
      case 'welcome':
        if (this.state !== 'connecting' || !this.handshake) return;
        this._name = msg.name;
        this._uniqueId = msg.uniqueId;
        this._peer = msg.peer;
        this.state = 'open';
        this.handshake.resolve(this);
        this.handshake = null;
        return;
      case 'refused':
        if (this.handshake) {
          this.handshake.reject(new CodedError(msg.errorCode, msg.errorText));
          this.handshake = null;
        }
        this.state = 'closing';
        this.socket.destroy();
        return;
      case 'reply':
        if (msg.senderId !== undefined) {
          // A signal: signals() wants its sender; a plain addmatch call() gets its payload like any reply.
          const tap = this.signalTaps.get(msg.token);
          if (tap !== undefined) {
            if (this.pending.has(msg.token)) tap(msg);
            return;
          }
        }
        this.onReply(msg.token, msg.payload, msg.last === true);
        return;
      case 'call':
        if (this.state === 'open') void this.registry.handleCall(msg);
        return;
      case 'cancel':
        this.registry.handleCancel(msg.token);
        return;
    }
  }

  private onReply(token: number, payload: Payload, last: boolean): void {
    const sub = this.pending.get(token);
    if (sub === undefined) return;
    if (last) this.pending.delete(token);
    sub.next(payload);
    if (last) sub.complete();
  }

  private onClose(err: NodeJS.ErrnoException | null): void {
    const prev = this.state;
    this.state = 'closed';
    this.decoder.stop();
    if (this.handshake) {
      const why = this.handshakeFailure ?? (err ? connectFailure(err) : 'the hub closed the connection before answering');
      this.handshake.reject(new CodedError(BusErrorCode.GENERAL, BusErrorText.cannotConnect(this._socketPath, why)));
      this.handshake = null;
      return;
    }
    if (prev === 'open') {
      this.wasLost = true;
      this.log(`hub connection lost (${this._socketPath})`);
      this.failPending(new CodedError(BusErrorCode.GENERAL, BusErrorText.hubGone(this._socketPath)));
      this.registry.cancelAll();
      this.gone.next();
    }
    this.gone.complete();
  }

  private failPending(err: CodedError): void {
    const subs = [...this.pending.values()];
    this.pending.clear();
    for (const sub of subs) sub.error(err);
  }

  private send(frame: ClientToHub): void {
    this.write(encodeFrame(frame));
  }

  /**
   * A service's reply. One push to many subscribers carries the same payload object: it is serialised once per
   * tick. A payload that cannot be serialised, or would exceed the frame limit (the hub would drop the whole
   * connection), becomes an error reply to that one call instead.
   */
  private sendReply(frame: ServiceReplyMsg): void {
    let json = this.fanoutDepth > 0 ? this.payloadJson.get(frame.payload) : undefined;
    if (json === undefined) {
      try {
        json = JSON.stringify(frame.payload);
      } catch (e) {
        json = JSON.stringify(errorReply(BusErrorCode.GENERAL, BusErrorText.replyNotSerialisable((e as Error).message)));
      }
      if (this.fanoutDepth > 0) this.payloadJson.set(frame.payload, json);
    }
    let text = `{"t":"reply","token":${frame.token},"payload":${json}${frame.last ? ',"last":true' : ''}}\n`;
    const bytes = frameBytesOver(text, this.maxFrameBytes);
    if (bytes > 0) {
      const err = errorReply(BusErrorCode.GENERAL, BusErrorText.frameTooLarge(bytes, this.maxFrameBytes));
      this.log(`reply to call ${frame.token} too large (${bytes} bytes): sending an error instead`);
      text = `{"t":"reply","token":${frame.token},"payload":${JSON.stringify(err)}${frame.last ? ',"last":true' : ''}}\n`;
    }
    this.write(text);
  }

  private write(text: string): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    if (this.opts.log) this.log(`-> ${text.slice(0, -1)}`);
    // Frames written in one tick leave in one write (a push to many subscribers is many frames).
    this.out += text;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const out = this.out;
    if (out === '') return;
    this.out = '';
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.write(out);
  };

  /** One subscription push to all its messages: the payload is serialised once (it cannot change meanwhile). */
  private fanout<T>(send: () => T): T {
    this.fanoutDepth++;
    try {
      return send();
    } finally {
      if (--this.fanoutDepth === 0) this.payloadJson.clear();
    }
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }
}
