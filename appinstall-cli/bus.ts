// appinstall's side of the bus: one anonymous LunaClient on the hub socket luna-send uses (layout/paths.ts), calls that
// turn an error reply into a CliError with words and an exit code (not offered, denied, failed, bus unreachable).
import type { LunaClient } from '../ipc/client';
import { resolveClientHubSocket } from '../layout/paths';
import type { Payload } from '../ipc/protocol';
import { BusErrorCode, CodedError } from '../status-codes';
import { CliText, ExitCode } from '../status-codes/cli';

export const APPINSTALL = 'luna://com.webos.appInstallService';
export const APPMANAGER = 'luna://com.webos.applicationManager';

/** A command that did not succeed: `message` goes to stderr, `exitCode` is the process's. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number = ExitCode.FAILURE, readonly reply?: Payload) {
    super(message);
    this.name = 'CliError';
  }
}

/** The method part of a URI for messages: `/operations/list`. */
function methodOf(uri: string): string {
  return uri.replace(/^luna:\/\/[^/]+/, '');
}

/** An error reply → CliError. The bus's "no such method / service" becomes "this daemon does not offer …". */
export function replyError(uri: string, reply: Payload): CliError {
  const text = typeof reply.errorText === 'string' ? reply.errorText : JSON.stringify(reply);
  const method = methodOf(uri);
  if (/^Unknown method "|^Service does not exist: | is not running\.$/.test(text)) {
    return new CliError(CliText.notOffered(method, text), ExitCode.FAILURE, reply);
  }
  if (reply.errorCode === BusErrorCode.INVALID_PERMISSIONS || /^Denied method call |^Not permitted to send /.test(text)) {
    return new CliError(CliText.denied(`call ${method}`, text), ExitCode.DENIED, reply);
  }
  return new CliError(CliText.failed(method, text), ExitCode.FAILURE, reply);
}

/** A thrown bus-side error (connect, lost connection) → CliError with ExitCode.NO_BUS or DENIED. */
function thrownError(e: unknown): CliError {
  if (e instanceof CliError) return e;
  if (e instanceof CodedError && e.code === BusErrorCode.INVALID_PERMISSIONS) return new CliError(CliText.denied('use the bus', e.text), ExitCode.DENIED);
  const text = e instanceof CodedError ? e.text : e instanceof Error ? e.message : String(e);
  return new CliError(CliText.cannotReachBus(text), ExitCode.NO_BUS);
}

export class Bus {
  private constructor(private readonly client: LunaClient) {}

  /** Connects anonymously (any caller may; the ACG decides per method) to the hub luna-send would use. */
  static async open(root?: string): Promise<Bus> {
    // The client (and rxjs) load only now: --help and usage errors stay fast.
    const { LunaClient: Client } = require('../ipc/client') as typeof import('../ipc/client');
    try {
      const socketPath = resolveClientHubSocket(root);
      return new Bus(await Client.connect({ socketPath, name: null }));
    } catch (e) {
      throw thrownError(e);
    }
  }

  /** First reply of a call; an error reply throws CliError. */
  async call(uri: string, payload: Payload): Promise<Payload> {
    let reply: Payload;
    try {
      reply = await this.client.callOne(uri, payload);
    } catch (e) {
      throw thrownError(e);
    }
    if (reply.returnValue === false) throw replyError(uri, reply);
    return reply;
  }

  /** First reply, or null when the daemon does not offer the method (other errors still throw). */
  async callIfOffered(uri: string, payload: Payload): Promise<Payload | null> {
    try {
      return await this.call(uri, payload);
    } catch (e) {
      if (e instanceof CliError && /^this daemon does not offer/.test(e.message)) return null;
      throw e;
    }
  }

  /**
   * A subscribed call: `onReply` sees every reply after the call return and says when it is the last one. An error
   * call return throws CliError; so does the call or the connection ending before `onReply` said done.
   */
  stream(uri: string, payload: Payload, onReply: (reply: Payload, first: boolean) => boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let first = true;
      let done = false;
      const sub = this.client.call(uri, payload).subscribe({
        next: (reply) => {
          if (done) return;
          if (first && reply.returnValue === false) {
            done = true;
            reject(replyError(uri, reply));
            return;
          }
          let last: boolean;
          try {
            last = onReply(reply, first);
          } catch (e) {
            done = true;
            reject(e);
            return;
          }
          first = false;
          if (last) {
            done = true;
            queueMicrotask(() => sub.unsubscribe());
            resolve();
          }
        },
        error: (e) => {
          if (!done) { done = true; reject(thrownError(e)); }
        },
        complete: () => {
          if (!done) { done = true; reject(new CliError(CliText.connectionLost, ExitCode.NO_BUS)); }
        },
      });
    });
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
