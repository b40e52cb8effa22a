/**
 * What the sinks hold, read back plainly, and what they must hold for a set of canonical
 * events: the readings of ClickHouse `events` (FINAL), the count and sum of every rollup window,
 * and how often the raw archive holds each reading. Keys are `${eventId}/${readingIndex}` for
 * readings and `${deviceId}|${sensorType}|${windowStartMs}` for windows.
 */
import type { CanonicalEvent } from '../../src/contracts/canonical-event.js';
import type { AnalyticsStore } from '../../src/sinks/analytics-store.js';
import type { ObjectStore } from '../../src/sinks/object-store.js';
import { readArchiveObject } from '../../src/sinks/raw-archive.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

export interface WindowTotals {
  count: number;
  sum: number;
}

export interface SinkSnapshot {
  /** Reading key → `${deviceId}|${sensorType}|${value}`. */
  readings: Map<string, string>;
  /** Rows of `events FINAL` beyond the first for the same reading (must be 0). */
  repeatedReadings: number;
  rollup1m: Map<string, WindowTotals>;
  rollup1h: Map<string, WindowTotals>;
}

type Num = number | string;

async function rollups(store: AnalyticsStore, db: string, table: 'rollup_1m' | 'rollup_1h'): Promise<Map<string, WindowTotals>> {
  const rows = await store.query<{ d: string; s: string; w: Num; c: Num; total: Num }>(
    `SELECT device_id AS d, sensor_type AS s, toUnixTimestamp(window_start) AS w, sum(count) AS c, sum(sum) AS total
     FROM {db:Identifier}.${table} GROUP BY d, s, w`,
    { db },
  );
  return new Map(rows.map((r) => [`${r.d}|${r.s}|${Number(r.w) * 1000}`, { count: Number(r.c), sum: Number(r.total) }]));
}

/** Everything a region's database holds, read the way the query API reads it. */
export async function analyticsSnapshot(store: AnalyticsStore, db: string): Promise<SinkSnapshot> {
  const rows = await store.query<{ id: string; i: Num; d: string; s: string; v: Num }>(
    `SELECT toString(event_id) AS id, reading_index AS i, device_id AS d, sensor_type AS s, value AS v
     FROM {db:Identifier}.events FINAL`,
    { db },
  );
  const readings = new Map<string, string>();
  for (const r of rows) readings.set(`${r.id}/${Number(r.i)}`, `${r.d}|${r.s}|${Number(r.v)}`);
  return {
    readings,
    repeatedReadings: rows.length - readings.size,
    rollup1m: await rollups(store, db, 'rollup_1m'),
    rollup1h: await rollups(store, db, 'rollup_1h'),
  };
}

/** How many times the archive under `prefix` holds each reading key. */
export async function archivedReadings(objects: ObjectStore, prefix: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const info of await objects.list(prefix)) {
    const body = await objects.get(info.key);
    if (!body) continue;
    for (const row of await readArchiveObject(body)) {
      const key = `${row.eventId}/${row.readingIndex}`;
      out.set(key, (out.get(key) ?? 0) + 1);
    }
  }
  return out;
}

/** The readings the sinks must hold for these events (the first copy of each event id counts). */
export function expectedReadings(events: Iterable<CanonicalEvent>): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of events) {
    e.readings.forEach((r, i) => {
      const key = `${e.eventId}/${i}`;
      if (!out.has(key)) out.set(key, `${e.deviceId}|${r.sensorType}|${r.value}`);
    });
  }
  return out;
}

/** Count and sum per window of the distinct events (by event id) among `events`. */
export function expectedWindows(events: Iterable<CanonicalEvent>, widthMs: number): Map<string, WindowTotals> {
  const out = new Map<string, WindowTotals>();
  const seen = new Set<string>();
  for (const e of events) {
    if (seen.has(e.eventId)) continue;
    seen.add(e.eventId);
    for (const r of e.readings) {
      const key = `${e.deviceId}|${r.sensorType}|${Math.floor(e.eventTime / widthMs) * widthMs}`;
      const w = out.get(key);
      if (w) {
        w.count++;
        w.sum += r.value;
      } else out.set(key, { count: 1, sum: r.value });
    }
  }
  return out;
}
