/**
 * The device query API (DESIGN §6): a device's raw readings and its 1m/1h rollups. A device
 * id does not say which region holds it, so every region's database is queried and the rows
 * concatenated (a device lives in one region). Rows are projected onto exactly the fields the
 * API documents.
 */
import { regionDatabase, type Config } from '../config.js';
import { errorMessage } from '../errors.js';
import type { AnalyticsStore } from '../sinks/analytics-store.js';
import { queryEvents, queryRollups, type EventRow, type RollupRow } from '../sinks/queries.js';
import { ApiError } from './api-error.js';
import { parseLimit, parseSensor, parseStep, parseTimeRange, type Step } from './query-params.js';

export const EVENTS_DEFAULT_SPAN_MS = 3_600_000;
export const ROLLUPS_DEFAULT_SPAN_MS = 24 * 3_600_000;
export const EVENTS_DEFAULT_LIMIT = 1000;
export const EVENTS_MAX_LIMIT = 10_000;

export interface EventsAnswer {
  device_id: string;
  rows: EventRow[];
}

export interface RollupsAnswer {
  device_id: string;
  sensor_type: string;
  step: Step;
  rows: RollupRow[];
}

function eventRow(r: EventRow): EventRow {
  return {
    event_id: r.event_id,
    reading_index: r.reading_index,
    event_time: r.event_time,
    ingest_time: r.ingest_time,
    sensor_type: r.sensor_type,
    value: r.value,
    unit: r.unit,
    firmware_version: r.firmware_version,
    region: r.region,
    schema_version: r.schema_version,
  };
}

function rollupRow(r: RollupRow): RollupRow {
  return {
    window_start: r.window_start,
    count: r.count,
    sum: r.sum,
    min: r.min,
    max: r.max,
    avg: r.avg,
    p50: r.p50,
    p95: r.p95,
    p99: r.p99,
  };
}

function byEventOrder(a: EventRow, b: EventRow): number {
  if (a.event_time !== b.event_time) return a.event_time < b.event_time ? -1 : 1;
  if (a.event_id !== b.event_id) return a.event_id < b.event_id ? -1 : 1;
  return a.reading_index - b.reading_index;
}

export class DeviceQueries {
  constructor(
    private readonly config: Pick<Config, 'regions' | 'clickhouse'>,
    private readonly store: AnalyticsStore,
    private readonly clock: () => number = Date.now,
  ) {}

  async events(deviceId: string, params: URLSearchParams): Promise<EventsAnswer> {
    const range = parseTimeRange(params, EVENTS_DEFAULT_SPAN_MS, this.clock());
    const sensor = parseSensor(params, false);
    const limit = parseLimit(params, 'limit', EVENTS_DEFAULT_LIMIT, 1, EVENTS_MAX_LIMIT);
    const rows = await this.acrossRegions((db) =>
      queryEvents(this.store, db, deviceId, { ...range, limit, ...(sensor === undefined ? {} : { sensor }) }),
    );
    if (rows.length > 1) rows.sort(byEventOrder);
    return { device_id: deviceId, rows: rows.slice(0, limit).map(eventRow) };
  }

  async rollups(deviceId: string, params: URLSearchParams): Promise<RollupsAnswer> {
    const sensor = parseSensor(params, true);
    const step = parseStep(params);
    const { from, to } = parseTimeRange(params, ROLLUPS_DEFAULT_SPAN_MS, this.clock());
    const rows = await this.acrossRegions((db) => queryRollups(this.store, db, deviceId, sensor, from, to, step));
    if (rows.length > 1) rows.sort((a, b) => (a.window_start < b.window_start ? -1 : a.window_start > b.window_start ? 1 : 0));
    return { device_id: deviceId, sensor_type: sensor, step, rows: rows.map(rollupRow) };
  }

  /** Run `query` on every region's database in turn; any failure is STORE_UNAVAILABLE. */
  private async acrossRegions<T>(query: (db: string) => Promise<T[]>): Promise<T[]> {
    const out: T[] = [];
    for (const region of this.config.regions) {
      try {
        out.push(...(await query(regionDatabase(this.config, region))));
      } catch (err) {
        throw new ApiError(503, 'STORE_UNAVAILABLE', `analytics store query failed (${region}): ${errorMessage(err)}`, {
          cause: err,
        });
      }
    }
    return out;
  }
}
