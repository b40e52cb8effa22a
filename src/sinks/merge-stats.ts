/**
 * ClickHouse's background merges and memory on /metrics: how many merges run and how many
 * compressed bytes they merge, from `system.merges`, and the memory ClickHouse tracks, from
 * `system.metrics`. A merge of the events table's big parts takes a core for seconds, so next
 * to the consumer lag these gauges tell whether a slow spell came with one (docs/ARCHITECTURE.md,
 * the p99 tail). With the embedded store (chDB) the tracked memory is part of Shoal's own RSS,
 * so it tells how much of that is ClickHouse's. Same query on chDB and a ClickHouse server.
 *
 *   shoal_clickhouse_merges_running   merges running
 *   shoal_clickhouse_merge_bytes      compressed bytes of the parts they merge
 *   shoal_clickhouse_memory_bytes     memory ClickHouse tracks (queries, merges, caches, parts)
 *
 * A scrape never waits for ClickHouse, which is slowest exactly when these matter: it starts
 * a read when none runs and reports the last one that finished (so one scrape late, and
 * unchanged while reads fail).
 */
import { Gauge, type Registry } from 'prom-client';
import type { AnalyticsStore } from './analytics-store.js';

const MERGES_SQL =
  'SELECT count() AS merges, sum(total_size_bytes_compressed) AS bytes, ' +
  "(SELECT sum(value) FROM system.metrics WHERE metric = 'MemoryTracking') AS memory FROM system.merges";

interface MergeRow {
  merges: number | string;
  bytes: number | string;
  memory: number | string;
}

interface Latest {
  merges: number;
  bytes: number;
  memory: number;
}

export class MergeStats {
  private latest: Latest = { merges: 0, bytes: 0, memory: 0 };
  private reading: Promise<void> | null = null;

  constructor(
    private readonly store: Pick<AnalyticsStore, 'query'>,
    registry: Registry,
  ) {
    const registers = [registry];
    const latest = (): Latest => this.refresh();
    new Gauge({
      name: 'shoal_clickhouse_merges_running',
      help: 'Background merges ClickHouse runs now (system.merges; as of the previous scrape)',
      registers,
      collect() {
        this.set(latest().merges);
      },
    });
    new Gauge({
      name: 'shoal_clickhouse_merge_bytes',
      help: 'Compressed bytes of the parts ClickHouse merges now (as of the previous scrape)',
      registers,
      collect() {
        this.set(latest().bytes);
      },
    });
    new Gauge({
      name: 'shoal_clickhouse_memory_bytes',
      help: "Memory ClickHouse tracks (system.metrics MemoryTracking): part of Shoal's RSS with the embedded store (as of the previous scrape)",
      registers,
      collect() {
        this.set(latest().memory);
      },
    });
  }

  /** The last finished reading; starts another unless one runs. */
  private refresh(): Latest {
    this.reading ??= this.store
      .query<MergeRow>(MERGES_SQL)
      .then(([row]) => {
        if (row) this.latest = { merges: Number(row.merges) || 0, bytes: Number(row.bytes) || 0, memory: Number(row.memory) || 0 };
      })
      .catch(() => undefined)
      .finally(() => {
        this.reading = null;
      });
    return this.latest;
  }
}
