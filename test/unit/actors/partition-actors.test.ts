/**
 * PartitionActors: exactly-once rollups and rows under duplicates and disorder, determinism,
 * and passivation bounding the number of live actors.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { PartitionActors } from '../../../src/actors/partition-actors.js';
import { digestWeight } from '../../../src/actors/quantile-digest.js';
import type { ActorOptions, FlushBatch, WindowPartial } from '../../../src/actors/types.js';
import type { CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import { BASE_TIME, HOUR, MINUTE, deliveriesArb, distinctEventsArb, makeEvent, run } from './arbitraries.js';

const OPTIONS: ActorOptions = { dedupHorizonMs: 10 * MINUTE, maxIdsPerDevice: 4096, idleMs: 10 * MINUTE };

interface Agg {
  count: number;
  sum: number;
  magnitude: number;
  min: number;
  max: number;
}

/** What the rollup must say, computed directly from the distinct events. */
function expected(events: readonly CanonicalEvent[], width: number): Map<string, Agg> {
  const out = new Map<string, Agg>();
  for (const e of events) {
    for (const r of e.readings) {
      const key = `${e.deviceId}|${r.sensorType}|${Math.floor(e.eventTime / width) * width}`;
      const a = out.get(key) ?? { count: 0, sum: 0, magnitude: 0, min: Infinity, max: -Infinity };
      a.count++;
      a.sum += r.value;
      a.magnitude += Math.abs(r.value);
      a.min = Math.min(a.min, r.value);
      a.max = Math.max(a.max, r.value);
      out.set(key, a);
    }
  }
  return out;
}

/** Merge drained partials the way ClickHouse merges aggregate states. */
function merged(partials: readonly WindowPartial[]): Map<string, Omit<Agg, 'magnitude'> & { digestWeight: number }> {
  const out = new Map<string, Omit<Agg, 'magnitude'> & { digestWeight: number }>();
  for (const p of partials) {
    const key = `${p.deviceId}|${p.sensorType}|${p.windowStart}`;
    const a = out.get(key) ?? { count: 0, sum: 0, min: Infinity, max: -Infinity, digestWeight: 0 };
    a.count += p.count;
    a.sum += p.sum;
    a.min = Math.min(a.min, p.min);
    a.max = Math.max(a.max, p.max);
    a.digestWeight += digestWeight(p.digest);
    out.set(key, a);
  }
  return out;
}

function expectRollupsMatch(batches: readonly FlushBatch[], events: readonly CanonicalEvent[], width: number): void {
  const partials = batches.flatMap((b) => (width === MINUTE ? b.rollup1m : b.rollup1h));
  const want = expected(events, width);
  const got = merged(partials);
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [key, w] of want) {
    const g = got.get(key);
    expect(g, key).toBeDefined();
    if (!g) continue;
    expect(g.count, key).toBe(w.count);
    expect(g.digestWeight, key).toBe(w.count);
    expect(g.min, key).toBe(w.min);
    expect(g.max, key).toBe(w.max);
    expect(Math.abs(g.sum - w.sum), key).toBeLessThanOrEqual(1e-9 * Math.max(1, w.magnitude));
  }
}

