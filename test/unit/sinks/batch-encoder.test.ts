import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FlushBatch } from '../../../src/actors/types.js';
import { expandReadingRows, type CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import { EventsBodyWriter, encodeBatch } from '../../../src/sinks/batch-encoder.js';
import { INSERT_COLUMNS } from '../../../src/sinks/clickhouse-schema.js';
import { tsvDateTime, tsvDateTime64 } from '../../../src/sinks/tsv-format.js';
import { acceptedEvent, epochMs, readingRow, windowPartial } from './arbitraries.js';

type Batch = Pick<FlushBatch, 'rows' | 'rollup1m'>;

const batch: fc.Arbitrary<Batch> = fc.record({
  rows: fc.array(readingRow, { maxLength: 20 }),
  rollup1m: fc.array(windowPartial, { maxLength: 10 }),
});

/** Split a TabSeparated payload back into fields, undoing ClickHouse's escapes. */
function parseTsv(body: Uint8Array): string[][] {
  const text = Buffer.from(body).toString('utf8');
  const unescape: Record<string, string> = { '\\': '\\', t: '\t', n: '\n', r: '\r', '0': '\0', N: '\\N' };
  return text
    .split('\n')
    .slice(0, -1)
    .map((line) => line.split('\t').map((f) => f.replace(/\\(.)/g, (_, c: string) => unescape[c] ?? `\\${c}`)));
}

describe('encodeBatch', () => {
  it('gives byte-identical payloads for the same batch (a retry must match its first attempt)', () => {
    fc.assert(
      fc.property(batch, (b) => {
        const first = encodeBatch(b);
        const again = encodeBatch(structuredClone(b));
        expect(again.map((i) => i.table)).toEqual(first.map((i) => i.table));
        again.forEach((ins, k) => expect(Buffer.compare(Buffer.from(ins.body), Buffer.from(first[k]!.body))).toBe(0));
      }),
    );
  });

  it('emits one insert per non-empty table, one line per row, with every column', () => {
    fc.assert(
      fc.property(batch, (b) => {
        const inserts = encodeBatch(b);
        // No rollup_1h insert: the minute partials feed it inside ClickHouse.
        const expected = (['events', 'rollup_1m'] as const).filter((t) => ({ events: b.rows, rollup_1m: b.rollup1m })[t].length > 0);
        expect(inserts.map((i) => i.table)).toEqual(expected);
        for (const ins of inserts) {
          const lines = parseTsv(ins.body);
          expect(ins.rows).toBe(lines.length);
          for (const fields of lines) expect(fields).toHaveLength(INSERT_COLUMNS[ins.table].length);
        }
      }),
    );
  });

  it('keeps free text exact however many tabs, newlines and backslashes it holds', () => {
    fc.assert(
      fc.property(fc.array(readingRow, { minLength: 1, maxLength: 10 }), (rows) => {
        const [events] = encodeBatch({ rows, rollup1m: [] });
        const parsed = parseTsv(events!.body);
        const col = (name: string): number => INSERT_COLUMNS.events.indexOf(name);
        rows.forEach((r, i) => {
          const f = parsed[i]!;
          expect(f[col('sensor_type')]).toBe(r.sensorType);
          expect(f[col('unit')]).toBe(r.unit);
          expect(f[col('firmware_version')]).toBe(r.firmwareVersion);
          expect(Number(f[col('value')])).toBe(r.value === 0 ? 0 : r.value);
          expect(f[col('seq')]).toBe(r.seq === null ? '\\N' : String(r.seq));
          expect(Number(f[col('weight')])).toBe(r.weight);
          expect(new Date(`${f[col('event_time')]!.replace(' ', 'T')}Z`).getTime()).toBe(r.eventTime);
        });
      }),
    );
  });

  it('writes the window digest as parallel means and weights arrays', () => {
    fc.assert(
      fc.property(windowPartial, (p) => {
        const [ins] = encodeBatch({ rows: [], rollup1m: [p] });
        const f = parseTsv(ins!.body)[0]!;
        const means = JSON.parse(f[INSERT_COLUMNS.rollup_1m.indexOf('means')]!) as number[];
        const weights = JSON.parse(f[INSERT_COLUMNS.rollup_1m.indexOf('weights')]!) as number[];
        // -0 is written as 0, which is the same number to every reader.
        expect(means).toEqual(p.digest.map(([m]) => m + 0));
        expect(weights).toEqual(p.digest.map(([, w]) => w));
      }),
    );
  });

  it('writes the stored readings and the weighted count of a sampled window apart', () => {
    const p = { deviceId: 'd1', sensorType: 'temperature', windowStart: 1_700_000_040_000, readings: 3, count: 12, sum: 240, min: 19, max: 21, digest: [[19, 4], [20, 4], [21, 4]] as [number, number][] };
    const [ins] = encodeBatch({ rows: [], rollup1m: [p] });
    const f = parseTsv(ins!.body)[0]!;
    expect(f[INSERT_COLUMNS.rollup_1m.indexOf('readings')]).toBe('3');
    expect(f[INSERT_COLUMNS.rollup_1m.indexOf('count')]).toBe('12');
  });

  it('writes nothing for an empty batch', () => {
    expect(encodeBatch({ rows: [], rollup1m: [] })).toEqual([]);
  });
});

describe('EventsBodyWriter', () => {
  /** The batch's lists, as PartitionActors would keep them. */
  const accepted = (items: { event: CanonicalEvent; streamId: string }[], partition: number) => ({ events: items.map((x) => x.event), streamIds: items.map((x) => x.streamId), partition });
  const rowsOf = (a: ReturnType<typeof accepted>) => expandReadingRows(a.events, a.streamIds, a.partition);
  const writeAll = (writer: EventsBodyWriter, items: { event: CanonicalEvent; streamId: string }[], partition: number) => {
    for (const { event, streamId } of items) writer.write(event, streamId, partition);
  };

  it("writes, event by event, the bytes encodeBatch writes for the whole batch's rows", () => {
    fc.assert(
      fc.property(fc.array(acceptedEvent, { maxLength: 30 }), fc.integer({ min: 0, max: 1023 }), (items, partition) => {
        const writer = new EventsBodyWriter();
        writeAll(writer, items, partition);
        const b: Batch = { rows: rowsOf(accepted(items, partition)), rollup1m: [] };
        const taken = writer.take();
        const whole = encodeBatch(b, 'RowBinary');
        if (items.length === 0) return void expect([taken, whole]).toEqual([null, []]);
        expect(taken?.rows).toBe(b.rows.length);
        expect(encodeBatch(b, 'RowBinary', taken)).toEqual(whole);
        expect(Buffer.compare(Buffer.from(taken!.body), Buffer.from(whole[0]!.body))).toBe(0);
      }),
    );
  });

  it('writes an event all or nothing: one it cannot write leaves the body as it was', () => {
    const items = fc.sample(acceptedEvent, 4);
    const writer = new EventsBodyWriter();
    writeAll(writer, items.slice(0, 2), 7);
    // Its seq fails a few columns into its first row: the bytes before it must go too.
    const bad = { ...items[2]!.event, schemaVersion: 2 as const, seq: 2 ** 60 };
    expect(() => writer.write(bad, items[2]!.streamId, 7)).toThrow(RangeError);
    writeAll(writer, items.slice(3), 7);
    const good = [...items.slice(0, 2), ...items.slice(3)];
    const taken = writer.take();
    const whole = encodeBatch({ rows: rowsOf(accepted(good, 7)), rollup1m: [] }, 'RowBinary');
    expect(taken?.rows).toBe(rowsOf(accepted(good, 7)).length);
    expect(Buffer.compare(Buffer.from(taken!.body), Buffer.from(whole[0]!.body))).toBe(0);
  });

  it('starts each batch empty after take(), and refuses a batch it was not fed', () => {
    const items = fc.sample(acceptedEvent, 5);
    const writer = new EventsBodyWriter();
    const first = items.slice(0, 3);
    writeAll(writer, first, 7);
    expect(writer.take()?.rows).toBe(rowsOf(accepted(first, 7)).length);
    expect(writer.take()).toBeNull();
    const rest = items.slice(3);
    writeAll(writer, rest, 7);
    const second = writer.take();
    expect(second?.rows).toBe(rowsOf(accepted(rest, 7)).length);
    expect(Buffer.compare(Buffer.from(second!.body), Buffer.from(encodeBatch({ rows: rowsOf(accepted(rest, 7)), rollup1m: [] }, 'RowBinary')[0]!.body))).toBe(0);
    writeAll(writer, items.slice(0, 4), 7);
    const batchOfFive: Batch = { rows: rowsOf(accepted(items, 7)), rollup1m: [] };
    expect(() => encodeBatch(batchOfFive, 'RowBinary', writer.take())).toThrow(/does not fit/);
  });
});

describe('DateTime text', () => {
  it('is the UTC time to the millisecond, whatever order times come in', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(epochMs, epochMs.map((t) => t - (t % 1000))), { maxLength: 30 }), (times) => {
        for (const t of times) {
          const iso = new Date(t).toISOString();
          expect(tsvDateTime64(t)).toBe(`${iso.slice(0, 10)} ${iso.slice(11, 23)}`);
          expect(tsvDateTime(t)).toBe(`${iso.slice(0, 10)} ${iso.slice(11, 19)}`);
        }
      }),
    );
  });
});
