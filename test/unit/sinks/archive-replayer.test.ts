/**
 * ArchiveReplayer over an in-memory archive and a recording store (the Parquet decoding runs
 * in-thread here; the piscina pool is exercised by test/integration/replay.test.ts):
 * readings are inserted once whatever the repeats, rollup partials carry Σ weight, rebuild
 * deletes the date before inserting, tokens repeat in live mode and differ per rebuild run,
 * and a failed insert is retried under the same token.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config.js';
import type { ReadingRow } from '../../../src/contracts/canonical-event.js';
import type { EncodedInsert } from '../../../src/sinks/analytics-store.js';
import { ArchiveReplayer, replayDates, type ReplayRequest } from '../../../src/sinks/archive-replayer.js';
import { archiveObjects, readArchiveObject } from '../../../src/sinks/raw-archive.js';

const DAY = Date.parse('2026-03-10T00:00:00Z');

function row(eventId: string, readingIndex: number, deviceId: string, minute: number, value: number, weight = 1): ReadingRow {
  return {
    eventId,
    readingIndex,
    deviceId,
    region: 'us-east',
    eventTime: DAY + minute * 60_000,
    ingestTime: DAY + minute * 60_000 + 5,
    sensorType: 'temperature',
    value,
    unit: 'C',
    weight,
    firmwareVersion: '1.0.0',
    schemaVersion: 1,
    seq: null,
    streamId: `${DAY + minute}-0`,
    partition: 0,
  };
}

interface Recorded {
  parsersOpened: number;
  commands: string[];
  inserts: { table: string; body: string; token: string }[];
}

function rig(objects: Map<string, Uint8Array>, failFirstInsert = false): { replayer: ArchiveReplayer; rec: Recorded } {
  const rec: Recorded = { parsersOpened: 0, commands: [], inserts: [] };
  let fail = failFirstInsert;
  const replayer = new ArchiveReplayer({
    config: { clickhouse: { databasePrefix: 'shoal' } as Config['clickhouse'] },
    store: {
      command: (sql) => {
        rec.commands.push(sql);
        return Promise.resolve();
      },
      insert: (_region: string, ins: EncodedInsert, token: string) => {
        rec.commands.push(`insert ${ins.table}`);
        if (fail) {
          fail = false;
          return Promise.reject(new Error('connection reset'));
        }
        rec.inserts.push({ table: ins.table, body: Buffer.from(ins.body).toString('utf8'), token });
        return Promise.resolve();
      },
    },
    objects: {
      list: (prefix) => Promise.resolve([...objects.keys()].filter((k) => k.startsWith(prefix)).map((key) => ({ key, size: 0, lastModified: new Date(0) }))),
      get: (key) => Promise.resolve(objects.get(key) ?? null),
    },
    openParser: () => {
      rec.parsersOpened += 1;
      return { parse: readArchiveObject, close: () => Promise.resolve() };
    },
    chunkRows: 3,
    retryDelayMs: 1,
  });
  return { replayer, rec };
}

/** Sums of a rollup table's `count` and `readings` columns over the recorded TSV payloads. */
function rollupTotals(rec: Recorded, table: string): { count: number; readings: number } {
  const lines = rec.inserts.filter((i) => i.table === table).flatMap((i) => i.body.trim().split('\n'));
  return lines.reduce((t, l) => ({ readings: t.readings + Number(l.split('\t')[3]), count: t.count + Number(l.split('\t')[4]) }), { count: 0, readings: 0 });
}

function archive(): Map<string, Uint8Array> {
  const first = [row('00000000-0000-4000-8000-000000000001', 0, 'a', 1, 10), row('00000000-0000-4000-8000-000000000001', 1, 'a', 1, 11), row('00000000-0000-4000-8000-000000000002', 0, 'b', 70, 5, 4)];
  // The second flush holds a duplicate that came back after the dedup horizon, and a new reading.
  const second = [row('00000000-0000-4000-8000-000000000001', 0, 'a', 1, 10), row('00000000-0000-4000-8000-000000000003', 0, 'a', 2, 7)];
  const objs = [...archiveObjects('us-east', 0, `${DAY}-0`, `${DAY}-2`, first), ...archiveObjects('us-east', 0, `${DAY}-3`, `${DAY}-4`, second)];
  return new Map(objs.map((o) => [o.key, o.body]));
}

const request: ReplayRequest = { region: 'us-east', from: '2026-03-10', to: '2026-03-10', into: 'rebuild' };

