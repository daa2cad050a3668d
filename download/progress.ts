// Speed smoothing and event throttling for download progress. Not the event payloads (tickets.ts shapes those).

/** Exponentially smoothed bytes/s over samples taken at most every `minSampleMs`. */
export class SpeedMeter {
  private lastT = 0;
  private lastBytes = 0;
  speed = 0;
  constructor(private readonly halfLifeMs = 1000, private readonly minSampleMs = 100) {}

  reset(now: number, bytes: number): void {
    this.lastT = now;
    this.lastBytes = bytes;
  }

  /** Feed the running byte count; returns the smoothed speed. */
  sample(now: number, bytes: number): number {
    const dt = now - this.lastT;
    if (dt < this.minSampleMs) return this.speed;
    const inst = ((bytes - this.lastBytes) * 1000) / dt;
    const alpha = 1 - Math.pow(0.5, dt / this.halfLifeMs);
    this.speed = this.speed === 0 ? inst : this.speed + alpha * (inst - this.speed);
    this.lastT = now;
    this.lastBytes = bytes;
    return this.speed;
  }
}

/** True at most once per `intervalMs` (the first call passes). */
export class Throttle {
  private last = -Infinity;
  constructor(private readonly intervalMs: number) {}
  ready(now: number): boolean {
    if (now - this.last < this.intervalMs) return false;
    this.last = now;
    return true;
  }
}
