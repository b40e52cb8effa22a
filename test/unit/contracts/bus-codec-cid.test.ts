/**
 * Correlation ids on the bus: an event's `cid` survives the stream entry, costs its string
 * once per entry, and the MessagePack entries written before (with cids, and before cids
 * existed) still decode.
 */
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeEvents, encodeEvents } from '../../../src/contracts/bus-codec.js';
import type { CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import { UnrecoverableError } from '../../../src/errors.js';
import { newCorrelationId } from '../../../src/logging.js';
import { deviceIdArb, labelArb } from './fixtures.js';

const eventArb: fc.Arbitrary<CanonicalEvent> = fc.record({
  eventId: fc.uuid(),
  deviceId: deviceIdArb,
  region: labelArb,
  eventTime: fc.integer({ min: 0, max: 4e12 }),
  ingestTime: fc.integer({ min: 0, max: 4e12 }),
  firmwareVersion: labelArb,
  schemaVersion: fc.constantFrom(1 as const, 2 as const),
  seq: fc.option(fc.maxSafeNat(), { nil: null }),
  readings: fc.array(
    fc.record({
      sensorType: labelArb,
      value: fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => v + 0),
      unit: labelArb,
      weight: fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 1000 })),
    }),
    { minLength: 1, maxLength: 8 },
  ),
});
const cidArb = fc.oneof(fc.constant(undefined), fc.constant(null).map(() => newCorrelationId()), fc.string({ minLength: 1, maxLength: 64 }));
const withCidArb = fc.tuple(eventArb, cidArb).map(([e, cid]) => (cid === undefined ? e : { ...e, cid }));

/**
 * The documented positional layout of the MessagePack formats, packed independently of the
 * codec: format 2 writes a cid where it changes (nil where it ends), format 1 has neither
 * weights nor cids.
 */
const reference = new Packr({ useRecords: false });
function packedAsBefore(version: number, events: readonly CanonicalEvent[]): Buffer {
  let cid: string | undefined;
  return reference.pack([
    version,
    ...events.map((e) => {
      const fields: unknown[] = [e.eventId, e.deviceId, e.region, e.eventTime, e.ingestTime, e.firmwareVersion, e.schemaVersion, e.seq, e.readings.flatMap((r) => [r.sensorType, r.value, r.unit])];
      const weighted = e.readings.some((r) => r.weight > 1);
      const cidChanges = version >= 2 && e.cid !== cid;
      if (version >= 2 && (weighted || cidChanges)) fields.push(weighted ? e.readings.map((r) => r.weight) : null);
      if (cidChanges) {
        fields.push(e.cid ?? null);
        cid = e.cid;
      }
      return fields;
    }),
  ]);
}

function undecodable(payload: Uint8Array): string | undefined {
  try {
    decodeEvents(payload);
  } catch (err) {
    if (err instanceof UnrecoverableError) return err.code;
    throw err;
  }
  return undefined;
}

describe('bus codec correlation ids', () => {
  it('round-trips events with and without cids, weighted or not', () => {
    fc.assert(
      fc.property(fc.array(withCidArb, { maxLength: 20 }), (events) => {
        expect(decodeEvents(encodeEvents(events))).toEqual(events);
      }),
      { numRuns: 300 },
    );
  });

  it('still decodes MessagePack entries with cids (format 2) and before weights and cids (format 1)', () => {
    fc.assert(
      fc.property(fc.array(withCidArb, { maxLength: 20 }), (events) => {
        expect(decodeEvents(packedAsBefore(2, events))).toEqual(events);
        const plain = events.map(({ cid: _cid, ...e }) => ({ ...e, readings: e.readings.map((r) => ({ ...r, weight: 1 })) }));
        expect(decodeEvents(packedAsBefore(1, plain))).toEqual(plain);
      }),
    );
  });

  it('writes a cid once per entry and a byte where it changes', () => {
    const sample = fc.sample(eventArb, { numRuns: 4, seed: 7 });
    const without = encodeEvents(sample).byteLength;
    const cid = newCorrelationId();
    // One cid for the whole entry: its string once, its index on the first event.
    expect(encodeEvents(sample.map((e) => ({ ...e, cid }))).byteLength).toBe(without + 1 + cid.length + 1);
    // A run, a gap and another run: two strings, and an index (0 for none) at each of the three changes.
    const runs = [cid, cid, undefined, 'frame-2'];
    const events: CanonicalEvent[] = sample.map((e, i) => (runs[i] === undefined ? e : { ...e, cid: runs[i] }));
    expect(encodeEvents(events).byteLength).toBe(without + (1 + cid.length) + (1 + 'frame-2'.length) + 3);
    expect(decodeEvents(encodeEvents(events))).toEqual(events);
  });

  it('treats a malformed cid as an undecodable (poison) entry', () => {
    const base = ['0b6c4e1a-8f4e-4d2c-9a57-1f0e6b2d3c4a', 'thermo-1', 'us-east', 1, 2, '1.0.0', 1, null, ['temperature', 21.5, 'C']];
    for (const bad of [[...base, null, 42], [...base, null, ''], [...base, null, 'x'.repeat(65)], [...base, null], [...base, null, 'abc', 'extra']])
      expect(undecodable(reference.pack([2, bad]))).toBe('ENTRY_UNDECODABLE');
    expect(undecodable(reference.pack([1, [...base, null, 'abc']]))).toBe('ENTRY_UNDECODABLE');
    expect(decodeEvents(reference.pack([2, [...base, null, 'abc']]))[0]?.cid).toBe('abc');
  });
});
