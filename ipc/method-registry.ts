// The service side of the bus: declared methods (schema compiled once at registration) and the life of each
// incoming call, from validation through the handler to its replies; thrown errors become error replies here only.
// No socket here: replies go to a ReplySink (ipc/client.ts writes them to the hub), so this runs over anything.
import type { ErrorObject, ValidateFunction } from 'ajv';
import { BusErrorCode, BusErrorText, CodedError, ErrorCode, errorReply } from '../status-codes';
import type { IncomingCallMsg, Payload, PeerIdentity, ServiceReplyMsg } from './protocol';
import { categoryProblem, isPayload, methodNameProblem } from './uri';

/** A method as a service declares it: what it accepts, which ACG groups it is in, and what it does. */
export interface MethodSpec {
  /** JSON schema of the payload (extra keys allowed unless the schema says otherwise); failure → reply errorCode -2
   *  (ErrorCode.INVALID_PARAMETER) with a text naming the key, handler never runs. */
  schema?: object;
  /** ACG groups the method belongs to (documentation; the real decision comes from api-permissions files). */
  groups?: string[];
  /** Extra fields merged into every error reply of this method, e.g. {subscribed:false}. */
  errorExtra?: Payload;
  /** Returns the call return (first reply). Throwing CodedError → errorReply(code, text, errorExtra); other throws →
   *  code -1 with the message. Returning undefined means the handler replied (or will reply) itself with msg.respond. */
  handler(msg: Message): Payload | void | Promise<Payload | void>;
}

/** One call received by a service: who sent it, what it asks, and how to answer it. */
export interface Message {
  readonly token: number;
  readonly sender: string | null;
  readonly senderId: string;
  readonly appId?: string;
  readonly category: string;
  readonly method: string;
  readonly payload: Payload;
  readonly peer: PeerIdentity;
  /** payload.subscribe === true */
  readonly isSubscription: boolean;
  readonly cancelled: boolean;
  /** Send a reply now. A reply is `last` unless the message is in some subscription key and last is not forced. */
  respond(payload: Payload, opts?: { last?: boolean }): void;
  /** Called once when the caller cancels or disconnects (at once if that already happened). */
  onCancel(fn: () => void): void;
}

/** Where a service's replies go (the hub connection, or a test's list). */
export type ReplySink = (frame: ServiceReplyMsg) => void;

/** Something that may hold a message under subscription keys (subscriptions.ts); told when the message ends. */
export interface SubscriptionHolder {
  holds(msg: IncomingMessage): boolean;
  drop(msg: IncomingMessage): void;
}

/**
 * An incoming call and its reply order: the first reply (the call return) goes out before any subscription push;
 * pushes made earlier wait behind it. After a last reply (or a cancel) nothing more is sent.
 */
export class IncomingMessage implements Message {
  readonly token: number;
  readonly sender: string | null;
  readonly senderId: string;
  readonly appId?: string;
  readonly category: string;
  readonly method: string;
  readonly payload: Payload;
  readonly peer: PeerIdentity;
  private returned = false;
  private endedFlag = false;
  private cancelledFlag = false;
  // Made on first use: most calls are answered once and never queue, subscribe or register a cancel handler.
  private queued: Payload[] | null = null;
  private cancelFns: (() => void)[] | null = null;
  private holders: Set<SubscriptionHolder> | null = null;

  constructor(frame: IncomingCallMsg, private readonly sink: ReplySink, private readonly onEnd: (msg: IncomingMessage) => void) {
    this.token = frame.token;
    this.sender = frame.sender;
    this.senderId = frame.senderId;
    if (frame.appId !== undefined) this.appId = frame.appId;
    this.category = frame.category;
    this.method = frame.method;
    this.payload = frame.payload;
    this.peer = frame.peer;
  }

  get isSubscription(): boolean { return this.payload.subscribe === true; }
  get cancelled(): boolean { return this.cancelledFlag; }
  /** No more replies can be sent (a last reply went out, or the caller cancelled). */
  get ended(): boolean { return this.endedFlag; }
  /** Whether the call return has been sent. */
  get hasReturned(): boolean { return this.returned; }
  /** Under at least one subscription key of some holder. */
  get inSubscription(): boolean {
    if (this.holders === null) return false;
    for (const h of this.holders) if (h.holds(this)) return true;
    return false;
  }

