// A mergeable latency histogram: log-spaced buckets 2 % wide from 10 µs to 10 minutes, so a
// percentile is within ~2 % of the true value whatever the number of samples. Generators send
// the buckets that changed (sparse [index, count] pairs) to the parent, which merges them.

const MIN_MS = 0.01;
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = Math.ceil(Math.log(600_000 / MIN_MS) / LOG_GROWTH) + 1;

export class LogHistogram {
  constructor() {
    this.counts = new Float64Array(BUCKETS);
    this.n = 0;
    this.max = 0;
  }

  record(ms) {
    if (!Number.isFinite(ms)) return;
    const v = Math.max(0, ms);
    const i = v <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(v / MIN_MS) / LOG_GROWTH));
    this.counts[i] += 1;
    this.n += 1;
    if (v > this.max) this.max = v;
  }

  /** Add a sparse export of another histogram. */
  merge(sparse) {
    if (!sparse) return;
    for (const [i, c] of sparse.buckets) this.counts[i] += c;
    this.n += sparse.n;
    if (sparse.max > this.max) this.max = sparse.max;
  }

  /** The non-empty buckets as [index, count] pairs. */
  sparse() {
    const buckets = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i] > 0) buckets.push([i, this.counts[i]]);
    return { n: this.n, max: this.max, buckets };
  }

  /** Value below which a fraction q of the samples fall (bucket midpoint); null when empty. */
  quantile(q) {
    if (this.n === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.n));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(this.max, MIN_MS * GROWTH ** (i + 0.5));
    }
    return this.max;
  }

  summary() {
    const r = (x) => (x === null ? null : Math.round(x * 100) / 100);
    return { count: this.n, p50: r(this.quantile(0.5)), p90: r(this.quantile(0.9)), p99: r(this.quantile(0.99)), p999: r(this.quantile(0.999)), max: r(this.n ? this.max : null) };
  }
}

/** Exact percentile of a small array of numbers (nearest rank); null when empty. */
export function percentile(values, q) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
