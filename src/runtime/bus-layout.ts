/**
 * The bus layout is fixed per region: a device's partition is hash(device_id) mod partitions,
 * so a process started with another partition count would read the wrong streams and leave
 * events in the others unread. The first start records each region's count in Redis; every
 * later start (any process, any config) must match it, or is refused with a ConfigError
 * that says which count the bus has.
 */
import type { Cluster, Redis } from 'ioredis';
import { ConfigError } from '../errors.js';
import type { Keys } from './keys.js';

/** The most partitions a region may have (config schema's maximum). */
const MAX_PARTITIONS = 1024;

/** The hash of recorded partition counts, one field per region. */
export function partitionLayoutKey(keys: Keys): string {
  return `${keys.meta()}:partitions`;
}

/** Record the counts on first use; throw ConfigError when the bus was made with other ones. */
export async function checkPartitionLayout(redis: Redis | Cluster, keys: Keys, regions: readonly string[], partitions: number): Promise<void> {
  const key = partitionLayoutKey(keys);
  const problems: string[] = [];
  for (const region of regions) {
    if ((await redis.hsetnx(key, region, String(partitions))) === 1) {
      // First record. A bus made before counts were recorded may still have more streams.
      const beyond = await highestStreamBeyond(redis, keys, region, partitions);
      if (beyond !== null) {
        await redis.hdel(key, region);
        problems.push(
          `partitions: the bus of region ${region} already has a stream for partition ${beyond}, ` +
            `more than the ${partitions} configured; partitions are fixed per region, so set partitions: ${beyond + 1} or more`,
        );
        continue;
      }
    }
    const recorded = Number(await redis.hget(key, region));
    if (recorded !== partitions)
      problems.push(
        `partitions: the bus of region ${region} has ${recorded} partitions (recorded in Redis at ${key}); ` +
          `partitions are fixed per region, so set partitions: ${recorded}`,
      );
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

/** The highest partition ≥ `from` (up to the config's limit, 1024) whose stream exists, or null. */
async function highestStreamBeyond(redis: Redis | Cluster, keys: Keys, region: string, from: number): Promise<number | null> {
  const candidates = Array.from({ length: Math.max(0, MAX_PARTITIONS - from) }, (_, i) => from + i);
  const exists = await Promise.all(candidates.map((p) => redis.exists(keys.partition(region, p).stream)));
  for (let i = candidates.length - 1; i >= 0; i--) if (exists[i] === 1) return candidates[i] as number;
  return null;
}
