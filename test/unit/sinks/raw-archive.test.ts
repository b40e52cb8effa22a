import fc from 'fast-check';
import { parquetWriteBuffer, type ColumnSource } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import {
  archiveKey,
  archiveObjects,
  eventDate,
  parseArchiveKey,
  readArchiveObject,
  sortableStreamId,
} from '../../../src/sinks/raw-archive.js';
import { readingRow, streamId } from './arbitraries.js';

const rowsArb = fc.array(readingRow, { minLength: 1, maxLength: 40 });
const S3_SAFE_KEY = /^[A-Za-z0-9!_.*'()/=-]+$/;

describe('archiveObjects / readArchiveObject', () => {
  it('round-trips every row exactly, grouped by UTC event date, rows in input order', async () => {
    await fc.assert(
      fc.asyncProperty(rowsArb, streamId, streamId, async (rows, from, to) => {
        const objects = archiveObjects('us-east', 3, from, to, rows);
        const dates = [...new Set(rows.map((r) => eventDate(r.eventTime)))].sort();
        expect(objects.map((o) => parseArchiveKey(o.key)?.eventDate)).toEqual(dates);
        for (const o of objects) {
          const date = parseArchiveKey(o.key)!.eventDate;
          const expected = rows.filter((r) => eventDate(r.eventTime) === date);
          expect(o.rows).toBe(expected.length);
          // Normalise -0: Parquet keeps the sign, toEqual tells them apart.
          const back = (await readArchiveObject(o.body)).map((r) => ({ ...r, value: r.value + 0 }));
          expect(back).toEqual(expected.map((r) => ({ ...r, value: r.value + 0 })));
        }
      }),
      { numRuns: 50 },
    );
  });

  it('writes the same keys and bytes for the same rows, so a retried flush rewrites identical objects', () => {
    fc.assert(
      fc.property(rowsArb, streamId, streamId, (rows, from, to) => {
        const a = archiveObjects('eu-west', 0, from, to, rows);
        const b = archiveObjects('eu-west', 0, from, to, structuredClone(rows));
        expect(b.map((o) => o.key)).toEqual(a.map((o) => o.key));
        b.forEach((o, i) => expect(Buffer.from(o.body).equals(Buffer.from(a[i]!.body))).toBe(true));
      }),
      { numRuns: 30 },
    );
  });

  it('compresses: a realistic batch takes far fewer bytes than its rows as JSON', () => {
    const rows = Array.from({ length: 2000 }, (_, i) => ({
      eventId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      readingIndex: 0,
      deviceId: `dev-${i % 50}`,
      region: 'us-east',
      eventTime: Date.UTC(2026, 10, 27, 10) + i * 100,
      ingestTime: Date.UTC(2026, 10, 27, 10) + i * 100 + 5,
      sensorType: 'temperature',
      value: 20 + (i % 7) / 10,
      weight: 1,
      unit: 'C',
      firmwareVersion: '1.4.2',
      schemaVersion: 1 as const,
      seq: null,
      streamId: `${Date.UTC(2026, 10, 27, 10) + i}-0`,
      partition: 1,
    }));
    const [obj] = archiveObjects('us-east', 1, rows[0]!.streamId, rows.at(-1)!.streamId, rows);
    expect(obj!.body.byteLength).toBeLessThan(JSON.stringify(rows).length / 4);
  });

  it('reads objects written before the weight column existed with weight 1', async () => {
    await fc.assert(
      fc.asyncProperty(rowsArb, async (rows) => {
        // The archive layout of the first release: the same columns without `weight`.
        const col = (name: string, type: ColumnSource['type'], data: unknown[], nullable = false): ColumnSource => ({ name, type, data, nullable });
        const body = parquetWriteBuffer({
          columnData: [
            col('event_id', 'STRING', rows.map((r) => r.eventId)),
            col('reading_index', 'INT32', rows.map((r) => r.readingIndex)),
            col('device_id', 'STRING', rows.map((r) => r.deviceId)),
            col('region', 'STRING', rows.map((r) => r.region)),
            col('event_time', 'TIMESTAMP', rows.map((r) => r.eventTime)),
            col('ingest_time', 'TIMESTAMP', rows.map((r) => r.ingestTime)),
            col('sensor_type', 'STRING', rows.map((r) => r.sensorType)),
            col('value', 'DOUBLE', rows.map((r) => r.value)),
            col('unit', 'STRING', rows.map((r) => r.unit)),
            col('firmware_version', 'STRING', rows.map((r) => r.firmwareVersion)),
            col('schema_version', 'INT32', rows.map((r) => r.schemaVersion)),
            col('seq', 'INT64', rows.map((r) => (r.seq === null ? null : BigInt(r.seq))), true),
            col('partition', 'INT32', rows.map((r) => r.partition)),
            col('stream_id', 'STRING', rows.map((r) => r.streamId)),
          ],
          codec: 'SNAPPY',
        });
        const back = (await readArchiveObject(new Uint8Array(body))).map((r) => ({ ...r, value: r.value + 0 }));
        expect(back).toEqual(rows.map((r) => ({ ...r, value: r.value + 0, weight: 1 })));
      }),
      { numRuns: 20 },
    );
  });
});

describe('archive keys', () => {
  it('follow raw/region=R/event_date=D/p=P/<from>_<to>.parquet and parse back', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('us-east', 'eu-west', 'ap-south-1'),
        fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }),
        fc.integer({ min: 0, max: 1023 }),
        streamId,
        streamId,
        (region, t, partition, fromId, toId) => {
          const parts = { region, eventDate: eventDate(t), partition, fromId, toId };
          const key = archiveKey(parts);
          expect(key.startsWith(`raw/region=${region}/event_date=${parts.eventDate}/`)).toBe(true);
          expect(key).toMatch(S3_SAFE_KEY);
          expect(parseArchiveKey(key)).toEqual(parts);
        },
      ),
    );
  });

  it('sort in stream-offset order', () => {
    fc.assert(
      fc.property(streamId, streamId, (a, b) => {
        const [am, as] = a.split('-').map(Number) as [number, number];
        const [bm, bs] = b.split('-').map(Number) as [number, number];
        const byOffset = am !== bm ? Math.sign(am - bm) : Math.sign(as - bs);
        const sa = sortableStreamId(a);
        const sb = sortableStreamId(b);
        expect(sa < sb ? -1 : sa > sb ? 1 : 0).toBe(byOffset);
      }),
    );
  });

  it('reject what is not an archive key or a stream id', () => {
    expect(parseArchiveKey('raw/region=us-east/event_date=2026-11-27/p=0001/x.parquet')).toBeNull();
    expect(() => sortableStreamId('12-x')).toThrow(TypeError);
  });
});
