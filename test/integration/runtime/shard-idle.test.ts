/**
 * A shard whose partition holds flush.maxEvents waits for its flush without asking Redis for
 * entries it will not read yet. Its stream then has entries past its read position, so an
 * XREAD naming it returns at once: the shard used to spin on XREADs (each carrying a whole
 * bus entry) for as long as the flush took, which at 50k events/s cost a quarter of a shard
 * thread. A real redis-server, the real chDB store (its inserts held back for a while, as a
 * busy store's are) and a directory object store.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { regionDatabase, resolveConfig, validateUserConfig } from '../../../src/config.js';
import type { CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import { encodeEvents } from '../../../src/contracts/bus-codec.js';
import { Keys } from '../../../src/runtime/keys.js';
import { Shard } from '../../../src/runtime/shard.js';
import { ShardMetrics } from '../../../src/runtime/shard-metrics.js';
import type { AnalyticsStore, EncodedInsert } from '../../../src/sinks/analytics-store.js';
import { backlogEntry } from '../../helpers/backlog.js';
import { startRuntimeServices, type RuntimeServices } from '../../helpers/partition-rig.js';

let services: RuntimeServices | undefined;

beforeAll(async () => {
  services = await startRuntimeServices();
});
afterAll(async () => {
  await services?.stop();
});

const MAX_EVENTS = 200;
const PER_ENTRY = 150;
const ENTRIES = 6;
const SLOW_INSERT_MS = 1500;

/** The real store, each insert held back `delayMs` first (a store busy with other work). */
function slowed(inner: AnalyticsStore, delayMs: number): AnalyticsStore {
  const store: AnalyticsStore = Object.create(inner) as AnalyticsStore;
  return Object.assign(store, {
    insert: async (region: string, insert: EncodedInsert, token: string): Promise<void> => {
      await new Promise((r) => setTimeout(r, delayMs));
      await inner.insert(region, insert, token);
    },
  });
}

function entry(region: string, k: number): CanonicalEvent[] {
  return backlogEntry({ region, k, perEntry: PER_ENTRY, idPrefix: '5a1de000', device: (n) => `idle-dev-${n % 5}` });
}

/** Calls of `command` the server has run so far (INFO commandstats). */
async function calls(command: string): Promise<number> {
  const info = await services!.redis.redis.info('commandstats');
  const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info);
  return match ? Number(match[1]) : 0;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface Run {
  /** XREADs the server ran while the first partition's batch was full and its flush ran. */
  xreadsDuringFlush: number;
  /** Rows in the region's events table once the shard stopped. */
  stored: number;
}

/**
 * A shard over `partitions` partitions of `region`, with a backlog of ENTRIES entries in the
 * first; `duringFlush` runs while that partition waits for its flush, with a stream key maker.
 */
async function runShard(region: string, partitions: number, duringFlush: (stream: (partition: number) => string) => Promise<number>): Promise<Run> {
  const { redis, store, objects } = services!;
  const prefix = `idle-${process.pid}-${region}`;
  const config = resolveConfig(
    validateUserConfig({ regions: [region], partitions, redis: { keyPrefix: prefix }, flush: { intervalMs: 50, maxEvents: MAX_EVENTS } }),
  );
  await store.init([region]);
  const keys = new Keys(prefix);
  const stream = (partition: number): string => keys.partition(region, partition).stream;
  let sent = 0;
  for (let k = 0; k < ENTRIES; k++) {
    const events = entry(region, k);
    sent += events.length;
    await redis.redis.xadd(stream(0), '*', 'd', encodeEvents(events));
  }

  const shardRedis = redis.client();
  const blockingRedis = redis.client();
  const metrics = new ShardMetrics();
  const shard = new Shard({
    shard: 0,
    epoch: 1,
    config,
    partitions: Array.from({ length: partitions }, (_, partition) => ({ region, partition })),
    redis: shardRedis,
    blockingRedis,
    keys,
    analytics: slowed(store, SLOW_INSERT_MS),
    objects,
    logger: pino({ level: 'silent' }),
    metrics,
  });
  const flushedRows = async (): Promise<number> => (await metrics.registry.getSingleMetric('shoal_rows_flushed_total')?.get())?.values[0]?.value ?? 0;

  await shard.start();
  // The first reads fill the batch (two entries, 300 events ≥ 200) and its flush starts;
  // the next two fill it again while that flush runs, and two entries are left in the
  // stream, past the partition's read position.
  await until('a full batch', () => Promise.resolve((shard.status()[0]?.pendingEvents ?? 0) >= MAX_EVENTS));
  const xreadsBefore = await calls('xread');
  sent += await duringFlush(stream);
  await new Promise((r) => setTimeout(r, SLOW_INSERT_MS * 0.8));
  const xreadsDuringFlush = (await calls('xread')) - xreadsBefore;

  // Once the flush made room, the rest is read and flushed too.
  await until('every event flushed', async () => (await flushedRows()) >= sent);
  await shard.stop(true);
  shardRedis.disconnect();
  blockingRedis.disconnect();
  const [row] = await store.query<{ n: string }>(`SELECT count() AS n FROM ${regionDatabase(services!.config, region)}.events FINAL`);
  return { xreadsDuringFlush, stored: Number(row?.n) };
}

describe('a shard whose partition waits for its flush', () => {
  it('sends no XREAD while its only partition holds a full batch, then reads and stores the rest', async () => {
    const run = await runShard('idle-one', 1, () => Promise.resolve(0));
    // Spinning made an XREAD per round trip: over 10,000 in this time.
    expect(run.xreadsDuringFlush).toBeLessThan(5);
    expect(run.stored).toBe(ENTRIES * PER_ENTRY);
  });

  it('blocks only briefly on its other partition meanwhile, and reads what that one gets', async () => {
    const run = await runShard('idle-two', 2, async (stream) => {
      const events = entry('idle-two', ENTRIES);
      await services!.redis.redis.xadd(stream(1), '*', 'd', encodeEvents(events));
      return events.length;
    });
    // XREADs of 10 ms on the other partition's stream alone: at most ~120 in this time.
    expect(run.xreadsDuringFlush).toBeLessThan(250);
    expect(run.stored).toBe((ENTRIES + 1) * PER_ENTRY);
  });
});
