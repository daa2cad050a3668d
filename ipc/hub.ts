// The Luna hub: accepts connections on the hub socket, registers names, routes calls, replies, cancels and
// signals between peers, and asks the Policy before every registration and call. Security decisions live in acg/.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createLogger } from '../cli-common/log';
import { BusErrorCode, BusErrorText, CodedError, HubCloseReason, errorReply } from '../status-codes';
import type { Policy, CallerContext } from '../acg/policy';
import { Connection, QueueAccount } from './connection';
import { callerFields, encodeFrame, encodeIncomingCallWith, encodeSignalReply, signalSenderFields, targetFields } from './framing';
import { HubService, HubServiceCall, hubServiceHasMethod } from './hub-service';
import { peerIdentity } from './peer-credentials';
import { checkSocketPath } from '../layout/paths';
import { DEFAULT_LIMITS, HUB_SERVICE, HubLimits, Payload, PeerIdentity } from './protocol';
import type { CallMsg, ClientToHub, HelloMsg, MethodsMsg, ServiceReplyMsg, SignalMsg } from './protocol';
import { categoryProblem, methodNameProblem, parseUri, serviceNameProblem, type ParsedUri } from './uri';

export interface HubOptions {
  socketPath: string;
  policy: Policy;
  limits?: Partial<HubLimits>;
  /** One line per event; default: stderr with an "ls-hubd:" prefix. */
  log?: (line: string) => void;
  /** Also log every connection of an anonymous client (per-call traffic is never logged). */
  verbose?: boolean;
}

/**
 * What all connections of one uid hold at the hub, against the per-uid quotas (root's quotas are unbounded).
 * Kept while the uid has a connection; dropped with its last one.
 */
class UidAccount {
  connections = 0;
  /** Open calls made by the uid's connections, and how many of them are subscriptions. */
  calls = 0;
  subscriptions = 0;
  readonly queue: QueueAccount;
  readonly maxConnections: number;
  readonly maxCalls: number;
  readonly maxSubscriptions: number;
  /** Characters of category and method names in the method tables of the uid's connections (tableChars). */
  tableBytes = 0;
  readonly maxTableBytes: number;

  /** `root`: uid 0, or the uid the hub itself runs as (which the ACG gives root's role: acg/index.ts). */
  constructor(readonly uid: number, root: boolean, limits: HubLimits) {
    this.maxConnections = root ? Infinity : limits.maxConnectionsPerUid;
    this.maxCalls = root ? Infinity : limits.maxOutstandingCallsPerUid;
    this.maxSubscriptions = root ? Infinity : limits.maxSubscriptionsPerUid;
    this.maxTableBytes = root ? Infinity : limits.maxMethodTableBytesPerUid;
    this.queue = new QueueAccount(root ? Infinity : limits.maxQueuedBytesPerUid);
  }
}

/** The hub's view of one connection. */
interface Peer {
  conn: Connection;
  /** Its uid's quotas and usage. */
  account: UidAccount;
  /** Closes the connection if hello does not come in time; null once welcomed or closed. */
  helloTimer: NodeJS.Timeout | null;
  /** A refused signal of this connection was logged (later ones are dropped without a line). */
  signalRefusalLogged: boolean;
  uniqueId: string;
  /** Registered service name, null for an anonymous client. */
  name: string | null;
  /** hello answered with welcome. */
  welcomed: boolean;
  /** Declared methods by category. */
  categories: Map<string, Set<string>>;
  /** Methods in `categories`, over all categories. */
  methodCount: number;
  /** Calls this peer made, by its own token. */
  outgoing: Map<number, Call>;
  /** Calls delivered to this peer as a service, by hub token. */
  incoming: Map<number, Call>;
  /** Next hub token for calls to this peer; tokens below it were issued (late replies to them are dropped). */
  nextHubToken: number;
  label: string;
  /** The peer identity as JSON, serialised once for every call this peer makes. */
  peerJson: string;
  /** Its sender and senderId fields as JSON (callerFields), set when hello is answered. */
  callerJson: string;
  /** The sender fields stamped on its signals (signalSenderFields), made at its first signal. */
  signalJson?: string;
}

/** A parsed call URI with its category and method fields already serialised (targetFields). */
interface RouteTarget extends ParsedUri {
  readonly fieldsJson: string;
}

