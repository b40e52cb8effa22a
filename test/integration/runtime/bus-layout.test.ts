/**
 * The partition count is fixed per region: the first start records it in Redis, and a start
 * with another count is refused with a clear ConfigError instead of reading the wrong streams
 * (a real redis-server).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { checkPartitionLayout, partitionLayoutKey } from '../../../src/runtime/bus-layout.js';
import { Keys } from '../../../src/runtime/keys.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis.js';

let r: TestRedis;
let n = 0;

beforeAll(async () => {
  r = await startTestRedis();
});
afterAll(async () => {
  await r?.stop();
});

const freshKeys = (): Keys => new Keys(`layout-test-${++n}`);

async function refusal(check: Promise<void>): Promise<string> {
  const err = await check.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  return (err as ConfigError).message;
}

describe('checkPartitionLayout', () => {
  it('records each region’s count on first start and accepts the same count again', async () => {
    const keys = freshKeys();
    await checkPartitionLayout(r.redis, keys, ['us-east', 'eu-west'], 4);
    expect(await r.redis.hgetall(partitionLayoutKey(keys))).toEqual({ 'us-east': '4', 'eu-west': '4' });
    await expect(checkPartitionLayout(r.redis, keys, ['us-east', 'eu-west'], 4)).resolves.toBeUndefined();
  });

  it('refuses another count, naming the region and the count the bus has', async () => {
    const keys = freshKeys();
    await checkPartitionLayout(r.redis, keys, ['us-east'], 4);
    const message = await refusal(checkPartitionLayout(r.redis, keys, ['us-east'], 8));
    expect(message).toMatch(/region us-east has 4 partitions/);
    expect(message).toMatch(/set partitions: 4/);
    expect(await r.redis.hget(partitionLayoutKey(keys), 'us-east')).toBe('4');
  });

  it('refuses fewer partitions than a bus made before counts were recorded already has', async () => {
    const keys = freshKeys();
    await r.redis.xadd(keys.partition('eu-west', 6).stream, '*', 'd', 'x');
    const message = await refusal(checkPartitionLayout(r.redis, keys, ['eu-west'], 4));
    expect(message).toMatch(/stream for partition 6/);
    expect(message).toMatch(/set partitions: 7 or more/);
    // Nothing recorded: the next start with the right count records it.
    expect(await r.redis.hget(partitionLayoutKey(keys), 'eu-west')).toBeNull();
    await checkPartitionLayout(r.redis, keys, ['eu-west'], 8);
    expect(await r.redis.hget(partitionLayoutKey(keys), 'eu-west')).toBe('8');
  });
});
