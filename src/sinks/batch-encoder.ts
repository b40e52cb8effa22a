/**
 * FlushBatch → ClickHouse inserts: the batch's reading rows for `events` and its minute
 * partials for `rollup_1m` (through its Null input table, which also feeds `rollup_1h`), as
 * TabSeparated.
 *
 * Byte-deterministic: the same batch always yields the same bytes, because ClickHouse drops an
 * insert that repeats a dedup token even when its bytes differ. Tables with no rows are skipped.
 */
import type { FlushBatch, WindowPartial } from '../actors/types.js';
import type { ReadingRow } from '../contracts/canonical-event.js';
import type { AnalyticsTable, EncodedInsert } from './analytics-store.js';
import {
  tsvDateTime,
  tsvDateTime64,
  tsvFloat,
  tsvNullableInt,
  tsvNumberArray,
  tsvString,
} from './tsv-format.js';

/** One `events` line (without the newline), columns as INSERT_COLUMNS.events. */
export function encodeReadingRow(r: ReadingRow): string {
  return [
    tsvString(r.eventId),
    String(r.readingIndex),
    tsvString(r.deviceId),
    tsvString(r.region),
    tsvDateTime64(r.eventTime),
    tsvDateTime64(r.ingestTime),
    tsvString(r.sensorType),
    tsvFloat(r.value),
    String(r.weight),
    tsvString(r.unit),
    tsvString(r.firmwareVersion),
    String(r.schemaVersion),
    tsvNullableInt(r.seq),
    String(r.partition),
    tsvString(r.streamId),
  ].join('\t');
}

/** One rollup input line, columns as INSERT_COLUMNS.rollup_1m; the digest split into means and weights. */
export function encodeWindowPartial(p: WindowPartial): string {
  const means: number[] = [];
  const weights: number[] = [];
  for (const [mean, weight] of p.digest) {
    means.push(mean);
    weights.push(weight);
  }
  return [
    tsvString(p.deviceId),
    tsvString(p.sensorType),
    tsvDateTime(p.windowStart),
    String(p.readings),
    String(p.count),
    tsvFloat(p.sum),
    tsvFloat(p.min),
    tsvFloat(p.max),
    tsvNumberArray(means),
    tsvNumberArray(weights),
  ].join('\t');
}

function encodeTable<T>(table: AnalyticsTable, items: readonly T[], line: (item: T) => string): EncodedInsert[] {
  if (items.length === 0) return [];
  let text = '';
  for (const item of items) text += `${line(item)}\n`;
  return [{ table, body: Buffer.from(text, 'utf8'), format: 'TabSeparated', rows: items.length }];
}

/**
 * Encode a flush batch: events, then rollup_1m, skipping empty tables. The minute partials
 * also feed `rollup_1h` inside ClickHouse (see clickhouse-schema.ts), so there is no hour insert.
 */
export function encodeBatch(batch: FlushBatch): EncodedInsert[] {
  return [...encodeTable('events', batch.rows, encodeReadingRow), ...encodeTable('rollup_1m', batch.rollup1m, encodeWindowPartial)];
}