/** Most distinct URIs remembered by the parse cache before it starts over, and the longest one it keeps. */
const URI_CACHE_SIZE = 4096;
const URI_CACHE_MAX_LENGTH = 512;
/** Longest log line; the rest is cut. */
const MAX_LOG_LINE = 400;
/** Most lines per second about refused or timed-out connections (any peer can cause them at will); the rest are counted. */
const MAX_NOISY_LINES_PER_S = 20;
/** Most methods one connection may declare over all its categories (bounds what a peer can make the hub hold). */
export const MAX_METHODS_PER_CONNECTION = 10000;

/** One open call: from the caller's token to the service's hub token (or the hub's own service). */
class Call implements HubServiceCall {
  constructor(
    readonly caller: Peer,
    readonly callerToken: number,
    readonly service: Peer | null,
    readonly hubToken: number,
    /** Counted against the caller's subscription quota while open. */
    readonly subscription: boolean,
  ) {}

  /** Used by the hub's own service to answer. */
  reply(payload: Payload, last: boolean): void {
    if (this.caller.outgoing.get(this.callerToken) !== this) return; // already ended
    if (last) endCall(this);
    this.caller.conn.sendReply(this.callerToken, payload, last);
  }

  /** Used by the hub's own service to deliver a signal (payload already serialised, sender fields stamped by the hub). */
  signal(payloadJson: string, senderJson: string): void {
    if (this.caller.outgoing.get(this.callerToken) !== this) return;
    this.caller.conn.sendEncoded(encodeSignalReply(this.callerToken, payloadJson, senderJson));
  }
}

/** What one category of a method table costs against the per-uid bound: its name and its methods' names. */
function tableChars(category: string, methods: Set<string>): number {
  let n = category.length;
  for (const m of methods) n += m.length;
  return n;
}

/** Open `call` in its caller's table and quotas. */
function openCall(call: Call): void {
  const caller = call.caller;
  caller.outgoing.set(call.callerToken, call);
  caller.account.calls++;
  if (call.subscription) caller.account.subscriptions++;
}

/** Take `call` out of its caller's table and quotas (it must be there). */
function endCall(call: Call): void {
  const caller = call.caller;
  caller.outgoing.delete(call.callerToken);
  caller.account.calls--;
  if (call.subscription) caller.account.subscriptions--;
}

const defaultLog = createLogger('ls-hubd');

function describePeer(p: PeerIdentity): string {
  return `pid ${p.pid} uid ${p.uid} exe ${p.exe ?? '?'}`;
}

export class Hub {
  readonly socketPath: string;
  readonly policy: Policy;
  readonly limits: HubLimits;
  private readonly log: (line: string) => void;
  private readonly verbose: boolean;
  private server: net.Server | null = null;
  private socketIno: number | null = null;
  private readonly peers = new Set<Peer>();
  /** Per-uid usage, for uids with at least one connection. */
  private readonly accounts = new Map<number, UidAccount>();
  /** Bytes queued for all connections. */
  private readonly hubQueue: QueueAccount;
  /** Set while the hub drops connections for an exceeded queue bound (closing one queues frames to others). */
  private trimmingQueues = false;
  /** Rate limit of noisyLog: the current one-second window, lines logged in it, and lines left out since the last one logged. */
  private noisyWindow = 0;
  private noisyCount = 0;
  private noisySuppressed = 0;
  private readonly ownUid = process.getuid?.() ?? 0;
  private readonly services = new Map<string, Peer>();
  /** Every connection by its unique id (isCallAllowed about a call's sender). */
  private readonly byUniqueId = new Map<string, Peer>();
  private readonly hubService: HubService;
  private nextConnId = 1;
  /** Parsed URIs (or why they are bad): callers use few distinct URIs, parsing each once saves the hot path. */
  private readonly uriCache = new Map<string, RouteTarget | CodedError>();

  constructor(opts: HubOptions) {
    checkSocketPath(opts.socketPath);
    this.socketPath = opts.socketPath;
    this.policy = opts.policy;
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.hubQueue = new QueueAccount(this.limits.maxQueuedBytes);
    const log = opts.log ?? defaultLog;
    // Log lines quote what peers sent (names, URIs): keep each line short whatever a peer sends.
    this.log = (line) => log(line.length > MAX_LOG_LINE ? `${line.slice(0, MAX_LOG_LINE)}… (${line.length} chars)` : line);
    this.verbose = opts.verbose ?? false;
    this.hubService = new HubService({
      policy: this.policy,
      isServiceConnected: (n) => n === HUB_SERVICE || this.services.has(n),
      callerByUniqueId: (id) => {
        const p = this.byUniqueId.get(id);
        return p && p.welcomed ? { peer: p.conn.peer, name: p.name } : null;
      },
    });
  }

