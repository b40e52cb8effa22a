/**
 * The query API's SQL (served by the ops HTTP server), over any AnalyticsStore:
 *   queryEvents   raw readings of a device, each exactly once (FINAL), oldest first
 *   queryRollups  a device's minute or hour windows of one sensor, merged across partials
 *   tableStats    rows and bytes per table of a region's database
 * Every value, the database name included, is a bound parameter; times come back as RFC 3339
 * UTC strings with milliseconds.
 */
import type { AnalyticsStore } from './analytics-store.js';
import { QUANTILE_LEVELS } from './clickhouse-schema.js';

export interface EventsQuery {
  /** Inclusive lower bound of event_time, epoch ms UTC. */
  from: number;
  /** Exclusive upper bound of event_time, epoch ms UTC. */
  to: number;
  /** Only readings of this sensor type. */
  sensor?: string;
  /** Most rows returned. */
  limit: number;
}

export interface EventRow {
  event_id: string;
  reading_index: number;
  event_time: string;
  ingest_time: string;
  sensor_type: string;
  value: number;
  unit: string;
  firmware_version: string;
  region: string;
  schema_version: number;
}

export interface RollupRow {
  window_start: string;
  /** Readings represented: Σ weight, so a sampled window still estimates the full stream. */
  count: number;
  /** Σ value × weight; avg = sum / count. */
  sum: number;
  min: number;
  max: number;
  avg: number;
  p50: number;
  p95: number;
  p99: number;
}

export type RollupStep = '1m' | '1h';

export interface TableStats {
  table: string;
  rows: number;
  /** Compressed bytes on disk. */
  bytes: number;
  uncompressedBytes: number;
  parts: number;
}

const EVENTS_SELECT = `SELECT toString(event_id) AS event_id, reading_index,
  toUnixTimestamp64Milli(event_time) AS event_ms, toUnixTimestamp64Milli(ingest_time) AS ingest_ms,
  sensor_type, value, unit, firmware_version, region, schema_version
FROM {db:Identifier}.events FINAL
WHERE device_id = {device:String}
  AND event_time >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')
  AND event_time < fromUnixTimestamp64Milli({to:Int64}, 'UTC')`;
const EVENTS_ORDER = `ORDER BY event_time, event_id, reading_index LIMIT {limit:UInt32}`;
const EVENTS_SQL = `${EVENTS_SELECT}\n${EVENTS_ORDER}`;
const EVENTS_BY_SENSOR_SQL = `${EVENTS_SELECT}\n  AND sensor_type = {sensor:String}\n${EVENTS_ORDER}`;

const rollupSql = (table: 'rollup_1m' | 'rollup_1h'): string => `SELECT toUnixTimestamp(window_start) AS window_s,
  sum(count) AS count, sum(sum) AS sum, min(min) AS min, max(max) AS max,
  quantilesTDigestWeightedMerge(${QUANTILE_LEVELS})(digest) AS q
FROM {db:Identifier}.${table}
WHERE device_id = {device:String} AND sensor_type = {sensor:String}
  AND window_start >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')
  AND window_start < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
GROUP BY window_start
ORDER BY window_start`;
const ROLLUP_SQL: Readonly<Record<RollupStep, string>> = { '1m': rollupSql('rollup_1m'), '1h': rollupSql('rollup_1h') };

const STATS_SQL = `SELECT table, sum(rows) AS rows, sum(bytes_on_disk) AS bytes,
  sum(data_uncompressed_bytes) AS uncompressed, count() AS parts
FROM system.parts
WHERE database = {db:String} AND active
GROUP BY table
ORDER BY table`;

type Num = number | string;

/** RFC 3339 UTC with milliseconds of an epoch-ms time. */
function rfc3339(epochMs: Num): string {
  return new Date(Number(epochMs)).toISOString();
}

