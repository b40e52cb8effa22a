/**
 * An in-memory AnalyticsStore for the ops API tests: it holds readings per database and
 * answers the two query shapes of src/sinks/queries.ts (events; rollup_1m / rollup_1h)
 * from its bound parameters, the way ClickHouse would: rows filtered by device, time range
 * and sensor, windows aggregated by count/sum/min/max and exact quantiles. `failing` makes
 * every query throw, like a store that is down.
 */
import type { AnalyticsStore, EncodedInsert } from '../../../src/sinks/analytics-store.js';

export interface StoredReading {
  eventId: string;
  readingIndex: number;
  deviceId: string;
  eventTime: number;
  ingestTime: number;
  sensorType: string;
  value: number;
  unit: string;
  firmwareVersion: string;
  region: string;
  schemaVersion: number;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1] as number;
}

export class FakeAnalyticsStore implements AnalyticsStore {
  readonly kind = 'chdb' as const;
  readonly data = new Map<string, StoredReading[]>();
  readonly queried: string[] = [];
  failing: Error | null = null;

  add(db: string, rows: StoredReading[]): void {
    this.data.set(db, [...(this.data.get(db) ?? []), ...rows]);
  }

  init(): Promise<void> {
    return Promise.resolve();
  }

  insert(_region: string, _insert: EncodedInsert, _token: string): Promise<void> {
    return Promise.reject(new Error('the fake store is read-only'));
  }

  ping(): Promise<boolean> {
    return Promise.resolve(this.failing === null);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  query<T = Record<string, unknown>>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> {
    if (this.failing) return Promise.reject(this.failing);
    const db = String(params['db']);
    this.queried.push(db);
    const from = Number(params['from']);
    const to = Number(params['to']);
    const sensor = params['sensor'] as string | undefined;
    const rows = (this.data.get(db) ?? []).filter(
      (r) => r.deviceId === params['device'] && (sensor === undefined || r.sensorType === sensor),
    );
    const stepMs = /rollup_1h/.test(sql) ? 3_600_000 : /rollup_1m/.test(sql) ? 60_000 : 0;
    if (stepMs === 0) {
      const out = rows
        .filter((r) => r.eventTime >= from && r.eventTime < to)
        .sort((a, b) => a.eventTime - b.eventTime || a.eventId.localeCompare(b.eventId) || a.readingIndex - b.readingIndex)
        .slice(0, Number(params['limit']))
        .map((r) => ({
          event_id: r.eventId,
          reading_index: r.readingIndex,
          event_ms: String(r.eventTime),
          ingest_ms: String(r.ingestTime),
          sensor_type: r.sensorType,
          value: r.value,
          unit: r.unit,
          firmware_version: r.firmwareVersion,
          region: r.region,
          schema_version: r.schemaVersion,
        }));
      return Promise.resolve(out as T[]);
    }
    const windows = new Map<number, number[]>();
    for (const r of rows) {
      const w = Math.floor(r.eventTime / stepMs) * stepMs;
      if (w < from || w >= to) continue;
      windows.set(w, [...(windows.get(w) ?? []), r.value]);
    }
    const out = [...windows.entries()]
      .sort(([a], [b]) => a - b)
      .map(([w, values]) => {
        const sorted = [...values].sort((a, b) => a - b);
        return {
          window_s: w / 1000,
          count: String(values.length),
          sum: values.reduce((a, b) => a + b, 0),
          min: sorted[0],
          max: sorted[sorted.length - 1],
          q: [quantile(sorted, 0.5), quantile(sorted, 0.95), quantile(sorted, 0.99)],
        };
      });
    return Promise.resolve(out as T[]);
  }
}
