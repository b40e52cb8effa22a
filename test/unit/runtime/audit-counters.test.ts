/**
 * The gateway's audit counters: per event hour and device, the events and readings accepted
 * and the readings sampled away, as the Redis hash fields the audit later reads.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import { HOUR_MS, HourTally, countByHour, parseCounterHash, type CountedReadings } from '../../../src/runtime/audit-counters.js';

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

const event = (deviceId: string, eventTime: number, readings: number): CanonicalEvent => ({
  eventId: '00000000-0000-4000-8000-000000000001',
  deviceId,
  region: 'r',
  eventTime,
  ingestTime: eventTime,
  firmwareVersion: '1',
  schemaVersion: 2,
  seq: null,
  readings: Array.from({ length: readings }, () => ({ sensorType: 't', value: 1, unit: 'C', weight: 1 })),
});

describe('HourTally (accepted counters) and parseCounterHash', () => {
  it('write one accepted field per device and hour that reads back as its events and readings', () => {
    fc.assert(
      fc.property(fc.array(countedArb, { maxLength: 60 }), fc.array(countedArb, { maxLength: 10 }), (counted, sampled) => {
        // As the gateway counts an entry: each event as it is appended, then the readings sampled away.
        const tally = new HourTally();
        for (const e of counted.map((c) => event(c.deviceId, c.eventTime, c.readings))) tally.event(e.deviceId, e.eventTime, e.readings.length);
        for (const s of sampled) tally.sampled(s);
        const hours = tally.counts(true);
        const want = reference(counted, sampled);
        for (const { hour, fields } of hours) {
          expect([...fields.keys()].every((f) => f.endsWith('|a') || f.endsWith('|s'))).toBe(true);
          const parsed = parseCounterHash(Object.fromEntries([...fields].map(([f, n]) => [f, String(n)])));
          for (const [device, c] of parsed) {
            expect(c.events).toBe(want[`${hour}/${device}|e`] ?? 0);
            expect(c.readings).toBe(want[`${hour}/${device}|r`] ?? 0);
            expect(c.sampledOut).toBe(want[`${hour}/${device}|s`] ?? 0);
          }
        }
      }),
    );
  });

  it('reads packed sums past 2^53 exactly, and adds the two fields of hashes written before packing', () => {
    const events = 9_000_000n;
    const readings = 4_000_000_000n;
    const hash = { 'd|a': String(events * 2n ** 32n + readings), 'd|e': '5', 'd|r': '7', 'd|s': '3' };
    expect(parseCounterHash(hash).get('d')).toEqual({ events: 9_000_005, readings: 4_000_000_007, sampledOut: 3 });
  });
});