function assertTime(name: string, value: number): number {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${name} must be an integer epoch-ms time, got ${value}`);
  return value;
}

/** A device's readings in [from, to), each (event_id, reading_index) once, by event time. */
export async function queryEvents(
  store: AnalyticsStore,
  db: string,
  deviceId: string,
  q: EventsQuery,
): Promise<EventRow[]> {
  if (!Number.isInteger(q.limit) || q.limit < 0) throw new RangeError(`limit must be a non-negative integer, got ${q.limit}`);
  const params: Record<string, unknown> = {
    db,
    device: deviceId,
    from: assertTime('from', q.from),
    to: assertTime('to', q.to),
    limit: q.limit,
  };
  if (q.sensor !== undefined) params['sensor'] = q.sensor;
  const rows = await store.query<{
    event_id: string;
    reading_index: Num;
    event_ms: Num;
    ingest_ms: Num;
    sensor_type: string;
    value: Num;
    unit: string;
    firmware_version: string;
    region: string;
    schema_version: Num;
  }>(q.sensor === undefined ? EVENTS_SQL : EVENTS_BY_SENSOR_SQL, params);
  return rows.map((r) => ({
    event_id: r.event_id,
    reading_index: Number(r.reading_index),
    event_time: rfc3339(r.event_ms),
    ingest_time: rfc3339(r.ingest_ms),
    sensor_type: r.sensor_type,
    value: Number(r.value),
    unit: r.unit,
    firmware_version: r.firmware_version,
    region: r.region,
    schema_version: Number(r.schema_version),
  }));
}

/** A device's windows of one sensor whose start lies in [from, to), oldest first. */
export async function queryRollups(
  store: AnalyticsStore,
  db: string,
  deviceId: string,
  sensor: string,
  from: number,
  to: number,
  step: RollupStep,
): Promise<RollupRow[]> {
  const sql = ROLLUP_SQL[step];
  if (sql === undefined) throw new RangeError(`step must be 1m or 1h, got ${String(step)}`);
  const rows = await store.query<{ window_s: Num; count: Num; sum: Num; min: Num; max: Num; q: Num[] }>(sql, {
    db,
    device: deviceId,
    sensor,
    from: assertTime('from', from),
    to: assertTime('to', to),
  });
  return rows.map((r) => {
    const count = Number(r.count);
    const sum = Number(r.sum);
    return {
      window_start: rfc3339(Number(r.window_s) * 1000),
      count,
      sum,
      min: Number(r.min),
      max: Number(r.max),
      avg: count > 0 ? sum / count : 0,
      p50: Number(r.q[0]),
      p95: Number(r.q[1]),
      p99: Number(r.q[2]),
    };
  });
}

/** Rows, bytes and parts of each table of `db` (active parts only). */
export async function tableStats(store: AnalyticsStore, db: string): Promise<TableStats[]> {
  const rows = await store.query<{ table: string; rows: Num; bytes: Num; uncompressed: Num; parts: Num }>(STATS_SQL, { db });
  return rows.map((r) => ({
    table: r.table,
    rows: Number(r.rows),
    bytes: Number(r.bytes),
    uncompressedBytes: Number(r.uncompressed),
    parts: Number(r.parts),
  }));
}

/** Per device and event hour: what one table holds (audit). `events` counts events and readings. */
export interface HourTally {
  deviceId: string;
  /** Hour start, epoch ms. */
  hour: number;
  events: number;
  readings: number;
}

const AUDIT_EVENTS_SQL = `SELECT device_id, toUnixTimestamp(toStartOfHour(event_time)) AS hour_s,
  uniqExact(event_id) AS events, count() AS readings
FROM {db:Identifier}.events FINAL
WHERE event_time >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')
  AND event_time < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
GROUP BY device_id, hour_s`;

const AUDIT_ROLLUP_SQL = `SELECT device_id, toUnixTimestamp(window_start) AS hour_s, sum(readings) AS readings
FROM {db:Identifier}.rollup_1h
WHERE window_start >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')
  AND window_start < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
GROUP BY device_id, hour_s`;

/** Distinct events and readings stored in `events`, per device and hour. */
export async function tallyStoredEvents(store: AnalyticsStore, db: string, from: number, to: number): Promise<HourTally[]> {
  const rows = await store.query<{ device_id: string; hour_s: Num; events: Num; readings: Num }>(AUDIT_EVENTS_SQL, {
    db,
    from: assertTime('from', from),
    to: assertTime('to', to),
  });
  return rows.map((r) => ({ deviceId: r.device_id, hour: Number(r.hour_s) * 1000, events: Number(r.events), readings: Number(r.readings) }));
}

/**
 * Readings stored into the hourly rollups, per device and hour: their `readings` column, one
 * per reading whatever its weight (`count` is Σ weight). `events` is 0: rollups count readings.
 */
export async function tallyRolledUp(store: AnalyticsStore, db: string, from: number, to: number): Promise<HourTally[]> {
  const rows = await store.query<{ device_id: string; hour_s: Num; readings: Num }>(AUDIT_ROLLUP_SQL, {
    db,
    from: assertTime('from', from),
    to: assertTime('to', to),
  });
  return rows.map((r) => ({ deviceId: r.device_id, hour: Number(r.hour_s) * 1000, events: 0, readings: Number(r.readings) }));
}

/** Where windowReadings counts: stored readings (`events`, FINAL) by minute or hour, or a rollup table. */
export type WindowSource = 'events_1m' | 'events_1h' | 'rollup_1m' | 'rollup_1h';

const WINDOW_SQL: Readonly<Record<WindowSource, string>> = {
  events_1m: eventsPerWindow('toStartOfMinute'),
  events_1h: eventsPerWindow('toStartOfHour'),
  rollup_1m: rolledUpPerWindow('rollup_1m'),
  rollup_1h: rolledUpPerWindow('rollup_1h'),
};

function eventsPerWindow(start: 'toStartOfMinute' | 'toStartOfHour'): string {
  return `SELECT device_id AS d, sensor_type AS s, toUnixTimestamp(${start}(event_time)) AS w, count() AS n
FROM {db:Identifier}.events FINAL
WHERE device_id IN {devices:Array(String)}
  AND event_time >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')
  AND event_time < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
GROUP BY d, s, w`;
}

function rolledUpPerWindow(table: 'rollup_1m' | 'rollup_1h'): string {
  return `SELECT device_id AS d, sensor_type AS s, toUnixTimestamp(window_start) AS w, sum(readings) AS n
FROM {db:Identifier}.${table}
WHERE device_id IN {devices:Array(String)}
  AND window_start >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')
  AND window_start < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
GROUP BY d, s, w`;
}

/**
 * Readings of `devices` per (device, sensor, window start) in [from, to) epoch ms, keyed
 * `${device}|${sensor}|${windowStartMs}`: stored in `events`, or rolled up in a rollup table.
 */
export async function windowReadings(store: AnalyticsStore, db: string, source: WindowSource, devices: readonly string[], from: number, to: number): Promise<Map<string, number>> {
  const rows = await store.query<{ d: string; s: string; w: Num; n: Num }>(WINDOW_SQL[source], {
    db,
    devices: [...devices],
    from: assertTime('from', from),
    to: assertTime('to', to),
  });
  return new Map(rows.map((r) => [`${r.d}|${r.s}|${Number(r.w) * 1000}`, Number(r.n)]));
}
