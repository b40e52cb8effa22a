/**
 * The embedded analytics store: chDB Sessions (in-process ClickHouse) over a data directory,
 * CONNECTIONS of them, each operation on the least busy one.
 *
 * chDB binds one data directory per process and crashes when two threads open sessions, so the
 * sessions are opened only on the main thread, for one directory at a time per process, and
 * lazily (on the first call), so that constructing a ChdbStore or importing this module loads
 * nothing.
 * Inserts go through chDB's raw Buffer insert with the dedup token as a per-insert setting
 * (never a session-level SET, which would leak into later inserts).
 *
 * RowBinary bodies (what flushes send: ClickHouse parses them ~25× faster than TabSeparated)
 * cannot go inline, since chDB's Node API takes only text formats there. They are spooled to
 * a file under `<dir>/insert-spool/` and read with `INSERT … SELECT * FROM file(…)`, which
 * carries the dedup token the same way, also through the rollup views; the file is removed
 * once the insert returns, and leftovers of a crash when the store opens. Shard threads write
 * their bodies into the same directory themselves and pass the file (insertSpooled,
 * archiveParquetSpooled; see StoreProxy).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import type { Session } from 'chdb';
import type { Config } from '../config.js';
import { regionDatabase } from '../config.js';
import { SinkError, errorMessage } from '../errors.js';
import type { AnalyticsStore, EncodedInsert } from './analytics-store.js';
import { INSERT_COLUMNS, insertStructure, insertTarget, schemaStatements } from './clickhouse-schema.js';
import { DAY_MS } from './raw-archive.js';
import { parseJsonEachRow } from './json-each-row.js';

const SINK = 'chdb';

/** An insert whose body is spooled to a file of ChdbStore.spoolDir instead of held in memory. */
export type SpooledInsert = Omit<EncodedInsert, 'body'> & { file: string };

/**
 * Connections (Sessions) opened to the data directory. chDB runs the queries of one
 * connection one at a time, so with a single one every partition's inserts and archive
 * encodings queued behind each other: at 50k events/s a flush's archive waited 350 ms (p50)
 * for about 15 ms of work. Queries with bound parameters (reads) stay serialised process-wide
 * by chDB itself.
 */
const CONNECTIONS = 4;
/**
 * One background thread for merges (chDB's default is 2). Minutes into a run at 50k events/s
 * the events tables of both regions merge their first ~100 MB parts at once, and two merge
 * threads then took both cores for seconds: every insert, archive encoding and shard waited,
 * and flushes took 1–2.5 s (the tail of p99 visibility). One thread does the same merges one
 * after the other; merges average ~0.15 cores, far below what one thread can do.
 */
const SERVER_ARGS = ['--background_pool_size=1'];

/**
 * Background merges cost about half of chDB's CPU per event with the default merge selector
 * (a flush makes a part in each of the three tables every second). A larger base merges
 * more parts at once and so rewrites each row fewer times: 10.9 → 8.6 µs of chDB CPU per
 * event over 60 s of flushes at 20k events/s (isolated benchmark), with about 20 active parts
 * a table instead of 5–8 (far below ClickHouse's insert throttles). Not a setting ClickHouse
 * 18.16 knows, so the server store keeps its defaults.
 */
const MERGE_SELECTOR_BASE = 20;
const MERGED_TABLES = ['events', 'rollup_1m', 'rollup_1h'] as const;
/**
 * The most parts one rollup merge reads (ClickHouse's default is 100). AggregatingMergeTree
 * merges horizontally, every column of every part at once, and with the larger selector base
 * above a rollup merge took 17–24 parts and held 70–125 MB, two at a time: most of chDB's
 * memory in a soak. At most 8 parts held 83–105 MB at the peak instead of 161–167 (all three
 * writes, 200 flushes of 12,500 events over 25,000 devices), CPU per flush within the noise
 * (255/299 ms against 262/286). The events table merges vertically (15–46 MB) and keeps it.
 */
const ROLLUP_MAX_PARTS_PER_MERGE = 8;

/** The directory of the sessions open in this process, if any. */
let openDir: string | null = null;

/**
 * The archive's columns (raw-archive.ts) from the events insert's: ids as text, small
 * integers as INT32, seq as a nullable INT64, times as millisecond timestamps.
 */
const ARCHIVE_COLUMNS = `toString(event_id) AS event_id, toInt32(reading_index) AS reading_index, device_id, region,
  event_time, ingest_time, sensor_type, value, toInt32(weight) AS weight, unit, firmware_version,
  toInt32(schema_version) AS schema_version, toInt64(seq) AS seq, toInt32(partition) AS partition, stream_id`;

/**
 * One thread (rows stay in insert order), Brotli (what the archive reader decompresses),
 * strings annotated as UTF-8, one row group, and no bloom filters or page indexes: an object
 * holds one partition's flush of one day, read whole (they cost 20 % more CPU and 9 % more
 * bytes, measured).
 */
const ARCHIVE_SETTINGS = `max_threads = 1, output_format_parquet_compression_method = 'brotli',
  output_format_parquet_string_as_string = 1, output_format_parquet_row_group_size = 1000000,
  output_format_parquet_write_bloom_filter = 0, output_format_parquet_write_page_index = 0`;