describe('ArchiveReplayer', () => {
  it('inserts each reading once and rolls up Σ weight, after deleting the date', async () => {
    const { replayer, rec } = rig(archive());
    const seen: number[] = [];
    const done = await replayer.run(request, 'run-1', (p) => seen.push(p.objectsDone));
    expect(done).toMatchObject({ objectsTotal: 2, objectsDone: 2, rows: 4, duplicates: 1, datesDone: 1 });
    expect(seen.at(-1)).toBe(2);
    expect(rec.parsersOpened).toBe(1);
    const eventLines = rec.inserts.filter((i) => i.table === 'events').flatMap((i) => i.body.trim().split('\n'));
    expect(eventLines).toHaveLength(4);
    expect(new Set(eventLines.map((l) => l.split('\t').slice(0, 2).join('/'))).size).toBe(4);
    expect(rollupTotals(rec, 'rollup_1m')).toEqual({ readings: 4, count: 7 });
    // No hour insert: rollup_1h is fed inside ClickHouse by a view of the minute partials.
    expect(rec.inserts.filter((i) => i.table === 'rollup_1h')).toEqual([]);
    // Deletes come first, for the right date, and rollup deletes wait for their mutation.
    const firstInsert = rec.commands.findIndex((c) => c.startsWith('insert'));
    expect(rec.commands.slice(0, firstInsert)).toEqual([
      "ALTER TABLE shoal_us_east.events DROP PARTITION '2026-03-10'",
      "ALTER TABLE shoal_us_east.rollup_1m DELETE WHERE toDate(window_start) = '2026-03-10' SETTINGS mutations_sync = 2",
      "ALTER TABLE shoal_us_east.rollup_1h DELETE WHERE toDate(window_start) = '2026-03-10' SETTINGS mutations_sync = 2",
    ]);
  });

  it('repeats its tokens and bytes in live mode, and salts them per rebuild run', async () => {
    const runs = await Promise.all(
      [['live', 'x'], ['live', 'y'], ['rebuild', 'x'], ['rebuild', 'y']].map(async ([into, id]) => {
        const { replayer, rec } = rig(archive());
        await replayer.run({ ...request, into: into as 'live' | 'rebuild' }, id!, () => undefined);
        return rec;
      }),
    );
    const [liveX, liveY, rebuildX, rebuildY] = runs as [Recorded, Recorded, Recorded, Recorded];
    expect(liveX.commands.some((c) => c.startsWith('ALTER'))).toBe(false);
    expect(liveY.inserts).toEqual(liveX.inserts);
    expect(rebuildY.inserts.map((i) => i.body)).toEqual(rebuildX.inserts.map((i) => i.body));
    const tokens = [liveX, rebuildX, rebuildY].flatMap((r) => r.inserts.map((i) => i.token));
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(tokens.every((t) => t.startsWith('replay/us-east/2026-03-10/p0/'))).toBe(true);
  });

  it('retries a failed insert under the same token', async () => {
    const { replayer, rec } = rig(archive(), true);
    await replayer.run(request, 'run-1', () => undefined);
    const clean = rig(archive());
    await clean.replayer.run(request, 'run-1', () => undefined);
    expect(rec.inserts).toEqual(clean.rec.inserts);
  });

  it('replays nothing, and opens no parser, for a date without objects', async () => {
    const { replayer, rec } = rig(new Map());
    const done = await replayer.run({ ...request, from: '2026-03-09', to: '2026-03-11' }, 'r', () => undefined);
    expect(done).toMatchObject({ objectsTotal: 0, rows: 0, datesDone: 3 });
    expect(rec.inserts).toEqual([]);
    expect(rec.parsersOpened).toBe(0);
  });
});

describe('replayDates', () => {
  it('lists every UTC date from..to once, in order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40_000 }), fc.integer({ min: 0, max: 400 }), (startDay, span) => {
        const iso = (d: number): string => new Date(d * 86_400_000).toISOString().slice(0, 10);
        const dates = replayDates(iso(startDay), iso(startDay + span));
        expect(dates).toEqual(Array.from({ length: span + 1 }, (_, k) => iso(startDay + k)));
      }),
    );
  });

  it('names the wrong field', () => {
    expect(replayDates('2026-02-30', '2026-03-01')).toMatch(/^from: must be a date/);
    expect(replayDates('2026-03-01', 'tomorrow')).toMatch(/^to: must be a date/);
    expect(replayDates('2026-03-02', '2026-03-01')).toMatch(/^from: must not be later than to/);
  });
});
