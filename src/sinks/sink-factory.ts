/**
 * Build the configured sinks: the analytics store (embedded chDB in <dataDir>/clickhouse unless
 * clickhouse.url names a server) and the object store (a directory unless objectStore.kind is s3).
 */
import { join } from 'node:path';
import type { Config } from '../config.js';
import { ConfigError } from '../errors.js';
import type { AnalyticsStore } from './analytics-store.js';
import { ChdbStore } from './chdb-store.js';
import { ClickHouseServerStore } from './clickhouse-server-store.js';
import { DirObjectStore } from './dir-object-store.js';
import type { ObjectStore } from './object-store.js';
import { S3ObjectStore } from './s3-object-store.js';

/** The analytics store of `config`. A chDB store opens lazily, on the main thread only. */
export function createAnalyticsStore(config: Pick<Config, 'clickhouse' | 'dataDir'>): AnalyticsStore {
  if (config.clickhouse.url !== undefined) return new ClickHouseServerStore(config);
  return new ChdbStore(join(config.dataDir, 'clickhouse'), config);
}

/** The raw archive's object store of `config`. */
export function createObjectStore(config: Pick<Config, 'objectStore'>): ObjectStore {
  const { kind, dir, s3 } = config.objectStore;
  if (kind === 'dir') return new DirObjectStore(dir);
  if (s3 === undefined) throw new ConfigError(['objectStore.s3.bucket: required when objectStore.kind is s3']);
  return new S3ObjectStore(s3);
}
