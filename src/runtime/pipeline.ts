/**
 * The all-in-one pipeline (`shoal start`): every component in one process.
 *
 *   devices ──WS/HTTP──► Gateway (main thread, uWebSockets.js)
 *                          │ validate v1/v2 → canonical events; rejects → DLQ stream
 *                          ▼ XADD, coalesced per partition          acks after XADD
 *                  Redis Streams  shoal:{region:p}:events  (one per region × partition)
 *                          │ fenced XREADGROUP (Lua)
 *                          ▼
 *          Shard threads (worker_threads, partitions round-robin)
 *            PartitionActors: dedup by event_id, 1m/1h windows by event time
 *                          │ every flush.intervalMs: intent → sinks → commit (Lua)
 *              ┌───────────┴───────────────┐
 *              ▼                           ▼
 *   raw archive (Parquet)        ClickHouse: events, rollup_1m, rollup_1h
 *   dir or S3, per region        chDB in the main thread (inserts proxied from shards)
 *                                or a ClickHouse server, one database per region
 *
 *   Ops HTTP (main thread): /healthz /readyz /metrics /api/v1/... dashboard
 *   Archive replay (main thread + piscina parse threads): raw archive ──► ClickHouse
 */
import { mkdirSync } from 'node:fs';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { AggregatorRegistry, Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { mergeDropouts } from '../actors/dropout-tracker.js';
import type { Config } from '../config.js';
import { loadOrCreateSecret } from '../contracts/auth-secret.js';
import { errorMessage } from '../errors.js';
import { Gateway } from '../gateway/gateway.js';
import { createLogger } from '../logging.js';
import { Auditor } from '../ops/auditor.js';
import { OpsServer } from '../ops/ops-server.js';
import { StatusReporter } from '../ops/status-report.js';
import { SloTracker, histogramCounts, registerSloGauges } from '../ops/slo-tracker.js';
import type { HealthReport } from '../ops/health.js';
import type { AnalyticsStore } from '../sinks/analytics-store.js';
import { startArchiveRetention, type ArchiveJanitor } from '../sinks/archive-janitor.js';
import { ArchiveReplayer, ChdbStore, createAnalyticsStore, createObjectStore, MergeStats, registerChdbOperationStats, replayStoreOf } from '../sinks/index.js';
import type { ObjectStore } from '../sinks/object-store.js';
import { EmbeddedRedis } from './embedded-redis.js';
import { LagMonitor } from './lag-monitor.js';
import { RedisStats } from './redis-stats.js';
import { registerResidentFileGauge } from './resident-memory.js';
import { Keys } from './keys.js';
import { checkPartitionLayout } from './bus-layout.js';
import { partitionsForShard } from './partitioning.js';
import type { ShardInit } from './messages.js';
import { ShardHost, type ShardExitReason } from './shard-host.js';

export interface PipelineOptions {
  config: Config;
  logger?: Logger;
}

/** How often the visibility SLO samples the aggregated visibility histogram (also at each scrape). */
const SLO_SAMPLE_EVERY_MS = 5000;
const VISIBILITY_HISTOGRAM = 'shoal_visibility_latency_seconds';
/** Delay before restarting a shard thread that ended; doubles while it keeps ending soon after a start. */
const SHARD_RESTART_MIN_MS = 200;
const SHARD_RESTART_MAX_MS = 10_000;
/** A shard thread that ran this long before it ended restarts after the shortest delay again. */
const SHARD_STABLE_MS = 60_000;

export interface PipelineUrls {
  ingest: string;
  ops: string;
}

export class Pipeline {
  readonly config: Config;
  readonly logger: Logger;
  private embeddedRedis: EmbeddedRedis | null = null;
  private redis: Redis | null = null;
  private store: AnalyticsStore | null = null;
  private objects: ObjectStore | null = null;
  private janitor: ArchiveJanitor | null = null;
  private gateway: Gateway | null = null;
  private ops: OpsServer | null = null;
  private shards: ShardHost[] = [];
  /**
   * Counters and histograms of shard threads that ended: kept in the aggregation so that the
   * totals a restart would reset stay monotonic (a restarted shard counts from zero again).
   */
  private retiredShardMetrics: unknown[] = [];
  private readonly shardRestarts: Counter<'shard' | 'reason'>;
  /** Consecutive quick restarts per shard, and when the latest began (for the backoff). */
  private readonly restarts = new Map<number, { quick: number; at: number }>();
  private embedded: ChdbStore | null = null;
  private redisUrl = '';
  private lagMonitor: LagMonitor | null = null;
  private readonly keys: Keys;
  private readonly mainRegistry = new Registry();
  private stopping: Promise<void> | null = null;
  private readonly slo = new SloTracker(Date.now());
  private sloTimer: NodeJS.Timeout | null = null;
  urls: PipelineUrls | null = null;

  constructor(options: PipelineOptions) {
    this.config = options.config;
    this.logger = options.logger ?? createLogger(options.config);
    this.keys = new Keys(this.config.redis.keyPrefix);
    collectDefaultMetrics({ register: this.mainRegistry, prefix: 'shoal_' });
    registerResidentFileGauge(this.mainRegistry);
    registerSloGauges(this.mainRegistry, this.slo, Date.now);
    this.shardRestarts = new Counter({
      name: 'shoal_shard_restarts_total',
      help: 'Shard threads restarted after they ended unexpectedly, by shard and reason (out_of_memory: past shardHeapMb)',
      labelNames: ['shard', 'reason'],
      registers: [this.mainRegistry],
    });
  }

  async start(): Promise<PipelineUrls> {
    const { config, logger } = this;
    mkdirSync(config.dataDir, { recursive: true });

    let redisUrl = config.redis.url;
    if (!redisUrl) {
      this.embeddedRedis = new EmbeddedRedis({
        dataDir: config.dataDir,
        appendfsync: config.redis.appendfsync,
        aofRewritePercentage: config.redis.aofRewritePercentage,
        binary: config.redis.serverBinary,
        logger,
      });
      await this.embeddedRedis.start();
      redisUrl = this.embeddedRedis.url;
      void this.superviseRedis(this.embeddedRedis);
    }
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 2, enableAutoPipelining: true });
    this.redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
    await this.redis.ping();
    await checkPartitionLayout(this.redis, this.keys, config.regions, config.partitions);

    this.store = createAnalyticsStore(config);
    if (this.store instanceof ChdbStore) registerChdbOperationStats(this.store, this.mainRegistry);
    await this.store.init(config.regions);
    this.objects = createObjectStore(config);
    this.janitor = await startArchiveRetention({ objects: this.objects, retentionDays: config.objectStore.retentionDays, logger });

    const epoch = await this.newEpoch();
    this.embedded = this.store instanceof ChdbStore ? this.store : null;
    this.redisUrl = redisUrl;
    for (let shard = 0; shard < config.shards; shard++) {
      const partitions = partitionsForShard(config.regions, config.partitions, config.shards, shard);
      if (partitions.length === 0) continue;
      this.shards.push(this.startShard(shard, partitions, epoch, 0));
    }
    await Promise.all(this.shards.map((s) => s.ready()));

    const authSecret = config.auth.mode === 'none' ? null : (config.auth.secret ?? loadOrCreateSecret(config.dataDir));
    new RedisStats(this.redis, this.mainRegistry);
    new MergeStats(this.store, this.mainRegistry);
    this.lagMonitor = new LagMonitor(this.redis, this.keys, config, this.mainRegistry, Date.now, () => this.failingPartitions());
    this.lagMonitor.start();
    const lag = this.lagMonitor;
    this.gateway = new Gateway({ config, redis: this.redis, keys: this.keys, logger, authSecret, pressure: (r, p) => lag.pressure(r, p), sampleRate: (r, p) => lag.sampleRate(r, p), registry: this.mainRegistry });
    const ingestPort = await this.gateway.listen();
    this.sloTimer = setInterval(() => this.sampleSlo(), SLO_SAMPLE_EVERY_MS);
    this.sloTimer.unref();

    const replayStore = replayStoreOf(this.store);
    this.ops = new OpsServer({
      config,
      store: this.store,
      redis: this.redis,
      keys: this.keys,
      logger,
      health: () => this.health(),
      stats: () => this.stats(),
      metrics: () => this.metrics(),
      append: (region, partition, events) => this.gateway!.appender.append(region, partition, events),
      audit: (from, to) => new Auditor({ config, redis: this.redis!, keys: this.keys, store: this.store!, objects: this.objects! }).run(from, to),
      status: () => new StatusReporter({ config, store: this.store!, objects: this.objects!, stats: () => this.stats() }).report(),
      replay: replayStore
        ? (request, jobId, onProgress, signal) =>
            new ArchiveReplayer({ config, store: replayStore, objects: this.objects! }).run(request, jobId, onProgress, signal)
        : undefined,
    });
    const opsPort = await this.ops.listen();
    this.urls = {
      ingest: `ws://${config.ingest.host}:${ingestPort}/v1/stream`,
      ops: `http://${config.ops.host}:${opsPort}`,
    };
    logger.info({ ...this.urls, epoch, shards: this.shards.length, regions: config.regions }, 'shoal is ready');
    return this.urls;
  }

  /**
   * Respawn the embedded redis-server if it dies (on the same port, from its AOF): the
   * gateway answers OVERLOADED meanwhile and every client reconnects by itself.
   */
  private async superviseRedis(server: EmbeddedRedis): Promise<void> {
    for (;;) {
      await server.whenExited;
      if (this.stopping) return;
      this.logger.error('embedded redis-server exited unexpectedly; restarting it');
      for (let attempt = 1; !this.stopping; attempt++) {
        try {
          await server.start();
          this.logger.info({ url: server.url }, 'embedded redis-server restarted');
          break;
        } catch (err) {
          this.logger.error({ err: errorMessage(err), attempt }, 'redis-server restart failed');
          await new Promise((r) => setTimeout(r, Math.min(5000, 200 * attempt)));
        }
      }
    }
  }

  /** A fresh owner epoch: every shard thread started takes its partitions with a newer one. */
  private async newEpoch(): Promise<number> {
    return this.redis!.incr(`${this.keys.meta()}:epoch`);
  }

  private startShard(shard: number, partitions: ShardInit['partitions'], epoch: number, incarnation: number): ShardHost {
    const { config, embedded } = this;
    const host: ShardHost = new ShardHost(
      { shard, epoch, incarnation, redisUrl: this.redisUrl, partitions, config, proxyStore: embedded && { spoolDir: embedded.spoolDir } },
      embedded,
      this.logger,
      {
        onFatal: (s, message) => this.logger.error({ shard: s, err: message }, 'shard failed'),
        onUnexpectedExit: (s, reason, message) =>
          void this.restartShard(host, reason, message).catch((err: unknown) => this.logger.error({ shard: s, err: errorMessage(err) }, 'restarting a shard thread failed')),
      },
    );
    return host;
  }

  /**
   * Replace a shard thread that ended unexpectedly (a crash, or its heap past shardHeapMb) by a
   * fresh one on the same partitions. The new thread takes them with a newer epoch and resumes
   * from their checkpoints: entries read but not committed are read again, and a flush left
   * half done is re-run (see partition-processor.ts), so nothing accepted is lost. Meanwhile
   * those partitions' lag grows and the gateway's backpressure answers as it does for any lag.
   */
  private async restartShard(dead: ShardHost, reason: ShardExitReason, message: string): Promise<void> {
    if (this.stopping || !this.shards.includes(dead)) return;
    const { shard, partitions, incarnation } = dead.init;
    this.shardRestarts.inc({ shard: String(shard), reason });
    // Its totals would only read low from here on: never a reason not to restart it.
    await this.retireMetrics(dead).catch((err: unknown) => this.logger.warn({ shard, err: errorMessage(err) }, "keeping an ended shard thread's counters failed"));
    const now = Date.now();
    const previous = this.restarts.get(shard);
    const quick = previous && now - previous.at < SHARD_STABLE_MS ? previous.quick + 1 : 0;
    this.restarts.set(shard, { quick, at: now });
    let delay = Math.min(SHARD_RESTART_MAX_MS, SHARD_RESTART_MIN_MS * 2 ** quick);
    this.logger.error({ shard, reason, err: message, restartInMs: delay }, 'shard thread ended unexpectedly; restarting it');
    // The host in this shard's slot of this.shards: the dead one, then each new attempt.
    let slot = dead;
    for (let attempt = 1; ; attempt++) {
      await new Promise((r) => setTimeout(r, delay));
      if (this.stopping) return;
      let host: ShardHost | null = null;
      try {
        host = this.startShard(shard, partitions, await this.newEpoch(), incarnation + attempt);
        this.shards[this.shards.indexOf(slot)] = host;
        slot = host;
        await host.ready();
        this.logger.info({ shard, epoch: host.init.epoch, incarnation: host.init.incarnation }, 'shard thread restarted');
        return;
      } catch (err) {
        this.logger.error({ shard, attempt, err: errorMessage(err) }, 'restarting a shard thread failed');
        // Not a restart of its own: stopped here, it reports no unexpected exit.
        await host?.stop(false, 1000).catch(() => undefined);
        delay = Math.min(SHARD_RESTART_MAX_MS, delay * 2);
      }
    }
  }

  /** Keep an ended shard's counters and histograms in the aggregated metrics (see retiredShardMetrics). */
  private async retireMetrics(dead: ShardHost): Promise<void> {
    const cumulative = (dead.latestStats?.metrics ?? []).filter((m) => {
      const type = (m as { type?: unknown }).type;
      return type === 'counter' || type === 'histogram';
    });
    if (cumulative.length === 0) return;
    const merged = AggregatorRegistry.aggregate([this.retiredShardMetrics, cumulative] as Parameters<typeof AggregatorRegistry.aggregate>[0]);
    this.retiredShardMetrics = await merged.getMetricsAsJSON();
  }

  /** Stop intake, drain and flush the shards, checkpoint, then stop the services. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const { logger } = this;
    logger.info('stopping: closing intake');
    await this.gateway?.close().catch((err) => logger.error({ err: errorMessage(err) }, 'gateway close failed'));
    logger.info('stopping: flushing shards');
    await Promise.all(this.shards.map((s) => s.stop(true)));
    this.lagMonitor?.stop();
    if (this.sloTimer) clearInterval(this.sloTimer);
    await this.ops?.close().catch(() => undefined);
    await this.store?.close().catch(() => undefined);
    await this.janitor?.stop();
    await this.objects?.close().catch(() => undefined);
    this.redis?.disconnect();
    await this.embeddedRedis?.stop().catch((err) => logger.error({ err: errorMessage(err) }, 'redis stop failed'));
    logger.info('stopped');
  }

  async health(): Promise<HealthReport> {
    const checks: HealthReport['checks'] = {};
    checks['ingest'] = { up: this.gateway !== null && this.stopping === null };
    try {
      checks['bus'] = { up: (await this.redis?.ping()) === 'PONG' };
    } catch (err) {
      checks['bus'] = { up: false, detail: errorMessage(err) };
    }
    const storeUp = (await this.store?.ping().catch(() => false)) ?? false;
    checks['clickhouse'] = { up: storeUp };
    const objectsUp = (await this.objects?.ping().catch(() => false)) ?? false;
    checks['object-store'] = { up: objectsUp };
    const dead = this.shards.filter((s) => !s.alive).map((s) => s.init.shard);
    checks['workers'] = { up: this.shards.length > 0 && dead.length === 0, ...(dead.length ? { detail: `shards down: ${dead.join(',')}` } : {}) };
    return { checks };
  }

  /** The partitions (`region/partition`) whose shard reported their last flush (or read) as failed. */
  private failingPartitions(): Set<string> {
    const failing = new Set<string>();
    for (const s of this.shards) for (const p of s.latestStats?.partitions ?? []) if (p.lastError !== null) failing.add(`${p.region}/${p.partition}`);
    return failing;
  }

  async stats(): Promise<Record<string, unknown>> {
    const lags = new Map((this.lagMonitor?.snapshot() ?? []).map((l) => [`${l.region}/${l.partition}`, l]));
    const partitions = this.shards.flatMap((s) =>
      (s.latestStats?.partitions ?? []).map(({ dropouts: _listedAtTopLevel, ...p }) => {
        const lag = lags.get(`${p.region}/${p.partition}`);
        return { shard: s.init.shard, ...p, lagEntries: lag?.entries ?? null, lagMs: lag?.lagMs ?? null, checkpointAgeMs: lag?.checkpointAgeMs ?? null, pressure: lag?.pressure ?? 'ok', throttleSampleRate: lag?.sampleRate ?? 1, predictedWaitMs: waitOf(lag?.predictedWaitMs), drainSpeed: lag?.drainSpeed ?? null };
      }),
    );
    this.sampleSlo();
    return Promise.resolve({
      regions: this.config.regions,
      shards: this.shards.length,
      gateway: this.gateway?.stats.snapshot() ?? null,
      partitions,
      dropouts: mergeDropouts(this.shards.flatMap((s) => s.latestStats?.partitions ?? [])),
      slo: this.slo.report(Date.now()),
    });
  }

  /**
   * Main-thread metrics plus the shards' metrics, in Prometheus text format. All of them go
   * through one aggregation, so a metric both sides export (shoal_dlq_entries_total) is summed.
   */
  async metrics(): Promise<string> {
    this.sampleSlo();
    const shardMetrics = [...this.shards.map((s) => s.latestStats?.metrics ?? []), this.retiredShardMetrics].filter((m) => m.length > 0);
    // Main-thread metrics come from one source: keep the ones prom-client would omit when aggregating.
    const main = (await this.mainRegistry.getMetricsAsJSON()).map((m) => (m.aggregator === 'omit' ? { ...m, aggregator: 'first' as const } : m));
    return AggregatorRegistry.aggregate<'text/plain; version=0.0.4; charset=utf-8'>([main, ...shardMetrics]).metrics();
  }

  /** Feed the SLO tracker the visibility histogram's good (≤ threshold) and total counts across shards. */
  private sampleSlo(): void {
    const shardMetrics = [...this.shards.map((s) => s.latestStats?.metrics ?? []), this.retiredShardMetrics];
    const { good, total } = histogramCounts(shardMetrics, VISIBILITY_HISTOGRAM, this.slo.thresholdS);
    this.slo.observe(Date.now(), good, total);
  }

  get registry(): Registry {
    return this.mainRegistry;
  }
}

/** A predicted wait for JSON: whole ms; null when unknown, or unbounded (drainSpeed 0: nothing drains). */
function waitOf(ms: number | null | undefined): number | null {
  return ms === null || ms === undefined || !Number.isFinite(ms) ? null : Math.round(ms);
}