/** A ClickHouse string literal. */
function sqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** What a ChdbStore operation was, for onOperation. */
export type StoreOperation = 'insert' | 'archive' | 'query' | 'command';

export class ChdbStore implements AnalyticsStore {
  readonly kind = 'chdb' as const;
  readonly insertFormat = 'RowBinary' as const;
  /**
   * Told of every operation when it ends, failed or not: its kind, its seconds from the call
   * (waiting for a connection and for chDB included), and whether it was queued behind another
   * on its connection. How long a flush's inserts and archive take in chDB, apart from the
   * shard's side of the flush (StoreProxy, the object store, Redis).
   */
  onOperation: ((kind: StoreOperation, seconds: number, queued: boolean) => void) | null = null;
  private sessions: Promise<Session[]> | null = null;
  /** Operations running on each connection (the least busy one takes the next). */
  private readonly busy: number[] = new Array<number>(CONNECTIONS).fill(0);
  private closed = false;
  private spooled = 0;

  /** A store over `dir` (created if missing); nothing is opened until the first call. */
  constructor(
    readonly dir: string,
    private readonly config: Pick<Config, 'clickhouse'>,
  ) {}

  async init(regions: readonly string[]): Promise<void> {
    for (const region of regions) {
      const db = regionDatabase(this.config, region);
      for (const sql of schemaStatements(db, this.config.clickhouse)) await this.command(sql);
      for (const table of MERGED_TABLES) {
        const partsPerMerge = table === 'events' ? '' : `, max_parts_to_merge_at_once = ${ROLLUP_MAX_PARTS_PER_MERGE}`;
        await this.command(`ALTER TABLE ${db}.${table} MODIFY SETTING merge_selector_base = ${MERGE_SELECTOR_BASE}${partsPerMerge}`);
      }
    }
  }

  async insert(region: string, insert: EncodedInsert, token: string): Promise<void> {
    if (insert.rows === 0) return;
    if (insert.format === 'RowBinary') return this.withSpooledBody(insert, (file) => this.insertSpooled(region, { ...insert, file }, token));
    const table = `${regionDatabase(this.config, region)}.${insertTarget(insert.table)}`;
    return this.withSession('insert', (session) => this.insertInline(session, table, insert, token));
  }