  respond(payload: Payload, opts?: { last?: boolean }): void {
    if (this.endedFlag) return;
    const last = opts?.last ?? !this.inSubscription;
    this.send(payload, last);
    if (!this.returned) {
      this.returned = true;
      const queued = this.queued;
      this.queued = null;
      if (queued !== null) for (const p of queued) {
        if (this.endedFlag) break;
        this.send(p, false);
      }
    }
  }

  /** A subscription push: sent now if the call has returned, else queued behind the return. False if ended. */
  push(payload: Payload): boolean {
    if (this.endedFlag) return false;
    if (this.returned) this.send(payload, false);
    else (this.queued ??= []).push(payload);
    return true;
  }

  /** An error reply (always last): the one place a failure becomes a reply. */
  fail(code: number, text: string, extra?: Payload): void {
    if (this.endedFlag) return;
    this.returned = true;
    this.queued = null;
    this.send(errorReply(code, text, extra), true);
  }

  onCancel(fn: () => void): void {
    if (this.cancelledFlag) fn();
    else if (!this.endedFlag) (this.cancelFns ??= []).push(fn);
  }

  /** Called by a SubscriptionHolder when it adds this message under a key. */
  attach(holder: SubscriptionHolder): void { (this.holders ??= new Set()).add(holder); }

  /** The caller cancelled or went away: end without a reply and tell the handler. */
  cancel(): void {
    if (this.endedFlag) return;
    this.cancelledFlag = true;
    this.finish();
    const fns = this.cancelFns;
    this.cancelFns = null;
    if (fns !== null) for (const fn of fns) fn();
  }

  private send(payload: Payload, last: boolean): void {
    // A non-object reply would make the hub drop the whole service connection: the caller gets an error instead.
    if (!isPayload(payload)) payload = errorReply(BusErrorCode.GENERAL, BusErrorText.payloadNotObject);
    const frame: ServiceReplyMsg = { t: 'reply', token: this.token, payload };
    if (last) frame.last = true;
    if (last) this.finish();
    this.sink(frame);
  }

  private finish(): void {
    if (this.endedFlag) return;
    this.endedFlag = true;
    this.queued = null;
    const holders = this.holders;
    this.holders = null;
    if (holders !== null) for (const h of holders) h.drop(this);
    if (!this.cancelledFlag) this.cancelFns = null;
    this.onEnd(this);
  }
}

/** Validates a payload; returns the reason (naming the key) or null. */
type Validator = (payload: Payload) => string | null;
interface DeclaredMethod { spec: MethodSpec; validate: Validator | null }

let ajvInstance: import('ajv').default | null = null;
/** ajv is loaded on first use: clients that declare no schema (e.g. luna-send) never pay for it. */
function ajv(): import('ajv').default {
  if (!ajvInstance) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const AjvCtor = require('ajv').default as typeof import('ajv').default;
    ajvInstance = new AjvCtor({ allErrors: false, strict: true });
  }
  return ajvInstance;
}

/** "/a/b/0" (JSON pointer) → "a.b[0]". */
export function pointerToPath(pointer: string): string {
  if (pointer === '') return '';
  let out = '';
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(seg) ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  }
  return out;
}

/** One ajv error as a sentence that names the key, e.g. `"id" must be string`, `missing required property "ipkUrl"`. */
export function describeSchemaError(err: ErrorObject): string {
  const where = pointerToPath(err.instancePath);
  const child = (key: string) => (where ? `${where}.${key}` : key);
  const params = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'required':
      return `missing required property "${child(String(params.missingProperty))}"`;
    case 'additionalProperties':
      return `unknown property "${child(String(params.additionalProperty))}"`;
    default:
      return where ? `"${where}" ${err.message ?? 'is invalid'}` : `payload ${err.message ?? 'is invalid'}`;
  }
}

