/**
 * Metrics a shard thread keeps. Each shard has its own prom-client Registry; the main thread
 * aggregates the shards' `getMetricsAsJSON()` so one scrape shows the whole process.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class ShardMetrics {
  readonly registry = new Registry();
  readonly eventsProcessed: Counter<'region'>;
  readonly duplicates: Counter<'region'>;
  readonly lateEvents: Counter<'region'>;
  readonly rowsFlushed: Counter<'region'>;
  readonly flushes: Counter<'region' | 'outcome'>;
  readonly flushDuration: Histogram<'sink'>;
  readonly visibility: Histogram<'region'>;
  readonly activeActors: Gauge<'region' | 'partition'>;
  readonly dedupIds: Gauge<'region' | 'partition'>;
  readonly dedupBytes: Gauge<'region' | 'partition'>;
  readonly dedupEvicted: Counter<'region'>;
  readonly passivated: Counter<'region'>;
  readonly poisonEntries: Counter<'region'>;
  readonly dlqEntries: Counter<'region' | 'reason'>;
  readonly aggregationLatency: Histogram<'region'>;
  readonly dropouts: Gauge<'region' | 'partition' | 'kind'>;
  readonly heapUsed: Gauge<'shard'>;
  readonly heapTotal: Gauge<'shard'>;

  constructor() {
    const registers = [this.registry];
    this.eventsProcessed = new Counter({
      name: 'shoal_events_processed_total',
      help: 'Events read from the bus and applied to actors',
      labelNames: ['region'],
      registers,
    });
    this.duplicates = new Counter({
      name: 'shoal_dedup_dropped_total',
      help: 'Events dropped as duplicates of an event_id seen within the dedup horizon',
      labelNames: ['region'],
      registers,
    });
    this.lateEvents = new Counter({
      name: 'shoal_late_events_total',
      help: 'Events more than 60 s behind their device newest event time (merged into their own window)',
      labelNames: ['region'],
      registers,
    });
    this.rowsFlushed = new Counter({
      name: 'shoal_rows_flushed_total',
      help: 'Reading rows made visible in ClickHouse',
      labelNames: ['region'],
      registers,
    });
    this.flushes = new Counter({
      name: 'shoal_flushes_total',
      help: 'Flush attempts by outcome',
      labelNames: ['region', 'outcome'],
      registers,
    });
    this.flushDuration = new Histogram({
      name: 'shoal_flush_duration_seconds',
      help: 'Time to write one flush to a sink',
      labelNames: ['sink'],
      // 1.5 and 2 s: flushes take 1–2.5 s at 50k/s, which one bucket told apart from nothing.
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 2.5, 5, 10],
      registers,
    });
    this.visibility = new Histogram({
      name: 'shoal_visibility_latency_seconds',
      help: 'From gateway receipt (ingest_time) to the commit of the flush that made the row queryable',
      labelNames: ['region'],
      // Fine from 1 to 10 s, where p99 at the target rates falls: between 3 and 5 s the
      // estimated quantile only told which of the two it was nearer.
      buckets: [0.1, 0.25, 0.5, 1, 1.5, 2, 2.5, 3, 4, 5, 7.5, 10, 20, 30, 60, 120],
      registers,
    });
    // Per partition, like every gauge a partition sets: sum by (region) for the total.
    this.activeActors = new Gauge({
      name: 'shoal_actors_active',
      help: 'Device actors held in memory',
      labelNames: ['region', 'partition'],
      registers,
    });
    this.dedupIds = new Gauge({
      name: 'shoal_dedup_ids',
      help: 'Event ids remembered for deduplication (~20 bytes each; capped by dedup.maxIds)',
      labelNames: ['region', 'partition'],
      registers,
    });
    this.dedupBytes = new Gauge({
      name: 'shoal_dedup_bytes',
      help: "Bytes of the dedup index's typed arrays (outside the V8 heap; they double and halve with the ids held)",
      labelNames: ['region', 'partition'],
      registers,
    });
    this.dedupEvicted = new Counter({
      name: 'shoal_dedup_evicted_total',
      help: 'Ids forgotten before the dedup horizon because dedup.maxIds was reached: the horizon is shorter than configured',
      labelNames: ['region'],
      registers,
    });
    this.passivated = new Counter({
      name: 'shoal_actors_passivated_total',
      help: 'Idle device actors dropped from memory',
      labelNames: ['region'],
      registers,
    });
    this.poisonEntries = new Counter({
      name: 'shoal_poison_entries_total',
      help: 'Bus entries that could not be decoded, moved to the DLQ',
      labelNames: ['region'],
      registers,
    });
    // Same name as the gateway's counter: the main thread aggregates both into one metric.
    this.dlqEntries = new Counter({
      name: 'shoal_dlq_entries_total',
      help: 'Entries written to a region DLQ, by reason (reject or error code, lower case)',
      labelNames: ['region', 'reason'],
      registers,
    });
    this.aggregationLatency = new Histogram({
      name: 'shoal_aggregation_latency_seconds',
      help: 'Per flush: from the bus time of the oldest event in the batch to the drain of the actors',
      labelNames: ['region'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120],
      registers,
    });
    this.heapUsed = new Gauge({
      name: 'shoal_shard_heap_used_bytes',
      help: "A shard thread's V8 heap in use (the main thread's is shoal_nodejs_heap_size_used_bytes)",
      labelNames: ['shard'],
      registers,
    });
    this.heapTotal = new Gauge({
      name: 'shoal_shard_heap_total_bytes',
      help: "A shard thread's V8 heap as allocated, in use or not (what the process's RSS holds for it)",
      labelNames: ['shard'],
      registers,
    });
    // Per partition, so each partition sets its own series; sum by (kind) for the total.
    this.dropouts = new Gauge({
      name: 'shoal_dropouts',
      help: 'Devices flagged as dropped out: quiet (silent > 5 usual intervals) or seq_gap (v2 seq numbers never received)',
      labelNames: ['region', 'partition', 'kind'],
      registers,
    });
  }
}
