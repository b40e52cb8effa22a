/**
 * DedupIndex: the partition's compact dedup memory. Checked by examples (horizon, capacity,
 * overflow, growth), by a fast-check model test against a few-line Map of the same semantics
 * (with the table's invariants checked after every step, so backward-shift deletion is
 * exercised under many random inserts, expiries, evictions and refreshes), and by the two
 * properties restore relies on.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { DedupIndex } from '../../../src/actors/dedup-index.js';

/** The same semantics, the obvious way: a Map in insertion (= bus time) order. */
class ModelIndex {
  private readonly ids = new Map<string, number>();
  private now = Number.NEGATIVE_INFINITY;
  private overflowAt = Number.NaN;

  constructor(
    private readonly horizonMs: number,
    private readonly maxIds: number,
  ) {}

  get size(): number {
    return this.ids.size;
  }

  advance(busTime: number): void {
    this.now = Math.max(this.now, busTime);
    for (const [id, at] of this.ids) {
      if (at >= this.now - this.horizonMs) break;
      this.ids.delete(id);
    }
  }

  has(id: string, busTime: number): boolean {
    this.advance(busTime);
    return this.ids.has(id);
  }

  add(id: string, busTime: number): void {
    this.advance(busTime);
    const at = this.now;
    if (at === this.overflowAt) return;
    if (this.ids.has(id)) this.ids.delete(id);
    else if (this.ids.size === this.maxIds) {
      const oldest = this.ids.values().next().value as number;
      if (oldest === at) {
        this.ids.clear();
        this.overflowAt = at;
        return;
      }
      for (const [other, t] of this.ids) {
        if (t !== oldest) break;
        this.ids.delete(other);
      }
    }
    this.ids.set(id, at);
  }
}

const key = (n: number): [string, string] => [`dev-${n % 7}`, `evt-${n}`];

interface Op {
  kind: 'has' | 'add' | 'offer' | 'advance';
  id: number;
  step: number;
}

const opArb = (ids: number, maxStep: number): fc.Arbitrary<Op> =>
  fc.record({
    kind: fc.constantFrom<Op['kind']>('has', 'add', 'offer', 'offer', 'offer', 'advance'),
    id: fc.nat({ max: ids - 1 }),
    // Mostly forward, often the same ms, sometimes backwards (which must be harmless).
    step: fc.oneof({ weight: 6, arbitrary: fc.nat({ max: maxStep }) }, { weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -maxStep, max: -1 }) }),
  });

/** Run ops on the index and the model side by side; every answer and size must agree. */
function compare(horizonMs: number, maxIds: number, ops: readonly Op[], checkEvery = 1): void {
  const index = new DedupIndex({ horizonMs, maxIds });
  const model = new ModelIndex(horizonMs, maxIds);
  let busTime = 1_700_000_000_000;
  ops.forEach((op, i) => {
    busTime += op.step;
    const [deviceId, eventId] = key(op.id);
    const id = `${deviceId}/${eventId}`;
    switch (op.kind) {
      case 'has':
        expect(index.has(deviceId, eventId, busTime)).toBe(model.has(id, busTime));
        break;
      case 'add':
        index.add(deviceId, eventId, busTime);
        model.add(id, busTime);
        break;
      case 'offer': {
        const known = model.has(id, busTime);
        if (!known) model.add(id, busTime);
        expect(index.offer(deviceId, eventId, busTime)).toBe(!known);
        break;
      }
      case 'advance':
        index.advance(busTime);
        model.advance(busTime);
        break;
    }
    expect(index.size).toBe(model.size);
    expect(index.size).toBeLessThanOrEqual(maxIds);
    if (i % checkEvery === 0) index.selfCheck();
  });
  index.selfCheck();
}

