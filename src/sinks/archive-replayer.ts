/**
 * ArchiveReplayer (`shoal replay`): rebuilds a region's ClickHouse `events` and rollups for a
 * range of UTC event dates from the raw archive.
 *
 *   per date D:  list raw/region=R/event_date=D/…  (sorted: partition, then offset order)
 *                [rebuild] DROP PARTITION D of events; DELETE D's windows of rollup_1m/_1h
 *                per partition: parse objects (piscina threads, in order, a few ahead)
 *                  → drop repeated (event_id, reading_index)  → chunks of `chunkRows` readings
 *                  → each chunk: its rows + its 1m/1h partials (WindowAggregator, weighted)
 *                  → encodeBatch → three inserts with deterministic tokens
 *
 * Duplicates: a device always maps to one partition, so deduplicating per (date, partition)
 * is deduplicating per date. A duplicate that came back after the live dedup horizon was
 * counted twice in the live rollups; the replay counts it once.
 *
 * Tokens: `replay/R/D/pP/chunk/table/sha256(body)`, never equal to a live flush's token.
 *  - `live`: nothing is deleted; the rows add to what is stored, so use it only for a date that
 *    is missing. Run again, its inserts repeat their tokens and ClickHouse drops them.
 *  - `rebuild`: the tokens also carry the run id. ClickHouse keeps the tokens of deleted rows,
 *    so a second rebuild reusing them would have its inserts dropped after the delete and
 *    leave the date empty. A retried insert within the run repeats its token and is dropped;
 *    a second run deletes and re-inserts the same content: the same result.
 * A date that still receives live flushes while it is rebuilt can lose or double-count the
 * readings flushed between the listing and the delete: rebuild dates that are quiet.
 *
 * Memory: the (event_id, reading_index) keys of one (date, partition) and one chunk of rows.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { MINUTE_MS, WindowAggregator } from '../actors/window-aggregator.js';
import type { Config } from '../config.js';
import { regionDatabase } from '../config.js';
import type { ReadingRow } from '../contracts/canonical-event.js';
import { ShoalError, errorMessage } from '../errors.js';
import type { AnalyticsStore, EncodedInsert } from './analytics-store.js';
import type { ParseTask } from './archive-parse-worker.js';
import { encodeBatch } from './batch-encoder.js';
import { assertIdentifier } from './clickhouse-schema.js';
import type { ObjectStore } from './object-store.js';
import { DAY_MS, archivePrefix, parseArchiveKey } from './raw-archive.js';

export type ReplayInto = 'rebuild' | 'live';

export interface ReplayRequest {
  region: string;
  /** First UTC event date, YYYY-MM-DD. */
  from: string;
  /** Last UTC event date (inclusive), YYYY-MM-DD. */
  to: string;
  into: ReplayInto;
}

export interface ReplayProgress {
  objectsTotal: number;
  objectsDone: number;
  /** Readings inserted into `events` (each (event_id, reading_index) once per date). */
  rows: number;
  /** Readings skipped because their (event_id, reading_index) was already replayed. */
  duplicates: number;
  /** Dates finished. */
  datesDone: number;
}

/** Parses archive objects for one run; closed when the run ends. */
export interface ArchiveParser {
  parse(body: Uint8Array): Promise<ReadingRow[]>;
  close(): Promise<void>;
}

/** What the replay needs of the analytics store: inserts and row-less statements. */
export type ReplayStore = Pick<AnalyticsStore, 'insert'> & { command(sql: string): Promise<void> };

