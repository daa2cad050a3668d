// Newline-delimited JSON frames: splitting a byte stream into checked protocol messages, and encoding them.
// Pure (no sockets): connection.ts feeds it Buffers; what a message means is hub.ts's and client.ts's business.
import type { CallMsg, ClientToHub, HubToClient } from './protocol';

/** Why a stream of frames is broken; the connection that sent it is closed with this reason. */
export class FrameError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'FrameError';
  }
}

/** Turns one frame's text into a checked message, or throws FrameError. */
export type FrameParser<T> = (line: string) => T;

export interface FrameDecoderOptions<T> {
  /** Largest frame in bytes, newline excluded; a frame growing past it is an error at once. */
  maxFrameBytes: number;
  parse: FrameParser<T>;
  onFrame(msg: T): void;
  /** Called once; the decoder ignores all input after it. */
  onError(err: FrameError): void;
}

const NEWLINE = 0x0a;

/**
 * Incremental decoder. Each pushed chunk is scanned once for newlines (bytes already buffered are never
 * re-scanned), and a frame spanning chunks is joined only when its newline arrives.
 */
export class FrameDecoder<T> {
  private parts: Buffer[] = [];
  private partsBytes = 0;
  private dead = false;

  constructor(private readonly opts: FrameDecoderOptions<T>) {}

  /** Bytes of an unfinished frame held back (for tests and diagnostics). */
  get bufferedBytes(): number {
    return this.partsBytes;
  }

  get failed(): boolean {
    return this.dead;
  }

  /** Stop decoding (e.g. the connection is closing): further input is ignored. */
  stop(): void {
    this.dead = true;
    this.parts = [];
    this.partsBytes = 0;
  }

  push(chunk: Buffer): void {
    if (this.dead) return;
    const max = this.opts.maxFrameBytes;
    let start = 0;
    let nl = chunk.indexOf(NEWLINE, start);
    while (nl !== -1) {
      const bytes = this.partsBytes + (nl - start);
      if (bytes > max) return this.fail(`frame of more than ${max} bytes`);
      let line: string;
      if (this.partsBytes === 0) {
        line = chunk.toString('utf8', start, nl);
      } else {
        this.parts.push(chunk.subarray(start, nl));
        line = Buffer.concat(this.parts, bytes).toString('utf8');
        this.parts = [];
        this.partsBytes = 0;
      }
      start = nl + 1;
      let msg: T;
      try {
        msg = this.opts.parse(line);
      } catch (e) {
        return this.fail(e instanceof FrameError ? e.reason : `bad frame: ${(e as Error).message}`);
      }
      this.opts.onFrame(msg);
      if (this.dead) return; // the receiver closed the stream while handling the frame
      nl = chunk.indexOf(NEWLINE, start);
    }
    const rest = chunk.length - start;
    if (rest === 0) return;
    if (this.partsBytes + rest > max) return this.fail(`frame of more than ${max} bytes`);
    this.parts.push(start === 0 ? chunk : chunk.subarray(start));
    this.partsBytes += rest;
  }

  /** The stream ended; an unfinished frame is an error (a frame cut off by a disconnect). */
  end(): void {
    if (this.dead) return;
    if (this.partsBytes > 0) this.fail(`stream ended inside a frame (${this.partsBytes} bytes without a newline)`);
    else this.stop();
  }

  private fail(reason: string): void {
    this.stop();
    this.opts.onError(new FrameError(reason));
  }
}

/** An output buffer larger than this is trimmed to its used bytes when taken (OutgoingFrames.take). */
const BIG_OUT_BYTES = 64 * 1024;

/** First size of a tick's output buffer (below half of Buffer.poolSize, so it comes from the shared pool). */
const OUT_FIRST_BYTES = 2048;

/**
 * Frames waiting to be written in one go, UTF-8 encoded as they are added (cheaper than building one long
 * string of frames and flattening it at write time). take() hands over the bytes and starts a new buffer.
 */
export class OutgoingFrames {
  private buf: Buffer | null = null;
  private used = 0;

  /** Bytes queued. */
  get bytes(): number {
    return this.used;
  }

  add(frame: string): void {
    const need = this.used + frame.length * 3; // UTF-8 takes at most 3 bytes per UTF-16 unit
    let buf = this.buf;
    if (buf === null || need > buf.length) {
      const next = Buffer.allocUnsafe(Math.max(need, OUT_FIRST_BYTES, buf === null ? 0 : buf.length * 2));
      if (buf !== null) buf.copy(next, 0, 0, this.used);
      this.buf = buf = next;
    }
    this.used += buf.write(frame, this.used);
  }

