/**
 * Tumbling event-time windows of one width (1 minute or 1 hour), keyed by
 * (deviceId, sensorType, windowStart). Between two drains it accumulates mergeable partials:
 * count and sum add, min and max fold, digests merge. A late reading, however late, simply
 * lands in its own window's partial; downstream merging makes the rollup correct.
 *
 * Weights: a reading of weight w (a sampled reading standing for w readings) adds w to
 * `count`, value × w to `sum` and w to its digest value, so both are unbiased estimates of
 * the full stream; `readings` counts the readings actually stored, whatever their weight.
 *
 * Deterministic: the sum is plain float addition in arrival order, and drain() sorts by
 * (deviceId, sensorType, windowStart) with code-unit string order.
 */
import { QuantileDigest, DEFAULT_DIGEST_SIZE } from './quantile-digest.js';
import type { WindowPartial } from './types.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

/** A window being filled: a WindowPartial whose digest is still a live sketch. */
type OpenWindow = Omit<WindowPartial, 'digest'> & { digest: QuantileDigest };

function compareWindows(a: WindowPartial, b: WindowPartial): number {
  if (a.deviceId !== b.deviceId) return a.deviceId < b.deviceId ? -1 : 1;
  if (a.sensorType !== b.sensorType) return a.sensorType < b.sensorType ? -1 : 1;
  return a.windowStart - b.windowStart;
}

/** Start of the tumbling window of `widthMs` holding `eventTime` (epoch ms). */
export function windowStartOf(eventTime: number, widthMs: number): number {
  return Math.floor(eventTime / widthMs) * widthMs;
}

export class WindowAggregator {
  /** Key: deviceId \u0001 windowStart \u0001 sensorType (device ids cannot hold \u0001). */
  private windows = new Map<string, OpenWindow>();

  constructor(
    readonly widthMs: number,
    private readonly digestSize: number = DEFAULT_DIGEST_SIZE,
  ) {
    if (!(Number.isInteger(widthMs) && widthMs > 0)) throw new RangeError(`window width must be a positive integer of ms, got ${widthMs}`);
  }

  /** Add one reading of `value` standing for `weight` readings (a positive integer). */
  add(deviceId: string, sensorType: string, eventTime: number, value: number, weight = 1): void {
    const windowStart = windowStartOf(eventTime, this.widthMs);
    const key = `${deviceId}\u0001${windowStart}\u0001${sensorType}`;
    const w = this.windows.get(key);
    if (w === undefined) {
      const digest = new QuantileDigest(this.digestSize);
      digest.add(value, weight);
      const sum = weight === 1 ? value : value * weight;
      this.windows.set(key, { deviceId, sensorType, windowStart, readings: 1, count: weight, sum, min: value, max: value, digest });
      return;
    }
    w.readings += 1;
    w.count += weight;
    w.sum += weight === 1 ? value : value * weight;
    if (value < w.min) w.min = value;
    if (value > w.max) w.max = value;
    w.digest.add(value, weight);
  }

  /** Windows touched since the last drain. */
  openWindows(): number {
    return this.windows.size;
  }

  /** Partials of everything added since the last drain, sorted; the aggregator starts empty. */
  drain(): WindowPartial[] {
    const out: WindowPartial[] = [];
    for (const w of this.windows.values()) {
      out.push({
        deviceId: w.deviceId,
        sensorType: w.sensorType,
        windowStart: w.windowStart,
        readings: w.readings,
        count: w.count,
        sum: w.sum,
        min: w.min,
        max: w.max,
        digest: w.digest.drain(),
      });
    }
    this.windows = new Map();
    return out.sort(compareWindows);
  }
}
