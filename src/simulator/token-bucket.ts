/**
 * Token bucket for the simulator's rate control. Each simulated device owns one: tokens
 * accrue at `ratePerSec` (fractional tokens carry over between ticks, so a device that should
 * send 2.5 events/s really does over time) up to `capacity`; sending an event spends one.
 * Time is passed in, never read, so the arithmetic is testable without clocks.
 */

export class TokenBucket {
  private level: number;
  private lastMs: number;

  constructor(
    private rate: number,
    readonly capacity: number,
    nowMs: number,
    initial = 0,
  ) {
    if (!(rate >= 0) || !Number.isFinite(rate)) throw new RangeError(`rate must be a finite number >= 0, got ${rate}`);
    if (!(capacity > 0) || !Number.isFinite(capacity)) throw new RangeError(`capacity must be > 0, got ${capacity}`);
    this.level = Math.min(Math.max(initial, 0), capacity);
    this.lastMs = nowMs;
  }

  get ratePerSec(): number {
    return this.rate;
  }

  /** Whole and fractional tokens available after refilling up to `nowMs`. */
  available(nowMs: number): number {
    this.refill(nowMs);
    return this.level;
  }

  /** Add the tokens earned since the last refill; time going backwards earns nothing. */
  refill(nowMs: number): void {
    const elapsed = nowMs - this.lastMs;
    if (elapsed > 0) {
      this.level = Math.min(this.capacity, this.level + (elapsed / 1000) * this.rate);
      this.lastMs = nowMs;
    }
  }

  /** Change the rate from `nowMs` on; tokens earned so far are kept at the old rate. */
  setRate(rate: number, nowMs: number): void {
    if (rate === this.rate) return;
    if (!(rate >= 0) || !Number.isFinite(rate)) throw new RangeError(`rate must be a finite number >= 0, got ${rate}`);
    this.refill(nowMs);
    this.rate = rate;
  }

  /** Set the level (clamped to 0..capacity) as of `nowMs`, e.g. to give devices random phases. */
  setLevel(tokens: number, nowMs: number): void {
    this.refill(nowMs);
    this.level = Math.min(this.capacity, Math.max(0, tokens));
  }

  /** Spend up to `max` whole tokens; returns how many were spent. */
  takeUpTo(max: number, nowMs: number): number {
    this.refill(nowMs);
    const n = Math.min(Math.floor(this.level), Math.max(0, Math.floor(max)));
    this.level -= n;
    return n;
  }
}
