// Shoal's /metrics (Prometheus text) as the harness reads it: every sample with its labels,
// and the few figures the harness follows over time — consumer lag (entries, seconds),
// accepted vs processed events (the unread backlog), dedup drops, sampled-out readings,
// backpressure, the bus Redis's memory and AOF rewrites, ClickHouse's merges, the flush durations per sink, and the visibility histogram
// `shoal_visibility_latency_seconds` summed over regions (cumulative buckets; quantiles of a window come from the difference of two scrapes).
/* global AbortSignal */
import { memoryParts } from './memory.mjs';

/** Parse Prometheus text exposition into [{ name, labels, value }]. */
export function parsePrometheus(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][\w:]*)(\{(.*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[3]) for (const l of m[3].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return samples;
}

const sum = (samples, name, filter = () => true) => samples.filter((s) => s.name === name && filter(s.labels)).reduce((a, s) => a + (Number.isFinite(s.value) ? s.value : 0), 0);
const max = (samples, name) => samples.filter((s) => s.name === name && Number.isFinite(s.value)).reduce((a, s) => Math.max(a, s.value), 0);

/** Cumulative buckets of a histogram, summed over all other labels (or those `filter` keeps), sorted by `le`. */
export function histogramBuckets(samples, name, filter = () => true) {
  const byLe = new Map();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || !filter(s.labels)) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  return [...byLe].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
}

/** later − earlier, bucket by bucket (both cumulative, same bounds). */
export function bucketDelta(later, earlier) {
  if (!earlier) return later;
  const prev = new Map(earlier.map((b) => [b.le, b.count]));
  return later.map((b) => ({ le: b.le, count: b.count - (prev.get(b.le) ?? 0) }));
}

/** Quantile from cumulative buckets, linear within a bucket; past the last finite bound, that bound. */
export function histogramQuantile(buckets, q) {
  const total = buckets.at(-1)?.count ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const { le, count } of buckets) {
    if (count >= rank) {
      if (!Number.isFinite(le)) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(1, count - prevCount);
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

/** The figures the harness follows, from one scrape. */
export function digest(samples) {
  const accepted = sum(samples, 'shoal_ingest_events_total', (l) => l.outcome === 'accepted');
  const processed = sum(samples, 'shoal_events_processed_total');
  return {
    lagEntries: sum(samples, 'shoal_consumer_lag_entries'),
    lagSecondsMax: max(samples, 'shoal_consumer_lag_seconds'),
    backpressureMax: max(samples, 'shoal_backpressure_level'),
    acceptedEvents: accepted,
    processedEvents: processed,
    /** Accepted by the gateway but not yet read by a shard. */
    unreadEvents: Math.max(0, accepted - processed),
    dedupDropped: sum(samples, 'shoal_dedup_dropped_total'),
    lateEvents: sum(samples, 'shoal_late_events_total'),
    rowsFlushed: sum(samples, 'shoal_rows_flushed_total'),
    flushRetries: sum(samples, 'shoal_flushes_total', (l) => l.outcome === 'retry'),
    /** Shard threads restarted after they ended (out of heap past shardHeapMb, or crashed). */
    shardRestarts: sum(samples, 'shoal_shard_restarts_total'),
    sampledOutReadings: sum(samples, 'shoal_sampled_out_readings_total'),
    rejectedByCode: Object.fromEntries(
      [...new Set(samples.filter((s) => s.name === 'shoal_ingest_events_total' && s.labels.outcome !== 'accepted').map((s) => s.labels.outcome))].map((o) => [
        o,
        sum(samples, 'shoal_ingest_events_total', (l) => l.outcome === o),
      ]),
    ),
    wsConnections: sum(samples, 'shoal_ws_connections'),
    /** The bus Redis (null before Shoal exported it): memory, AOF rewrites since it started, one running now. */
    redisUsedBytes: samples.some((s) => s.name === 'shoal_redis_used_memory_bytes') ? max(samples, 'shoal_redis_used_memory_bytes') : null,
    aofRewrites: samples.some((s) => s.name === 'shoal_redis_aof_rewrites') ? max(samples, 'shoal_redis_aof_rewrites') : null,
    aofRewriting: max(samples, 'shoal_redis_aof_rewrite_in_progress') > 0,
    /** ClickHouse merges running (as of Shoal's previous scrape) and the compressed bytes they merge. */
    mergesRunning: max(samples, 'shoal_clickhouse_merges_running'),
    mergeBytes: max(samples, 'shoal_clickhouse_merge_bytes'),
    /** Shoal's RSS and the parts its gauges name (memory.mjs); null before Shoal exported them. */
    memory: memoryParts(samples),
    visibility: histogramBuckets(samples, 'shoal_visibility_latency_seconds'),
    /** A frame's receipt to its ack in the gateway, all transports. */
    frameSeconds: histogramBuckets(samples, 'shoal_ingest_frame_seconds'),
    /** Time to write one flush, per sink (`clickhouse`, `object-store`). */
    flushDuration: Object.fromEntries(
      [...new Set(samples.filter((s) => s.name === 'shoal_flush_duration_seconds_bucket').map((s) => s.labels.sink))].map((sink) => [
        sink,
        histogramBuckets(samples, 'shoal_flush_duration_seconds', (l) => l.sink === sink),
      ]),
    ),
    /** The embedded chDB's operations (`insert`, `archive`, `query`, `command`): time, and how many queued on their connection. */
    chdbOperations: Object.fromEntries(
      [...new Set(samples.filter((s) => s.name === 'shoal_chdb_operation_seconds_bucket').map((s) => s.labels.operation))].map((operation) => [
        operation,
        {
          buckets: histogramBuckets(samples, 'shoal_chdb_operation_seconds', (l) => l.operation === operation),
          queued: sum(samples, 'shoal_chdb_operations_queued_total', (l) => l.operation === operation),
        },
      ]),
    ),
  };
}

/** One scrape of `${opsUrl}/metrics`, digested; null if it failed or took longer than timeoutMs. */
export async function scrape(opsUrl, timeoutMs = 5000) {
  try {
    const res = await fetch(`${opsUrl}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return null;
    return digest(parsePrometheus(await res.text()));
  } catch {
    return null;
  }
}
