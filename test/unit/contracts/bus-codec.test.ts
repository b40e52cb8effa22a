import fc from 'fast-check';
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { BUS_FORMAT_VERSION, decodeEvents, encodeEvents } from '../../../src/contracts/bus-codec.js';
import type { CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import { UnrecoverableError } from '../../../src/errors.js';
import { deviceIdArb, labelArb, NOW } from './fixtures.js';

/** Any canonical event the validator can produce (finite values, no -0, well-formed strings). */
const canonicalArb: fc.Arbitrary<CanonicalEvent> = fc
  .record({
    eventId: fc.uuid(),
    deviceId: deviceIdArb,
    region: labelArb,
    eventTime: fc.integer({ min: -8.64e15, max: 8.64e15 }),
    ingestTime: fc.double({ noNaN: true, noDefaultInfinity: true }),
    firmwareVersion: labelArb,
    v2: fc.boolean(),
    seq: fc.option(fc.maxSafeNat(), { nil: null }),
    readings: fc.array(
      fc.record({
        sensorType: labelArb,
        value: fc.double({ noNaN: true, noDefaultInfinity: true }),
        unit: labelArb,
        // Mostly 1, as without sampling; sampled readings carry keepOneIn (2..1000).
        weight: fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 1000 })),
      }),
      { minLength: 1, maxLength: 64 },
    ),
  })
  .map(({ v2, seq, readings, ingestTime, ...rest }) => ({
    ...rest,
    ingestTime: ingestTime + 0,
    schemaVersion: v2 ? (2 as const) : (1 as const),
    seq: v2 ? seq : null,
    readings: (v2 ? readings : readings.slice(0, 1)).map((r) => ({ ...r, value: r.value + 0 })),
  }));

