/**
 * Restore equivalence: the exactly-once flush protocol re-runs a flush from the dedup log, so
 * an actor set rebuilt with restore() must decide exactly as the live one would have.
 *
 * The log goes through the real codec (which groups a flush's ids by device, so restore sees
 * them in another order than they were accepted), is trimmed the ways Redis may hold it, and
 * the dedup capacity is tiny so that eviction happens all the time.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { PartitionActors } from '../../../src/actors/partition-actors.js';
import type { ActorOptions, DedupRecord } from '../../../src/actors/types.js';
import type { CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import { decodeDedupRecords, encodeDedupRecords } from '../../../src/runtime/dedup-log-codec.js';
import { BASE_TIME, DEVICES, type Entry, distinctEventsArb, makeEvent, run, toEntries, decisions } from './arbitraries.js';

interface Scenario {
  options: ActorOptions;
  before: Entry[];
  after: Entry[];
  /**
   * How much of the log is restored: all of it; the records inside the horizon; the flushes
   * whose last entry is inside the horizon (the log's XTRIM MINID and the restore's XRANGE
   * both go by the flush's `to`); or, as the runtime does, the flushes whose last entry is at
   * or after the later of the horizon's start and the last drain's restore floor, skipping the
   * records before that point.
   */
  trimLog: 'none' | 'records' | 'flushes' | 'floor';
  /** Entry indexes after which the live set passivates. */
  passivateAt: Set<number>;
}

/** Entries often share a ms (step 0): ids of one bus time are where restore order differs. */
const cutArb = fc.record({
  size: fc.integer({ min: 1, max: 4 }),
  step: fc.oneof(fc.constant(0), fc.nat({ max: 4_000 })),
  drain: fc.boolean(),
});

/** Deliveries with duplicates (also across the split), small horizons and caps, passivation. */
const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    events: distinctEventsArb(30),
    options: fc.record({
      dedupHorizonMs: fc.integer({ min: 1_000, max: 40_000 }),
      dedupMaxIds: fc.integer({ min: 1, max: 12 }),
      idleMs: fc.integer({ min: 1, max: 40_000 }),
    }),
    trimLog: fc.constantFrom('none' as const, 'records' as const, 'flushes' as const, 'floor' as const),
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

interface DedupLog {
  entries: DedupRecord[][];
  /** The bus time the restore skips records before (the runtime's stored trim point). */
  floor: number;
}

/** A set rebuilt from the log as the runtime does it: one restore() per log entry. */
function restoredFrom(s: Scenario, log: DedupLog): PartitionActors {
  const actors = new PartitionActors(1, s.options);
  for (const records of log.entries) actors.restore(records, log.floor);
  return actors;
}

/**
 * The dedup log the live set leaves after `before`: one entry per flush (encoded and decoded
 * as in Redis), trimmed as the scenario says.
 */
function dedupLog(s: Scenario, live: PartitionActors): DedupLog {
  const flushes: { to: number; records: DedupRecord[] }[] = [];
  let lastBusTime = Number.NEGATIVE_INFINITY;
  let lastFloor = Number.NEGATIVE_INFINITY;
  const flush = (): void => {
    const batch = live.drain();
    lastFloor = batch.dedupFloor;
    const payload = encodeDedupRecords(batch.accepted);
    if (payload) flushes.push({ to: lastBusTime, records: decodeDedupRecords(payload) });
  };
  s.before.forEach((e, i) => {
    live.apply(e.streamId, e.busTime, e.events);
    lastBusTime = e.busTime;
    if (s.passivateAt.has(i)) live.passivate(e.busTime);
    if (e.drainAfter) flush();
  });
  flush();
  const cutoff = lastBusTime - s.options.dedupHorizonMs;
  const all = Number.NEGATIVE_INFINITY;
  switch (s.trimLog) {
    case 'none':
      return { entries: flushes.map((f) => f.records), floor: all };
    case 'records':
      return { entries: flushes.map((f) => f.records.filter((r) => r.busTime >= cutoff)), floor: all };
    case 'flushes':
      return { entries: flushes.filter((f) => f.to >= cutoff).map((f) => f.records), floor: all };
    case 'floor': {
      const minId = Math.max(cutoff, lastFloor);
      return { entries: flushes.filter((f) => f.to >= minId).map((f) => f.records), floor: minId };
    }
  }
}

/**
 * Dense traffic: few devices and ids, many events per ms, resends around the horizon and the
 * capacity — where an order-sensitive or time-sloppy restore would show.
 */
const denseScenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    options: fc.record({
      dedupHorizonMs: fc.constantFrom(1_000, 2_500),
      dedupMaxIds: fc.integer({ min: 1, max: 10 }),
      idleMs: fc.constant(1_000),
    }),
    trimLog: fc.constantFrom('none' as const, 'records' as const, 'flushes' as const, 'floor' as const),
    entries: fc.array(
      fc.record({
        step: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1_500 })),
        picks: fc.array(fc.record({ device: fc.nat({ max: 2 }), id: fc.nat({ max: 7 }) }), { minLength: 1, maxLength: 6 }),
        drainAfter: fc.boolean(),
      }),
      { minLength: 1, maxLength: 40 },
    ),
    split: fc.nat({ max: 40 }),
  })
  .map(({ options, trimLog, entries, split }) => {
    let busTime = BASE_TIME;
    let seq = 0;
    const all: Entry[] = entries.map((e) => {
      seq = e.step === 0 ? seq + 1 : 0;
      busTime += e.step;
      const events = e.picks.map((p) =>
        makeEvent({ eventId: `evt-${p.id}`, deviceId: DEVICES[p.device] as string, eventTime: BASE_TIME, readings: [{ sensorType: 'temp', value: p.id, unit: 'C', weight: 1 }], v2: false }),
      );
      return { streamId: `${busTime}-${seq}`, busTime, events, drainAfter: e.drainAfter };
    });
    const at = Math.min(split, all.length);
    return { options, trimLog, before: all.slice(0, at), after: all.slice(at), passivateAt: new Set<number>() };
  });

describe('PartitionActors.restore', () => {
  it('under dense traffic at the horizon and the capacity, a restored set decides like the live one', () => {
    fc.assert(
      fc.property(denseScenarioArb, (s) => {
        const live = new PartitionActors(1, s.options);
        const restored = restoredFrom(s, dedupLog(s, live));
        expect(run(restored, s.after).map(decisions)).toEqual(run(live, s.after).map(decisions));
      }),
      { numRuns: 1_000 },
    );
  });

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
        const liveBatches = run(live, s.after).map(decisions);
        const restoredBatches = run(restored, s.after).map(decisions);
        expect(restoredBatches).toEqual(liveBatches);
      }),
      { numRuns: 300 },
    );
  });

  it('passivation never changes a dedup decision', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const entries = [...s.before, ...s.after];
        const plain = run(new PartitionActors(1, s.options), entries).map(decisions);
        const passivating = new PartitionActors(1, s.options);
        const withPassivation = run(passivating, entries, (e) => {
          if (s.passivateAt.has(entries.indexOf(e))) passivating.passivate(e.busTime);
        }).map(decisions);
        expect(withPassivation).toEqual(plain);
      }),
      { numRuns: 200 },
    );
  });
});