  /** Listen on the socket: creates parent dirs, clears a stale socket file, refuses if a live hub answers. */
  async start(): Promise<void> {
    if (this.server) throw new CodedError(BusErrorCode.GENERAL, `Hub already started on ${this.socketPath}`);
    await fs.promises.mkdir(path.dirname(this.socketPath), { recursive: true, mode: 0o755 });
    await this.clearStaleSocket();
    const server = net.createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((e: NodeJS.ErrnoException) => {
      throw new CodedError(BusErrorCode.GENERAL, `Cannot listen on ${this.socketPath}: ${e.code ?? e.message}`);
    });
    server.on('error', (e) => this.log(`server error: ${e.message}`));
    this.server = server;
    // Any local user may connect; what each may do is the policy's job.
    await fs.promises.chmod(this.socketPath, 0o666);
    this.socketIno = (await fs.promises.stat(this.socketPath)).ino;
    this.log(`listening on ${this.socketPath}`);
  }

  /** Close every connection, stop listening and remove the socket file (if it is still ours). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const p of [...this.peers]) p.conn.close('hub stopping');
    await closed;
    try {
      if (this.socketIno !== null && fs.statSync(this.socketPath).ino === this.socketIno) fs.unlinkSync(this.socketPath);
    } catch {
      /* already gone */
    }
    this.log('stopped');
  }

  /** Reload the security files (SIGHUP). */
  reload(): void {
    try {
      this.policy.reload();
      this.log('security policy reloaded');
    } catch (e) {
      this.log(`security policy reload failed: ${(e as Error).message}`);
    }
  }

  /** Counts for diagnostics and tests. */
  stats(): { connections: number; services: number; openCalls: number; hubServiceCalls: number; queuedBytes: number; uids: number } {
    let openCalls = 0;
    for (const p of this.peers) {
      openCalls += p.outgoing.size;
      p.conn.syncQueued();
    }
    return {
      connections: this.peers.size, services: this.services.size, openCalls, hubServiceCalls: this.hubService.openCalls,
      queuedBytes: this.hubQueue.queuedBytes, uids: this.accounts.size,
    };
  }

  // ---- listening ----

  private async clearStaleSocket(): Promise<void> {
    let st: fs.Stats;
    try {
      st = await fs.promises.lstat(this.socketPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    if (!st.isSocket()) {
      throw new CodedError(BusErrorCode.GENERAL, `${this.socketPath} exists and is not a socket; not removing it`);
    }
    const answer = await new Promise<'live' | 'stale' | string>((resolve) => {
      const s = net.connect(this.socketPath);
      const timer = setTimeout(() => {
        s.destroy();
        resolve('live'); // something holds it open but does not finish connecting: do not steal it
      }, 2000);
      s.once('connect', () => {
        clearTimeout(timer);
        s.destroy();
        resolve('live');
      });
      s.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        resolve(e.code === 'ECONNREFUSED' || e.code === 'ENOENT' ? 'stale' : String(e.code ?? e.message));
      });
    });
    if (answer === 'live') throw new CodedError(BusErrorCode.GENERAL, `A hub is already listening on ${this.socketPath}`);
    if (answer !== 'stale') throw new CodedError(BusErrorCode.GENERAL, `Cannot check the existing socket ${this.socketPath}: ${answer}`);
    await fs.promises.unlink(this.socketPath).catch(() => undefined);
    this.log(`removed stale socket ${this.socketPath}`);
  }

  /**
   * Root for the hub's quotas, its reserve and signals: uid 0, and the uid the hub runs as when a user starts it
   * (`npm start` without root), which the ACG gives root's privileged role too (acg/index.ts).
   */
  private isRoot(uid: number): boolean {
    return uid === 0 || uid === this.ownUid;
  }

  /** Log a line any peer can cause at will (a refused connection, a hello timeout): a few per second at most. */
  private noisyLog(line: string): void {
    const window = Math.floor(Date.now() / 1000);
    if (window !== this.noisyWindow) {
      this.noisyWindow = window;
      this.noisyCount = 0;
    }
    if (++this.noisyCount > MAX_NOISY_LINES_PER_S) {
      this.noisySuppressed++;
      return;
    }
    if (this.noisySuppressed > 0) {
      this.log(`(${this.noisySuppressed} similar lines about refused or timed-out connections left out)`);
      this.noisySuppressed = 0;
    }
    this.log(line);
  }

  private refuseConnection(socket: net.Socket, why: string, errorText: string): void {
    this.noisyLog(`connection refused: ${why}`);
    socket.on('error', () => undefined);
    socket.end(encodeFrame({ t: 'refused', errorCode: BusErrorCode.GENERAL, errorText }));
    setTimeout(() => socket.destroy(), 2000).unref();
  }

  private accept(socket: net.Socket): void {
    const id = this.nextConnId++;
    const { maxConnections, reservedConnections } = this.limits;
    if (this.peers.size >= maxConnections) {
      return this.refuseConnection(socket, `${this.peers.size} connections open (limit ${maxConnections})`, BusErrorText.tooManyConnections(maxConnections));
    }
    const identity = peerIdentity(socket, (why) => this.log(`cannot read peer credentials of connection ${id} (${why}): treating it as nobody`));
    const uid = identity.uid;
    if (!this.isRoot(uid)) {
      // The last reservedConnections are root's: root and its services can always connect, whatever others hold.
      const limit = Math.max(1, maxConnections - reservedConnections);
      if (this.peers.size >= limit) {
        return this.refuseConnection(socket, `${this.peers.size} connections open (limit ${limit} for uid ${uid}; the rest is reserved for root)`,
          BusErrorText.tooManyConnections(limit));
      }
    }
    let account = this.accounts.get(uid);
    if (account === undefined) this.accounts.set(uid, (account = new UidAccount(uid, this.isRoot(uid), this.limits)));
    if (account.connections >= account.maxConnections) {
      return this.refuseConnection(socket, `uid ${uid} has ${account.connections} connections open (limit ${account.maxConnections})`,
        BusErrorText.tooManyConnectionsForUid(uid, account.maxConnections));
    }
    account.connections++;
    const peer: Peer = {
      conn: undefined as unknown as Connection,
      account,
      helloTimer: null,
      signalRefusalLogged: false,
      uniqueId: `:1.${id}`,
      name: null,
      welcomed: false,
      categories: new Map(),
      methodCount: 0,
      outgoing: new Map(),
      incoming: new Map(),
      nextHubToken: 1,
      label: `:1.${id} (${describePeer(identity)})`,
      peerJson: JSON.stringify(identity),
      callerJson: '',
    };
    peer.conn = new Connection({
      id,
      socket,
      peer: identity,
      maxFrameBytes: this.limits.maxFrameBytes,
      maxQueuedBytes: this.limits.maxQueuedBytesPerConnection,
      maxDrainWaitMs: this.limits.maxDrainWaitMs,
      uidQueue: account.queue,
      hubQueue: this.hubQueue,
      onQueueOverLimit: (c) => this.onQueueOverLimit(c, account),
      onMessage: (_c, msg) => this.onMessage(peer, msg),
      onClose: (_c, reason, fault) => this.onClose(peer, reason, fault),
    });
    this.peers.add(peer);
    this.byUniqueId.set(peer.uniqueId, peer);
    const helloMs = this.limits.helloTimeoutMs;
    peer.helloTimer = setTimeout(() => {
      const reason = HubCloseReason.helloTimeout(helloMs);
      this.noisyLog(`closed ${peer.label}: ${reason}`);
      peer.conn.close(reason); // logged above, within the rate limit
    }, helloMs);
    peer.helloTimer.unref();
  }

  /**
   * A queue bound (the uid's or the hub's) is exceeded: bring the shares up to date (they may be stale), then drop
   * the connection holding the most, until both bounds hold. Only non-readers lose their connection this way.
   */
  private onQueueOverLimit(conn: Connection, account: UidAccount): void {
    if (this.trimmingQueues) return;
    this.trimmingQueues = true;
    try {
      for (const group of [account.queue, this.hubQueue]) {
        for (const c of group.conns) c.syncQueued();
        while (group.queuedBytes > group.limit && !conn.closed) {
          let biggest: Connection | null = null;
          let most = -1;
          for (const c of group.conns) {
            const q = c.heldBytes;
            if (q > most) {
              most = q;
              biggest = c;
            }
          }
          if (biggest === null) break;
          const total = group.queuedBytes;
          biggest.close(group === this.hubQueue
            ? HubCloseReason.hubQueueFull(total, group.limit)
            : HubCloseReason.uidQueueFull(account.uid, total, group.limit), { fault: true });
        }
      }
    } finally {
      this.trimmingQueues = false;
    }
  }

  // ---- messages ----

  private violation(peer: Peer, why: string): void {
    peer.conn.close(`protocol violation: ${why}`, { fault: true });
  }

  private onMessage(peer: Peer, msg: ClientToHub): void {
    if (!peer.welcomed) {
      if (msg.t !== 'hello') return this.violation(peer, `first frame must be "hello", got "${msg.t}"`);
      return this.onHello(peer, msg);
    }
    switch (msg.t) {
      case 'reply':
        return this.onReply(peer, msg);
      case 'call':
        return this.onCall(peer, msg);
      case 'cancel':
        return this.onCancel(peer, msg.token);
      case 'methods':
        return this.onMethods(peer, msg);
      case 'signal':
        return this.onSignal(peer, msg);
      case 'hello':
        return this.violation(peer, 'second "hello" on one connection');
    }
  }

  private refuse(peer: Peer, errorCode: number, errorText: string): void {
    this.log(`refused ${peer.label}: ${errorText}`);
    peer.conn.send({ t: 'refused', errorCode, errorText });
    peer.conn.close('registration refused', { flush: true });
  }

  private onHello(peer: Peer, msg: HelloMsg): void {
    const name = msg.name ?? null;
    const identity = peer.conn.peer;
    if (name !== null) {
      const why = serviceNameProblem(name);
      if (why) return this.refuse(peer, BusErrorCode.INVALID_PERMISSIONS, BusErrorText.invalidServiceName(name, why));
    }
    const denial = this.policy.checkRegister(identity, name);
    if (denial) return this.refuse(peer, denial.errorCode, denial.errorText);
    if (name !== null && (name === HUB_SERVICE || this.services.has(name))) {
      return this.refuse(peer, BusErrorCode.NAME_TAKEN, BusErrorText.nameTaken(name));
    }
    peer.welcomed = true;
    this.clearHelloTimer(peer);
    peer.name = name;
    peer.callerJson = callerFields(name, peer.uniqueId);
    if (name !== null) {
      peer.label = `${name} ${peer.label}`;
      this.services.set(name, peer);
      this.log(`registered ${peer.label}`);
    } else if (this.verbose) {
      this.log(`connected ${peer.label}`);
    }
    peer.conn.send({ t: 'welcome', name, uniqueId: peer.uniqueId, peer: identity });
    if (name !== null) this.hubService.serviceStatusChanged(name, true);
  }

  private clearHelloTimer(peer: Peer): void {
    if (peer.helloTimer !== null) {
      clearTimeout(peer.helloTimer);
      peer.helloTimer = null;
    }
  }

  private onMethods(peer: Peer, msg: MethodsMsg): void {
    const why = categoryProblem(msg.category);
    if (why) return this.violation(peer, `"methods": ${why}`);
    for (const m of msg.methods) {
      const mwhy = methodNameProblem(m);
      if (mwhy) return this.violation(peer, `"methods": ${mwhy}`);
    }
    const methods = new Set(msg.methods);
    const old = peer.categories.get(msg.category);
    const total = peer.methodCount - (old?.size ?? 0) + methods.size;
    if (total > MAX_METHODS_PER_CONNECTION) {
      return this.violation(peer, `"methods": more than ${MAX_METHODS_PER_CONNECTION} methods declared on one connection`);
    }
    // Names are unbounded in length: what the tables hold is bounded in characters, per uid (root's is not).
    const bytes = methods.size === 0 ? 0 : tableChars(msg.category, methods);
    const account = peer.account;
    const tableBytes = account.tableBytes - (old === undefined ? 0 : tableChars(msg.category, old)) + bytes;
    if (tableBytes > account.maxTableBytes) {
      return this.violation(peer, `"methods": ${HubCloseReason.methodTablesFull(account.uid, account.maxTableBytes)}`);
    }
    account.tableBytes = tableBytes;
    peer.methodCount = total;
    if (methods.size === 0) peer.categories.delete(msg.category);
    else peer.categories.set(msg.category, methods);
  }

  /** Answer a call at the hub with an error (the call never opens). */
  private busError(peer: Peer, token: number, payload: Payload): void {
    peer.conn.sendReply(token, payload, true);
  }

  private parse(uri: string): RouteTarget | CodedError {
    let r = this.uriCache.get(uri);
    if (r) return r;
    try {
      const { service, category, method } = parseUri(uri);
      r = { service, category, method, fieldsJson: targetFields(category, method) };
    } catch (e) {
      r = e instanceof CodedError ? e : new CodedError(BusErrorCode.GENERAL, (e as Error).message);
    }
    if (uri.length <= URI_CACHE_MAX_LENGTH) {
      if (this.uriCache.size >= URI_CACHE_SIZE) this.uriCache.clear();
      this.uriCache.set(uri, r);
    }
    return r;
  }

  private onCall(peer: Peer, msg: CallMsg): void {
    const token = msg.token;
    if (peer.outgoing.has(token)) return this.violation(peer, `call token ${token} is already in use`);
    const target = this.parse(msg.uri);
    if (target instanceof CodedError) return this.busError(peer, token, errorReply(target.code, target.text));
    const limit = this.limits.maxOutstandingCallsPerConnection;
    if (peer.outgoing.size >= limit) {
      return this.busError(peer, token, errorReply(BusErrorCode.GENERAL, BusErrorText.tooManyCalls(limit)));
    }
    const { service, category, method } = target;
    // null: the hub's own service; undefined: no such service connected.
    const svc = service === HUB_SERVICE ? null : this.services.get(service);
    if (svc === undefined) {
      // The name is resolved before any access check, as luna-service2's hub does: every caller learns that a
      // service is absent the same way (ares-cli asks for services a device may not have and goes on without them).
      const payload = this.policy.isKnownService(service)
        ? errorReply(BusErrorCode.GENERAL, BusErrorText.serviceNotRunning(service), { serviceName: service })
        : errorReply(BusErrorCode.GENERAL, BusErrorText.serviceDoesNotExist(service));
      return this.busError(peer, token, payload);
    }
    const account = peer.account;
    if (account.calls >= account.maxCalls) {
      return this.busError(peer, token, errorReply(BusErrorCode.GENERAL, BusErrorText.tooManyCallsForUid(account.uid, account.maxCalls)));
    }
    const caller: CallerContext = { peer: peer.conn.peer, name: peer.name };
    if (msg.appId !== undefined) caller.appId = msg.appId;
    const denial = this.policy.checkCall(caller, target);
    if (denial) return this.busError(peer, token, errorReply(denial.errorCode, denial.errorText));

    if (svc === null) {
      if (!hubServiceHasMethod(category, method)) {
        return this.busError(peer, token, errorReply(BusErrorCode.GENERAL, BusErrorText.unknownMethod(method, category)));
      }
      const subscription = category === '/signal' || msg.payload.subscribe === true;
      if (subscription && account.subscriptions >= account.maxSubscriptions) return this.tooManySubscriptions(peer, token);
      const call = new Call(peer, token, null, 0, subscription);
      openCall(call);
      this.hubService.handle(call, category, method, msg.payload);
      return;
    }

    if (!svc.categories.get(category)?.has(method)) {
      return this.busError(peer, token, errorReply(BusErrorCode.GENERAL, BusErrorText.unknownMethod(method, category)));
    }
    const subscription = msg.payload.subscribe === true;
    if (subscription && account.subscriptions >= account.maxSubscriptions) return this.tooManySubscriptions(peer, token);
    const hubToken = svc.nextHubToken++;
    const call = new Call(peer, token, svc, hubToken, subscription);
    openCall(call);
    svc.incoming.set(hubToken, call);
    svc.conn.sendEncoded(encodeIncomingCallWith(hubToken, peer.callerJson, msg.appId, target.fieldsJson, msg.payload, peer.peerJson));
    // Calls arriving faster than the service reads them: the caller waits (half the queue limit is the line),
    // instead of the service being dropped once the limit is passed.
    const queued = svc.conn.queuedBytes;
    if (queued > this.limits.maxQueuedBytesPerConnection / 2 && queued >= svc.conn.drainThreshold) peer.conn.waitFor(svc.conn);
  }

  private tooManySubscriptions(peer: Peer, token: number): void {
    const a = peer.account;
    this.busError(peer, token, errorReply(BusErrorCode.GENERAL, BusErrorText.tooManySubscriptionsForUid(a.uid, a.maxSubscriptions)));
  }

  private onReply(svc: Peer, msg: ServiceReplyMsg): void {
    const call = svc.incoming.get(msg.token);
    if (!call) {
      // A reply racing a cancel or the caller's disconnect is normal; a token never issued is not.
      if (msg.token >= 1 && msg.token < svc.nextHubToken) return;
      return this.violation(svc, `reply for token ${msg.token}, which this service was never given`);
    }
    if (msg.last) {
      svc.incoming.delete(msg.token);
      endCall(call);
    }
    call.caller.conn.sendReply(call.callerToken, msg.payload, msg.last);
  }

  private onCancel(peer: Peer, token: number): void {
    const call = peer.outgoing.get(token);
    if (!call) return; // already ended: nothing to cancel
    endCall(call);
    this.dropCall(call);
  }

  /** The caller is gone or cancelled: tell the service (or the hub service) to forget the call. */
  private dropCall(call: Call): void {
    const svc = call.service;
    if (svc === null) {
      this.hubService.cancel(call);
    } else if (svc.incoming.delete(call.hubToken)) {
      svc.conn.send({ t: 'cancel', token: call.hubToken });
    }
  }

  private onSignal(peer: Peer, msg: SignalMsg): void {
    const target = this.parse(msg.uri);
    // No reply path to report it on, and one log line per bad signal would let a peer flood the log.
    if (target instanceof CodedError) return this.violation(peer, `signal: ${target.text}`);
    if (!this.maySendSignal(peer, target)) {
      if (!peer.signalRefusalLogged) {
        peer.signalRefusalLogged = true;
        this.log(`${peer.label}: ${HubCloseReason.signalRefused(msg.uri)}`);
      }
      return;
    }
    peer.signalJson ??= signalSenderFields(peer.name, peer.uniqueId, peer.conn.peer.uid);
    this.hubService.signal(target.category, target.method, msg.payload, peer.signalJson);
  }

  /**
   * A signal luna://S/category/method may come from the connection registered as S, from root, or from a service
   * the ACG lets call com.webos.service.bus/signal/publish<category>/<method> (how luna-service2 grants it).
   * Anonymous non-root clients may send none: nobody could tell their signals from the real service's.
   */
  private maySendSignal(peer: Peer, target: RouteTarget): boolean {
    if (this.isRoot(peer.conn.peer.uid) || (peer.name !== null && peer.name === target.service)) return true;
    if (peer.name === null) return false;
    const publish = { service: HUB_SERVICE, category: `/signal/publish${target.category === '/' ? '' : target.category}`, method: target.method };
    return this.policy.isCallAllowedByName(peer.name, publish);
  }

  // ---- disconnects ----

  private onClose(peer: Peer, reason: string, fault: boolean): void {
    if (!this.peers.delete(peer)) return;
    this.byUniqueId.delete(peer.uniqueId);
    this.clearHelloTimer(peer);
    if (fault || peer.name !== null || this.verbose) this.log(`closed ${peer.label}: ${reason}`);
    // As a caller: cancel everything it had open.
    for (const call of peer.outgoing.values()) {
      endCall(call);
      this.dropCall(call);
    }
    peer.outgoing.clear();
    const account = peer.account;
    for (const [category, methods] of peer.categories) account.tableBytes -= tableChars(category, methods);
    peer.categories.clear();
    if (--account.connections === 0) this.accounts.delete(account.uid);
    // As a service: every open call to it ends with "X is not running."
    if (peer.incoming.size > 0) {
      const name = peer.name ?? peer.uniqueId;
      const payload = errorReply(BusErrorCode.GENERAL, BusErrorText.serviceNotRunning(name), { serviceName: name });
      for (const call of peer.incoming.values()) {
        if (call.caller.outgoing.get(call.callerToken) === call) {
          endCall(call);
          call.caller.conn.sendReply(call.callerToken, payload, true);
        }
      }
      peer.incoming.clear();
    }
    if (peer.name !== null && this.services.get(peer.name) === peer) {
      this.services.delete(peer.name);
      this.hubService.serviceStatusChanged(peer.name, false);
    }
  }
}
