/**
 * A small, mergeable, deterministic quantile sketch over `Centroid[]` ([mean, weight] sorted
 * by mean), in the spirit of the merging t-digest.
 *
 *  - While a sketch holds at most `size` distinct values it is exact: one centroid per value,
 *    its weight the number of copies.
 *  - Past that it is compressed: sorted neighbours merge while their combined quantile span
 *    stays within one unit of the k1 scale k(q) = δ/2π·asin(2q−1), so centroids are small at
 *    the tails and larger in the middle. δ starts at 3·size and shrinks until at most `size`
 *    centroids remain. The first and last centroids are never merged into (when size ≥ 3),
 *    so the sketch's minimum and maximum are exact.
 *
 * No randomness and a fixed order of float operations: the same inputs in the same order give
 * the same centroids bit for bit (Math.cos/sin run only on the constant 2π/δ, and V8 computes
 * them with its own fdlibm port). ClickHouse later merges the centroids as weighted values
 * (quantilesTDigestWeighted), so only means and weights matter.
 */
import type { Centroid } from './types.js';

/** Most centroids per sketch unless configured otherwise. */
export const DEFAULT_DIGEST_SIZE = 64;

/** How much δ shrinks per retry when a compression pass leaves too many centroids. */
const DELTA_SHRINK = 0.9;

/** Merge two sorted sketches into one sorted list, adding the weights of equal means. */
function mergeSorted(a: readonly Centroid[], b: readonly Centroid[]): Centroid[] {
  const out: Centroid[] = [];
  let i = 0;
  let j = 0;
  const push = (mean: number, weight: number): void => {
    const last = out[out.length - 1];
    if (last !== undefined && last[0] === mean) last[1] += weight;
    else out.push([mean, weight]);
  };
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (x !== undefined && (y === undefined || x[0] <= y[0])) {
      push(x[0], x[1]);
      i++;
    } else if (y !== undefined) {
      push(y[0], y[1]);
      j++;
    }
  }
  return out;
}

/**
 * One merging pass with compression δ over sorted centroids. With `keepEnds` the first and
 * last centroids pass through untouched, so the minimum and maximum stay exact.
 */
function compressPass(sorted: readonly Centroid[], total: number, delta: number, keepEnds: boolean): Centroid[] {
  const step = (2 * Math.PI) / delta;
  const cosStep = Math.cos(step);
  const sinStep = Math.sin(step);
  // Largest quantile a centroid starting at q0 may reach: k⁻¹(k(q0) + 1), trig-free per step.
  const limitFrom = (q0: number): number => {
    const x = 2 * q0 - 1;
    if (step >= Math.PI || x >= cosStep) return 1;
    return (1 + x * cosStep + Math.sqrt(1 - x * x) * sinStep) / 2;
  };
  const out: Centroid[] = [];
  const from = keepEnds ? 1 : 0;
  const to = keepEnds ? sorted.length - 1 : sorted.length;
  let before = 0;
  if (keepEnds) {
    const head = sorted[0] as Centroid;
    out.push([head[0], head[1]]);
    before = head[1];
  }
  const first = sorted[from] as Centroid;
  let mean = first[0];
  let weight = first[1];
  let limit = limitFrom(before / total);
  for (let i = from + 1; i < to; i++) {
    const c = sorted[i] as Centroid;
    if ((before + weight + c[1]) / total <= limit) {
      const merged = weight + c[1];
      mean += ((c[0] - mean) * c[1]) / merged;
      weight = merged;
    } else {
      out.push([mean, weight]);
      before += weight;
      limit = limitFrom(before / total);
      mean = c[0];
      weight = c[1];
    }
  }
  out.push([mean, weight]);
  if (keepEnds) {
    const tail = sorted[sorted.length - 1] as Centroid;
    out.push([tail[0], tail[1]]);
  }
  return out;
}

/** Compress sorted centroids to at most `size`; returns them unchanged (copied) when they fit. */
export function compressDigest(sorted: readonly Centroid[], maxCentroids: number = DEFAULT_DIGEST_SIZE): Centroid[] {
  const size = Math.max(1, Math.floor(maxCentroids));
  if (sorted.length <= size) return sorted.map(([m, w]) => [m, w]);
  let total = 0;
  for (const c of sorted) total += c[1];
  // Past this point there are more than `size` centroids; kept ends need room for a middle.
  const keepEnds = size >= 3;
  let delta = 3 * size;
  let out = compressPass(sorted, total, delta, keepEnds);
  while (out.length > size) {
    delta *= DELTA_SHRINK;
    out = compressPass(sorted, total, delta, keepEnds);
  }
  return out;
}

