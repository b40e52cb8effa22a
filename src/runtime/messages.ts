/**
 * The worker-thread protocol: every message between the main thread and a shard thread.
 *
 *   main → shard   ShardInit (workerData), StopShard, StoreReply
 *   shard → main   ShardReady, StoreInsert, StoreArchive, StoreQuery, ShardStats, ShardStopped, ShardFatal
 *
 * chDB binds one data directory per process and must live in one thread, so with the
 * embedded store a shard spools its encoded inserts to files of the store's spool directory
 * and sends their names to the main thread (StoreInsert, StoreArchive), then waits for the
 * StoreReply before it checkpoints. The few reads a shard makes (checking a re-run flush's
 * rollups) go the same way (StoreQuery, rows in the reply).
 */
import type { Dropout } from '../actors/dropout-tracker.js';
import type { Config } from '../config.js';
import type { AnalyticsTable, EncodedInsert } from '../sinks/analytics-store.js';
import type { PartitionRef } from './partitioning.js';

export interface ShardInit {
  shard: number;
  /** Owner epoch of the shard's partitions: a restarted shard takes a new one. */
  epoch: number;
  /** Times this shard's thread was started before (0 at the pipeline's start). */
  incarnation: number;
  redisUrl: string;
  partitions: PartitionRef[];
  config: Config;
  /** Set when the analytics store is embedded: inserts go through the main thread, their
   *  bodies spooled to files of this directory (ChdbStore.spoolDir). */
  proxyStore: { spoolDir: string } | null;
}

export interface StopShard {
  type: 'stop';
  /** Flush and checkpoint what is held before exiting (false: exit at once). */
  flush: boolean;
}

export interface StoreReply {
  type: 'store-reply';
  id: number;
  error: { message: string; code: string } | null;
  /** The rows of a StoreQuery. */
  rows?: unknown[];
}

export type MainToShard = StopShard | StoreReply;

export interface ShardReady {
  type: 'ready';
  shard: number;
}

/** Insert a body the shard spooled to `file` (ChdbStore.insertSpooled). */
export interface StoreInsert {
  type: 'store-insert';
  id: number;
  region: string;
  table: AnalyticsTable;
  format: EncodedInsert['format'];
  rows: number;
  file: string;
  token: string;
}

/** Encode a flush's archive from its events insert, spooled to `file`
 *  (ChdbStore.archiveParquetSpooled); the reply's rows are the objects' bodies (Uint8Array),
 *  one per day. */
export interface StoreArchive {
  type: 'store-archive';
  id: number;
  file: string;
  rows: number;
  days: number[];
}

export interface StoreQuery {
  type: 'store-query';
  id: number;
  sql: string;
  params: Record<string, unknown>;
}

export interface PartitionStatus {
  region: string;
  partition: number;
  committed: string;
  flushSeq: number;
  pendingEvents: number;
  activeActors: number;
  fenced: boolean;
  lastError: string | null;
  /** Devices flagged as dropped out, worst first, at most 100. */
  dropouts: Dropout[];
}

export interface ShardStats {
  type: 'stats';
  shard: number;
  /** prom-client `getMetricsAsJSON()` of the shard's registry, for aggregation. */
  metrics: unknown[];
  partitions: PartitionStatus[];
}

export interface ShardStopped {
  type: 'stopped';
  shard: number;
}

export interface ShardFatal {
  type: 'fatal';
  shard: number;
  message: string;
}

export type ShardToMain = ShardReady | StoreInsert | StoreArchive | StoreQuery | ShardStats | ShardStopped | ShardFatal;
