/**
 * The sinks: ClickHouse (embedded chDB or a server), the raw Parquet archive and its object
 * stores. Re-exports by name.
 */
export type { AnalyticsStore, AnalyticsTable, EncodedInsert, EncodeBatch } from './analytics-store.js';
export type { ObjectInfo, ObjectStore } from './object-store.js';
export { encodeBatch, encodeReadingRow, encodeWindowPartial } from './batch-encoder.js';
export { DEDUP_WINDOW, INSERT_COLUMNS, insertTarget, schemaStatements, type SchemaTtl } from './clickhouse-schema.js';
export { ChdbStore, type StoreOperation } from './chdb-store.js';
export { registerChdbOperationStats } from './chdb-operation-stats.js';
export { MergeStats } from './merge-stats.js';
export { ClickHouseServerStore } from './clickhouse-server-store.js';
export { ClickHouseServerTransport, type ClickHouseServerOptions, type RawInsert } from './clickhouse-server-transport.js';
export {
  queryEvents,
  queryRollups,
  tableStats,
  tallyStoredEvents,
  tallyRolledUp,
  type HourTally,
  type EventRow,
  type EventsQuery,
  type RollupRow,
  type RollupStep,
  type TableStats,
} from './queries.js';
export {
  archiveKey,
  archiveObjects,
  archivePrefix,
  encodeArchive,
  eventDate,
  parseArchiveKey,
  readArchiveObject,
  sortableStreamId,
  type ArchiveKeyParts,
  type ArchiveObject,
} from './raw-archive.js';
export { DirObjectStore } from './dir-object-store.js';
export { S3ObjectStore, type S3ObjectStoreOptions } from './s3-object-store.js';
export { createAnalyticsStore, createObjectStore } from './sink-factory.js';
export {
  ArchiveReplayer,
  openPiscinaParser,
  replayDates,
  replayStoreOf,
  type ArchiveParser,
  type ArchiveReplayerDeps,
  type ReplayInto,
  type ReplayProgress,
  type ReplayRequest,
  type ReplayStore,
} from './archive-replayer.js';
export { ArchiveJanitor, startArchiveRetention, type SweepResult } from './archive-janitor.js';
export { S3Lifecycle, type LifecycleResult } from './s3-lifecycle.js';
