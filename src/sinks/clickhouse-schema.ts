/**
 * ClickHouse DDL of one region's database, shared by chDB and the ClickHouse server store.
 *
 *   events            ReplacingMergeTree, one row per reading, read with FINAL; `weight` is how
 *                     many readings the row stands for (> 1 only for readings kept by sampling)
 *   rollup_1m / _1h   AggregatingMergeTree of mergeable states: readings (rows stored), count
 *                     (Σ weight), sum (Σ value × weight), min, max, weighted t-digest
 *   rollup_*_input    Null tables the encoder inserts partials into; a materialized view
 *                     (rollup_*_weighted_mv) turns each partial's centroids into a t-digest
 *                     state and writes it to rollup_*; rollup_1m_input also feeds rollup_1h
 *   rollup_1m_repair_input
 *                     feeds rollup_1m alone: partials a torn insert lost there only
 *
 * Databases created before weights existed are upgraded in place: `ADD COLUMN IF NOT EXISTS`
 * (old rollup rows get readings = count, which held while every weight was 1) and the old
 * view `rollup_*_mv`, which does not carry `readings`, is replaced by the weighted one. Run at
 * start-up, before any insert.
 *
 * Every MergeTree keeps the hashes of its last DEDUP_WINDOW inserts, so an insert repeated with
 * the same insert_deduplication_token (and the same bytes) is dropped, also through the views.
 * Every statement is idempotent (IF NOT EXISTS).
 */
import type { AnalyticsTable } from './analytics-store.js';

/** Inserts remembered per table for token deduplication. */
export const DEDUP_WINDOW = 10_000;

/** Quantile levels kept in the rollup digests, in the order queries return them. */
export const QUANTILE_LEVELS = '0.5, 0.95, 0.99';

export interface SchemaTtl {
  eventsTtlDays: number;
  rollup1mTtlDays: number;
  rollup1hTtlDays: number;
}

const ROLLUP_INPUT_COLUMNS = ['device_id', 'sensor_type', 'window_start', 'readings', 'count', 'sum', 'min', 'max', 'means', 'weights'];

/** Columns the encoder writes to each insert target, in payload order. */
export const INSERT_COLUMNS: Readonly<Record<AnalyticsTable, readonly string[]>> = {
  events: [
    'event_id',
    'reading_index',
    'device_id',
    'region',
    'event_time',
    'ingest_time',
    'sensor_type',
    'value',
    'weight',
    'unit',
    'firmware_version',
    'schema_version',
    'seq',
    'partition',
    'stream_id',
  ],
  rollup_1m: ROLLUP_INPUT_COLUMNS,
  rollup_1h: ROLLUP_INPUT_COLUMNS,
  rollup_1m_repair: ROLLUP_INPUT_COLUMNS,
};

const ROLLUP_INPUT_TYPES = ['String', 'String', "DateTime('UTC')", 'UInt64', 'UInt64', 'Float64', 'Float64', 'Float64', 'Array(Float64)', 'Array(UInt64)'];

/** ClickHouse types of INSERT_COLUMNS, in the same order: the structure of a RowBinary body. */
export const INSERT_TYPES: Readonly<Record<AnalyticsTable, readonly string[]>> = {
  events: [
    'UUID',
    'UInt8',
    'String',
    'String',
    "DateTime64(3, 'UTC')",
    "DateTime64(3, 'UTC')",
    'String',
    'Float64',
    'UInt16',
    'String',
    'String',
    'UInt8',
    'Nullable(UInt64)',
    'UInt16',
    'String',
  ],
  rollup_1m: ROLLUP_INPUT_TYPES,
  rollup_1h: ROLLUP_INPUT_TYPES,
  rollup_1m_repair: ROLLUP_INPUT_TYPES,
};

/** `name Type, …` of a table's insert columns (the structure argument of file() / format()). */
export function insertStructure(table: AnalyticsTable): string {
  const types = INSERT_TYPES[table];
  return INSERT_COLUMNS[table].map((c, i) => `${c} ${types[i] ?? ''}`).join(', ');
}

