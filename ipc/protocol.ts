// The bus wire protocol: one JSON object per line over a Unix socket, each with a type `t`.
// Only the shapes and limits live here; framing.ts splits lines, hub.ts and client.ts give them meaning.

/** Kernel identity of a peer, taken by the hub at accept (SO_PEERCRED + /proc/<pid>/exe). */
export interface PeerIdentity {
  pid: number;
  uid: number;
  gid: number;
  /** Resolved executable path, or null when it could not be read (then: least privilege). */
  exe: string | null;
}

/** A JSON object payload (the bus refuses anything else). */
export type Payload = Record<string, unknown>;

// ---- client → hub ----
/** First frame of every connection: register a service name, or none (anonymous client). */
export interface HelloMsg { t: 'hello'; name?: string | null }
/** Declare (replace) the methods of one category of the registered service; [] removes it. */
export interface MethodsMsg { t: 'methods'; category: string; methods: string[] }
/** Call a method; `token` is chosen by the caller, unique on its connection. */
export interface CallMsg { t: 'call'; token: number; uri: string; payload: Payload; appId?: string }
/** Cancel one of the caller's calls (unsubscribe). */
export interface CancelMsg { t: 'cancel'; token: number }
/** A service replying to a call it received; `last` says no more replies will follow. */
export interface ServiceReplyMsg { t: 'reply'; token: number; payload: Payload; last?: boolean }
/** Send a signal to every matching `signal/addmatch` call. */
export interface SignalMsg { t: 'signal'; uri: string; payload: Payload }

export type ClientToHub = HelloMsg | MethodsMsg | CallMsg | CancelMsg | ServiceReplyMsg | SignalMsg;

// ---- hub → client ----
/** Answer to hello. `name` is the registered name or null for an anonymous client. */
export interface WelcomeMsg { t: 'welcome'; name: string | null; uniqueId: string; peer: PeerIdentity }
/** Answer to hello when the name may not be registered; the hub closes the connection after it. */
export interface RefusedMsg { t: 'refused'; errorCode: number; errorText: string }
/**
 * A reply to one of the client's calls (its own token). Bus errors arrive this way too. A signal delivered to a
 * `signal/addmatch` call also carries who sent it, stamped by the hub from the sender's connection (never from
 * anything the sender wrote): its registered name (null when anonymous), unique id and kernel uid.
 */
export interface ReplyMsg { t: 'reply'; token: number; payload: Payload; last?: boolean; sender?: string | null; senderId?: string; senderUid?: number }
/** A call delivered to a service; `token` is the hub's, unique on the service's connection. */
export interface IncomingCallMsg {
  t: 'call';
  token: number;
  sender: string | null;
  senderId: string;
  appId?: string;
  category: string;
  method: string;
  payload: Payload;
  peer: PeerIdentity;
}
/** The caller cancelled (or disconnected): drop that call and its subscriptions. */
export interface IncomingCancelMsg { t: 'cancel'; token: number }

export type HubToClient = WelcomeMsg | RefusedMsg | ReplyMsg | IncomingCallMsg | IncomingCancelMsg;

/** Limits; each is configurable on the hub (and the frame size on clients). */
export const DEFAULT_LIMITS = {
  /** Largest frame in bytes; a larger one closes that connection. */
  maxFrameBytes: 1024 * 1024,
  /** Most simultaneous connections to the hub. */
  maxConnections: 4096,
  /** Of maxConnections, how many only root (uid 0) may use: root and root's services can connect whatever others hold. */
  reservedConnections: 64,
  /** Most simultaneous connections of one non-root uid (said hello or not). */
  maxConnectionsPerUid: 512,
  /** A connection that has not said hello within this time is closed. */
  helloTimeoutMs: 10_000,
  /** Most outstanding calls one connection may have open. */
  maxOutstandingCallsPerConnection: 10000,
  /** Most outstanding calls over all connections of one non-root uid. */
  maxOutstandingCallsPerUid: 20000,
  /** Most open subscriptions (calls with "subscribe":true, signal/addmatch, signal/registerServerStatus) of one non-root uid. */
  maxSubscriptionsPerUid: 5000,
  /** Characters of category and method names declared ("methods" frames) over all connections of one non-root uid. */
  maxMethodTableBytesPerUid: 4 * 1024 * 1024,
  /** Bytes queued for a peer that does not read before the hub drops it. */
  maxQueuedBytesPerConnection: 16 * 1024 * 1024,
  /** Bytes queued for all connections of one non-root uid; past it the uid's connection with the most queued is dropped. */
  maxQueuedBytesPerUid: 64 * 1024 * 1024,
  /** Bytes queued for all connections together; past it the connection with the most queued is dropped. */
  maxQueuedBytes: 256 * 1024 * 1024,
  /** How long callers paused behind a peer's full queue wait for it to drain before that peer is dropped. */
  maxDrainWaitMs: 10_000,
} as const;
export type HubLimits = { -readonly [K in keyof typeof DEFAULT_LIMITS]: number };

/** The hub's own service name. */
export const HUB_SERVICE = 'com.webos.service.bus';
