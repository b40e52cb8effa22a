/**
 * The dedup log codec: what a restart rebuilds dedup memory from. Every record comes back
 * exactly (ids of any shape, bus times), grouped by device in each device's own order; entries
 * written in the first format still read; and canonical ids cost a fraction of their text.
 */
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { AcceptedIds } from '../../../src/actors/accepted-ids.js';
import type { DedupRecord } from '../../../src/actors/types.js';
import { UnrecoverableError } from '../../../src/errors.js';
import { decodeDedupRecords, encodeDedupRecords } from '../../../src/runtime/dedup-log-codec.js';

const BUS = 1_795_000_000_000;

const eventIdArb = fc.oneof(
  { weight: 8, arbitrary: fc.uuid() },
  // Not what the gateway writes (it lowercases ids), but the log must keep them exactly.
  { weight: 1, arbitrary: fc.uuid().map((u) => u.toUpperCase()) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);

const recordArb: fc.Arbitrary<DedupRecord> = fc.record({
  deviceId: fc.constantFrom('dev-a', 'dev-b', 'dév-ç', 'sensor-42', ''),
  eventId: eventIdArb,
  busTime: fc.integer({ min: BUS, max: BUS + 600_000 }),
});

/** The records as decoding returns them: grouped by device (first appearance), each in order. */
function groupedByDevice(records: readonly DedupRecord[]): DedupRecord[] {
  const byDevice = new Map<string, DedupRecord[]>();
  for (const r of records) {
    const list = byDevice.get(r.deviceId) ?? [];
    list.push(r);
    byDevice.set(r.deviceId, list);
  }
  return [...byDevice.values()].flat();
}

describe('dedup log codec', () => {
  it('gives back every record exactly, grouped by device in each device’s order', () => {
    fc.assert(
      fc.property(fc.array(recordArb, { minLength: 1, maxLength: 200 }), (records) => {
        const payload = encodeDedupRecords(AcceptedIds.of(records));
        expect(payload).not.toBeNull();
        expect(decodeDedupRecords(payload!)).toEqual(groupedByDevice(records));
      }),
    );
  });

  it('writes nothing for a flush that accepted nothing', () => {
    expect(encodeDedupRecords(new AcceptedIds())).toBeNull();
  });

  it('still reads entries of the first format', () => {
    const old = new Packr({ useRecords: false }).pack([
      ['dev-a', ['0b7c7c1e-0000-4000-8000-000000000001', BUS, 'not-a-uuid', BUS + 5]],
      ['dev-b', ['0b7c7c1e-0000-4000-8000-000000000002', BUS + 1]],
    ]);
    expect(decodeDedupRecords(old)).toEqual([
      { deviceId: 'dev-a', eventId: '0b7c7c1e-0000-4000-8000-000000000001', busTime: BUS },
      { deviceId: 'dev-a', eventId: 'not-a-uuid', busTime: BUS + 5 },
      { deviceId: 'dev-b', eventId: '0b7c7c1e-0000-4000-8000-000000000002', busTime: BUS + 1 },
    ]);
  });

  it('stores a flush of canonical ids in under half the bytes of the first format', () => {
    const records = Array.from({ length: 10_000 }, (_, i) => ({
      deviceId: `sim-us-east-${String(i % 2500).padStart(6, '0')}`,
      eventId: `0b7c7c1e-${String(i % 10_000).padStart(4, '0')}-4000-8000-${String(i).padStart(12, '0')}`,
      busTime: BUS + Math.floor(i / 10),
    }));
    const bytes = encodeDedupRecords(AcceptedIds.of(records))!.length;
    // Format 1 took 52 bytes an id here (36 of text, 9 of bus time, device ids and framing);
    // format 2 takes 16 for the id, 1-3 for the bus time, and the same device ids.
    expect(bytes / records.length).toBeLessThan(26);
  });

  it('refuses a corrupt entry with DEDUP_LOG_CORRUPT', () => {
    const packr = new Packr({ useRecords: false });
    for (const bad of [packr.pack('nope'), packr.pack([2, 'x']), packr.pack([2, BUS, ['dev', new Uint8Array(15), [0]]]), Buffer.from([0xc1])]) {
      expect(() => decodeDedupRecords(bad)).toThrow(UnrecoverableError);
    }
  });
});
