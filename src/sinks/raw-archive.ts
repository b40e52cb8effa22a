/**
 * The raw archive: reading rows as Brotli-compressed Parquet objects, one per event date (UTC)
 * per flushed offset range, under
 *
 *   raw/region=<R>/event_date=<YYYY-MM-DD>/p=<PPPP>/<from>_<to>.parquet
 *
 * where <from> and <to> are the flush's first and last Redis stream ids, zero-padded
 * (13-digit ms, 6-digit sequence) so keys sort in offset order. The same rows and offsets
 * always give the same keys and the same rows; a retried flush rewrites the same objects.
 * Objects written before readings had weights lack the `weight` column; they read back with
 * weight 1.
 *
 * Two writers, one schema (the columns of `columns()` below, read back by
 * readArchiveObject):
 *  - with the embedded store, ClickHouse's Parquet writer turns the flush's events insert
 *    (RowBinary) into the objects (ChdbStore.archiveParquet, archiveObjectsEncodedBy): about
 *    0.66 µs of CPU a row instead of 1.3–2.0 in JavaScript, and no JS objects per row;
 *  - otherwise hyparquet-writer (archiveObjects). Brotli at quality 1 (node:zlib, native)
 *    instead of the writer's own JavaScript Snappy: 1.29 instead of 1.86 µs a row and 46 %
 *    smaller (measured with Shoal's columns). Its bytes are deterministic (no clock, no
 *    random data).
 * Parquet readers (Arrow, DuckDB, Spark, ClickHouse) read BROTLI; objects written as SNAPPY
 * by earlier versions still read back.
 */
import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants } from 'node:zlib';
import { parquetReadObjects, type Compressors } from 'hyparquet';
import { parquetWriteBuffer, type ColumnSource } from 'hyparquet-writer';
import type { ReadingRow } from '../contracts/canonical-event.js';

export interface ArchiveObject {
  key: string;
  body: Uint8Array;
  rows: number;
}

export interface ArchiveKeyParts {
  region: string;
  /** YYYY-MM-DD (UTC). */
  eventDate: string;
  partition: number;
  /** Redis stream ids as Redis writes them ("<ms>-<seq>", no padding). */
  fromId: string;
  toId: string;
}

const STREAM_ID = /^(\d+)-(\d+)$/;
const KEY = /^raw\/region=([a-z][a-z0-9-]*)\/event_date=(\d{4}-\d{2}-\d{2})\/p=(\d{4,})\/(\d+-\d+)_(\d+-\d+)\.parquet$/;

/** A stream id zero-padded so that lexicographic order is offset order. */
export function sortableStreamId(id: string): string {
  const m = STREAM_ID.exec(id);
  if (!m) throw new TypeError(`not a stream id: ${JSON.stringify(id)}`);
  return `${m[1]!.padStart(13, '0')}-${m[2]!.padStart(6, '0')}`;
}

function unpadStreamId(id: string): string {
  return id
    .split('-')
    .map((part) => part.replace(/^0+(?=\d)/, ''))
    .join('-');
}

/** Prefix of every archive object of a region (and optionally one event date). */
export function archivePrefix(region: string, eventDate?: string): string {
  return eventDate === undefined ? `raw/region=${region}/` : `raw/region=${region}/event_date=${eventDate}/`;
}

/** The object key of one date's rows of a flushed offset range. */
export function archiveKey(parts: ArchiveKeyParts): string {
  const p = String(parts.partition).padStart(4, '0');
  return `${archivePrefix(parts.region, parts.eventDate)}p=${p}/${sortableStreamId(parts.fromId)}_${sortableStreamId(parts.toId)}.parquet`;
}

/** The parts of an archive key, or null when `key` is not one. */
export function parseArchiveKey(key: string): ArchiveKeyParts | null {
  const m = KEY.exec(key);
  if (!m) return null;
  return {
    region: m[1]!,
    eventDate: m[2]!,
    partition: Number(m[3]),
    fromId: unpadStreamId(m[4]!),
    toId: unpadStreamId(m[5]!),
  };
}