export interface ArchiveReplayerDeps {
  config: Pick<Config, 'clickhouse'>;
  store: ReplayStore;
  objects: Pick<ObjectStore, 'list' | 'get'>;
  /** Opened on the first object of a run. Default: a piscina pool over archive-parse-worker.js. */
  openParser?: () => ArchiveParser;
  /** Readings per insert chunk. Default 50,000. */
  chunkRows?: number;
  /** Pause before retrying a failed insert (same token), ms. Default 500 (doubling, 3 tries). */
  retryDelayMs?: number;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
/** Objects parsed ahead of the one being folded in. */
const PARSE_AHEAD = 4;
const INSERT_ATTEMPTS = 3;

/** The UTC dates from..to inclusive, or a message saying what is wrong with them. */
export function replayDates(from: string, to: string): string[] | string {
  const start = parseDate(from);
  const end = parseDate(to);
  if (start === null) return `from: must be a date YYYY-MM-DD, got ${JSON.stringify(from)}`;
  if (end === null) return `to: must be a date YYYY-MM-DD, got ${JSON.stringify(to)}`;
  if (end < start) return 'from: must not be later than to';
  const dates: string[] = [];
  for (let t = start; t <= end; t += DAY_MS) dates.push(new Date(t).toISOString().slice(0, 10));
  return dates;
}

function parseDate(text: string): number | null {
  if (!DATE.test(text)) return null;
  const ms = Date.parse(`${text}T00:00:00Z`);
  return Number.isFinite(ms) && new Date(ms).toISOString().startsWith(text) ? ms : null;
}

/** A piscina pool of 1–2 threads decoding objects; each body's buffer is transferred. */
export function openPiscinaParser(): ArchiveParser {
  const pool = new Piscina<ParseTask, ReadingRow[]>({
    filename: new URL('./archive-parse-worker.js', import.meta.url).href,
    minThreads: 1,
    // One thread on two cores (the main thread and the shards need the other), two above.
    maxThreads: Math.max(1, Math.min(2, availableParallelism() - 1)),
  });
  return {
    parse: (body) => {
      const own = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength ? body : body.slice();
      return pool.run({ body: own }, { transferList: [own.buffer as ArrayBuffer] });
    },
    close: () => pool.destroy(),
  };
}

/** The store as the replay needs it, or null when it cannot run statements. */
export function replayStoreOf(store: AnalyticsStore): ReplayStore | null {
  const command = store.command?.bind(store);
  return command ? { insert: (region, ins, token) => store.insert(region, ins, token), command } : null;
}

export class ArchiveReplayer {
  private readonly chunkRows: number;

  constructor(private readonly deps: ArchiveReplayerDeps) {
    this.chunkRows = deps.chunkRows ?? 50_000;
  }

  /**
   * Replay `request` (dates already checked with replayDates). `runId` salts rebuild tokens;
   * `onProgress` sees the counters after every object. Rejects on the first failure
   * (a rebuilt date may then be partly inserted: run it again).
   */
  async run(request: ReplayRequest, runId: string, onProgress: (p: ReplayProgress) => void, signal?: AbortSignal): Promise<ReplayProgress> {
    const dates = replayDates(request.from, request.to);
    if (typeof dates === 'string') throw new ShoalError('BAD_REQUEST', dates);
    const progress: ReplayProgress = { objectsTotal: 0, objectsDone: 0, rows: 0, duplicates: 0, datesDone: 0 };
    const listed = new Map<string, string[]>();
    for (const date of dates) {
      const keys = await this.list(request.region, date);
      listed.set(date, keys);
      progress.objectsTotal += keys.length;
    }
    onProgress({ ...progress });
    const lazy: { parser?: ArchiveParser } = {};
    const parse = (body: Uint8Array): Promise<ReadingRow[]> => (lazy.parser ??= (this.deps.openParser ?? openPiscinaParser)()).parse(body);
    try {
      for (const date of dates) {
        // Listed again right before the delete, so the listing is as fresh as it can be.
        const keys = await this.list(request.region, date);
        progress.objectsTotal += keys.length - (listed.get(date)?.length ?? 0);
        if (request.into === 'rebuild') await this.deleteDate(request.region, date);
        const tokenSuffix = request.into === 'rebuild' ? `/${runId}` : '';
        for (const [partition, partKeys] of byPartition(keys)) {
          const tokenBase = `replay/${request.region}/${date}/p${partition}`;
          await this.replayPartition(request.region, partKeys, parse, (chunk, ins) => `${tokenBase}/${chunk}/${ins.table}/${sha256(ins.body)}${tokenSuffix}`, progress, onProgress, signal);
        }
        progress.datesDone += 1;
        onProgress({ ...progress });
      }
    } finally {
      await lazy.parser?.close().catch(() => undefined);
    }
    return progress;
  }

