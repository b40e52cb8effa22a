/**
 * StatusReporter: the cost inputs behind GET /api/v1/status and `shoal status`. Per region:
 *
 *   events, readings   events stored in ClickHouse (`events` rows with reading_index 0) and
 *                      their readings (all `events` rows)
 *   clickhouse         rows and bytes on disk per table (system.parts, active parts)
 *   archive            objects and bytes of the raw archive under archivePrefix(region)
 *   bytes_per_event    archive bytes, `events` bytes, and all tables' bytes, each ÷ events
 *   pipeline           partitions, pending events, lag and backpressure (from the pipeline's stats)
 *
 * Counts are read without FINAL, so they stay cheap on big tables: a duplicate that came back
 * after the dedup horizon counts until ClickHouse merges it away. Freshly inserted parts are
 * not yet merged, so bytes per event on a small or young table is higher than it settles at.
 */
import type { Config } from '../config.js';
import { regionDatabase } from '../config.js';
import { errorMessage } from '../errors.js';
import type { Pressure } from '../runtime/lag-monitor.js';
import type { AnalyticsStore } from '../sinks/analytics-store.js';
import { archiveFolders } from '../sinks/archive-janitor.js';
import { DirObjectStore } from '../sinks/dir-object-store.js';
import type { ObjectInfo, ObjectStore } from '../sinks/object-store.js';
import { tableStats } from '../sinks/queries.js';
import { archivePrefix } from '../sinks/raw-archive.js';
import { ApiError } from './api-error.js';

export interface BytesPerEvent {
  /** Raw archive bytes ÷ events; null while there are no events. */
  archive: number | null;
  /** ClickHouse `events` table bytes ÷ events. */
  clickhouse_events: number | null;
  /** Bytes of every table of the region's database (events, rollup_1m, rollup_1h) ÷ events. */
  clickhouse_all: number | null;
}

export interface TableStatus {
  table: string;
  rows: number;
  bytes: number;
  uncompressed_bytes: number;
  parts: number;
}

export interface PipelineState {
  /** Partitions (config.partitions per region). */
  partitions: number;
  /** Events read but not yet flushed, summed over the partitions. */
  pending_events: number;
  /** Bus entries after the checkpoints, summed over the partitions. */
  lag_entries: number;
  /** Age of the oldest entry not yet checkpointed, the worst partition; null until the shards first report. */
  max_lag_ms: number | null;
  /** The worst backpressure level of the partitions. */
  pressure: Pressure;
}

export interface RegionStatus {
  region: string;
  database: string;
  events: number;
  readings: number;
  clickhouse: { rows: number; bytes: number; tables: TableStatus[] };
  archive: { objects: number; bytes: number };
  bytes_per_event: BytesPerEvent;
  pipeline: PipelineState;
}

export interface StatusReport {
  generated_at: string;
  shards: number;
  regions: RegionStatus[];
  totals: {
    events: number;
    readings: number;
    clickhouse_bytes: number;
    archive_objects: number;
    archive_bytes: number;
    bytes_per_event: BytesPerEvent;
    pipeline: PipelineState;
  };
}

export interface StatusReporterDeps {
  config: Pick<Config, 'regions' | 'partitions' | 'clickhouse'>;
  store: AnalyticsStore;
  objects: ObjectStore;
  /** The pipeline's stats (GET /api/v1/stats): `shards` and `partitions` are read from it. */
  stats: () => Promise<Record<string, unknown>>;
  /** Wall clock for `generated_at`. Default Date.now. */
  clock?: () => number;
}

const EVENT_COUNT_SQL = `SELECT count() AS events FROM {db:Identifier}.events WHERE reading_index = 0`;
const PRESSURE_LEVEL: Readonly<Record<Pressure, number>> = { ok: 0, soft: 1, hard: 2 };

interface PartitionEntry {
  region: string;
  pending: number;
  lagEntries: number;
  lagMs: number | null;
  pressure: Pressure;
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The partitions of the pipeline's stats, read defensively (it is an untyped record). */
function partitionsOf(stats: Record<string, unknown>): PartitionEntry[] {
  const list = stats['partitions'];
  if (!Array.isArray(list)) return [];
  return list.flatMap((p: unknown): PartitionEntry[] => {
    if (typeof p !== 'object' || p === null) return [];
    const r = p as Record<string, unknown>;
    if (typeof r['region'] !== 'string') return [];
    const pressure = r['pressure'] === 'soft' || r['pressure'] === 'hard' ? r['pressure'] : 'ok';
    return [{ region: r['region'], pending: num(r['pendingEvents']) ?? 0, lagEntries: num(r['lagEntries']) ?? 0, lagMs: num(r['lagMs']), pressure }];
  });
}

function pipelineState(partitions: number, parts: readonly PartitionEntry[]): PipelineState {
  const lags = parts.map((p) => p.lagMs).filter((l): l is number => l !== null);
  return {
    partitions,
    pending_events: parts.reduce((s, p) => s + p.pending, 0),
    lag_entries: parts.reduce((s, p) => s + p.lagEntries, 0),
    max_lag_ms: lags.length ? Math.max(...lags) : null,
    pressure: parts.reduce<Pressure>((w, p) => (PRESSURE_LEVEL[p.pressure] > PRESSURE_LEVEL[w] ? p.pressure : w), 'ok'),
  };
}

/** `work`, with a failure turned into a 503 answer naming what was unavailable. */
async function orUnavailable<T>(code: string, what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw new ApiError(503, code, `${what}: ${errorMessage(err)}`, { cause: err });
  }
}

