/**
 * Shared generators and helpers for the actor tests: canonical events (v1 and v2), bus
 * deliveries with duplicates in any order, and a runner that applies them to PartitionActors.
 */
import fc from 'fast-check';
import type { CanonicalEvent, Reading } from '../../../src/contracts/canonical-event.js';
import type { PartitionActors } from '../../../src/actors/partition-actors.js';
import type { FlushBatch } from '../../../src/actors/types.js';

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DEVICES = Array.from({ length: 12 }, (_, i) => `dev-${String.fromCharCode(97 + i)}`);
export const SENSORS = ['humidity', 'pressure', 'temp'];
export const BASE_TIME = Date.UTC(2024, 0, 15, 12, 0, 0);

export interface EventSpec {
  eventId: string;
  deviceId: string;
  eventTime: number;
  readings: Reading[];
  v2: boolean;
  ingestTime?: number;
  seq?: number | null;
}

export function makeEvent(spec: EventSpec): CanonicalEvent {
  return {
    eventId: spec.eventId,
    deviceId: spec.deviceId,
    region: 'us-east',
    eventTime: spec.eventTime,
    ingestTime: spec.ingestTime ?? spec.eventTime + 50,
    firmwareVersion: '1.0.0',
    schemaVersion: spec.v2 ? 2 : 1,
    seq: spec.v2 ? (spec.seq ?? null) : null,
    readings: spec.v2 ? spec.readings : spec.readings.slice(0, 1),
  };
}

/** Finite doubles (no -0, so min/max compare plainly). */
export const valueArb = fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((v) => v + 0);

const readingArb: fc.Arbitrary<Reading> = fc.record({
  sensorType: fc.constantFrom(...SENSORS),
  value: valueArb,
  unit: fc.constant('u'),
  weight: fc.constant(1),
});

/**
 * Distinct events: unique by (deviceId, eventId); the same event id may recur on another
 * device. Event times from two hours late to five minutes ahead of BASE_TIME.
 */
export function distinctEventsArb(maxEvents: number): fc.Arbitrary<CanonicalEvent[]> {
  return fc
    .uniqueArray(
      fc.record({
        deviceId: fc.constantFrom(...DEVICES),
        id: fc.nat({ max: maxEvents }),
        offset: fc.integer({ min: -2 * HOUR, max: 5 * MINUTE }),
        v2: fc.boolean(),
        readings: fc.array(readingArb, { minLength: 1, maxLength: 4 }),
      }),
      { selector: (e) => `${e.deviceId}/${e.id}`, minLength: 1, maxLength: maxEvents },
    )
    .map((specs) =>
      specs.map((s, i) =>
        makeEvent({
          eventId: `evt-${s.id}`,
          deviceId: s.deviceId,
          eventTime: BASE_TIME + s.offset,
          readings: s.readings,
          v2: s.v2,
          seq: i,
        }),
      ),
    );
}

/** One Redis stream entry as the runtime hands it to the actors. */
export interface Entry {
  streamId: string;
  busTime: number;
  events: CanonicalEvent[];
  /** Drain after applying this entry. */
  drainAfter: boolean;
}

/**
 * Every distinct event delivered at least once, some several times (a resend carries a later
 * ingest time), all shuffled, cut into entries of 1–5 events with non-decreasing bus times
 * (steps of 0..maxStepMs), drains at random points.
 */
export function deliveriesArb(events: CanonicalEvent[], maxStepMs: number): fc.Arbitrary<Entry[]> {
  return fc
    .array(fc.nat({ max: events.length - 1 }), { maxLength: 2 * events.length })
    .chain((dupIdx) => {
      const all = [
        ...events,
        ...dupIdx.map((i, k) => {
          const e = events[i] as CanonicalEvent;
          return { ...e, ingestTime: e.ingestTime + 1000 * (k + 1) };
        }),
      ];
      return fc.tuple(
        fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }),
        fc.array(fc.record({ size: fc.integer({ min: 1, max: 5 }), step: fc.nat({ max: maxStepMs }), drain: fc.boolean() }), {
          minLength: all.length,
          maxLength: all.length,
        }),
      );
    })
    .map(([shuffled, cuts]) => toEntries(shuffled, cuts, BASE_TIME));
}

export function toEntries(
  events: CanonicalEvent[],
  cuts: { size: number; step: number; drain: boolean }[],
  startBusTime: number,
): Entry[] {
  const entries: Entry[] = [];
  let busTime = startBusTime;
  let seqInMs = 0;
  let at = 0;
  for (const cut of cuts) {
    if (at >= events.length) break;
    seqInMs = cut.step === 0 ? seqInMs + 1 : 0;
    busTime += cut.step;
    entries.push({ streamId: `${busTime}-${seqInMs}`, busTime, events: events.slice(at, at + cut.size), drainAfter: cut.drain });
    at += cut.size;
  }
  return entries;
}

/** Apply entries, draining where marked and once at the end; returns every batch. */
export function run(actors: PartitionActors, entries: readonly Entry[], afterEntry?: (e: Entry) => void): FlushBatch[] {
  const batches: FlushBatch[] = [];
  for (const e of entries) {
    actors.apply(e.streamId, e.busTime, e.events);
    afterEntry?.(e);
    if (e.drainAfter) batches.push(actors.drain());
  }
  batches.push(actors.drain());
  return batches;
}

/**
 * What a batch decided: without its `late` metric (which restore cannot reproduce) and its
 * dedup floor (a trim point: it moves with passivation, which changes no decision, and the
 * 'floor' restores check that it is a safe one).
 */
export function decisions(b: FlushBatch): Omit<FlushBatch, 'late' | 'dedupFloor'> {
  const { late: _late, dedupFloor: _floor, ...rest } = b;
  return rest;
}
