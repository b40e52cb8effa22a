/**
 * PartitionActors: exactly-once rollups and rows under duplicates and disorder, determinism,
 * passivation bounding the number of live actors, and the partition's dedup capacity.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { PartitionActors } from '../../../src/actors/partition-actors.js';
import { digestWeight } from '../../../src/actors/quantile-digest.js';
import type { ActorOptions, FlushBatch, WindowPartial } from '../../../src/actors/types.js';
import type { CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import { BASE_TIME, HOUR, MINUTE, deliveriesArb, distinctEventsArb, makeEvent, run } from './arbitraries.js';

const OPTIONS: ActorOptions = { dedupHorizonMs: 10 * MINUTE, dedupMaxIds: 100_000, idleMs: 10 * MINUTE };

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
  // Hour rollups are made in ClickHouse from the minute partials, each counted in its hour
  // (clickhouse-schema.ts): the same mapping here.
  const partials = batches.flatMap((b) => b.rollup1m).map((p) => (width === MINUTE ? p : { ...p, windowStart: Math.floor(p.windowStart / HOUR) * HOUR }));
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

  it('hands accepted events to a writer as it accepts them, keeping only their ids, counts, ingest times and days', () => {
    const scenario = distinctEventsArb(30).chain((events) => deliveriesArb(events, 2_000));
    fc.assert(
      fc.property(scenario, (entries) => {
        const kept = run(new PartitionActors(2, OPTIONS), entries);
        const written: { eventId: string; streamId: string; partition: number }[] = [];
        const writer = { write: (e: CanonicalEvent, streamId: string, partition: number) => void written.push({ eventId: e.eventId, streamId, partition }) };
        const handed = run(new PartitionActors(2, OPTIONS, writer), entries);

        expect(written).toEqual(kept.flatMap((b) => b.events.events.map((e, i) => ({ eventId: e.eventId, streamId: b.events.streamIds[i], partition: 2 }))));
        expect(handed.map((b) => b.rowCount)).toEqual(kept.map((b) => b.rowCount));
        expect(handed.map((b) => b.accepted.records())).toEqual(kept.map((b) => b.accepted.records()));
        for (const [i, b] of handed.entries()) {
          const k = kept[i]!;
          expect(b.events.events).toEqual([]);
          expect(b.ingestTimes).toEqual(k.events.events.map((e) => e.ingestTime));
          const days = new Map<number, number>();
          for (const e of k.events.events) days.set(Math.floor(e.eventTime / 86_400_000), (days.get(Math.floor(e.eventTime / 86_400_000)) ?? 0) + e.readings.length);
          expect(b.rowsPerDay).toEqual([...days].sort((x, y) => x[0] - y[0]));
          expect(k.rowsPerDay).toEqual(b.rowsPerDay);
          if (b.rowCount > 0) expect(() => b.rows).toThrow(/went to its writer/);
          else expect(b.rows).toEqual([]);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('leaves an event its writer refused new: not remembered, not counted, accepted when applied again', () => {
    const events = [0, 1, 2].map((i) => makeEvent({ eventId: `e-${i}`, deviceId: 'd-1', eventTime: BASE_TIME + i * 1000, v2: false, readings: [{ sensorType: 't', value: i, unit: 'C', weight: 1 }] }));
    let refuse = true;
    const written: string[] = [];
    const writer = {
      write: (e: CanonicalEvent) => {
        if (refuse && e.eventId === 'e-1') throw new RangeError('cannot write e-1');
        written.push(e.eventId);
      },
    };
    const actors = new PartitionActors(0, OPTIONS, writer);
    expect(() => actors.apply(`${BASE_TIME}-0`, BASE_TIME, events)).toThrow(/cannot write e-1/);
    expect(actors.pendingEvents()).toBe(1);
    refuse = false;
    actors.apply(`${BASE_TIME}-0`, BASE_TIME, events);
    const batch = actors.drain();
    expect(written).toEqual(['e-0', 'e-1', 'e-2']);
    expect(batch.accepted.records().map((r) => r.eventId)).toEqual(['e-0', 'e-1', 'e-2']);
    expect(batch.rowCount).toBe(3);
    expect(batch.duplicates).toBe(1);
    expect(batch.ingestTimes).toHaveLength(3);
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
    expect(batch.rollup1m.map((p) => [p.sensorType, p.readings, p.count, p.sum, digestWeight(p.digest)])).toEqual([
      ['humidity', 1, 1, 40, 1],
      ['temp', 2, 8, 4 * 21.5 + 4 * 22, 8],
    ]);
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
    expect(batch.rollup1m.filter((p) => p.deviceId === 'd1').map((p) => p.windowStart)).toEqual([BASE_TIME - HOUR, BASE_TIME - MINUTE, BASE_TIME]);
  });

  it('passivates idle actors at once: their ids stay in the partition’s dedup index', () => {
    const options: ActorOptions = { dedupHorizonMs: 60_000, dedupMaxIds: 10_000, idleMs: 10_000 };
    const actors = new PartitionActors(0, options);
    const r = [{ sensorType: 'temp', value: 1, unit: 'C', weight: 1 }];
    const ev = (eventId: string, deviceId: string) => makeEvent({ eventId, deviceId, eventTime: BASE_TIME, readings: r, v2: false });
    const t0 = 1_000_000;
    for (let d = 0; d < 500; d++) actors.apply(`${t0}-${d}`, t0, [ev('first', `d${d}`)]);
    expect(actors.activeActors()).toBe(500);
    expect(actors.dedupStats().ids).toBe(500);

    // Not idle long enough: nobody goes.
    expect(actors.passivate(t0 + 9_999)).toEqual([]);

    // 30 s later, 10 devices speak again; the 490 quiet ones go, although their ids are still
    // inside the horizon.
    const t1 = t0 + 30_000;
    for (let d = 0; d < 10; d++) actors.apply(`${t1}-${d}`, t1, [ev('second', `d${d}`)]);
    const dropped = actors.passivate(t1);
    expect(dropped).toHaveLength(490);
    expect(dropped).not.toContain('d3');
    expect(actors.activeActors()).toBe(10);
    expect(actors.dedupStats().ids).toBe(510);

    // A passivated device's resend is still a duplicate; its new event is accepted.
    expect(actors.drain().accepted).toHaveLength(510);
    actors.apply(`${t1}-10`, t1, [ev('first', 'd400'), ev('third', 'd400'), ev('second', 'd3')]);
    expect(actors.pendingEvents()).toBe(1);
    let batch = actors.drain();
    expect(batch.duplicates).toBe(2);
    expect(batch.rows.map((row) => `${row.deviceId}/${row.eventId}`)).toEqual(['d400/third']);
    expect(actors.activeActors()).toBe(11);

    // Past the horizon of the first ids: a resend counts again, and passivation lets the
    // index forget the expired ids.
    const t2 = t0 + 60_001;
    actors.apply(`${t2}-0`, t2, [ev('first', 'd401')]);
    batch = actors.drain();
    expect(batch.duplicates).toBe(0);
    expect(batch.accepted.records()).toEqual([{ deviceId: 'd401', eventId: 'first', busTime: t2 }]);
    expect(actors.dedupStats().ids).toBe(12); // the 500 first ids expired, d401's is new
    actors.passivate(t1 + 60_001);
    expect(actors.dedupStats().ids).toBe(1); // only d401/first is inside the horizon
  });

  it('remembers at most dedupMaxIds ids per partition, forgetting the oldest bus time first', () => {
    const actors = new PartitionActors(0, { dedupHorizonMs: 60_000, dedupMaxIds: 3, idleMs: 60_000 });
    const r = [{ sensorType: 'temp', value: 1, unit: 'C', weight: 1 }];
    const ev = (eventId: string, deviceId: string) => makeEvent({ eventId, deviceId, eventTime: BASE_TIME, readings: r, v2: false });
    actors.apply('1000-0', 1000, [ev('a', 'd1'), ev('b', 'd2')]);
    actors.apply('1001-0', 1001, [ev('c', 'd1')]);
    actors.apply('1002-0', 1002, [ev('d', 'd3')]); // full: a and b (bus time 1000) go
    actors.apply('1003-0', 1003, [ev('a', 'd1'), ev('d', 'd3')]); // a was forgotten, d was not
    const batch = actors.drain();
    expect(batch.accepted.records().map((x) => `${x.deviceId}/${x.eventId}`)).toEqual(['d1/a', 'd2/b', 'd1/c', 'd3/d', 'd1/a']);
    expect(batch.duplicates).toBe(1);
    expect(actors.dedupStats()).toMatchObject({ ids: 3, maxIds: 3, evicted: 2 });
  });

  it('reports the oldest bus time it still needs, and a restore from there skips what it had evicted', () => {
    const options = { dedupHorizonMs: 60_000, dedupMaxIds: 3, idleMs: 60_000 };
    const r = [{ sensorType: 'temp', value: 1, unit: 'C', weight: 1 }];
    const ev = (eventId: string) => makeEvent({ eventId, deviceId: 'd1', eventTime: BASE_TIME, readings: r, v2: false });
    const live = new PartitionActors(0, options);
    live.apply('1000-0', 1000, [ev('a')]);
    expect(live.drain().dedupFloor).toBe(1000);
    live.apply('1000-1', 1000, [ev('b')]);
    live.apply('1001-0', 1001, [ev('c'), ev('d')]); // full at d: a and b (bus time 1000) go
    const second = live.drain();
    expect(second.dedupFloor).toBe(1001);
    // The runtime trims the log below 1001: the first flush's entry goes, the second's stays
    // whole, b included. Restored with its floor, b is skipped as the live index forgot it.
    const restored = new PartitionActors(0, options);
    restored.restore(second.accepted.records(), second.dedupFloor);
    for (const actors of [live, restored]) actors.apply('1002-0', 1002, [ev('b'), ev('c')]);
    expect(restored.drain().accepted.records().map((x) => x.eventId)).toEqual(['b']);
    expect(live.drain().accepted.records().map((x) => x.eventId)).toEqual(['b']);
  });
});
