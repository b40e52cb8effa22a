/**
 * Sink fault injection, for fault tests only. Off unless SHOAL_FAULTS_DIR is set: then, while
 * a file named `clickhouse-down` (or `object-store-down`) exists in that directory, every
 * analytics insert (or object write) of a flush fails like an unreachable sink would. Tests
 * create and remove the files to open and close an outage window against the real process.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SinkError } from '../errors.js';
import type { AnalyticsStore, EncodedInsert } from '../sinks/analytics-store.js';
import type { ObjectInfo, ObjectStore } from '../sinks/object-store.js';

class FaultyAnalyticsStore implements AnalyticsStore {
  /** The inner store's archive encoder, if it has one: encoding is not a sink write, it never fails here. */
  readonly archiveParquet?: (insert: EncodedInsert, days: readonly number[]) => Promise<Uint8Array[]>;

  constructor(
    private readonly inner: AnalyticsStore,
    private readonly down: () => boolean,
  ) {
    if (inner.archiveParquet) this.archiveParquet = (insert, days) => inner.archiveParquet!(insert, days);
  }
  get kind(): AnalyticsStore['kind'] {
    return this.inner.kind;
  }

  get insertFormat(): AnalyticsStore['insertFormat'] {
    return this.inner.insertFormat;
  }
  init(regions: readonly string[]): Promise<void> {
    return this.inner.init(regions);
  }
  insert(region: string, insert: EncodedInsert, token: string): Promise<void> {
    if (this.down()) return Promise.reject(new SinkError('clickhouse', 'injected outage: connection refused'));
    return this.inner.insert(region, insert, token);
  }
  query<T>(sql: string, params?: Record<string, unknown>): Promise<T[]> {
    return this.inner.query<T>(sql, params);
  }
  ping(): Promise<boolean> {
    return this.down() ? Promise.resolve(false) : this.inner.ping();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

class FaultyObjectStore implements ObjectStore {
  constructor(
    private readonly inner: ObjectStore,
    private readonly down: () => boolean,
  ) {}
  get kind(): ObjectStore['kind'] {
    return this.inner.kind;
  }
  put(key: string, body: Uint8Array): Promise<void> {
    if (this.down()) return Promise.reject(new SinkError('object-store', 'injected outage: connection refused'));
    return this.inner.put(key, body);
  }
  get(key: string): Promise<Uint8Array | null> {
    return this.inner.get(key);
  }
  list(prefix: string): Promise<ObjectInfo[]> {
    return this.inner.list(prefix);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  ping(): Promise<boolean> {
    return this.down() ? Promise.resolve(false) : this.inner.ping();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

export function injectFaults(analytics: AnalyticsStore, objects: ObjectStore, dir: string | undefined): { analytics: AnalyticsStore; objects: ObjectStore } {
  if (!dir) return { analytics, objects };
  return {
    analytics: new FaultyAnalyticsStore(analytics, () => existsSync(join(dir, 'clickhouse-down'))),
    objects: new FaultyObjectStore(objects, () => existsSync(join(dir, 'object-store-down'))),
  };
}