function perEvent(bytes: number, events: number): number | null {
  return events > 0 ? Math.round((bytes / events) * 100) / 100 : null;
}

function bytesPerEvent(archiveBytes: number, eventsBytes: number, allBytes: number, events: number): BytesPerEvent {
  return { archive: perEvent(archiveBytes, events), clickhouse_events: perEvent(eventsBytes, events), clickhouse_all: perEvent(allBytes, events) };
}

export class StatusReporter {
  constructor(private readonly deps: StatusReporterDeps) {}

  async report(): Promise<StatusReport> {
    const stats = await this.deps.stats();
    const parts = partitionsOf(stats);
    const regions: RegionStatus[] = [];
    for (const region of this.deps.config.regions) {
      regions.push(await this.region(region, pipelineState(this.deps.config.partitions, parts.filter((p) => p.region === region))));
    }
    const sum = (f: (r: RegionStatus) => number): number => regions.reduce((s, r) => s + f(r), 0);
    const events = sum((r) => r.events);
    const archiveBytes = sum((r) => r.archive.bytes);
    const clickhouseBytes = sum((r) => r.clickhouse.bytes);
    const eventsTableBytes = sum((r) => r.clickhouse.tables.find((t) => t.table === 'events')?.bytes ?? 0);
    return {
      generated_at: new Date((this.deps.clock ?? Date.now)()).toISOString(),
      shards: num(stats['shards']) ?? 0,
      regions,
      totals: {
        events,
        readings: sum((r) => r.readings),
        clickhouse_bytes: clickhouseBytes,
        archive_objects: sum((r) => r.archive.objects),
        archive_bytes: archiveBytes,
        bytes_per_event: bytesPerEvent(archiveBytes, eventsTableBytes, clickhouseBytes, events),
        pipeline: pipelineState(this.deps.config.partitions * this.deps.config.regions.length, parts),
      },
    };
  }

  private async region(region: string, pipeline: PipelineState): Promise<RegionStatus> {
    const database = regionDatabase(this.deps.config, region);
    const [[tables, counted], archive] = await Promise.all([
      orUnavailable('STORE_UNAVAILABLE', `analytics store query failed (${region})`, () =>
        Promise.all([tableStats(this.deps.store, database), this.deps.store.query<{ events: number | string }>(EVENT_COUNT_SQL, { db: database })]),
      ),
      orUnavailable('OBJECT_STORE_UNAVAILABLE', `raw archive listing failed (${region})`, () => this.archive(region)),
    ]);
    const events = Number(counted[0]?.events ?? 0);
    const eventsTable = tables.find((t) => t.table === 'events');
    const bytes = tables.reduce((s, t) => s + t.bytes, 0);
    return {
      region,
      database,
      events,
      readings: eventsTable?.rows ?? 0,
      clickhouse: {
        rows: tables.reduce((s, t) => s + t.rows, 0),
        bytes,
        tables: tables.map((t) => ({ table: t.table, rows: t.rows, bytes: t.bytes, uncompressed_bytes: t.uncompressedBytes, parts: t.parts })),
      },
      archive,
      bytes_per_event: bytesPerEvent(archive.bytes, eventsTable?.bytes ?? 0, bytes, events),
      pipeline,
    };
  }

  /** Objects and bytes under archivePrefix(region); a directory store is listed one date folder at a time. */
  private async archive(region: string): Promise<{ objects: number; bytes: number }> {
    const { objects } = this.deps;
    const total = { objects: 0, bytes: 0 };
    const add = (listed: readonly ObjectInfo[]): void => {
      total.objects += listed.length;
      for (const o of listed) total.bytes += o.size;
    };
    if (objects instanceof DirObjectStore) {
      for (const folder of await archiveFolders(objects)) if (folder.region === region) add(await objects.list(folder.prefix));
    } else {
      add(await objects.list(archivePrefix(region)));
    }
    return total;
  }
}