/** A UTC day in ms: archive objects are split by `floor(event time / DAY_MS)`. */
export const DAY_MS = 86_400_000;

/** UTC date (YYYY-MM-DD) of an epoch-ms time. */
export function eventDate(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

/**
 * The archive's columns, filled in one pass over the rows. Columns whose values are (nearly)
 * all distinct are written PLAIN outright: the writer would otherwise sample each for a
 * dictionary it then rejects.
 */
function columns(rows: readonly ReadingRow[]): ColumnSource[] {
  const n = rows.length;
  const eventId = new Array<Uint8Array>(n);
  // Event ids as UTF-8 views into one buffer: the writer would otherwise encode each id on its
  // own (a TextEncoder call and an allocation per row, for a column with no repeats).
  const idBytes = Buffer.allocUnsafe(rows.reduce((total, r) => total + Buffer.byteLength(r.eventId), 0));
  let idAt = 0;
  const readingIndex = new Array<number>(n);
  const deviceId = new Array<string>(n);
  const region = new Array<string>(n);
  const eventTime = new Array<number>(n);
  const ingestTime = new Array<number>(n);
  const sensorType = new Array<string>(n);
  const value = new Array<number>(n);
  const weight = new Array<number>(n);
  const unit = new Array<string>(n);
  const firmware = new Array<string>(n);
  const schemaVersion = new Array<number>(n);
  const seq = new Array<bigint | null>(n);
  const partition = new Array<number>(n);
  const streamId = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const r = rows[i] as ReadingRow;
    const idLength = idBytes.write(r.eventId, idAt);
    eventId[i] = idBytes.subarray(idAt, idAt + idLength);
    idAt += idLength;
    readingIndex[i] = r.readingIndex;
    deviceId[i] = r.deviceId;
    region[i] = r.region;
    eventTime[i] = r.eventTime;
    ingestTime[i] = r.ingestTime;
    sensorType[i] = r.sensorType;
    value[i] = r.value;
    weight[i] = r.weight;
    unit[i] = r.unit;
    firmware[i] = r.firmwareVersion;
    schemaVersion[i] = r.schemaVersion;
    seq[i] = r.seq === null ? null : BigInt(r.seq);
    partition[i] = r.partition;
    streamId[i] = r.streamId;
  }
  const col = (name: string, type: ColumnSource['type'], data: unknown[], options: Partial<ColumnSource> = {}): ColumnSource =>
    ({ name, type, data, nullable: false, ...options });
  return [
    col('event_id', 'STRING', eventId, { encoding: 'PLAIN' }),
    col('reading_index', 'INT32', readingIndex),
    col('device_id', 'STRING', deviceId),
    col('region', 'STRING', region),
    col('event_time', 'TIMESTAMP', eventTime, { encoding: 'PLAIN' }),
    col('ingest_time', 'TIMESTAMP', ingestTime),
    col('sensor_type', 'STRING', sensorType),
    col('value', 'DOUBLE', value, { encoding: 'PLAIN' }),
    col('weight', 'INT32', weight),
    col('unit', 'STRING', unit),
    col('firmware_version', 'STRING', firmware),
    col('schema_version', 'INT32', schemaVersion),
    col('seq', 'INT64', seq, { nullable: true }),
    col('partition', 'INT32', partition),
    col('stream_id', 'STRING', streamId),
  ];
}

/** Brotli quality 1: deterministic for the same bytes (and zlib version). */
function brotli(page: Uint8Array): Uint8Array {
  return brotliCompressSync(page, {
    params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 1, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: page.length },
  });
}

/** Decompressors for reading archives: what hyparquet does not decode itself. */
const DECOMPRESSORS: Compressors = { BROTLI: (input) => brotliDecompressSync(input) };

/**
 * Encode rows as one Parquet file (BROTLI, deterministic bytes). No column statistics: an
 * object already holds one partition's flush of one event date (its key says which), and
 * computing min/max per column cost a tenth of a shard's flush time (profiled).
 */
