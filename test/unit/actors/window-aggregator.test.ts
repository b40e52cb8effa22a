/**
 * WindowAggregator: tumbling event-time windows, sorted drains that reset, late data in its
 * own window.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { WindowAggregator, windowStartOf } from '../../../src/actors/window-aggregator.js';
import { digestWeight } from '../../../src/actors/quantile-digest.js';
import { BASE_TIME, HOUR, MINUTE, valueArb } from './arbitraries.js';

describe('WindowAggregator', () => {
  it('puts an event into the tumbling window that holds its event time', () => {
    const agg = new WindowAggregator(MINUTE);
    agg.add('d1', 'temp', BASE_TIME + MINUTE - 1, 1);
    agg.add('d1', 'temp', BASE_TIME + MINUTE, 2);
    agg.add('d1', 'temp', BASE_TIME, 4);
    expect(agg.drain().map((p) => [p.windowStart, p.count, p.sum, p.min, p.max])).toEqual([
      [BASE_TIME, 2, 5, 1, 4],
      [BASE_TIME + MINUTE, 1, 2, 2, 2],
    ]);
  });

  it('drains only what was added since the previous drain', () => {
    const agg = new WindowAggregator(HOUR);
    agg.add('d1', 'temp', BASE_TIME, 1);
    expect(agg.drain()).toHaveLength(1);
    expect(agg.drain()).toEqual([]);
    agg.add('d1', 'temp', BASE_TIME - 3 * HOUR, 7); // three hours late: its own window
    expect(agg.drain().map((p) => [p.windowStart, p.count, p.digest])).toEqual([[BASE_TIME - 3 * HOUR, 1, [[7, 1]]]]);
  });

  it('drains partials sorted by device, sensor and window start, one per key', () => {
    const add = fc.record({
      device: fc.constantFrom('a', 'b', 'B', 'dev-10', 'dev-9'),
      sensor: fc.constantFrom('temp', 'Temp', 'hum'),
      time: fc.integer({ min: BASE_TIME - 3 * HOUR, max: BASE_TIME + HOUR }),
      value: valueArb,
    });
    fc.assert(
      fc.property(fc.array(add, { minLength: 1, maxLength: 200 }), fc.constantFrom(MINUTE, HOUR), (adds, width) => {
        const agg = new WindowAggregator(width);
        for (const a of adds) agg.add(a.device, a.sensor, a.time, a.value);
        const out = agg.drain();
        const keys = out.map((p) => [p.deviceId, p.sensorType, p.windowStart] as const);
        const sorted = [...keys].sort((x, y) =>
          x[0] !== y[0] ? (x[0] < y[0] ? -1 : 1) : x[1] !== y[1] ? (x[1] < y[1] ? -1 : 1) : x[2] - y[2],
        );
        expect(keys).toEqual(sorted);
        expect(new Set(keys.map((k) => k.join('|'))).size).toBe(keys.length);
        expect(out.reduce((n, p) => n + p.count, 0)).toBe(adds.length);
        for (const p of out) expect(p.windowStart).toBe(windowStartOf(p.windowStart + width - 1, width));
      }),
      { numRuns: 200 },
    );
  });

  it('counts a weighted reading as `weight` readings: count = Σ weight, sum = Σ value × weight', () => {
    const add = fc.record({
      device: fc.constantFrom('a', 'b'),
      sensor: fc.constantFrom('temp', 'hum'),
      time: fc.integer({ min: BASE_TIME - HOUR, max: BASE_TIME + HOUR }),
      value: valueArb,
      weight: fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 1000 })),
    });
    fc.assert(
      fc.property(fc.array(add, { minLength: 1, maxLength: 200 }), fc.constantFrom(MINUTE, HOUR), (adds, width) => {
        const agg = new WindowAggregator(width);
        for (const a of adds) agg.add(a.device, a.sensor, a.time, a.value, a.weight);
        const out = agg.drain();
        for (const p of out) {
          // The same additions, in arrival order, straight from the input.
          const mine = adds.filter((a) => a.device === p.deviceId && a.sensor === p.sensorType && windowStartOf(a.time, width) === p.windowStart);
          expect(p.readings).toBe(mine.length);
          expect(p.count).toBe(mine.reduce((n, a) => n + a.weight, 0));
          expect(p.sum).toBe(mine.reduce((s, a) => s + a.value * a.weight, 0));
          expect(p.min).toBe(Math.min(...mine.map((a) => a.value)));
          expect(p.max).toBe(Math.max(...mine.map((a) => a.value)));
          expect(digestWeight(p.digest)).toBe(p.count);
        }
        expect(out.reduce((n, p) => n + p.readings, 0)).toBe(adds.length);
      }),
      { numRuns: 200 },
    );
  });

  it('estimates the full stream from a sample: one reading in 4 kept with weight 4', () => {
    const full = new WindowAggregator(HOUR);
    const sampled = new WindowAggregator(HOUR);
    for (let i = 0; i < 400; i++) {
      const value = 20 + (i % 5);
      full.add('d1', 'temp', BASE_TIME + i * 1000, value);
      if (i % 4 === 0) sampled.add('d1', 'temp', BASE_TIME + i * 1000, value, 4);
    }
    const [f] = full.drain();
    const [s] = sampled.drain();
    expect(s!.readings).toBe(100);
    expect(s!.count).toBe(f!.count);
    expect(s!.sum / s!.count).toBeCloseTo(f!.sum / f!.count, 0);
  });
});
