/**
 * ReadingSampler: the keep decision is a function of (event_id, reading index) alone, keeps
 * about one reading in k over many events, weights what it keeps by k, counts what it drops,
 * and never touches sensor types that are not configured.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CanonicalEvent, Reading } from '../../../src/contracts/canonical-event.js';
import { ReadingSampler, keepsReading } from '../../../src/gateway/reading-sampler.js';

const SENSORS = ['temperature', 'humidity', 'vibration'];

function event(readings: { sensorType: string; value: number }[], eventId: string = randomUUID()): CanonicalEvent {
  return {
    eventId,
    deviceId: 'pump-7',
    region: 'us-east',
    eventTime: 1_700_000_000_000,
    ingestTime: 1_700_000_000_050,
    firmwareVersion: '2.0.1',
    schemaVersion: 2,
    seq: 3,
    readings: readings.map((r): Reading => ({ ...r, unit: 'u', weight: 1 })),
  };
}

const readingsArb = fc.array(fc.record({ sensorType: fc.constantFrom(...SENSORS), value: fc.double({ noNaN: true, noDefaultInfinity: true }) }), {
  minLength: 1,
  maxLength: 64,
});

describe('ReadingSampler', () => {
  it('decides the same way for a resend of the same event', () => {
    const sampler = new ReadingSampler({ temperature: { keepOneIn: 3 }, vibration: { keepOneIn: 10 } });
    fc.assert(
      fc.property(readingsArb, fc.uuid(), (readings, id) => {
        const first = sampler.sample(event(readings, id));
        const resend = sampler.sample({ ...event(readings, id), ingestTime: 1_700_000_009_000 });
        expect(resend.event?.readings).toEqual(first.event?.readings);
        expect(resend.sampledOut).toEqual(first.sampledOut);
      }),
    );
  });

  it('keeps about one reading in k of a configured sensor type over many events', () => {
    for (const k of [2, 3, 4, 10, 100]) {
      const n = 40_000;
      let kept = 0;
      for (let i = 0; i < n; i++) if (keepsReading(randomUUID(), i % 8, k)) kept++;
      // Binomial(n, 1/k): five standard deviations either side.
      const sd = Math.sqrt((n * (k - 1)) / (k * k));
      expect(Math.abs(kept - n / k), `k=${k}: kept ${kept} of ${n}`).toBeLessThan(5 * sd);
    }
  });

  it('weights every kept reading by k, counts the rest, and leaves other sensor types alone', () => {
    const keepOneIn = { temperature: 4, vibration: 7 };
    const sampler = new ReadingSampler({ temperature: { keepOneIn: 4 }, vibration: { keepOneIn: 7 } });
    fc.assert(
      fc.property(readingsArb, (readings) => {
        const e = event(readings);
        const { event: out, sampledOut } = sampler.sample(e);
        const decisions = e.readings.map((r, i) => {
          const k = keepOneIn[r.sensorType as keyof typeof keepOneIn] as number | undefined;
          return k === undefined ? { keep: true, weight: 1 } : { keep: keepsReading(e.eventId, i, k), weight: k };
        });
        const want = e.readings.flatMap((r, i) => (decisions[i]!.keep ? [{ ...r, weight: decisions[i]!.weight }] : []));
        expect(out?.readings ?? []).toEqual(want);
        if (out) expect({ ...out, readings: [] }).toEqual({ ...e, readings: [] });
        const dropped = new Map<string, number>();
        e.readings.forEach((r, i) => {
          if (!decisions[i]!.keep) dropped.set(r.sensorType, (dropped.get(r.sensorType) ?? 0) + 1);
        });
        expect(new Map(sampledOut.map((s) => [s.sensorType, s.readings]))).toEqual(dropped);
        for (const s of sampledOut) expect([s.deviceId, s.eventTime]).toEqual([e.deviceId, e.eventTime]);
        expect(out === null).toBe(want.length === 0);
      }),
      { numRuns: 300 },
    );
  });

  it('returns an event without configured sensor types untouched, and samples nothing when none is configured', () => {
    const e = event([{ sensorType: 'humidity', value: 41 }]);
    expect(new ReadingSampler({ temperature: { keepOneIn: 2 } }).sample(e)).toEqual({ event: e, sampledOut: [] });
    const none = new ReadingSampler({});
    expect(none.enabled).toBe(false);
    const t = event([{ sensorType: 'temperature', value: 20 }]);
    expect(none.sample(t).event).toBe(t);
  });

  it('drops an event whose every reading is sampled away and reports them all', () => {
    // Find an id whose single temperature reading is not kept at one in 1000.
    let id = randomUUID();
    while (keepsReading(id, 0, 1000)) id = randomUUID();
    const sampler = new ReadingSampler({ temperature: { keepOneIn: 1000 } });
    expect(sampler.sample(event([{ sensorType: 'temperature', value: 1 }], id))).toEqual({
      event: null,
      sampledOut: [{ deviceId: 'pump-7', eventTime: 1_700_000_000_000, sensorType: 'temperature', readings: 1 }],
    });
  });

  it('treats sensor types named like Object members as plain names', () => {
    const sampler = new ReadingSampler({ temperature: { keepOneIn: 2 } });
    const e = event([{ sensorType: 'constructor', value: 1 }, { sensorType: 'toString', value: 2 }, { sensorType: '__proto__', value: 3 }]);
    expect(sampler.sample(e)).toEqual({ event: e, sampledOut: [] });
  });
});
