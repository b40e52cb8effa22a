/**
 * The analytics store: ClickHouse, embedded (chDB) or a server (@clickhouse/client), with
 * the same DDL and SQL. One database per region (regionDatabase()).
 */
import type { FlushBatch } from '../actors/types.js';

/**
 * Insert targets. `rollup_1m` partials also feed `rollup_1h` (a view); `rollup_1h` takes hour
 * partials for the hour table alone; `rollup_1m_repair` takes minute partials for the minute
 * table alone (a re-run flush whose minute partials were lost there: see PartitionProcessor).
 */
export type AnalyticsTable = 'events' | 'rollup_1m' | 'rollup_1h' | 'rollup_1m_repair';

/** Insert body formats the encoder writes (batch-encoder.ts). */
export type InsertFormat = 'TabSeparated' | 'RowBinary';

export interface EncodedInsert {
  /** Logical table; the columns are INSERT_COLUMNS[table] and rollups are physically inserted
   *  into `<table>_input` (both in clickhouse-schema.ts). */
  table: AnalyticsTable;
  /** Payload in `format`, byte-identical for identical input. */
  body: Uint8Array;
  format: 'JSONEachRow' | InsertFormat;
  rows: number;
}

export interface AnalyticsStore {
  readonly kind: 'chdb' | 'server';
  /** The body format this store parses fastest; flushes are encoded in it. Default TabSeparated. */
  readonly insertFormat?: InsertFormat;
  /** Create databases and tables for these regions (idempotent). */
  init(regions: readonly string[]): Promise<void>;
  /**
   * Insert an encoded payload into a region's table. `token` is the insert deduplication
   * token: a retried insert with the same token and bytes is dropped by ClickHouse.
   */
  insert(region: string, insert: EncodedInsert, token: string): Promise<void>;
  /** Run a read query; rows as objects (JSONEachRow). Params use ClickHouse {name:Type} binding. */
  query<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
  /**
   * Run a statement that returns no rows (DDL, ALTER … DELETE, DROP PARTITION). Optional: the
   * archive replay needs it and refuses a store without it; read-only or proxy stores omit it
   * or reject.
   */
  command?(sql: string): Promise<void>;
  /**
   * Optional: the raw archive of an events insert (RowBinary, INSERT_COLUMNS.events) as
   * Parquet, one object per UTC day of `days` (epoch day numbers, ascending), each holding
   * that day's rows in insert order, in the archive's schema (raw-archive.ts). The embedded
   * store has ClickHouse's own Parquet writer do it; without this method a flush encodes its
   * archive in JavaScript.
   */
  archiveParquet?(insert: EncodedInsert, days: readonly number[]): Promise<Uint8Array[]>;
  /** True when the store answers. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** Encode a flush batch into the three inserts (events, rollup_1m, rollup_1h). */
export type EncodeBatch = (batch: Pick<FlushBatch, 'rows' | 'rollup1m'>) => EncodedInsert[];