export function encodeArchive(rows: readonly ReadingRow[]): Uint8Array {
  return new Uint8Array(
    parquetWriteBuffer({ columnData: columns(rows), codec: 'BROTLI', compressors: { BROTLI: brotli }, createdBy: 'shoal', statistics: false }),
  );
}

/** The rows of each UTC event day (epoch day number), days ascending, rows in input order. */
function rowsByDay(rows: readonly ReadingRow[]): [number, ReadingRow[]][] {
  // Grouped by UTC day number: formatting a date per row cost more than the grouping itself.
  const byDay = new Map<number, ReadingRow[]>();
  for (const row of rows) {
    const day = Math.floor(row.eventTime / DAY_MS);
    let group = byDay.get(day);
    if (!group) byDay.set(day, (group = []));
    group.push(row);
  }
  return [...byDay].sort((a, b) => a[0] - b[0]);
}

/** One object per day, its body from `bodyOf`; keys name the flush's offset range. */
function toObjects(
  region: string,
  partition: number,
  fromId: string,
  toId: string,
  days: readonly [day: number, rows: number][],
  bodyOf: (i: number) => Uint8Array,
): ArchiveObject[] {
  return days.map(([day, rows], i) => ({
    key: archiveKey({ region, eventDate: eventDate(day * DAY_MS), partition, fromId, toId }),
    body: bodyOf(i),
    rows,
  }));
}

/**
 * The archive objects of one flush of (region, partition) covering stream ids fromId..toId:
 * one per UTC event date of the rows, in date order, rows in input order.
 */
export function archiveObjects(
  region: string,
  partition: number,
  fromId: string,
  toId: string,
  rows: readonly ReadingRow[],
): ArchiveObject[] {
  const groups = rowsByDay(rows);
  return toObjects(region, partition, fromId, toId, groups.map(([day, group]) => [day, group.length]), (i) => encodeArchive((groups[i] as [number, ReadingRow[]])[1]));
}

/**
 * The same objects as archiveObjects (keys, rows, order), their bodies made by `encode` from
 * the list of UTC days (epoch day numbers, ascending): e.g. the analytics store's
 * archiveParquet, which has ClickHouse's Parquet writer encode the flush's events insert.
 */
export async function archiveObjectsEncodedBy(
  region: string,
  partition: number,
  fromId: string,
  toId: string,
  days: readonly [day: number, rows: number][],
  encode: (days: readonly number[]) => Promise<readonly Uint8Array[]>,
): Promise<ArchiveObject[]> {
  const bodies = await encode(days.map(([day]) => day));
  if (bodies.length !== days.length) throw new Error(`archive encoder returned ${bodies.length} objects for ${days.length} days`);
  return toObjects(region, partition, fromId, toId, days, (i) => bodies[i] as Uint8Array);
}

interface ArchiveRecord {
  event_id: string;
  reading_index: number;
  device_id: string;
  region: string;
  event_time: Date;
  ingest_time: Date;
  sensor_type: string;
  value: number;
  /** Absent in objects written before weights existed. */
  weight?: number;
  unit: string;
  firmware_version: string;
  schema_version: number;
  seq: bigint | null;
  partition: number;
  stream_id: string;
}

/** Decode an archive object back into its reading rows, in stored order. */
export async function readArchiveObject(body: Uint8Array): Promise<ReadingRow[]> {
  const file = Uint8Array.prototype.slice.call(body).buffer;
  const records = (await parquetReadObjects({ file, rowFormat: 'object', compressors: DECOMPRESSORS })) as unknown as ArchiveRecord[];
  return records.map((r) => ({
    eventId: r.event_id,
    readingIndex: r.reading_index,
    deviceId: r.device_id,
    region: r.region,
    eventTime: r.event_time.getTime(),
    ingestTime: r.ingest_time.getTime(),
    sensorType: r.sensor_type,
    value: r.value,
    weight: r.weight ?? 1,
    unit: r.unit,
    firmwareVersion: r.firmware_version,
    schemaVersion: r.schema_version === 2 ? 2 : 1,
    seq: r.seq === null ? null : Number(r.seq),
    partition: r.partition,
    streamId: r.stream_id,
  }));
}