/** The physical table an insert of `table` goes to (rollups go through their Null input table). */
export function insertTarget(table: AnalyticsTable): string {
  return table === 'events' ? 'events' : `${table}_input`;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Throw unless `name` is a plain ClickHouse identifier (it is interpolated into DDL). */
export function assertIdentifier(name: string): string {
  if (!IDENTIFIER.test(name)) throw new TypeError(`not a valid ClickHouse identifier: ${JSON.stringify(name)}`);
  return name;
}

function assertDays(name: string, days: number): number {
  if (!Number.isInteger(days) || days < 1) throw new TypeError(`${name} must be a positive integer, got ${days}`);
  return days;
}

function eventsStatements(db: string, ttlDays: number): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${db}.events (
  event_id UUID,
  reading_index UInt8,
  device_id String,
  region LowCardinality(String),
  event_time DateTime64(3, 'UTC'),
  ingest_time DateTime64(3, 'UTC'),
  sensor_type LowCardinality(String),
  value Float64,
  weight UInt16 DEFAULT 1,
  unit LowCardinality(String),
  firmware_version LowCardinality(String),
  schema_version UInt8,
  seq Nullable(UInt64),
  partition UInt16,
  stream_id String,
  inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(event_time)
ORDER BY (device_id, event_time, event_id, reading_index)
TTL toDateTime(event_time) + INTERVAL ${ttlDays} DAY
SETTINGS non_replicated_deduplication_window = ${DEDUP_WINDOW}`,
    `ALTER TABLE ${db}.events ADD COLUMN IF NOT EXISTS weight UInt16 DEFAULT 1 AFTER value`,
  ];
}

/** A Null table of minute or hour partials (columns as INSERT_COLUMNS rollups): views read it. */
function rollupInputTable(db: string, name: string): string {
  return `CREATE TABLE IF NOT EXISTS ${db}.${name} (
  device_id String,
  sensor_type String,
  window_start DateTime('UTC'),
  readings UInt64,
  count UInt64,
  sum Float64,
  min Float64,
  max Float64,
  means Array(Float64),
  weights Array(UInt64)
)
ENGINE = Null`;
}

/** The SELECT of a view turning partials (centroids as means and weights) into rollup rows. */
function partialsToStates(source: string): string {
  return `SELECT device_id, sensor_type, window_start, readings, count, sum, min, max,
  arrayReduce('quantilesTDigestWeightedState(${QUANTILE_LEVELS})', means, weights) AS digest
FROM ${source}`;
}

function rollupStatements(db: string, table: 'rollup_1m' | 'rollup_1h', ttlDays: number): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${db}.${table} (
  device_id String,
  sensor_type LowCardinality(String),
  window_start DateTime('UTC'),
  readings SimpleAggregateFunction(sum, UInt64) DEFAULT count,
  count SimpleAggregateFunction(sum, UInt64),
  sum SimpleAggregateFunction(sum, Float64),
  min SimpleAggregateFunction(min, Float64),
  max SimpleAggregateFunction(max, Float64),
  digest AggregateFunction(quantilesTDigestWeighted(${QUANTILE_LEVELS}), Float64, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (device_id, sensor_type, window_start)
TTL window_start + INTERVAL ${ttlDays} DAY
SETTINGS non_replicated_deduplication_window = ${DEDUP_WINDOW}`,
    `ALTER TABLE ${db}.${table} ADD COLUMN IF NOT EXISTS readings SimpleAggregateFunction(sum, UInt64) DEFAULT count AFTER window_start`,
    rollupInputTable(db, `${table}_input`),
    `ALTER TABLE ${db}.${table}_input ADD COLUMN IF NOT EXISTS readings UInt64 AFTER window_start`,
    `DROP VIEW IF EXISTS ${db}.${table}_mv`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${table}_weighted_mv TO ${db}.${table} AS
${partialsToStates(`${db}.${table}_input`)}`,
  ];
}

/**
 * `rollup_1h` is fed from the minute partials: every row inserted into `rollup_1m_input` is
 * also a partial of its hour (same count, sum, min, max; its centroids join the hour's
 * digest), and AggregatingMergeTree merges partials of one key whatever their number. So a
 * flush makes one rollup insert, not two, and its dedup token covers both tables (ClickHouse
 * derives the views' tokens from the insert's). `rollup_1h_input` stays for inserts of hour
 * partials made by older versions (an unfinished flush re-run after an upgrade).
 */
function hourFromMinuteStatements(db: string): string[] {
  return [
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.rollup_1h_from_1m_mv TO ${db}.rollup_1h AS
SELECT device_id, sensor_type, toStartOfHour(window_start) AS window_start, readings, count, sum, min, max,
  arrayReduce('quantilesTDigestWeightedState(${QUANTILE_LEVELS})', means, weights) AS digest
FROM ${db}.rollup_1m_input`,
  ];
}

/** Every statement that creates `database` and its tables, in execution order. */
export function schemaStatements(database: string, ttl: SchemaTtl): string[] {
  const db = assertIdentifier(database);
  return [
    `CREATE DATABASE IF NOT EXISTS ${db}`,
    ...eventsStatements(db, assertDays('eventsTtlDays', ttl.eventsTtlDays)),
    ...rollupStatements(db, 'rollup_1m', assertDays('rollup1mTtlDays', ttl.rollup1mTtlDays)),
    ...rollupStatements(db, 'rollup_1h', assertDays('rollup1hTtlDays', ttl.rollup1hTtlDays)),
    ...hourFromMinuteStatements(db),
    ...minuteRepairStatements(db),
  ];
}

/**
 * `rollup_1m_repair_input` feeds `rollup_1m` alone (no hour view reads it): for the minute
 * partials of a re-run flush that landed in `rollup_1h` but not in `rollup_1m`.
 */
function minuteRepairStatements(db: string): string[] {
  return [
    rollupInputTable(db, 'rollup_1m_repair_input'),
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.rollup_1m_repair_mv TO ${db}.rollup_1m AS
${partialsToStates(`${db}.rollup_1m_repair_input`)}`,
  ];
}