  /** The queued bytes (null if none); the queue is empty afterwards. */
  take(): Buffer | null {
    const buf = this.buf;
    const used = this.used;
    this.buf = null;
    this.used = 0;
    if (buf === null || used === 0) return null;
    // A large buffer mostly unused (sized for the worst-case UTF-8 of a big frame) would stay whole behind a
    // subarray while the socket holds it: keep only the bytes, so what a peer makes the hub hold is what is counted.
    if (buf.length > BIG_OUT_BYTES && used < buf.length / 2) return Buffer.from(buf.subarray(0, used));
    return buf.subarray(0, used);
  }
}

/** One message as one frame. Throws if the message cannot be serialised (e.g. nested too deeply). */
export function encodeFrame(msg: ClientToHub | HubToClient): string {
  return JSON.stringify(msg) + '\n';
}

/**
 * A `call` frame (client → hub), built without an intermediate object: every call a client makes goes through
 * here. Same bytes as encodeFrame({t:'call', token, uri, payload, appId}); `uriJson` = JSON.stringify(uri), which
 * a caller may keep for a URI it calls often.
 */
export function encodeCall(token: number, uri: string, payload: unknown, appId: string | undefined, uriJson = JSON.stringify(uri)): string {
  const json = JSON.stringify(payload);
  // Not serialisable as a value (undefined, a function): the same frame encodeFrame makes (payload left out).
  if (json === undefined) return encodeFrame({ t: 'call', token, uri, payload, ...(appId === undefined ? {} : { appId }) } as CallMsg);
  return '{"t":"call","token":' + token + ',"uri":' + uriJson + ',"payload":' + json +
    (appId === undefined ? '}\n' : ',"appId":' + JSON.stringify(appId) + '}\n');
}

/**
 * A `reply` frame, built without an intermediate object: the hub forwards every reply through here.
 * Same bytes as encodeFrame({t:'reply', token, payload, last}) (last omitted when false).
 */
export function encodeReply(token: number, payload: unknown, last: boolean | undefined): string {
  return '{"t":"reply","token":' + token + ',"payload":' + JSON.stringify(payload) + (last ? ',"last":true}\n' : '}\n');
}

/**
 * A signal delivered to a `signal/addmatch` call: a non-last reply with the sender's fields (signalSenderFields)
 * after the payload. `payloadJson` is serialised once per signal, whatever the number of receivers.
 */
export function encodeSignalReply(token: number, payloadJson: string, senderJson: string): string {
  return '{"t":"reply","token":' + token + ',"payload":' + payloadJson + senderJson + '}\n';
}

/** The sender fields the hub stamps on every signal it delivers: from the sender's connection, never from its frame. */
export function signalSenderFields(sender: string | null, senderId: string, senderUid: number): string {
  return ',"sender":' + JSON.stringify(sender) + ',"senderId":' + JSON.stringify(senderId) + ',"senderUid":' + senderUid;
}

/**
 * A `call` frame delivered to a service, built without an intermediate object. `peerJson` is the caller's
 * PeerIdentity already serialised (it never changes for a connection). Same fields as IncomingCallMsg.
 */
export function encodeIncomingCall(
  token: number, sender: string | null, senderId: string, appId: string | undefined,
  category: string, method: string, payload: unknown, peerJson: string,
): string {
  return encodeIncomingCallWith(token, callerFields(sender, senderId), appId, targetFields(category, method), payload, peerJson);
}

/** The `sender` and `senderId` fields of an incoming call, serialised once per caller (they never change). */
export function callerFields(sender: string | null, senderId: string): string {
  return ',"sender":' + JSON.stringify(sender) + ',"senderId":' + JSON.stringify(senderId);
}

/** The `category` and `method` fields of an incoming call, serialised once per distinct URI. */
export function targetFields(category: string, method: string): string {
  return ',"category":' + JSON.stringify(category) + ',"method":' + JSON.stringify(method);
}

/** encodeIncomingCall with the caller's and target's fields already serialised (callerFields, targetFields). */
export function encodeIncomingCallWith(
  token: number, callerJson: string, appId: string | undefined, targetJson: string, payload: unknown, peerJson: string,
): string {
  return '{"t":"call","token":' + token + callerJson + (appId === undefined ? '' : ',"appId":' + JSON.stringify(appId)) +
    targetJson + ',"payload":' + JSON.stringify(payload) + ',"peer":' + peerJson + '}\n';
}

