/**
 * AcceptedRefs: what a frame in flight keeps of its accepted events, as bytes. Every ref
 * reads back exactly (ids of any shape, device ids, regions, schema versions), and a filtered
 * copy keeps exactly the positions asked for, in order.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AcceptedRef } from '../../../src/contracts/types.js';
import { AcceptedRefs } from '../../../src/gateway/accepted-refs.js';
import { deviceIdArb, labelArb } from '../contracts/fixtures.js';

const refArb: fc.Arbitrary<AcceptedRef> = fc.record({
  // Lower-case UUIDs (as the validator leaves them), upper-case ones and ids of any shape.
  eventId: fc.oneof(fc.uuid(), fc.uuid().map((u) => u.toUpperCase()), fc.string({ maxLength: 40 })),
  deviceId: fc.oneof(deviceIdArb, labelArb),
  region: fc.oneof(fc.constantFrom('us-east', 'eu-west'), labelArb),
  schemaVersion: fc.constantFrom(1 as const, 2 as const),
});

describe('AcceptedRefs', () => {
  it('reads every ref back exactly, by position and whole', () => {
    fc.assert(
      fc.property(fc.array(refArb, { maxLength: 300 }), (refs) => {
        const kept = AcceptedRefs.of(refs);
        expect(kept.length).toBe(refs.length);
        expect(kept.toArray()).toEqual(refs);
        refs.forEach((r, i) => {
          expect(kept.eventIdAt(i)).toBe(r.eventId);
          expect(kept.deviceIdAt(i)).toBe(r.deviceId);
          expect(kept.regionAt(i)).toBe(r.region);
          expect(kept.schemaVersionAt(i)).toBe(r.schemaVersion);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('keeps exactly the positions a filter accepts, in order', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(refArb, fc.boolean()), { maxLength: 100 }), (pairs) => {
        const kept = AcceptedRefs.of(pairs.map(([r]) => r)).filter((i) => pairs[i]?.[1] === true);
        expect(kept.toArray()).toEqual(pairs.filter(([, keep]) => keep).map(([r]) => r));
      }),
    );
  });

  it('refuses a position it does not hold', () => {
    const kept = AcceptedRefs.of([{ eventId: 'x', deviceId: 'd', region: 'us-east', schemaVersion: 1 }]);
    expect(() => kept.eventIdAt(1)).toThrow(RangeError);
    expect(() => kept.deviceIdAt(-1)).toThrow(RangeError);
    expect(() => AcceptedRefs.empty.at(0)).toThrow(/no accepted event at 0 of 0/);
  });

  it('refuses more regions in one frame than a byte tells apart', () => {
    const refs = Array.from({ length: 256 }, (_, i): AcceptedRef => ({ eventId: `e${i}`, deviceId: 'd', region: `r${i}`, schemaVersion: 1 }));
    expect(AcceptedRefs.of(refs.slice(0, 255)).regionAt(254)).toBe('r254');
    expect(() => AcceptedRefs.of(refs)).toThrow(RangeError);
  });
});