/** Merge two sketches (each sorted by mean) into a new one of at most `size` centroids. */
export function mergeDigests(
  a: readonly Centroid[],
  b: readonly Centroid[],
  size: number = DEFAULT_DIGEST_SIZE,
): Centroid[] {
  const merged = mergeSorted(a, b);
  return merged.length <= size ? merged : compressDigest(merged, size);
}

/** Total weight (number of values) a sketch summarises. */
export function digestWeight(digest: readonly Centroid[]): number {
  let total = 0;
  for (const c of digest) total += c[1];
  return total;
}

/**
 * The q-quantile (0 ≤ q ≤ 1) by nearest rank: the mean of the centroid holding rank ⌈q·W⌉.
 * Exact (an actual value, the lower quantile) while the sketch is exact; NaN when empty.
 */
export function quantile(digest: readonly Centroid[], q: number): number {
  const total = digestWeight(digest);
  const target = Math.min(Math.max(q, 0), 1) * total;
  let cumulative = 0;
  for (const [mean, weight] of digest) {
    cumulative += weight;
    if (cumulative >= target) return mean;
  }
  return Number.NaN;
}

/**
 * A sketch being built value by value: values are buffered and folded in `size` at a time,
 * so adding is a push and sorting happens once per `size` values (or once, at drain, for
 * the many small windows that never fill a buffer). A value with a weight above 1 (a sampled
 * reading standing for several) waits in its own buffer as a centroid of that weight.
 */
export class QuantileDigest {
  private centroids: Centroid[] | null = null;
  private readonly buffer: number[] = [];
  /** Values of weight > 1, created on the first one (most sketches never see one). */
  private weighted: Centroid[] | null = null;

  constructor(readonly size: number = DEFAULT_DIGEST_SIZE) {
    if (!(Number.isInteger(size) && size >= 1)) throw new RangeError(`digest size must be a positive integer, got ${size}`);
  }

  /** Add `value` standing for `weight` values (a positive integer). */
  add(value: number, weight = 1): void {
    if (weight === 1) this.buffer.push(value);
    else (this.weighted ??= []).push([value, weight]);
    if (this.buffer.length + (this.weighted?.length ?? 0) >= this.size) this.fold();
  }

  /** Merge another sketch into this one. */
  merge(other: readonly Centroid[]): void {
    this.fold();
    this.centroids = mergeDigests(this.centroids ?? [], other, this.size);
  }

  /** Hand over the sketch so far (a fresh sorted array) and start empty again. */
  drain(): Centroid[] {
    this.fold();
    const out = this.centroids ?? [];
    this.centroids = null;
    return out;
  }

  private fold(): void {
    const weighted = this.weighted;
    if (this.buffer.length === 0 && (weighted === null || weighted.length === 0)) return;
    sortNumbers(this.buffer);
    let runs: Centroid[] = [];
    for (const v of this.buffer) {
      const last = runs[runs.length - 1];
      if (last !== undefined && last[0] === v) last[1] += 1;
      else runs.push([v, 1]);
    }
    this.buffer.length = 0;
    if (weighted !== null && weighted.length > 0) {
      // Stable sort by value, so equal values fold in arrival order: the result is deterministic.
      weighted.sort((x, y) => x[0] - y[0]);
      runs = mergeSorted(runs, weighted);
      weighted.length = 0;
    }
    if (this.centroids === null) this.centroids = runs.length <= this.size ? runs : compressDigest(runs, this.size);
    else this.centroids = mergeDigests(this.centroids, runs, this.size);
  }
}

/**
 * Sort finite numbers ascending in place. Most windows fold a handful of values per flush:
 * an insertion sort allocates nothing, where Array.prototype.sort copies into a work array on
 * every call (a tenth of a shard's allocations, measured). Equal values keep their order, as
 * with the built-in (stable) sort, so the result is the same.
 */
function sortNumbers(values: number[]): void {
  if (values.length > 32) {
    values.sort((x, y) => x - y);
    return;
  }
  for (let i = 1; i < values.length; i++) {
    const v = values[i] as number;
    let j = i - 1;
    while (j >= 0 && (values[j] as number) > v) {
      values[j + 1] = values[j] as number;
      j--;
    }
    values[j + 1] = v;
  }
}
