/**
 * The embedded analytics store against real chDB in a temp directory: schema, insert dedup by
 * token, late partials, the query API's answers, TTL, and that the archive's Parquet is
 * readable by ClickHouse. One store (one chDB session) for the whole file, as in production.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlushBatch, WindowPartial } from '../../../src/actors/types.js';
import { regionDatabase } from '../../../src/config.js';
import type { ReadingRow } from '../../../src/contracts/canonical-event.js';
import { SinkError } from '../../../src/errors.js';
import type { InsertFormat } from '../../../src/sinks/analytics-store.js';
import { encodeBatch } from '../../../src/sinks/batch-encoder.js';
import { ChdbStore } from '../../../src/sinks/chdb-store.js';
import { schemaStatements } from '../../../src/sinks/clickhouse-schema.js';
import { queryEvents, queryRollups, tableStats, tallyRolledUp, tallyStoredEvents } from '../../../src/sinks/queries.js';
import { DAY_MS, archiveObjects, archiveObjectsEncodedBy, readArchiveObject } from '../../../src/sinks/raw-archive.js';
import { partialOf } from '../../unit/sinks/arbitraries.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const config = {
  clickhouse: {
    url: undefined,
    username: 'default',
    password: '',
    databasePrefix: 'shoaltest',
    eventsTtlDays: 30,
    rollup1mTtlDays: 30,
    rollup1hTtlDays: 730,
  },
};
const US = regionDatabase(config, 'us-east');
const EU = regionDatabase(config, 'eu-west');

let dir: string;
let store: ChdbStore;
let eventCounter = 0;

function row(deviceId: string, eventTime: number, sensorType: string, value: number, readingIndex = 0): ReadingRow {
  eventCounter++;
  return {
    eventId: `00000000-0000-4000-8000-${String(eventCounter).padStart(12, '0')}`,
    readingIndex,
    deviceId,
    region: 'us-east',
    eventTime,
    ingestTime: eventTime + 7,
    sensorType,
    value,
    weight: 1,
    unit: 'C',
    firmwareVersion: 'fw\t1.0',
    schemaVersion: 1,
    seq: null,
    streamId: `${eventTime}-0`,
    partition: 2,
  };
}

type Batch = Pick<FlushBatch, 'rows' | 'rollup1m'>;

function batchOf(rows: ReadingRow[], rollup1m: WindowPartial[] = []): Batch {
  return { rows, rollup1m };
}

/** Insert as a flush does: in the store's own format (RowBinary for chDB), unless told otherwise. */
async function insertBatch(region: string, batch: Batch, token: string, format: InsertFormat | undefined = store.insertFormat): Promise<void> {
  for (const ins of encodeBatch(batch, format)) await store.insert(region, ins, `${token}/${ins.table}`);
}

async function count(sql: string, params: Record<string, unknown> = {}): Promise<number> {
  const [r] = await store.query<{ n: number | string }>(sql, params);
  return Number(r?.n);
}

