/**
 * How long the embedded store's operations take, on /metrics: every insert, archive encoding,
 * query and statement of the process's chDB (the shards' go through StoreProxy to it), timed
 * from the call to its end, so waiting for a connection and for CPU is included. Next to
 * `shoal_flush_duration_seconds` it tells how much of a flush is chDB's and how much the
 * shard's own (the proxy hop, the object store, Redis).
 *
 *   shoal_chdb_operation_seconds{operation}         insert | archive | query | command
 *   shoal_chdb_operations_queued_total{operation}   operations that waited for another on
 *                                                   their connection (chDB runs a connection's
 *                                                   queries one at a time)
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { ChdbStore, StoreOperation } from './chdb-store.js';

export function registerChdbOperationStats(store: ChdbStore, registry: Registry): void {
  const registers = [registry];
  const seconds = new Histogram<'operation'>({
    name: 'shoal_chdb_operation_seconds',
    help: 'Time of one embedded ClickHouse (chDB) operation, from the call to its end, waiting included',
    labelNames: ['operation'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 2.5, 5, 10],
    registers,
  });
  const queued = new Counter<'operation'>({
    name: 'shoal_chdb_operations_queued_total',
    help: 'Embedded ClickHouse (chDB) operations that waited for another one on their connection',
    labelNames: ['operation'],
    registers,
  });
  store.onOperation = (operation: StoreOperation, s: number, wasQueued: boolean) => {
    seconds.observe({ operation }, s);
    if (wasQueued) queued.inc({ operation });
  };
}
