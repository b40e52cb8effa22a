/**
 * The gateway's audit counters: per event hour and device, the events and readings accepted
 * and the readings sampled away, as the Redis hash fields the audit later reads.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HOUR_MS, countByHour, type CountedReadings } from '../../../src/runtime/audit-counters.js';

const countedArb: fc.Arbitrary<CountedReadings> = fc.record({
  deviceId: fc.constantFrom('a', 'b', 'c', 'sensor-42'),
  eventTime: fc.integer({ min: 0, max: 5 * HOUR_MS }),
  readings: fc.integer({ min: 1, max: 64 }),
});

/** The counters as a plain object: "hour/field" → total, computed one item at a time. */
function reference(events: CountedReadings[], sampled: CountedReadings[]): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (e: CountedReadings, suffix: string, n: number): void => {
    const key = `${Math.floor(e.eventTime / HOUR_MS) * HOUR_MS}/${e.deviceId}|${suffix}`;
    out[key] = (out[key] ?? 0) + n;
  };
  for (const e of events) {
    add(e, 'e', 1);
    add(e, 'r', e.readings);
  }
  for (const s of sampled) add(s, 's', s.readings);
  return out;
}

describe('countByHour', () => {
  it('counts every event and reading once, in the hash of its event hour', () => {
    fc.assert(
      fc.property(fc.array(countedArb, { maxLength: 60 }), fc.array(countedArb, { maxLength: 10 }), (events, sampled) => {
        const flat: Record<string, number> = {};
        for (const { hour, fields } of countByHour(events, sampled)) for (const [field, n] of fields) flat[`${hour}/${field}`] = n;
        expect(flat).toEqual(reference(events, sampled));
      }),
    );
  });

  it('writes one field per device and kind, however many events a device has', () => {
    const events = Array.from({ length: 500 }, (_, i) => ({ deviceId: 'd', eventTime: 1000 + i, readings: 2 }));
    const [hour] = countByHour(events);
    expect(hour?.fields).toEqual(new Map([['d|e', 500], ['d|r', 1000]]));
  });
});
