/**
 * A shard: the partitions one worker thread owns, and the loop that drives them.
 *
 *   loop: poll every partition (fenced XREADGROUP, pipelined) ─► flush the due ones
 *         └─ nothing new? block on XREAD for the partitions' streams (separate connection)
 *            until data arrives or the next flush is due
 *
 * Flushes run concurrently with reading; one partition never has two flushes at once.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { regionDatabase, type Config } from '../config.js';
import { errorMessage } from '../errors.js';
import type { AnalyticsStore } from '../sinks/analytics-store.js';
import type { ObjectStore } from '../sinks/object-store.js';
import type { Keys } from './keys.js';
import type { PartitionStatus } from './messages.js';
import { PartitionProcessor, type FlushHooks, type PoisonEntry } from './partition-processor.js';
import type { PartitionRef } from './partitioning.js';
import type { ShardMetrics } from './shard-metrics.js';

/** How long an XREAD blocks while another partition of the shard waits for its flush, ms. */
const HELD_BLOCK_MS = 10;

export interface ShardDeps {
  shard: number;
  epoch: number;
  config: Config;
  partitions: PartitionRef[];
  redis: Redis;
  /** A second connection for blocking reads, so they never delay pipelined commands. */
  blockingRedis: Redis;
  keys: Keys;
  analytics: AnalyticsStore;
  objects: ObjectStore;
  logger: Logger;
  metrics: ShardMetrics;
  hooks?: FlushHooks;
  clock?: () => number;
}

export class Shard {
  private readonly processors: PartitionProcessor[];
  private readonly clock: () => number;
  private running = false;
  private loopDone: Promise<void> | null = null;

  constructor(private readonly deps: ShardDeps) {
    this.clock = deps.clock ?? Date.now;
    this.processors = deps.partitions.map((p) => this.processor(p));
  }

  private processor(p: PartitionRef): PartitionProcessor {
    const { deps } = this;
    const { config } = deps;
    return new PartitionProcessor({
      region: p.region,
      partition: p.partition,
      redis: deps.redis,
      keys: deps.keys,
      epoch: deps.epoch,
      consumer: `shard-${deps.shard}`,
      analytics: deps.analytics,
      database: regionDatabase(config, p.region),
      objects: deps.objects,
      actorOptions: {
        dedupHorizonMs: config.dedup.horizonMs,
        dedupMaxIds: config.dedup.maxIdsPerPartition,
        idleMs: config.actors.idleMs,
      },
      flushIntervalMs: config.flush.intervalMs,
      maxEvents: config.flush.maxEvents,
      logger: deps.logger,
      metrics: deps.metrics,
      clock: this.clock,
      hooks: deps.hooks,
      onPoison: (poison) => this.deadLetter(poison),
    });
  }

  /** Replace processors whose checkpoint moved under them with fresh ones (re-acquire). */
  private async reacquire(): Promise<void> {
    for (let i = 0; i < this.processors.length; i++) {
      const old = this.processors[i]!;
      if (!old.needsReacquire) continue;
      const fresh = this.processor({ region: old.region, partition: old.partition });
      await fresh.start();
      this.processors[i] = fresh;
    }
  }

  async start(): Promise<void> {
    await Promise.all(this.processors.map((p) => p.start()));
    this.running = true;
    this.loopDone = this.loop();
  }

  private async loop(): Promise<void> {
    const { readCount, intervalMs } = this.deps.config.flush;
    while (this.running) {
      try {
        await this.reacquire();
        const counts = await Promise.all(this.processors.map((p) => p.poll(readCount)));
        const now = this.clock();
        for (const p of this.processors) if (p.shouldFlush(now)) void p.flush();
        if (counts.every((n) => n === 0) && this.running) await this.idle(Math.min(100, intervalMs));
      } catch (err) {
        this.deps.logger.error({ err: errorMessage(err) }, 'shard loop error');
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /**
   * Nothing was read: wait for new entries, or for a partition that cannot read (its batch is
   * full and flushing, or it backs off) to be able to again, at most `ms`.
   *
   * A partition that cannot read is left out of the XREAD: its stream holds entries past its
   * read position, so an XREAD naming it would return at once, and the loop would spin on
   * XREADs (each returning a whole entry) for as long as the flush takes. At 50k events/s
   * that was ~1,000 XREADs a second, and a quarter of a shard thread's time went to writing
   * them to the socket.
   */
  private async idle(ms: number): Promise<void> {
    const live = this.processors.filter((p) => !p.isFenced && !p.needsReacquire);
    const readable = live.filter((p) => p.canRead);
    if (readable.length === live.length) return this.waitForData(readable, ms);
    // A blocking XREAD cannot be cut short: with a partition held, block briefly, so that it
    // reads again soon after its flush ends.
    if (readable.length > 0) return this.waitForData(readable, HELD_BLOCK_MS);
    const held = live.map((p) => p.whenReadable());
    await Promise.race([new Promise<void>((r) => setTimeout(r, ms)), ...held]);
  }

  /** Block until one of `processors`' streams has an entry past its read position, or `ms` passes. */
  private async waitForData(processors: readonly PartitionProcessor[], ms: number): Promise<void> {
    if (processors.length === 0) {
      await new Promise((r) => setTimeout(r, ms));
      return;
    }
    // Buffer replies: the entry that wakes us is not used, so it is never decoded to a string.
    await this.deps.blockingRedis.xreadBuffer(
      'COUNT',
      1,
      'BLOCK',
      ms,
      'STREAMS',
      ...processors.map((p) => p.streamKey),
      ...processors.map((p) => p.readPosition),
    );
  }

  /**
   * Drain: read until the streams are empty or `deadlineMs` passes, flushing each full batch
   * on the way (a partition never holds more than a batch), then flush everything.
   */
  async stop(flush: boolean, deadlineMs = 15_000): Promise<void> {
    this.running = false;
    await this.loopDone;
    if (flush) {
      const deadline = this.clock() + deadlineMs;
      for (;;) {
        const counts = await Promise.all(this.processors.map((p) => p.poll(this.deps.config.flush.readCount)));
        const full = this.processors.filter((p) => p.isFull);
        if (full.length > 0) await Promise.all(full.map((p) => p.flush()));
        else if (counts.every((n) => n === 0)) break;
        if (this.clock() > deadline) break;
      }
    }
    await Promise.all(this.processors.map((p) => p.stop(flush)));
  }

  status(): PartitionStatus[] {
    return this.processors.map((p) => p.status());
  }

  private async deadLetter(poison: PoisonEntry): Promise<void> {
    const payload = poison.fields[1] ?? Buffer.alloc(0);
    await this.deps.redis.xadd(
      this.deps.keys.dlq(poison.region),
      '*',
      'code',
      poison.error.code,
      'message',
      poison.error.message,
      'entry_id',
      poison.entryId,
      'attempts',
      String(poison.attempts),
      'device_id',
      poison.devices.join(','),
      'region',
      poison.region,
      'source',
      'bus',
      'ingest_time',
      String(this.clock()),
      'raw',
      payload.subarray(0, 16 * 1024).toString('base64'),
    );
  }
}