  private async list(region: string, date: string): Promise<string[]> {
    const infos = await this.deps.objects.list(archivePrefix(region, date));
    return infos
      .map((o) => o.key)
      .filter((k) => parseArchiveKey(k)?.region === region)
      .sort();
  }

  /** Remove what ClickHouse holds for `date`: the events partition and the date's windows. */
  private async deleteDate(region: string, date: string): Promise<void> {
    const db = assertIdentifier(regionDatabase(this.deps.config, region));
    await this.deps.store.command(`ALTER TABLE ${db}.events DROP PARTITION '${date}'`);
    for (const table of ['rollup_1m', 'rollup_1h']) {
      await this.deps.store.command(`ALTER TABLE ${db}.${table} DELETE WHERE toDate(window_start) = '${date}' SETTINGS mutations_sync = 2`);
    }
  }

  private async replayPartition(
    region: string,
    keys: readonly string[],
    parse: (body: Uint8Array) => Promise<ReadingRow[]>,
    token: (chunk: number, ins: EncodedInsert) => string,
    progress: ReplayProgress,
    onProgress: (p: ReplayProgress) => void,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const seen = new Set<string>();
    // Minute partials only: they also feed rollup_1h inside ClickHouse (clickhouse-schema.ts).
    const minutes = new WindowAggregator(MINUTE_MS);
    let rows: ReadingRow[] = [];
    let chunk = 0;
    const flush = async (): Promise<void> => {
      if (rows.length === 0) return;
      const batch = { rows, rollup1m: minutes.drain() };
      for (const ins of encodeBatch(batch)) await this.insert(region, ins, token(chunk, ins));
      progress.rows += rows.length;
      rows = [];
      chunk += 1;
    };
    const ahead: Promise<ReadingRow[]>[] = [];
    const start = (i: number): void => {
      const key = keys[i];
      if (key === undefined) return;
      const parsed = this.fetch(key).then(parse);
      parsed.catch(() => undefined); // awaited in order below; never an unhandled rejection
      ahead.push(parsed);
    };
    for (let i = 0; i < PARSE_AHEAD; i++) start(i);
    for (let i = 0; i < keys.length; i++) {
      if (signal?.aborted) throw new ShoalError('REPLAY_ABORTED', 'the replay was stopped (shoal is shutting down)');
      const objectRows = await ahead.shift()!;
      start(i + PARSE_AHEAD);
      for (const row of objectRows) {
        const id = `${row.eventId}/${row.readingIndex}`;
        if (seen.has(id)) {
          progress.duplicates += 1;
          continue;
        }
        seen.add(id);
        rows.push(row);
        minutes.add(row.deviceId, row.sensorType, row.eventTime, row.value, row.weight);
        if (rows.length >= this.chunkRows) await flush();
      }
      progress.objectsDone += 1;
      onProgress({ ...progress });
    }
    await flush();
    onProgress({ ...progress });
  }

  private async fetch(key: string): Promise<Uint8Array> {
    const body = await this.deps.objects.get(key);
    if (body === null) throw new ShoalError('REPLAY_OBJECT_MISSING', `archive object ${key} disappeared while replaying`);
    return body;
  }

  /** Insert with up to INSERT_ATTEMPTS tries under one token: a retry of a landed insert is dropped. */
  private async insert(region: string, ins: EncodedInsert, token: string): Promise<void> {
    let delay = this.deps.retryDelayMs ?? 500;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.deps.store.insert(region, ins, token);
        return;
      } catch (err) {
        if (attempt >= INSERT_ATTEMPTS) throw new ShoalError('REPLAY_INSERT_FAILED', `insert into ${ins.table} failed ${attempt} times: ${errorMessage(err)}`, { cause: err });
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay *= 2;
    }
  }
}

/** Keys grouped by archive partition, partitions in ascending order, keys in offset order. */
function byPartition(keys: readonly string[]): [number, string[]][] {
  const groups = new Map<number, string[]>();
  for (const key of keys) {
    const p = parseArchiveKey(key)!.partition;
    let group = groups.get(p);
    if (!group) groups.set(p, (group = []));
    group.push(key);
  }
  return [...groups.entries()].sort((a, b) => a[0] - b[0]);
}

function sha256(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex').slice(0, 32);
}