// ---- message shape checks (the hub trusts nothing a peer sends) ----

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isToken(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function parseObject(line: string): Record<string, unknown> {
  if (line.length === 0) throw new FrameError('empty frame');
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    throw new FrameError(`frame is not JSON (${(e as Error).message})`);
  }
  if (!isObject(v)) throw new FrameError('frame is not a JSON object');
  return v;
}

function bad(t: string, field: string, want: string): never {
  throw new FrameError(`"${t}" frame: field "${field}" must be ${want}`);
}

function typeName(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v) : v === undefined ? 'missing' : typeof v;
}

/** Check one client → hub frame (as the hub receives it). */
export function parseClientFrame(line: string): ClientToHub {
  const m = parseObject(line);
  const t = m.t;
  switch (t) {
    case 'hello':
      if (m.name !== undefined && m.name !== null && typeof m.name !== 'string') bad(t, 'name', 'a string or null');
      break;
    case 'methods':
      if (typeof m.category !== 'string') bad(t, 'category', 'a string');
      if (!Array.isArray(m.methods) || !m.methods.every((x) => typeof x === 'string')) bad(t, 'methods', 'an array of strings');
      break;
    case 'call':
      if (!isToken(m.token)) bad(t, 'token', 'a non-negative integer');
      if (typeof m.uri !== 'string') bad(t, 'uri', 'a string');
      if (!isObject(m.payload)) bad(t, 'payload', 'a JSON object');
      if (m.appId !== undefined && typeof m.appId !== 'string') bad(t, 'appId', 'a string');
      break;
    case 'cancel':
      if (!isToken(m.token)) bad(t, 'token', 'a non-negative integer');
      break;
    case 'reply':
      checkReply(m);
      break;
    case 'signal':
      if (typeof m.uri !== 'string') bad(t, 'uri', 'a string');
      if (!isObject(m.payload)) bad(t, 'payload', 'a JSON object');
      break;
    default:
      throw new FrameError(`unknown message type ${typeName(t)}`);
  }
  return m as unknown as ClientToHub;
}

/** A reply has the same shape in both directions (service → hub, hub → caller). */
function checkReply(m: Record<string, unknown>): void {
  if (!isToken(m.token)) bad('reply', 'token', 'a non-negative integer');
  if (!isObject(m.payload)) bad('reply', 'payload', 'a JSON object');
  if (m.last !== undefined && typeof m.last !== 'boolean') bad('reply', 'last', 'a boolean');
}

/** Check one hub → client frame (as a client receives it). */
export function parseHubFrame(line: string): HubToClient {
  const m = parseObject(line);
  const t = m.t;
  switch (t) {
    case 'welcome':
      if (m.name !== null && typeof m.name !== 'string') bad(t, 'name', 'a string or null');
      if (typeof m.uniqueId !== 'string') bad(t, 'uniqueId', 'a string');
      if (!isObject(m.peer)) bad(t, 'peer', 'an object');
      break;
    case 'refused':
      if (typeof m.errorCode !== 'number') bad(t, 'errorCode', 'a number');
      if (typeof m.errorText !== 'string') bad(t, 'errorText', 'a string');
      break;
    case 'reply':
      checkReply(m);
      if (m.senderId !== undefined) {
        if (typeof m.senderId !== 'string') bad(t, 'senderId', 'a string');
        if (m.sender !== null && typeof m.sender !== 'string') bad(t, 'sender', 'a string or null');
        if (!isToken(m.senderUid)) bad(t, 'senderUid', 'a non-negative integer');
      }
      break;
    case 'call':
      if (!isToken(m.token)) bad(t, 'token', 'a non-negative integer');
      if (typeof m.category !== 'string') bad(t, 'category', 'a string');
      if (typeof m.method !== 'string') bad(t, 'method', 'a string');
      if (typeof m.senderId !== 'string') bad(t, 'senderId', 'a string');
      if (!isObject(m.payload)) bad(t, 'payload', 'a JSON object');
      if (!isObject(m.peer)) bad(t, 'peer', 'an object');
      break;
    case 'cancel':
      if (!isToken(m.token)) bad(t, 'token', 'a non-negative integer');
      break;
    default:
      throw new FrameError(`unknown message type ${typeName(t)}`);
  }
  return m as unknown as HubToClient;
}
