/**
 * Restore equivalence: the exactly-once flush protocol re-runs a flush from the dedup log, so
 * an actor set rebuilt with restore() must decide exactly as the live one would have.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { PartitionActors } from '../../../src/actors/partition-actors.js';
import type { ActorOptions, DedupRecord } from '../../../src/actors/types.js';
import type { CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import { type Entry, distinctEventsArb, run, toEntries, withoutLate } from './arbitraries.js';

interface Scenario {
  options: ActorOptions;
  before: Entry[];
  after: Entry[];
  /** Restore only the records inside the horizon, as a trimmed dedup log would hold. */
  trimLog: boolean;
  /** Entry indexes after which the live set passivates. */
  passivateAt: Set<number>;
}

const cutArb = fc.record({ size: fc.integer({ min: 1, max: 4 }), step: fc.nat({ max: 4_000 }), drain: fc.boolean() });

/** Deliveries with duplicates (also across the split), small horizons and caps, passivation. */
const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    events: distinctEventsArb(30),
    options: fc.record({
      dedupHorizonMs: fc.integer({ min: 1_000, max: 40_000 }),
      maxIdsPerDevice: fc.integer({ min: 1, max: 12 }),
      idleMs: fc.integer({ min: 1, max: 40_000 }),
    }),
    trimLog: fc.boolean(),
  })
  .chain(({ events, options, trimLog }) =>
    fc
      .array(fc.nat({ max: events.length - 1 }), { minLength: 1, maxLength: 3 * events.length })
      .chain((picks) => {
        const deliveries: CanonicalEvent[] = [...events, ...picks.map((i) => events[i] as CanonicalEvent)];
        return fc.record({
          order: fc.shuffledSubarray(deliveries, { minLength: deliveries.length, maxLength: deliveries.length }),
          cuts: fc.array(cutArb, { minLength: deliveries.length, maxLength: deliveries.length }),
          split: fc.nat({ max: deliveries.length }),
          passivateAt: fc.uniqueArray(fc.nat({ max: deliveries.length }), { maxLength: 10 }),
        });
      })
      .map(({ order, cuts, split, passivateAt }) => {
        const entries = toEntries(order, cuts, 1_700_000_000_000);
        const at = Math.min(split, entries.length);
        return { options, trimLog, before: entries.slice(0, at), after: entries.slice(at), passivateAt: new Set(passivateAt) };
      }),
  );

function restoredFrom(s: Scenario, log: readonly DedupRecord[]): PartitionActors {
  const actors = new PartitionActors(1, s.options);
  actors.restore(log);
  return actors;
}

/** The dedup log the live set would leave after `before`, trimmed to the horizon or not. */
function dedupLog(s: Scenario, live: PartitionActors): DedupRecord[] {
  const records = run(live, s.before, (e) => {
    if (s.passivateAt.has(s.before.indexOf(e))) live.passivate(e.busTime);
  }).flatMap((b) => b.accepted);
  const last = s.before[s.before.length - 1];
  if (!s.trimLog || last === undefined) return records;
  return records.filter((r) => r.busTime >= last.busTime - s.options.dedupHorizonMs);
}

describe('PartitionActors.restore', () => {
  it('two sets restored from the same log drain identical batches for any later entries', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const log = dedupLog(s, new PartitionActors(1, s.options));
        const a = run(restoredFrom(s, log), s.after);
        const b = run(restoredFrom(s, log), s.after);
        expect(JSON.stringify(b)).toBe(JSON.stringify(a));
      }),
      { numRuns: 200 },
    );
  });

  it('a set restored from earlier drains’ accepted ids treats duplicates exactly like the live one', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const live = new PartitionActors(1, s.options);
        const log = dedupLog(s, live);
        const restored = restoredFrom(s, log);
        const liveBatches = run(live, s.after).map(withoutLate);
        const restoredBatches = run(restored, s.after).map(withoutLate);
        expect(restoredBatches).toEqual(liveBatches);
      }),
      { numRuns: 300 },
    );
  });

  it('passivation never changes a dedup decision', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const entries = [...s.before, ...s.after];
        const plain = run(new PartitionActors(1, s.options), entries).map(withoutLate);
        const passivating = new PartitionActors(1, s.options);
        const withPassivation = run(passivating, entries, (e) => {
          if (s.passivateAt.has(entries.indexOf(e))) passivating.passivate(e.busTime);
        }).map(withoutLate);
        expect(withPassivation).toEqual(plain);
      }),
      { numRuns: 200 },
    );
  });
});
