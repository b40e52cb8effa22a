/**
 * A read that takes long to apply lets its thread's event loop run between entries. A shard's
 * running flush waits for replies (its store calls, the object store, Redis) that only its
 * event loop delivers; when a read applied every entry in one go (thousands of events, 150–300
 * ms of a busy core), each of those replies waited behind it. A real redis-server and the real
 * chDB store; the actors are slowed by a hook, as a busy core slows them.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { regionDatabase } from '../../../src/config.js';
import type { CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import { encodeEvents } from '../../../src/contracts/bus-codec.js';
import { Keys } from '../../../src/runtime/keys.js';
import { PartitionProcessor } from '../../../src/runtime/partition-processor.js';
import { ShardMetrics } from '../../../src/runtime/shard-metrics.js';
import { backlogEntry } from '../../helpers/backlog.js';
import { startRuntimeServices, type RuntimeServices } from '../../helpers/partition-rig.js';

let services: RuntimeServices | undefined;

beforeAll(async () => {
  services = await startRuntimeServices();
});
afterAll(async () => {
  await services?.stop();
});

const REGION = 'read-slices';
const ENTRIES = 6;
/** Longer than the processor's slice, so every entry ends one. */
const SLOW_APPLY_MS = 15;

/** One device's events: an entry the hook sees as one group. */
function entry(k: number): CanonicalEvent[] {
  return backlogEntry({ region: REGION, k, perEntry: 10, idPrefix: '5e1ce000', device: (_, entryNo) => `slice-dev-${entryNo}`, agoMs: 60_000 });
}

function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('a read applying a long backlog', () => {
  it('lets the event loop turn between entries, and applies and flushes every one', async () => {
    const { redis, store, objects, config } = services!;
    const keys = new Keys(`slices-${process.pid}`);
    await store.init([REGION]);
    const stream = keys.partition(REGION, 0).stream;
    for (let k = 0; k < ENTRIES; k++) await redis.redis.xadd(stream, '*', 'd', encodeEvents(entry(k)));

    // Event-loop turns so far, as each entry reaches the actors.
    let turns = 0;
    let spinning = true;
    const spin = (): void => {
      turns++;
      if (spinning) setImmediate(spin);
    };
    const turnsAtApply: number[] = [];
    const processor = new PartitionProcessor({
      region: REGION,
      partition: 0,
      redis: redis.redis,
      keys,
      epoch: 1,
      consumer: 'slices',
      analytics: store,
      database: regionDatabase(config, REGION),
      objects,
      actorOptions: { dedupHorizonMs: 10 * 60_000, dedupMaxIds: 100_000, idleMs: 10 * 60_000 },
      flushIntervalMs: 1000,
      maxEvents: 20_000,
      logger: pino({ level: 'silent' }),
      metrics: new ShardMetrics(),
      hooks: {
        beforeApply: () => {
          turnsAtApply.push(turns);
          busyWait(SLOW_APPLY_MS);
        },
      },
    });
    await processor.start();
    setImmediate(spin);
    const read = await processor.poll(256);
    spinning = false;

    expect(read).toBe(ENTRIES);
    expect(turnsAtApply).toHaveLength(ENTRIES);
    // Applied in one go, every entry saw the same turn.
    for (let i = 1; i < ENTRIES; i++) expect(turnsAtApply[i]).toBeGreaterThan(turnsAtApply[i - 1]!);

    await processor.flush();
    const [row] = await store.query<{ n: string }>(`SELECT count() AS n FROM ${regionDatabase(config, REGION)}.events FINAL`);
    expect(Number(row?.n)).toBe(ENTRIES * 10);
    await processor.stop(false);
  });
});
