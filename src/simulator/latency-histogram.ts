/**
 * Ack-latency recorder with bounded memory: log-spaced buckets of 1% width from 1 µs to
 * 10 minutes, so percentiles are within ~1% of the true value whatever the number of
 * samples. Exact min and max are kept beside the buckets.
 */

const MIN_MS = 0.001;
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = Math.ceil(Math.log(600_000 / MIN_MS) / LOG_GROWTH) + 1;

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export class LatencyHistogram {
  private readonly counts = new Uint32Array(BUCKETS);
  private n = 0;
  private lo = Infinity;
  private hi = -Infinity;

  get count(): number {
    return this.n;
  }

  record(ms: number): void {
    if (!Number.isFinite(ms)) return;
    const v = Math.max(ms, 0);
    const i = v <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(v / MIN_MS) / LOG_GROWTH));
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.n++;
    if (v < this.lo) this.lo = v;
    if (v > this.hi) this.hi = v;
  }

  /** The value below which a fraction `q` (0..1) of the samples fall; NaN when empty. */
  quantile(q: number): number {
    if (this.n === 0) return NaN;
    const rank = Math.max(1, Math.ceil(Math.min(Math.max(q, 0), 1) * this.n));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) {
        const mid = MIN_MS * GROWTH ** (i + 0.5);
        return Math.min(this.hi, Math.max(this.lo, mid));
      }
    }
    return this.hi;
  }

  summary(): LatencySummary {
    const round = (x: number): number => (Number.isNaN(x) ? 0 : Math.round(x * 1000) / 1000);
    return {
      count: this.n,
      p50: round(this.quantile(0.5)),
      p90: round(this.quantile(0.9)),
      p99: round(this.quantile(0.99)),
      max: round(this.n === 0 ? NaN : this.hi),
    };
  }

  reset(): void {
    this.counts.fill(0);
    this.n = 0;
    this.lo = Infinity;
    this.hi = -Infinity;
  }
}