const minuteOf = (t: number): number => t - (t % MIN);
const hourOf = (t: number): number => t - (t % HOUR);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'shoal-chdb-'));
  store = new ChdbStore(join(dir, 'clickhouse'), config);
  await store.init(['us-east', 'eu-west']);
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ChdbStore', () => {
  it('creates every table in each region database, and init is idempotent', async () => {
    await store.init(['us-east', 'eu-west']);
    const tables = await store.query<{ database: string; name: string }>(
      'SELECT database, name FROM system.tables WHERE database IN ({a:String}, {b:String}) ORDER BY database, name',
      { a: US, b: EU },
    );
    const expected = [
      'events',
      'rollup_1h',
      'rollup_1h_from_1m_mv',
      'rollup_1h_input',
      'rollup_1h_weighted_mv',
      'rollup_1m',
      'rollup_1m_input',
      'rollup_1m_repair_input',
      'rollup_1m_repair_mv',
      'rollup_1m_weighted_mv',
    ];
    expect(tables.filter((t) => t.database === US).map((t) => t.name)).toEqual(expected);
    expect(tables.filter((t) => t.database === EU).map((t) => t.name)).toEqual(expected);
    expect(await store.ping()).toBe(true);
  });

  it('counts a batch inserted twice with the same tokens once, in events and both rollups, and only in its region', async () => {
    const t0 = minuteOf(Date.now() - HOUR);
    const values = [1, 2, 3, 4, 5];
    const rows = values.map((v, i) => row('dedup-dev', t0 + i * 1000, 'temp', v));
    const batch = batchOf(rows, [partialOf('dedup-dev', 'temp', t0, values)]);
    await insertBatch('us-east', batch, 'us-east/2/a-b');
    await insertBatch('us-east', batch, 'us-east/2/a-b');

    // No FINAL: the second insert itself was dropped, not merged away later.
    expect(await count(`SELECT count() AS n FROM ${US}.events WHERE device_id = 'dedup-dev'`)).toBe(5);
    for (const [step, from] of [['1m', t0], ['1h', hourOf(t0)]] as const) {
      const [w] = await queryRollups(store, US, 'dedup-dev', 'temp', from, from + HOUR, step);
      expect(w).toMatchObject({ count: 5, sum: 15, min: 1, max: 5 });
    }
    expect(await count(`SELECT count() AS n FROM ${EU}.events`)).toBe(0);
    expect(await count(`SELECT count() AS n FROM ${EU}.rollup_1m`)).toBe(0);
  });

  it('stores a RowBinary flush exactly as the same flush sent as TabSeparated, and leaves no spooled body behind', async () => {
    // Ten minutes into an hour: both partials' minutes (t0's and the next) fall in that hour.
    const t0 = hourOf(Date.now() - 2 * HOUR) + 10 * MIN + 1234;
    const odd = ['tab\there', 'new\nline', 'back\\slash', "quote ' \"", 'ünïcødé 温度 🌡', 'x'.repeat(300)];
    const rowsOf = (device: string): ReadingRow[] =>
      odd.map((unit, i) => ({
        ...row(device, t0 + i * 997, i % 2 ? 'temp' : 'hum', [-0, 1.5e-300, -273.15, 1e300, 42, 0.1][i] ?? 0, i % 3),
        eventId: `0123abcd-ef01-4567-89ab-cdef0123456${i}`,
        unit,
        weight: 1 + i,
        seq: i % 2 ? null : 2 ** 40 + i,
        ingestTime: t0 + 2 ** 33 + i,
      }));
    const partials = (device: string): WindowPartial[] => [partialOf(device, 'temp', minuteOf(t0), [1, 2.5, -3]), partialOf(device, 'hum', minuteOf(t0) + MIN, [7])];
    await insertBatch('us-east', batchOf(rowsOf('fmt-text'), partials('fmt-text')), 'fmt/text', 'TabSeparated');
    await insertBatch('us-east', batchOf(rowsOf('fmt-binary'), partials('fmt-binary')), 'fmt/binary', 'RowBinary');

    const cols = `toString(event_id) AS id, reading_index, region, toUnixTimestamp64Milli(event_time) AS t,
      toUnixTimestamp64Milli(ingest_time) AS it, sensor_type, value, weight, unit, firmware_version, schema_version, seq, partition, stream_id`;
    const eventsOf = (device: string): Promise<unknown[]> =>
      store.query(`SELECT ${cols} FROM ${US}.events WHERE device_id = {d:String} ORDER BY reading_index, id, unit`, { d: device });
    const text = await eventsOf('fmt-text');
    expect(text).toHaveLength(odd.length);
    expect(await eventsOf('fmt-binary')).toEqual(text);
    for (const step of ['1m', '1h'] as const) {
      for (const sensor of ['temp', 'hum']) {
        const want = await queryRollups(store, US, 'fmt-text', sensor, hourOf(t0), hourOf(t0) + HOUR, step);
        expect(want.length).toBeGreaterThan(0);
        expect(await queryRollups(store, US, 'fmt-binary', sensor, hourOf(t0), hourOf(t0) + HOUR, step)).toEqual(want);
      }
    }
    expect(readdirSync(join(dir, 'clickhouse', 'insert-spool'))).toEqual([]);
  });

  it('merges a late partial into its window: count, sum, min and max equal those of the union', async () => {
    const w = minuteOf(Date.now() - 2 * HOUR);
    const early = [10, 11, 12, 13];
    const late = [2, 40, 11.5];
    await insertBatch('us-east', batchOf([], [partialOf('late-dev', 'hum', w, early)]), 'late/1');
    await insertBatch('us-east', batchOf([], [partialOf('late-dev', 'hum', w, late)]), 'late/2');
    const all = [...early, ...late];
    const [merged] = await queryRollups(store, US, 'late-dev', 'hum', w, w + MIN, '1m');
    expect(merged).toMatchObject({
      count: all.length,
      sum: all.reduce((a, b) => a + b, 0),
      min: Math.min(...all),
      max: Math.max(...all),
    });
    expect(merged!.avg).toBeCloseTo(merged!.sum / merged!.count, 9);
    expect(merged!.p50).toBeGreaterThanOrEqual(merged!.min);
    expect(merged!.p50).toBeLessThanOrEqual(merged!.p95);
    expect(merged!.p95).toBeLessThanOrEqual(merged!.p99);
    expect(merged!.p99).toBeLessThanOrEqual(merged!.max);
  });

  it('rolls sampled readings up by weight: count = Σ weight, sum = Σ value × weight, readings = rows stored', async () => {
    const t0 = minuteOf(Date.now() - 5 * HOUR);
    // Three readings kept at one in 4 (weight 4) and one unsampled humidity reading.
    const kept = [20, 22, 21].map((v, i) => ({ ...row('w-dev', t0 + i * 1000, 'temp', v), weight: 4 }));
    const hum = row('w-dev', t0 + 5000, 'hum', 50);
    const weighted = (p: WindowPartial): WindowPartial => ({ ...p, count: 12, sum: 4 * 63, digest: p.digest.map(([m]) => [m, 4]) });
    await insertBatch(
      'us-east',
      batchOf([...kept, hum], [weighted(partialOf('w-dev', 'temp', t0, [20, 22, 21])), partialOf('w-dev', 'hum', t0, [50])]),
      'weights/1',
    );
    for (const [step, from] of [['1m', t0], ['1h', hourOf(t0)]] as const) {
      const [w] = await queryRollups(store, US, 'w-dev', 'temp', from, from + HOUR, step);
      expect(w).toMatchObject({ count: 12, sum: 252, avg: 21, min: 20, max: 22 });
    }
    expect(await count(`SELECT sum(weight) AS n FROM ${US}.events FINAL WHERE device_id = 'w-dev' AND sensor_type = 'temp'`)).toBe(12);
    expect(await count(`SELECT sum(weight) AS n FROM ${US}.events FINAL WHERE device_id = 'w-dev' AND sensor_type = 'hum'`)).toBe(1);
    // The audit compares stored readings (three temperatures, one humidity), not the weighted count.
    const [rolled] = (await tallyRolledUp(store, US, hourOf(t0), hourOf(t0) + HOUR)).filter((t) => t.deviceId === 'w-dev');
    const [stored] = (await tallyStoredEvents(store, US, hourOf(t0), hourOf(t0) + HOUR)).filter((t) => t.deviceId === 'w-dev');
    expect(rolled?.readings).toBe(4);
    expect(stored?.readings).toBe(4);
  });

  it('upgrades a database of the first release in place: old rows keep their counts, new ones carry weights', async () => {
    const db = 'shoalold_us_east';
    const h = hourOf(Date.now() - 6 * HOUR);
    // The release-1 DDL (before weights), as a database created then still holds it.
    for (const sql of [
      `CREATE DATABASE ${db}`,
      `CREATE TABLE ${db}.events (event_id UUID, reading_index UInt8, device_id String, region LowCardinality(String),
        event_time DateTime64(3, 'UTC'), ingest_time DateTime64(3, 'UTC'), sensor_type LowCardinality(String), value Float64,
        unit LowCardinality(String), firmware_version LowCardinality(String), schema_version UInt8, seq Nullable(UInt64),
        partition UInt16, stream_id String, inserted_at DateTime64(3, 'UTC') DEFAULT now64(3))
        ENGINE = ReplacingMergeTree PARTITION BY toDate(event_time) ORDER BY (device_id, event_time, event_id, reading_index)
        SETTINGS non_replicated_deduplication_window = 10000`,
      `CREATE TABLE ${db}.rollup_1h (device_id String, sensor_type LowCardinality(String), window_start DateTime('UTC'),
        count SimpleAggregateFunction(sum, UInt64), sum SimpleAggregateFunction(sum, Float64), min SimpleAggregateFunction(min, Float64),
        max SimpleAggregateFunction(max, Float64), digest AggregateFunction(quantilesTDigestWeighted(0.5, 0.95, 0.99), Float64, UInt64))
        ENGINE = AggregatingMergeTree PARTITION BY toYYYYMM(window_start) ORDER BY (device_id, sensor_type, window_start)`,
      `CREATE TABLE ${db}.rollup_1h_input (device_id String, sensor_type String, window_start DateTime('UTC'), count UInt64, sum Float64,
        min Float64, max Float64, means Array(Float64), weights Array(UInt64)) ENGINE = Null`,
      `CREATE MATERIALIZED VIEW ${db}.rollup_1h_mv TO ${db}.rollup_1h AS SELECT device_id, sensor_type, window_start, count, sum, min, max,
        arrayReduce('quantilesTDigestWeightedState(0.5, 0.95, 0.99)', means, weights) AS digest FROM ${db}.rollup_1h_input`,
      `INSERT INTO ${db}.events (event_id, reading_index, device_id, region, event_time, ingest_time, sensor_type, value, unit,
        firmware_version, schema_version, seq, partition, stream_id)
        VALUES ('00000000-0000-4000-8000-0000000000aa', 0, 'old-dev', 'us-east', fromUnixTimestamp64Milli(${h + 1000}, 'UTC'),
        fromUnixTimestamp64Milli(${h + 1000}, 'UTC'), 'temp', 20, 'C', '1', 1, NULL, 0, '1-0')`,
      `INSERT INTO ${db}.rollup_1h_input VALUES ('old-dev', 'temp', ${h / 1000}, 2, 41, 20, 21, [20, 21], [1, 1])`,
    ])
      await store.command(sql);

    for (const sql of schemaStatements(db, config.clickhouse)) await store.command(sql);
    for (const sql of schemaStatements(db, config.clickhouse)) await store.command(sql); // idempotent
    await store.command(
      `INSERT INTO ${db}.rollup_1h_input (device_id, sensor_type, window_start, readings, count, sum, min, max, means, weights)
       VALUES ('old-dev', 'temp', ${h / 1000}, 1, 4, 88, 22, 22, [22], [4])`,
    );

    const [w] = await queryRollups(store, db, 'old-dev', 'temp', h, h + HOUR, '1h');
    expect(w).toMatchObject({ count: 6, sum: 129, min: 20, max: 22 });
    const [rolled] = await tallyRolledUp(store, db, h, h + HOUR);
    expect(rolled).toMatchObject({ deviceId: 'old-dev', readings: 3 });
    expect(await count(`SELECT sum(weight) AS n FROM ${db}.events FINAL`)).toBe(1);
    const views = await store.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = {db:String} AND engine = 'MaterializedView' ORDER BY name`, { db });
    expect(views.map((v) => v.name)).toEqual(['rollup_1h_from_1m_mv', 'rollup_1h_weighted_mv', 'rollup_1m_repair_mv', 'rollup_1m_weighted_mv']);
  });

  it('answers queryRollups with the API row shape, windows in order and within [from, to)', async () => {
    const base = minuteOf(Date.now() - 3 * HOUR);
    const partials = [0, 1, 2, 3].map((i) => partialOf('shape-dev', 'temp', base + i * MIN, [i, i + 1]));
    await insertBatch('us-east', batchOf([], partials), 'shape/1');
    const rows = await queryRollups(store, US, 'shape-dev', 'temp', base + MIN, base + 3 * MIN, '1m');
    expect(rows.map((r) => r.window_start)).toEqual([base + MIN, base + 2 * MIN].map((t) => new Date(t).toISOString()));
    for (const r of rows) {
      expect(Object.keys(r).sort()).toEqual(['avg', 'count', 'max', 'min', 'p50', 'p95', 'p99', 'sum', 'window_start']);
      for (const k of ['count', 'sum', 'min', 'max', 'avg', 'p50', 'p95', 'p99'] as const) expect(typeof r[k]).toBe('number');
      expect(r.window_start).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00\.000Z$/);
    }
    expect(await queryRollups(store, US, 'shape-dev', 'other-sensor', base, base + HOUR, '1m')).toEqual([]);
  });

  it('answers queryEvents with each reading once, in event-time order, exact times and values', async () => {
    const t = Date.now() - 4 * HOUR + 123;
    const a = row('ev-dev', t + 2000, 'temp', 21.5);
    const b1 = row('ev-dev', t, 'temp', -3.25, 0);
    const b2 = { ...b1, readingIndex: 1, sensorType: 'hum', value: 55, unit: '%' };
    const other = row('someone-else', t, 'temp', 1);
    await insertBatch('us-east', batchOf([a, b1, b2, other]), 'ev/1');
    // A replay under a different token (a different batching) must not show readings twice.
    await insertBatch('us-east', batchOf([b1, b2]), 'ev/replay');

    const rows = await queryEvents(store, US, 'ev-dev', { from: t - 1000, to: t + 60_000, limit: 100 });
    expect(rows).toEqual(
      [b1, b2, a].map((r) => ({
        event_id: r.eventId,
        reading_index: r.readingIndex,
        event_time: new Date(r.eventTime).toISOString(),
        ingest_time: new Date(r.ingestTime).toISOString(),
        sensor_type: r.sensorType,
        value: r.value,
        unit: r.unit,
        firmware_version: r.firmwareVersion,
        region: r.region,
        schema_version: r.schemaVersion,
      })),
    );
    const hum = await queryEvents(store, US, 'ev-dev', { from: t - 1000, to: t + 60_000, sensor: 'hum', limit: 100 });
    expect(hum.map((r) => [r.event_id, r.reading_index])).toEqual([[b2.eventId, 1]]);
    expect(await queryEvents(store, US, 'ev-dev', { from: t - 1000, to: t + 60_000, limit: 1 })).toHaveLength(1);
    // Bound parameters: a hostile device id is only a value that matches nothing.
    expect(await queryEvents(store, US, "ev-dev' OR 1=1 --", { from: 0, to: t + DAY, limit: 10 })).toEqual([]);
  });

  it('enforces retention with TTL: expired raw rows and minute rollups go, fresh ones and old hour rollups stay', async () => {
    const now = Date.now();
    const old = now - 40 * DAY;
    const rows = [row('ttl-dev', old, 'temp', 1), row('ttl-dev', now - HOUR, 'temp', 2)];
    const oneMinute = [partialOf('ttl-dev', 'temp', minuteOf(old), [1]), partialOf('ttl-dev', 'temp', minuteOf(now - HOUR), [2])];
    // Minute partials of long ago: their minutes expire after 30 days, their hours after 2 years.
    const longAgo = [partialOf('ttl-dev', 'temp', minuteOf(now - 400 * DAY), [3]), partialOf('ttl-dev', 'temp', minuteOf(now - 800 * DAY), [4])];
    await insertBatch('us-east', batchOf(rows, [...oneMinute, ...longAgo]), 'ttl/1');
    for (const t of ['events', 'rollup_1m', 'rollup_1h']) await store.command(`OPTIMIZE TABLE ${US}.${t} FINAL`);

    const events = await queryEvents(store, US, 'ttl-dev', { from: now - 1000 * DAY, to: now + DAY, limit: 10 });
    expect(events.map((e) => e.value)).toEqual([2]);
    const minutes = await queryRollups(store, US, 'ttl-dev', 'temp', now - 1000 * DAY, now + DAY, '1m');
    expect(minutes.map((m) => m.sum)).toEqual([2]);
    const hours = await queryRollups(store, US, 'ttl-dev', 'temp', now - 1000 * DAY, now + DAY, '1h');
    expect(hours.map((h) => h.sum)).toEqual([3, 1, 2]);
  });

  it('reports rows and bytes per table', async () => {
    const stats = await tableStats(store, US);
    const events = stats.find((s) => s.table === 'events');
    expect(events?.rows).toBeGreaterThan(0);
    expect(events?.bytes).toBeGreaterThan(0);
  });

  it('reads the raw archive Parquet back with ClickHouse (backfill path)', async () => {
    const t = Date.UTC(2026, 10, 27, 10);
    const rows = [row('pq-dev', t, 'temp', 1.5), row('pq-dev', t + 1, 'te\tmp', -2.25)];
    const [obj] = archiveObjects('us-east', 2, rows[0]!.streamId, rows[1]!.streamId, rows);
    const file = join(dir, 'archive.parquet');
    writeFileSync(file, obj!.body);
    const back = await store.query<{ event_id: string; sensor_type: string; value: number; ms: number }>(
      `SELECT toString(event_id) AS event_id, sensor_type, value, toUnixTimestamp64Milli(event_time) AS ms
       FROM file({path:String}, Parquet) ORDER BY event_time`,
      { path: file },
    );
    expect(back).toEqual(rows.map((r) => ({ event_id: r.eventId, sensor_type: r.sensorType, value: r.value, ms: r.eventTime })));
  });

  it('encodes the raw archive with ClickHouse: the same objects, rows and order as the JavaScript writer', async () => {
    const t = Date.UTC(2026, 10, 27, 23, 59, 59, 990);
    const rows: ReadingRow[] = [];
    // Across midnight (UTC), out of time order, with nullable seq, weights, several readings
    // of one event, non-ASCII and tab-holding strings.
    for (let i = 0; i < 40; i++) {
      const r = row(i % 3 === 0 ? 'pq-dév-ü' : 'pq-dev\t2', t + ((i * 7919) % 40) - 15, i % 2 ? 'temp' : 'hüm', i * 1.25 - 7, i % 3);
      rows.push({ ...r, seq: i % 4 === 0 ? null : 2 ** 40 + i, weight: 1 + (i % 5), schemaVersion: i % 4 === 0 ? 1 : 2, unit: i % 2 ? '°C' : '%' });
    }
    const [events] = encodeBatch(batchOf(rows), 'RowBinary');
    expect(events?.table).toBe('events');
    const byDay = new Map<number, number>();
    for (const r of rows) byDay.set(Math.floor(r.eventTime / DAY_MS), (byDay.get(Math.floor(r.eventTime / DAY_MS)) ?? 0) + 1);
    const days = [...byDay].sort((a, b) => a[0] - b[0]);
    const bySql = await archiveObjectsEncodedBy('us-east', 2, '1-0', '9-0', days, (d) => store.archiveParquet(events!, d));
    const byJs = archiveObjects('us-east', 2, '1-0', '9-0', rows);
    expect(bySql.map((o) => [o.key, o.rows])).toEqual(byJs.map((o) => [o.key, o.rows]));
    expect(bySql).toHaveLength(2);
    for (let i = 0; i < bySql.length; i++) {
      const back = await readArchiveObject(bySql[i]!.body);
      expect(back).toEqual(await readArchiveObject(byJs[i]!.body));
      expect(back.length).toBe(bySql[i]!.rows);
    }
    // ClickHouse reads them as well, and a retried flush writes the same bytes.
    const file = join(dir, 'archive-by-clickhouse.parquet');
    writeFileSync(file, bySql[0]!.body);
    await expect(count('SELECT count() AS n FROM file({path:String}, Parquet)', { path: file })).resolves.toBe(bySql[0]!.rows);
    const again = await store.archiveParquet(events!, [Math.floor(t / DAY), Math.floor(t / DAY) + 1]);
    expect(again.map((b) => Buffer.from(b))).toEqual(bySql.map((o) => Buffer.from(o.body)));
    // The spooled body is gone; a wrong insert is refused with a SinkError.
    expect(readdirSync(join(dir, 'clickhouse', 'insert-spool'))).toEqual([]);
    await expect(store.archiveParquet({ ...events!, format: 'TabSeparated' }, [1])).rejects.toBeInstanceOf(SinkError);
  });

  it('inserts and archives a body a shard spooled to its spool directory, and refuses a file anywhere else', async () => {
    const t = minuteOf(Date.now() - 3 * HOUR) + 500;
    const rows = [row('spooled-1', t, 'temp', 1.5), row('spooled-1', t + 1000, 'temp', 2.5), row('spooled-2', t + 2000, 'hum', 40)];
    const [events, minutes] = encodeBatch(batchOf(rows, [partialOf('spooled-1', 'temp', minuteOf(t), [1.5, 2.5])]), 'RowBinary');
    const file = join(store.spoolDir, 'shard-spooled.body');
    writeFileSync(file, events!.body);
    const spooled = { table: events!.table, format: events!.format, rows: events!.rows, file };
    await store.insertSpooled('us-east', spooled, 'spooled/events');
    await store.insertSpooled('us-east', spooled, 'spooled/events'); // a retry: dropped by its token
    const [objects] = await store.archiveParquetSpooled(spooled, [Math.floor(t / DAY)]);
    expect((await readArchiveObject(objects!)).map((r) => [r.deviceId, r.value])).toEqual(rows.map((r) => [r.deviceId, r.value]));
    // The caller owns the file: the store leaves it where it is.
    expect(readdirSync(store.spoolDir)).toEqual(['shard-spooled.body']);
    rmSync(file);
    expect(await count(`SELECT count() AS n FROM ${US}.events FINAL WHERE device_id LIKE 'spooled-%'`)).toBe(3);

    const minuteFile = join(store.spoolDir, 'shard-spooled-rollups.body');
    writeFileSync(minuteFile, minutes!.body);
    await store.insertSpooled('us-east', { table: 'rollup_1m', format: 'RowBinary', rows: minutes!.rows, file: minuteFile }, 'spooled/rollup_1m');
    rmSync(minuteFile);
    const [minute] = await queryRollups(store, US, 'spooled-1', 'temp', hourOf(t), hourOf(t) + HOUR, '1m');
    expect(minute).toMatchObject({ count: 2, sum: 4, min: 1.5, max: 2.5 });

    const outside = join(dir, 'not-spooled.body');
    writeFileSync(outside, events!.body);
    await expect(store.insertSpooled('us-east', { ...spooled, file: outside }, 'outside')).rejects.toThrow(/not a spooled body/);
    await expect(store.insertSpooled('us-east', { ...spooled, file: join(store.spoolDir, '..', 'not-spooled.body') }, 'outside')).rejects.toThrow(/not a spooled body/);
    await expect(store.archiveParquetSpooled({ ...spooled, file: outside }, [1])).rejects.toBeInstanceOf(SinkError);
    await expect(store.insertSpooled('us-east', { ...spooled, file: join(store.spoolDir, 'missing.body') }, 'missing')).rejects.toBeInstanceOf(SinkError);
  });

  it('tunes the MergeTree tables to merge more parts at once, and rollup merges at most 8 parts', async () => {
    const rows = await store.query<{ name: string; create_table_query: string }>(
      `SELECT name, create_table_query FROM system.tables WHERE database = {db:String} AND engine LIKE '%MergeTree' ORDER BY name`,
      { db: US },
    );
    expect(rows.map((r) => r.name)).toEqual(['events', 'rollup_1h', 'rollup_1m']);
    for (const r of rows) expect(r.create_table_query).toContain('merge_selector_base = 20');
    const bounded = rows.filter((r) => r.create_table_query.includes('max_parts_to_merge_at_once = 8')).map((r) => r.name);
    expect(bounded).toEqual(['rollup_1h', 'rollup_1m']);
  });

  it('merges on one background thread, so two large merges never take both cores at once', async () => {
    const rows = await store.query<{ value: string }>(`SELECT value FROM system.server_settings WHERE name = 'background_pool_size'`);
    expect(rows).toEqual([{ value: '1' }]);
  });

  it('runs an insert while another statement is still running (several connections)', async () => {
    // With one connection chDB runs statements one at a time: the insert would wait for the
    // slow statement, and `slow` would have settled by the time the insert returns.
    let slowSettled = false;
    const slow = store.command('SELECT sleepEachRow(0.5) FROM numbers(4) FORMAT Null').finally(() => {
      slowSettled = true;
    });
    const t = Date.UTC(2026, 10, 27, 11);
    await insertBatch('us-east', batchOf([row('parallel-dev', t, 'temp', 1)]), 'parallel/1');
    expect(slowSettled).toBe(false);
    await expect(count(`SELECT count() AS n FROM ${US}.events WHERE device_id = 'parallel-dev'`)).resolves.toBe(1);
    await slow;
  });

  it('surfaces ClickHouse errors as SinkError with the cause', async () => {
    const err = await store.query('SELECT * FROM no_such_db.no_such_table').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SinkError);
    expect((err as SinkError).cause).toBeDefined();
    const bad = { table: 'events' as const, body: Buffer.from('not\ta\tvalid\trow\n'), format: 'TabSeparated' as const, rows: 1 };
    await expect(store.insert('us-east', bad, 'bad/1')).rejects.toBeInstanceOf(SinkError);
  });

  it('refuses a second chDB store in the same process', async () => {
    const second = new ChdbStore(join(dir, 'other'), config);
    await expect(second.ping()).resolves.toBe(false);
    await expect(second.init(['us-east'])).rejects.toThrow(/already open/);
  });
});