function compile(category: string, name: string, schema: object): Validator {
  let fn: ValidateFunction;
  try {
    fn = ajv().compile(schema);
  } catch (e) {
    throw new Error(`The schema of method "${name}" in category "${category}" does not compile: ${(e as Error).message}`);
  }
  return (payload) => {
    if (fn(payload)) return null;
    const first = fn.errors?.[0];
    return first ? describeSchemaError(first) : 'payload is invalid';
  };
}

const DONE: Promise<void> = Promise.resolve();

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** A thrown error as the call's error reply (CodedError keeps its code and text). */
function failFromThrow(msg: IncomingMessage, e: unknown, spec: MethodSpec): void {
  if (e instanceof CodedError) msg.fail(e.code, e.text, spec.errorExtra);
  else msg.fail(BusErrorCode.GENERAL, e instanceof Error ? e.message : String(e), spec.errorExtra);
}

/** The reply of an async handler, or its rejection as an error reply. */
async function settle(msg: IncomingMessage, result: PromiseLike<unknown>, spec: MethodSpec): Promise<void> {
  try {
    const value = await result;
    if (value !== undefined && value !== null) msg.respond(value as Payload);
  } catch (e) {
    failFromThrow(msg, e, spec);
  }
}

/** The declared methods of one service connection and its open incoming calls. */
export class MethodRegistry {
  private readonly categories = new Map<string, Map<string, DeclaredMethod>>();
  private readonly open = new Map<number, IncomingMessage>();
  private readonly ended = (m: IncomingMessage): void => { this.open.delete(m.token); };

  constructor(private readonly sink: ReplySink) {}

  /** Declare (replace) one category's methods; compiles their schemas. Returns the method names. Throws on bad names or schemas. */
  register(category: string, methods: Record<string, MethodSpec>): string[] {
    const catWhy = categoryProblem(category);
    if (catWhy) throw new CodedError(BusErrorCode.GENERAL, catWhy);
    const table = new Map<string, DeclaredMethod>();
    for (const [name, spec] of Object.entries(methods)) {
      const why = methodNameProblem(name);
      if (why) throw new CodedError(BusErrorCode.GENERAL, why);
      if (typeof spec?.handler !== 'function') throw new CodedError(BusErrorCode.GENERAL, `method "${name}" in category "${category}" has no handler`);
      table.set(name, { spec, validate: spec.schema ? compile(category, name, spec.schema) : null });
    }
    this.categories.set(category, table);
    return [...table.keys()];
  }

  unregister(category: string): void { this.categories.delete(category); }

  has(category: string, method: string): boolean { return this.categories.get(category)?.has(method) ?? false; }

  /** Number of incoming calls still open (not ended, not cancelled). */
  get openCalls(): number { return this.open.size; }

  /** Run one incoming call: unknown method, schema failure, handler result or thrown error → replies. */
  handleCall(frame: IncomingCallMsg): Promise<void> {
    const msg = new IncomingMessage(frame, this.sink, this.ended);
    this.open.set(frame.token, msg);
    const declared = this.categories.get(frame.category)?.get(frame.method);
    if (!declared) {
      msg.fail(BusErrorCode.GENERAL, BusErrorText.unknownMethod(frame.method, frame.category));
      return DONE;
    }
    const { spec, validate } = declared;
    const why = validate ? validate(frame.payload) : null;
    if (why) {
      msg.fail(ErrorCode.INVALID_PARAMETER, BusErrorText.invalidParameter(why), spec.errorExtra);
      return DONE;
    }
    // A handler that answers synchronously is answered at once (no promise and microtask per call).
    try {
      const result = spec.handler(msg);
      if (isThenable(result)) return settle(msg, result, spec);
      if (result !== undefined && result !== null) msg.respond(result as Payload);
    } catch (e) {
      failFromThrow(msg, e, spec);
    }
    return DONE;
  }

  /** The caller cancelled this call (or disconnected). */
  handleCancel(token: number): void { this.open.get(token)?.cancel(); }

  /** The hub went away: every open call is cancelled. */
  cancelAll(): void { for (const m of [...this.open.values()]) m.cancel(); }
}