describe('PartitionActors', () => {
  it('rolls up every distinct event exactly once, whatever the duplicates, disorder, lateness and drains', () => {
    const scenario = distinctEventsArb(40).chain((events) =>
      deliveriesArb(events, 2_000).map((entries) => ({ events, entries })),
    );
    fc.assert(
      fc.property(scenario, ({ events, entries }) => {
        const actors = new PartitionActors(3, OPTIONS);
        const batches = run(actors, entries);

        expectRollupsMatch(batches, events, MINUTE);
        expectRollupsMatch(batches, events, HOUR);

        const rowKeys = batches.flatMap((b) => b.rows.map((r) => `${r.deviceId}|${r.eventId}|${r.readingIndex}`));
        const wantKeys = events.flatMap((e) => e.readings.map((_, i) => `${e.deviceId}|${e.eventId}|${i}`));
        expect(rowKeys.sort()).toEqual(wantKeys.sort());
        for (const row of batches.flatMap((b) => b.rows)) expect(row.partition).toBe(3);

        const delivered = entries.reduce((n, e) => n + e.events.length, 0);
        expect(batches.reduce((n, b) => n + b.duplicates, 0)).toBe(delivered - events.length);
        expect(batches.reduce((n, b) => n + b.accepted.length, 0)).toBe(events.length);
        expect(actors.pendingEvents()).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('produces byte-identical batches when the same entries are applied again', () => {
    const scenario = distinctEventsArb(30).chain((events) => deliveriesArb(events, 2_000));
    fc.assert(
      fc.property(scenario, (entries) => {
        const first = run(new PartitionActors(0, OPTIONS), entries);
        const second = run(new PartitionActors(0, OPTIONS), entries);
        expect(JSON.stringify(second)).toBe(JSON.stringify(first));
      }),
      { numRuns: 100 },
    );
  });

  it('keeps or drops all readings of a v2 event together', () => {
    const actors = new PartitionActors(0, OPTIONS);
    const readings = [
      { sensorType: 'temp', value: 21.5, unit: 'C', weight: 1 },
      { sensorType: 'humidity', value: 40, unit: '%', weight: 1 },
      { sensorType: 'temp', value: 22, unit: 'C', weight: 1 },
    ];
    const event = makeEvent({ eventId: 'e1', deviceId: 'd1', eventTime: BASE_TIME, readings, v2: true, seq: 7 });
    actors.apply(`${BASE_TIME}-0`, BASE_TIME, [event, event]);
    actors.apply(`${BASE_TIME + 1}-0`, BASE_TIME + 1, [{ ...event, ingestTime: event.ingestTime + 5 }]);
    const batch = actors.drain();
    expect(batch.rows.map((r) => [r.readingIndex, r.sensorType, r.value])).toEqual([
      [0, 'temp', 21.5],
      [1, 'humidity', 40],
      [2, 'temp', 22],
    ]);
    expect(batch.duplicates).toBe(2);
    expect(batch.rollup1m.map((p) => [p.sensorType, p.count, p.sum])).toEqual([
      ['humidity', 1, 40],
      ['temp', 2, 43.5],
    ]);
  });

  it('carries sampled readings weights into rows and rollups; a resend is still one duplicate', () => {
    const actors = new PartitionActors(0, OPTIONS);
    const readings = [
      { sensorType: 'temp', value: 21.5, unit: 'C', weight: 4 },
      { sensorType: 'humidity', value: 40, unit: '%', weight: 1 },
      { sensorType: 'temp', value: 22, unit: 'C', weight: 4 },
    ];
    const event = makeEvent({ eventId: 'e1', deviceId: 'd1', eventTime: BASE_TIME, readings, v2: true, seq: 7 });
    actors.apply(`${BASE_TIME}-0`, BASE_TIME, [event]);
    actors.apply(`${BASE_TIME + 1}-0`, BASE_TIME + 1, [{ ...event, ingestTime: event.ingestTime + 5 }]);
    const batch = actors.drain();
    expect(batch.rows.map((r) => [r.readingIndex, r.sensorType, r.weight])).toEqual([
      [0, 'temp', 4],
      [1, 'humidity', 1],
      [2, 'temp', 4],
    ]);
    expect(batch.duplicates).toBe(1);
    for (const partials of [batch.rollup1m, batch.rollup1h]) {
      expect(partials.map((p) => [p.sensorType, p.readings, p.count, p.sum, digestWeight(p.digest)])).toEqual([
        ['humidity', 1, 1, 40, 1],
        ['temp', 2, 8, 4 * 21.5 + 4 * 22, 8],
      ]);
    }
  });

  it('counts events more than a minute behind the device’s newest event time as late', () => {
    const actors = new PartitionActors(0, OPTIONS);
    const r = [{ sensorType: 'temp', value: 1, unit: 'C', weight: 1 }];
    const at = (id: string, deviceId: string, eventTime: number) => makeEvent({ eventId: id, deviceId, eventTime, readings: r, v2: false });
    actors.apply('1-0', 1, [
      at('a', 'd1', BASE_TIME),
      at('b', 'd1', BASE_TIME - MINUTE), // exactly a minute behind: on time
      at('c', 'd1', BASE_TIME - HOUR), // an hour late
      at('d', 'd2', BASE_TIME - HOUR), // first event of another device: on time
    ]);
    const batch = actors.drain();
    expect(batch.late).toBe(1);
    expect(batch.rollup1h.filter((p) => p.deviceId === 'd1').map((p) => p.windowStart)).toEqual([BASE_TIME - HOUR, BASE_TIME]);
  });

  it('passivates idle actors once their dedup memory has expired, and only then', () => {
    const options: ActorOptions = { dedupHorizonMs: 60_000, maxIdsPerDevice: 100, idleMs: 10_000 };
    const actors = new PartitionActors(0, options);
    const r = [{ sensorType: 'temp', value: 1, unit: 'C', weight: 1 }];
    const t0 = 1_000_000;
    for (let d = 0; d < 500; d++)
      actors.apply(`${t0}-${d}`, t0, [makeEvent({ eventId: 'first', deviceId: `d${d}`, eventTime: BASE_TIME, readings: r, v2: false })]);
    expect(actors.activeActors()).toBe(500);

    // Idle long enough, but their ids are still inside the horizon: nobody may go.
    const t1 = t0 + 30_000;
    for (let d = 0; d < 10; d++)
      actors.apply(`${t1}-${d}`, t1, [makeEvent({ eventId: 'second', deviceId: `d${d}`, eventTime: BASE_TIME, readings: r, v2: false })]);
    expect(actors.passivate(t1)).toEqual([]);
    expect(actors.activeActors()).toBe(500);

    // Past the first ids' horizon: the 490 quiet devices go, the 10 recent ones stay.
    const t2 = t0 + 60_001;
    const dropped = actors.passivate(t2);
    expect(dropped).toHaveLength(490);
    expect(dropped).not.toContain('d3');
    expect(actors.activeActors()).toBe(10);

    // A resend of a still-remembered id is a duplicate; a passivated device starts afresh.
    expect(actors.drain().accepted).toHaveLength(510);
    actors.apply(`${t2}-0`, t2, [
      makeEvent({ eventId: 'second', deviceId: 'd3', eventTime: BASE_TIME, readings: r, v2: false }),
      makeEvent({ eventId: 'third', deviceId: 'd400', eventTime: BASE_TIME, readings: r, v2: false }),
    ]);
    expect(actors.pendingEvents()).toBe(1);
    const batch = actors.drain();
    expect(batch.duplicates).toBe(1);
    expect(batch.rows.map((row) => `${row.deviceId}/${row.eventId}`)).toEqual(['d400/third']);
    expect(actors.activeActors()).toBe(11);
  });
});
