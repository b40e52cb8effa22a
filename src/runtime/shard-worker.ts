/**
 * Entry point of a shard worker thread. Builds the shard's own connections and sinks from
 * ShardInit, runs the Shard, and speaks the protocol of messages.ts with the main thread.
 */
import { writeSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { createObjectStore, ClickHouseServerStore } from '../sinks/index.js';
import { errorMessage } from '../errors.js';
import { createLogger } from '../logging.js';
import { injectFaults } from './fault-injection.js';
import { Keys } from './keys.js';
import type { MainToShard, ShardInit, ShardToMain } from './messages.js';
import { Shard } from './shard.js';
import type { FlushHooks } from './partition-processor.js';
import { ShardMetrics } from './shard-metrics.js';
import { StoreProxy } from './store-proxy.js';
import { nameThisThread, shardThreadName } from './thread-name.js';

const init = workerData as ShardInit;
const port = parentPort;
if (!port) throw new Error('shard-worker must run in a worker thread');
nameThisThread(shardThreadName(init.shard));

const send = (msg: ShardToMain): void => port.postMessage(msg);
// Logs go to stderr: stdout is the CLI's answer channel (URLs, tokens).
// Device ids are pseudonymised with the same key as the main thread's logs (see logging.ts).
const logger = createLogger(init.config).child({ shard: init.shard });

async function main(): Promise<void> {
  const redisOptions = { maxRetriesPerRequest: null, enableAutoPipelining: true, lazyConnect: false };
  const redis = new Redis(init.redisUrl, redisOptions);
  const blockingRedis = new Redis(init.redisUrl, { maxRetriesPerRequest: null });
  for (const r of [redis, blockingRedis]) r.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  const proxy = init.proxyStore ? new StoreProxy(port!, init.proxyStore.spoolDir) : null;
  const { analytics, objects } = injectFaults(
    proxy ?? new ClickHouseServerStore(init.config),
    createObjectStore(init.config),
    process.env['SHOAL_FAULTS_DIR'],
  );
  const metrics = new ShardMetrics();
  // Fault injection for tests only: SIGKILL the whole process after the Nth flush whose sink
  // writes succeeded, before its checkpoint commit (the window invariant 2 is about).
  const crashAfter = Number(process.env['SHOAL_FAULT_CRASH_AFTER_SINKS'] ?? 0);
  let sinkWrites = 0;
  // And: make the actors fail on every entry holding this device's events (poison tests).
  const throwFor = process.env['SHOAL_FAULT_ACTOR_THROW_DEVICE'];
  // And: make this thread's first incarnation exhaust its heap (shardHeapMb) when it applies
  // this device's events, to provoke the out-of-memory exit and the restart that follows.
  const exhaustFor = init.incarnation === 0 ? process.env['SHOAL_FAULT_SHARD_OOM_DEVICE'] : undefined;
  const hooks: FlushHooks = {};
  if (throwFor || exhaustFor)
    hooks.beforeApply = (events) => {
      if (events.some((e) => e.deviceId === throwFor)) throw new Error(`injected actor failure for ${throwFor}`);
      if (events.some((e) => e.deviceId === exhaustFor)) exhaustHeap();
    };
  if (crashAfter > 0)
    hooks.afterSinks = (region, partition, to) => {
      if (++sinkWrites < crashAfter) return;
      // Written synchronously: the SIGKILL below leaves no time for pino's async flush.
      writeSync(2, `${JSON.stringify({ level: 40, region, partition, to, msg: 'fault injection: killing the process between sinks and commit' })}\n`);
      process.kill(process.pid, 'SIGKILL');
      return new Promise<void>(() => undefined); // never commit
    };
  const shard = new Shard({
    shard: init.shard,
    epoch: init.epoch,
    config: init.config,
    partitions: init.partitions,
    redis,
    blockingRedis,
    keys: new Keys(init.config.redis.keyPrefix),
    analytics,
    objects,
    logger,
    metrics,
    hooks,
  });

  const publishStats = async (): Promise<void> => {
    // This thread's own V8 heap (process RSS is shared by every thread and chDB).
    const heap = getHeapStatistics();
    metrics.heapUsed.set({ shard: String(init.shard) }, heap.used_heap_size);
    metrics.heapTotal.set({ shard: String(init.shard) }, heap.total_heap_size);
    send({ type: 'stats', shard: init.shard, metrics: await metrics.registry.getMetricsAsJSON(), partitions: shard.status() });
  };
  const statsTimer = setInterval(() => void publishStats().catch(() => undefined), 1000);

  port!.on('message', (msg: MainToShard) => {
    if (msg.type === 'store-reply') {
      proxy?.settle(msg);
    } else if (msg.type === 'stop') {
      void (async () => {
        clearInterval(statsTimer);
        await shard.stop(msg.flush).catch((err) => logger.error({ err: errorMessage(err) }, 'shard stop failed'));
        await publishStats().catch(() => undefined);
        await Promise.allSettled([analytics.close(), objects.close()]);
        redis.disconnect();
        blockingRedis.disconnect();
        send({ type: 'stopped', shard: init.shard });
      })();
    }
  });

  await shard.start();
  send({ type: 'ready', shard: init.shard });
}

/** Fault injection: keep allocating until V8 stops the thread at its heap limit. */
function exhaustHeap(): never {
  logger.warn('fault injection: exhausting the shard heap');
  const hoard: number[][] = [];
  for (;;) hoard.push(Array.from({ length: 100_000 }, (_, i) => i + 0.5));
}

main().catch((err) => {
  logger.error({ err: errorMessage(err) }, 'shard failed to start');
  send({ type: 'fatal', shard: init.shard, message: errorMessage(err) });
});
