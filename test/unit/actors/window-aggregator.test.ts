/**
 * WindowAggregator: tumbling event-time windows, sorted drains that reset, late data in its
 * own window.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { WindowAggregator, windowStartOf } from '../../../src/actors/window-aggregator.js';
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
});
