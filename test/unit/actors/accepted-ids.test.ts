/**
 * The ids a batch keeps for its dedup log entry, as bytes instead of objects: every id comes
 * back exactly, in acceptance order, with its device and bus time, however many there are
 * and whatever their shape (the gateway writes lower-case UUIDs; anything else is kept as text).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AcceptedIds } from '../../../src/actors/accepted-ids.js';
import type { DedupRecord } from '../../../src/actors/types.js';

const BUS = 1_795_000_000_000;

const recordArb: fc.Arbitrary<DedupRecord> = fc.record({
  deviceId: fc.constantFrom('dev-a', 'dev-b', 'dév-ç', ''),
  eventId: fc.oneof({ weight: 8, arbitrary: fc.uuid() }, { weight: 1, arbitrary: fc.uuid().map((u) => u.toUpperCase()) }, { weight: 1, arbitrary: fc.string({ maxLength: 40 }) }),
  busTime: fc.integer({ min: BUS, max: BUS + 600_000 }),
});

describe('AcceptedIds', () => {
  it('gives back every id with its device and bus time, in acceptance order', () => {
    fc.assert(
      fc.property(fc.array(recordArb, { maxLength: 700 }), (records) => {
        const ids = AcceptedIds.of(records);
        expect(ids.length).toBe(records.length);
        expect(ids.records()).toEqual(records);
        expect(JSON.parse(JSON.stringify(ids))).toEqual(records);
        records.forEach((r, i) => expect(ids.busTimeAt(i)).toBe(r.busTime));
      }),
      { numRuns: 200 },
    );
  });

  it('numbers devices by first acceptance and keeps canonical ids as their 16 bytes', () => {
    const ids = new AcceptedIds();
    ids.push('d2', '0b7c7c1e-0000-4000-8000-0000000000ff', BUS);
    ids.push('d1', 'not-a-uuid', BUS + 1);
    ids.push('d2', '0B7C7C1E-0000-4000-8000-000000000001', BUS + 2);
    expect(ids.devicesInOrder()).toEqual(['d2', 'd1']);
    expect([0, 1, 2].map((i) => ids.deviceIndexAt(i))).toEqual([0, 1, 0]);
    expect(Buffer.from(ids.bytes().subarray(0, 16)).toString('hex')).toBe('0b7c7c1e0000400080000000000000ff');
    expect([0, 1, 2].map((i) => ids.oddIdAt(i))).toEqual([undefined, 'not-a-uuid', '0B7C7C1E-0000-4000-8000-000000000001']);
    expect(ids.bytes().subarray(16, 48).every((b) => b === 0)).toBe(true);
  });
});