describe('DedupIndex', () => {
  it('remembers an id for the horizon (inclusive), per device', () => {
    const index = new DedupIndex({ horizonMs: 10_000, maxIds: 100 });
    expect(index.offer('d1', 'a', 1_000)).toBe(true);
    expect(index.has('d1', 'a', 1_000)).toBe(true);
    expect(index.has('d2', 'a', 1_000)).toBe(false); // another device's id
    expect(index.offer('d1', 'a', 11_000)).toBe(false); // exactly at the horizon: still known
    expect(index.offer('d1', 'b', 11_001)).toBe(true); // moves the clock past a's horizon
    expect(index.size).toBe(1);
    expect(index.has('d1', 'a', 11_001)).toBe(false);
    expect(index.offer('d1', 'a', 11_001)).toBe(true);
  });

  it('separates device id and event id: (ab, c) is not (a, bc)', () => {
    const index = new DedupIndex({ horizonMs: 10_000, maxIds: 100 });
    index.add('ab', 'c', 1);
    expect(index.has('a', 'bc', 1)).toBe(false);
    expect(index.has('abc', '', 1)).toBe(false);
    expect(index.has('ab', 'c', 1)).toBe(true);
  });

  it('a smaller bus time counts as the newest seen: the clock never goes back', () => {
    const index = new DedupIndex({ horizonMs: 1_000, maxIds: 100 });
    index.add('d', 'a', 5_000);
    index.add('d', 'b', 4_000); // stamped 5,000
    expect(index.newestBusTime).toBe(5_000);
    expect(index.has('d', 'b', 6_000)).toBe(true);
    expect(index.has('d', 'b', 6_001)).toBe(false);
    index.selfCheck();
  });

  it('when full, forgets the ids of the oldest bus time, all of them together', () => {
    const index = new DedupIndex({ horizonMs: 1e9, maxIds: 4 });
    index.add('d', 'a', 1);
    index.add('d', 'b', 1);
    index.add('d', 'c', 2);
    index.add('d', 'd', 3);
    index.add('d', 'e', 4); // full: a and b (bus time 1) go
    expect(['a', 'b', 'c', 'd', 'e'].map((id) => index.has('d', id, 4))).toEqual([false, false, true, true, true]);
    expect(index.stats()).toMatchObject({ ids: 3, maxIds: 4, evicted: 2 });
    index.add('d', 'f', 4);
    index.add('d', 'g', 4); // full: c (bus time 2) goes
    expect(['c', 'd', 'f', 'g'].map((id) => index.has('d', id, 4))).toEqual([false, true, true, true]);
  });

  it('more ids in one ms than fit: that ms overflows and none of its ids is kept', () => {
    const index = new DedupIndex({ horizonMs: 1e9, maxIds: 3 });
    index.add('d', 'old', 1);
    for (const id of ['a', 'b', 'c']) index.add('d', id, 2);
    expect(index.size).toBe(3);
    index.add('d', 'x', 2);
    expect(index.size).toBe(0);
    index.add('d', 'y', 2); // same ms: not remembered
    expect(index.has('d', 'y', 2)).toBe(false);
    index.add('d', 'z', 3); // the next ms is remembered again
    expect(index.has('d', 'z', 3)).toBe(true);
    expect(index.stats().evicted).toBe(4);
  });

  it('names the oldest bus time a restore has to replay: the oldest held, the overflowed one, or the next', () => {
    const index = new DedupIndex({ horizonMs: 100, maxIds: 3 });
    expect(index.restoreFloor).toBe(Number.NEGATIVE_INFINITY);
    index.add('d', 'a', 1);
    index.add('d', 'b', 2);
    expect(index.restoreFloor).toBe(1);
    index.add('d', 'c', 3);
    index.add('d', 'e', 3); // full: a (bus time 1) goes
    expect(index.restoreFloor).toBe(2);
    for (const id of ['f', 'g', 'h', 'i']) index.add('d', id, 4); // 4 overflows: nothing held
    expect(index.size).toBe(0);
    expect(index.restoreFloor).toBe(4); // replaying bus time 4 overflows it again
    index.add('d', 'j', 5);
    expect(index.restoreFloor).toBe(5);
    index.advance(200); // j is past the horizon: nothing to replay before the next bus time
    expect(index.size).toBe(0);
    expect(index.restoreFloor).toBe(201);
  });

  it('re-adding a remembered id refreshes it to the newest position', () => {
    const index = new DedupIndex({ horizonMs: 10, maxIds: 3 });
    index.add('d', 'a', 0);
    index.add('d', 'b', 5);
    index.add('d', 'a', 8); // a moves behind b, stamped 8
    expect(index.has('d', 'a', 16)).toBe(true); // b expired at 16, a (8) not
    expect(index.has('d', 'b', 16)).toBe(false);
    expect(index.size).toBe(1);
    index.selfCheck();
  });

  it('grows by doubling up to its capacity, and gives memory back when ids expire', () => {
    const index = new DedupIndex({ horizonMs: 1_000, maxIds: 100_000 });
    const idle = index.stats().bytes;
    expect(idle).toBeLessThan(32 * 1024);
    for (let i = 0; i < 100_000; i++) index.add(`dev-${i % 97}`, `evt-${i}`, Math.floor(i / 1_000));
    index.selfCheck();
    const full = index.stats();
    expect(full.ids).toBe(100_000);
    // 12 B of fingerprint an id, a table of 2^18 slots, and one run per bus time (100 of
    // them, in 128 slots): bus times cost nothing per id when ids share them.
    expect(full.bytes).toBe(100_000 * 12 + 262_144 * 4 + 128 * 12);
    for (let i = 0; i < 100_000; i += 997) expect(index.has(`dev-${i % 97}`, `evt-${i}`, 99)).toBe(true);
    index.add('dev-0', 'one-more', 99); // at capacity: the oldest ms (1,000 ids) goes
    expect(index.stats()).toMatchObject({ ids: 99_001, evicted: 1_000 });
    index.advance(5_000);
    expect(index.size).toBe(0);
    expect(index.stats().bytes).toBe(idle);
    index.selfCheck();
  });

  it('decides like the Map model under random has/add/offer/advance, small capacities', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_000, max: 20_000 }),
        fc.integer({ min: 1, max: 12 }),
        fc.array(opArb(24, 3_000), { maxLength: 300 }),
        (horizon, cap, ops) => compare(horizon, cap, ops),
      ),
      { numRuns: 500 },
    );
  });

  it('decides like the Map model with thousands of ids: growth, shrinking, long probe runs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 50, max: 2_000 }),
        fc.integer({ min: 500, max: 5_000 }),
        fc.array(opArb(6_000, 3), { minLength: 5_000, maxLength: 20_000 }),
        (horizon, cap, ops) => compare(horizon, cap, ops, 997),
      ),
      // Shrinking 20k-op runs takes minutes: report the first failure as it is.
      { numRuns: 12, endOnFailure: true },
    );
  });

  it('with room to spare, knows exactly the ids accepted within the horizon', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5_000 }), fc.array(opArb(40, 1_000), { maxLength: 300 }), (horizon, ops) => {
        const index = new DedupIndex({ horizonMs: horizon, maxIds: 1_000 });
        const acceptedAt = new Map<string, number>();
        let busTime = 0;
        let now = Number.NEGATIVE_INFINITY;
        for (const op of ops) {
          busTime += Math.max(0, op.step);
          now = Math.max(now, busTime);
          const [deviceId, eventId] = key(op.id);
          const at = acceptedAt.get(`${deviceId}/${eventId}`);
          const known = at !== undefined && at >= now - horizon;
          expect(index.offer(deviceId, eventId, busTime)).toBe(!known);
          if (!known) acceptedAt.set(`${deviceId}/${eventId}`, now);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('rebuilds the same memory whatever the order of the ids within each bus time', () => {
    // The dedup log groups a flush's ids by device; restore then sees another order.
    const stepArb = fc.array(fc.record({ id: fc.nat({ max: 30 }), step: fc.constantFrom(0, 0, 1, 2, 500) }), { maxLength: 120 });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 2_000 }),
        stepArb,
        fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })),
        fc.array(fc.nat({ max: 30 }), { maxLength: 40 }),
        (cap, horizon, steps, noise, probes) => {
          // Accepted records as the live index would produce them.
          const live = new DedupIndex({ horizonMs: horizon, maxIds: cap });
          const records: { id: number; busTime: number }[] = [];
          let busTime = 0;
          for (const s of steps) {
            busTime += s.step;
            const [d, e] = key(s.id);
            if (live.offer(d, e, busTime)) records.push({ id: s.id, busTime });
          }
          // The same records, shuffled within each bus time, added to a fresh index.
          const it = noise[Symbol.iterator]();
          const shuffled = records
            .map((r) => ({ r, k: it.next().value as number }))
            .sort((a, b) => a.r.busTime - b.r.busTime || a.k - b.k)
            .map((x) => x.r);
          const restored = new DedupIndex({ horizonMs: horizon, maxIds: cap });
          for (const r of shuffled) restored.add(...key(r.id), r.busTime);
          // The log holds no trace of the live index's last has() calls, which may have
          // moved its clock further: the next entry brings the restored one there too.
          restored.advance(busTime);
          restored.selfCheck();
          expect(restored.size).toBe(live.size);
          // From now on both decide alike.
          for (const [i, p] of probes.entries()) {
            const at = busTime + (i % 3) * 300;
            expect(restored.offer(...key(p), at)).toBe(live.offer(...key(p), at));
          }
          expect(restored.size).toBe(live.size);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('tells 200k random UUIDs of 50 devices apart (no false duplicate)', () => {
    const index = new DedupIndex({ horizonMs: 1e12, maxIds: 200_000 });
    const seen = new Set<string>();
    let state = 0x12345678;
    const hex = (n: number): string => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return (state >>> 0).toString(16).padStart(8, '0').slice(0, n);
    };
    for (let i = 0; i < 200_000; i++) {
      const uuid = `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(8)}${hex(4)}`;
      if (seen.has(uuid)) continue;
      seen.add(uuid);
      expect(index.offer(`sensor-${i % 50}`, uuid, 1)).toBe(true);
    }
    expect(index.size).toBe(seen.size);
    index.selfCheck();
  });

  it('refuses a capacity it cannot hold', () => {
    expect(() => new DedupIndex({ horizonMs: 1, maxIds: 0 })).toThrow(RangeError);
    expect(() => new DedupIndex({ horizonMs: 1, maxIds: 2 ** 28 + 1 })).toThrow(RangeError);
  });
});
