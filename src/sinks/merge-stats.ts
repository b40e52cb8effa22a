/**
 * ClickHouse's background merges on /metrics: how many run and how many compressed bytes they
 * merge, from `system.merges`. A merge of the events table's big parts takes a core for
 * seconds, so next to the consumer lag these gauges tell whether a slow spell came with one
 * (docs/ARCHITECTURE.md, the p99 tail). Same query on chDB and a ClickHouse server.
 *
 *   shoal_clickhouse_merges_running   merges running
 *   shoal_clickhouse_merge_bytes      compressed bytes of the parts they merge
 *
 * A scrape never waits for ClickHouse, which is slowest exactly when these matter: it starts
 * a read when none runs and reports the last one that finished (so one scrape late, and
 * unchanged while reads fail).
 */
import { Gauge, type Registry } from 'prom-client';
import type { AnalyticsStore } from './analytics-store.js';

const MERGES_SQL = 'SELECT count() AS merges, sum(total_size_bytes_compressed) AS bytes FROM system.merges';

interface MergeRow {
  merges: number | string;
  bytes: number | string;
}

export class MergeStats {
  private latest = { merges: 0, bytes: 0 };
  private reading: Promise<void> | null = null;

  constructor(
    private readonly store: Pick<AnalyticsStore, 'query'>,
    registry: Registry,
  ) {
    const registers = [registry];
    const latest = (): { merges: number; bytes: number } => this.refresh();
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
  }

  /** The last finished reading; starts another unless one runs. */
  private refresh(): { merges: number; bytes: number } {
    this.reading ??= this.store
      .query<MergeRow>(MERGES_SQL)
      .then(([row]) => {
        if (row) this.latest = { merges: Number(row.merges) || 0, bytes: Number(row.bytes) || 0 };
      })
      .catch(() => undefined)
      .finally(() => {
        this.reading = null;
      });
    return this.latest;
  }
}