  private async insertInline(session: Session, table: string, insert: EncodedInsert, token: string): Promise<void> {
    const body = insert.body;
    try {
      await session.insert({
        table,
        values: Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
        format: insert.format as Exclude<EncodedInsert['format'], 'RowBinary'>,
        columns: INSERT_COLUMNS[insert.table],
        // A synchronous insert: visible when the promise settles, deduplicated by its token.
        settings: { insert_deduplication_token: token, async_insert: 0 },
      });
    } catch (err) {
      throw new SinkError(SINK, `insert into ${table} failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /**
   * insert() of a body already spooled to a file of spoolDir (by a shard thread: StoreProxy),
   * read with `INSERT … SELECT * FROM file(…)`. The caller owns the file and removes it.
   */
  async insertSpooled(region: string, spool: SpooledInsert, token: string): Promise<void> {
    if (spool.rows === 0) return;
    const table = `${regionDatabase(this.config, region)}.${insertTarget(spool.table)}`;
    const sql =
      `INSERT INTO ${table} (${INSERT_COLUMNS[spool.table].join(', ')}) ` +
      `SETTINGS insert_deduplication_token = ${sqlString(token)}, async_insert = 0, optimize_on_insert = 0 ` +
      `SELECT * FROM ${this.spooledSource(spool)}`;
    try {
      // A synchronous insert: visible when the promise settles, deduplicated by its token.
      // optimize_on_insert = 0: rows of one key in one insert are not collapsed (events) or
      // merged (rollups) at insert time; every read is FINAL or aggregates anyway, and merges
      // do it later. ~7 % less chDB CPU per event (isolated benchmark, 8 runs each).
      await this.withSession('insert', (session) => session.queryAsync(sql, { format: 'TabSeparated' }));
    } catch (err) {
      throw new SinkError(SINK, `insert into ${table} failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /**
   * The raw archive of an events insert, one Parquet object per day of `days` (see
   * AnalyticsStore.archiveParquet), written by ClickHouse from the spooled RowBinary body.
   */
  async archiveParquet(insert: EncodedInsert, days: readonly number[]): Promise<Uint8Array[]> {
    return this.withSpooledBody(insert, (file) => this.archiveParquetSpooled({ ...insert, file }, days));
  }

  /** archiveParquet() of a body already spooled to a file of spoolDir; the caller owns the file. */
  async archiveParquetSpooled(spool: SpooledInsert, days: readonly number[]): Promise<Uint8Array[]> {
    if (spool.table !== 'events' || spool.format !== 'RowBinary') {
      throw new SinkError(SINK, `the archive is encoded from a RowBinary events insert, got ${spool.format} ${spool.table}`);
    }
    for (const day of days) if (!Number.isSafeInteger(day)) throw new SinkError(SINK, `not a day number: ${day}`);
    const source = this.spooledSource(spool);
    try {
      return await this.withSession('archive', async (session) => {
        const bodies: Uint8Array[] = [];
        for (const day of days) {
          // A flush spans one day but around midnight (or with late events): split by day.
          const where = days.length > 1 ? `WHERE intDiv(toUnixTimestamp64Milli(event_time), ${DAY_MS}) = ${day}` : '';
          const result = await session.queryAsync(`SELECT ${ARCHIVE_COLUMNS} FROM ${source} ${where} SETTINGS ${ARCHIVE_SETTINGS}`, { format: 'Parquet' });
          bodies.push(result.bytes());
        }
        return bodies;
      });
    } catch (err) {
      throw new SinkError(SINK, `encoding the archive failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /**
   * Where bodies are spooled to be read by file(): this store's own (insert, archiveParquet)
   * and the shards' (insertSpooled, archiveParquetSpooled). Emptied when the store opens.
   */
  get spoolDir(): string {
    return join(this.dir, 'insert-spool');
  }

  /** `file(…)` reading a spooled body; refuses a path outside spoolDir. */
  private spooledSource(spool: SpooledInsert): string {
    const file = resolve(spool.file);
    if (dirname(file) !== resolve(this.spoolDir)) throw new SinkError(SINK, `not a spooled body of this store: ${spool.file}`);
    return `file(${sqlString(file)}, ${sqlString(spool.format)}, ${sqlString(insertStructure(spool.table))})`;
  }

  /** Run `op` on `insert`'s body spooled to a file of spoolDir, removed after. */
  private async withSpooledBody<T>(insert: EncodedInsert, op: (file: string) => Promise<T>): Promise<T> {
    const file = join(this.spoolDir, `${process.pid}-${++this.spooled}.${insert.format}`);
    try {
      try {
        await writeFile(file, insert.body);
      } catch (err) {
        throw new SinkError(SINK, `cannot spool a ${insert.table} body: ${errorMessage(err)}`, { cause: err });
      }
      return await op(file);
    } finally {
      await rm(file, { force: true });
    }
  }

  async query<T = Record<string, unknown>>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> {
    try {
      const result = await this.withSession('query', (session) => session.queryBindAsync(sql, params, { format: 'JSONEachRow' }));
      return parseJsonEachRow<T>(result.text());
    } catch (err) {
      throw new SinkError(SINK, `query failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Run a statement that returns no rows (DDL, OPTIMIZE, ALTER). */
  async command(sql: string): Promise<void> {
    try {
      await this.withSession('command', (session) => session.queryAsync(sql, { format: 'TabSeparated' }));
    } catch (err) {
      throw new SinkError(SINK, `statement failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  async ping(): Promise<boolean> {
    try {
      await this.command('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pending = this.sessions;
    this.sessions = null;
    if (pending === null) return;
    try {
      for (const session of await pending) session.close();
      openDir = null;
    } catch {
      // It never opened: nothing to release (open() already freed the slot).
    }
  }

  /** Run `op` on the least busy connection; its time goes to onOperation when it ends. */
  private async withSession<T>(kind: StoreOperation, op: (session: Session) => Promise<T>): Promise<T> {
    const started = performance.now();
    const sessions = await this.open();
    let pick = 0;
    for (let i = 1; i < sessions.length; i++) if ((this.busy[i] as number) < (this.busy[pick] as number)) pick = i;
    this.busy[pick] = (this.busy[pick] as number) + 1;
    const queued = (this.busy[pick] as number) > 1;
    try {
      return await op(sessions[pick] as Session);
    } finally {
      this.busy[pick] = (this.busy[pick] as number) - 1;
      this.onOperation?.(kind, (performance.now() - started) / 1000, queued);
    }
  }

  private open(): Promise<Session[]> {
    if (this.closed) return Promise.reject(new SinkError(SINK, 'the store is closed'));
    this.sessions ??= this.openSessions().catch((err: unknown) => {
      this.sessions = null; // let a later call try again
      throw err;
    });
    return this.sessions;
  }

  private async openSessions(): Promise<Session[]> {
    if (!isMainThread) throw new SinkError(SINK, 'chDB may only be opened on the main thread');
    if (openDir !== null) throw new SinkError(SINK, `a chDB store is already open in this process (${openDir})`);
    openDir = this.dir;
    const sessions: Session[] = [];
    try {
      // Bodies spooled by a process that crashed mid-insert: never read again.
      rmSync(this.spoolDir, { recursive: true, force: true });
      mkdirSync(this.spoolDir, { recursive: true });
      const { Session: SessionClass } = await import('chdb');
      // Connections to one directory share its databases and run their queries in parallel.
      for (let i = 0; i < CONNECTIONS; i++) sessions.push(new SessionClass(this.dir, { connectionArgs: SERVER_ARGS }));
      return sessions;
    } catch (err) {
      for (const session of sessions) session.close();
      openDir = null;
      throw new SinkError(SINK, `cannot open chDB in ${this.dir}: ${errorMessage(err)}`, { cause: err });
    }
  }
}
