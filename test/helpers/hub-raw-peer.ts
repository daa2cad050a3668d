// A raw NDJSON peer for hub tests: speaks the wire protocol by hand (no client library), so tests can send
// anything, including garbage, and see exactly what the hub sends back and when it hangs up.
import net from 'node:net';

export type Frame = Record<string, any>;

export class RawPeer {
  readonly frames: Frame[] = [];
  private buf = '';
  private waiters: Array<{ pred: (f: Frame) => boolean; resolve: (f: Frame) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }> = [];
  private nextToken = 1;
  closed = false;
  readonly closedP: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (s: string) => {
      this.buf += s;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        const f = JSON.parse(line) as Frame;
        this.frames.push(f);
        this.onFrame?.(f);
        for (const w of [...this.waiters]) {
          if (w.pred(f)) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            clearTimeout(w.timer);
            w.resolve(f);
            break;
          }
        }
      }
    });
    socket.on('error', () => undefined);
    this.closedP = new Promise((resolve) => socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new Error('connection closed while waiting'));
      }
      resolve();
    }));
  }

  /** Optional hook called for every frame received. */
  onFrame?: (f: Frame) => void;

  static connect(socketPath: string): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = net.connect(socketPath);
      s.once('connect', () => resolve(new RawPeer(s)));
      s.once('error', reject);
    });
  }

  /** Connect and say hello; resolves with the welcome (rejects on refused). */
  static async hello(socketPath: string, name: string | null = null): Promise<RawPeer> {
    const p = await RawPeer.connect(socketPath);
    p.send({ t: 'hello', name });
    const f = await p.next((x) => x.t === 'welcome' || x.t === 'refused');
    if (f.t !== 'welcome') throw new Error(`refused: ${f.errorText}`);
    return p;
  }

  send(f: Frame): void {
    this.socket.write(JSON.stringify(f) + '\n');
  }

  sendRaw(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Send a call; returns its token. */
  call(uri: string, payload: Frame = {}, extra: Frame = {}): number {
    const token = this.nextToken++;
    this.send({ t: 'call', token, uri, payload, ...extra });
    return token;
  }

  /** The next frame (already received and not yet taken, or arriving) matching pred. */
  next(pred: (f: Frame) => boolean = () => true, timeoutMs = 10000): Promise<Frame> {
    const i = this.frames.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]);
    if (this.closed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.findIndex((w) => w.timer === timer), 1);
        reject(new Error(`timed out waiting for a frame; got ${JSON.stringify(this.frames.slice(-3))}`));
      }, timeoutMs);
      this.waiters.push({
        pred,
        resolve: (f) => {
          this.frames.splice(this.frames.indexOf(f), 1);
          resolve(f);
        },
        reject,
        timer,
      });
    });
  }

  /** The next reply to one of our call tokens. */
  reply(token: number, timeoutMs?: number): Promise<Frame> {
    return this.next((f) => f.t === 'reply' && f.token === token, timeoutMs);
  }

  /** Call and wait for the first reply's payload. */
  async callOne(uri: string, payload: Frame = {}, extra: Frame = {}): Promise<Frame> {
    return (await this.reply(this.call(uri, payload, extra))).payload;
  }

  close(): Promise<void> {
    this.socket.end();
    return this.closedP;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