function expectUndecodable(payload: Uint8Array): void {
  let thrown: unknown;
  try {
    decodeEvents(payload);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(UnrecoverableError);
  expect((thrown as UnrecoverableError).code).toBe('ENTRY_UNDECODABLE');
}

const goodEvent = (): unknown[] => ['0b6c4e1a-8f4e-4d2c-9a57-1f0e6b2d3c4a', 'thermo-1', 'us-east', NOW, NOW + 5, '1.0.0', 1, null, ['temperature', 21.5, 'C']];

describe('bus codec', () => {
  it('round-trips any batch of canonical events exactly', () => {
    fc.assert(
      fc.property(fc.array(canonicalArb, { maxLength: 20 }), (events) => {
        expect(decodeEvents(encodeEvents(events))).toEqual(events);
      }),
      { numRuns: 300 },
    );
  });

  it('is smaller than the JSON of the same events', () => {
    fc.assert(
      fc.property(fc.array(canonicalArb, { minLength: 1, maxLength: 20 }), (events) => {
        expect(encodeEvents(events).byteLength).toBeLessThan(Buffer.byteLength(JSON.stringify(events)));
      }),
    );
  });

  it('decodes a payload that is a view into a larger buffer, as Redis clients hand them out', () => {
    fc.assert(
      fc.property(fc.array(canonicalArb, { maxLength: 5 }), fc.nat({ max: 64 }), (events, offset) => {
        const payload = encodeEvents(events);
        const outer = Buffer.alloc(payload.length + offset + 7, 0xc1);
        payload.copy(outer, offset);
        expect(decodeEvents(outer.subarray(offset, offset + payload.length))).toEqual(events);
      }),
    );
  });

  it('keeps an earlier payload intact after encoding another', () => {
    fc.assert(
      fc.property(fc.array(canonicalArb, { maxLength: 5 }), fc.array(canonicalArb, { maxLength: 5 }), (a, b) => {
        const first = encodeEvents(a);
        const copy = Buffer.from(first);
        encodeEvents(b);
        expect(first.equals(copy)).toBe(true);
      }),
    );
  });

  it('throws ENTRY_UNDECODABLE (unrecoverable) on random bytes, never another error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        try {
          decodeEvents(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(UnrecoverableError);
          expect((err as UnrecoverableError).code).toBe('ENTRY_UNDECODABLE');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('throws ENTRY_UNDECODABLE on MessagePack of the wrong shape', () => {
    const bad: unknown[] = [
      {},
      [],
      [BUS_FORMAT_VERSION + 1, goodEvent()],
      ['1', goodEvent()],
      [BUS_FORMAT_VERSION, goodEvent().slice(0, 8)],
      [BUS_FORMAT_VERSION, { ...goodEvent() }],
    ];
    const mutations: [number, unknown][] = [
      [0, 42],
      [1, null],
      [3, '2024-05-01T00:00:00Z'],
      [4, NaN],
      [5, 1],
      [6, 3],
      [7, -1],
      [7, 1.5],
      [8, []],
      [8, ['temperature', 21.5]],
      [8, ['temperature', '21.5', 'C']],
      [8, ['temperature', Infinity, 'C']],
      [8, 'temperature'],
      [9, null],
      [9, 'weights'],
      [9, [0]],
      [9, [2.5]],
      [9, [65_536]],
      [9, ['4']],
      [9, [4, 4]],
      [9, []],
    ];
    for (const [field, value] of mutations) {
      const event = goodEvent();
      event[field] = value;
      bad.push([BUS_FORMAT_VERSION, event]);
    }
    // A twelfth field (after weights and cid), or weights in the format before weights existed.
    bad.push([BUS_FORMAT_VERSION, [...goodEvent(), [4], 'cid', 'extra']], [1, [...goodEvent(), [4]]]);
    expect(decodeEvents(pack([BUS_FORMAT_VERSION, goodEvent()]))).toHaveLength(1);
    expect(decodeEvents(pack([BUS_FORMAT_VERSION, [...goodEvent(), [4]]]))[0]?.readings[0]?.weight).toBe(4);
    for (const payload of bad) expectUndecodable(pack(payload));
  });

  it('costs no byte for weights while nothing was sampled', () => {
    fc.assert(
      fc.property(fc.array(canonicalArb, { minLength: 1, maxLength: 20 }), (events) => {
        const unweighted = events.map((e) => ({ ...e, readings: e.readings.map((r) => ({ ...r, weight: 1 })) }));
        // The same events under the previous format: readings as triples, no weights field.
        const previous = pack([1, ...unweighted.map((e) => [e.eventId, e.deviceId, e.region, e.eventTime, e.ingestTime, e.firmwareVersion, e.schemaVersion, e.seq, e.readings.flatMap((r) => [r.sensorType, r.value, r.unit])])]);
        expect(encodeEvents(unweighted).byteLength).toBe(previous.byteLength);
      }),
    );
  });

  it('still decodes entries written before weights existed (format 1), every weight 1', () => {
    fc.assert(
      fc.property(fc.array(canonicalArb, { maxLength: 20 }), (events) => {
        const previous = pack([1, ...events.map((e) => [e.eventId, e.deviceId, e.region, e.eventTime, e.ingestTime, e.firmwareVersion, e.schemaVersion, e.seq, e.readings.flatMap((r) => [r.sensorType, r.value, r.unit])])]);
        const decoded = decodeEvents(previous);
        expect(decoded).toEqual(events.map((e) => ({ ...e, readings: e.readings.map((r) => ({ ...r, weight: 1 })) })));
      }),
      { numRuns: 200 },
    );
  });

  it('throws ENTRY_UNDECODABLE on a truncated payload', () => {
    const payload = encodeEvents([
      { eventId: 'e', deviceId: 'd', region: 'us-east', eventTime: NOW, ingestTime: NOW, firmwareVersion: 'f', schemaVersion: 1, seq: null, readings: [{ sensorType: 's', value: 1, unit: 'u', weight: 1 }] },
    ]);
    expectUndecodable(payload.subarray(0, payload.length - 1));
  });
});
