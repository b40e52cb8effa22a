/** Ack-latency percentiles stay within ~1% of the exact nearest-rank value. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../../src/simulator/latency-histogram.js';

function exact(sorted: number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1] as number;
}

describe('LatencyHistogram', () => {
  it('answers quantiles within 1% of the exact value', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.01, max: 100_000, noNaN: true }), { minLength: 1, maxLength: 500 }),
        fc.constantFrom(0.5, 0.9, 0.95, 0.99, 1),
        (values, q) => {
          const h = new LatencyHistogram();
          for (const v of values) h.record(v);
          const want = exact([...values].sort((a, b) => a - b), q);
          expect(Math.abs(h.quantile(q) - want) / want).toBeLessThanOrEqual(0.0101);
        },
      ),
    );
  });

  it('summarises count and max exactly, and resets', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i / 10);
    const s = h.summary();
    expect(s.count).toBe(1000);
    expect(s.max).toBe(100);
    expect(s.p50).toBeGreaterThan(49);
    expect(s.p50).toBeLessThan(51);
    h.reset();
    expect(h.summary()).toEqual({ count: 0, p50: 0, p90: 0, p99: 0, max: 0 });
  });
});
