/**
 * The bus Redis on /metrics: memory and AOF rewrites as a real redis-server reports them, and a
 * scrape that still answers (with shoal_redis_up 0) while Redis is down or hangs.
 */
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInfo, RedisStats } from '../../../src/runtime/redis-stats.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis.js';

let r: TestRedis;

beforeAll(async () => {
  r = await startTestRedis();
});
afterAll(async () => {
  await r?.stop();
});

/** The value of each unlabelled sample of one scrape. */
async function scrape(registry: Registry): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await registry.metrics()).split('\n')) {
    const m = /^(shoal_redis_\w+) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

describe('Redis stats on /metrics', () => {
  it('reads INFO fields and skips the rest', () => {
    const info = parseInfo('# Memory\r\nused_memory:1024\r\nused_memory_human:1.00K\r\n\r\n# Persistence\r\naof_rewrites:3\r\naof_last_bgrewrite_status:ok\r\n');
    expect([...info]).toEqual([
      ['used_memory', 1024],
      ['aof_rewrites', 3],
    ]);
  });

  it('follows used memory and AOF rewrites, and answers with shoal_redis_up 0 while Redis is down', async () => {
    const registry = new Registry();
    let clock = 0;
    // Each scrape asks INFO afresh (the cache lasts 500 ms of this clock).
    new RedisStats(r.redis, registry, () => (clock += 1000));

    const first = await scrape(registry);
    expect(first.get('shoal_redis_up')).toBe(1);
    expect(first.get('shoal_redis_used_memory_bytes')).toBeGreaterThan(100_000);
    expect(first.get('shoal_redis_aof_size_bytes')).toBeGreaterThanOrEqual(0);
    expect(first.get('shoal_redis_aof_rewrite_in_progress')).toBe(0);
    const rewrites = first.get('shoal_redis_aof_rewrites')!;
    expect(rewrites).toBeGreaterThanOrEqual(0);

    await r.redis.set('redis-stats:big', Buffer.alloc(4 * 1024 * 1024, 7));
    const grown = await scrape(registry);
    expect(grown.get('shoal_redis_used_memory_bytes')! - first.get('shoal_redis_used_memory_bytes')!).toBeGreaterThan(4_000_000);

    await r.redis.bgrewriteaof();
    await waitUntil('the AOF rewrite to finish', async () => {
      const now = await scrape(registry);
      return now.get('shoal_redis_aof_rewrites') === rewrites + 1 && now.get('shoal_redis_aof_rewrite_in_progress') === 0;
    });

    await r.server.stop();
    const down = await scrape(registry);
    expect(down.get('shoal_redis_up')).toBe(0);
    expect(down.get('shoal_redis_used_memory_bytes')).toBe(0);
    await r.server.start();
    await waitUntil('Redis to answer again', async () => (await scrape(registry)).get('shoal_redis_up') === 1);
    await r.redis.del('redis-stats:big');
  });

  it('answers within the INFO timeout when Redis hangs, with shoal_redis_up 0', async () => {
    const registry = new Registry();
    let clock = 0;
    new RedisStats(r.redis, registry, () => (clock += 1000));
    expect((await scrape(registry)).get('shoal_redis_up')).toBe(1);
    const pid = r.server.pid!;
    process.kill(pid, 'SIGSTOP');
    // Redis resumes after 10 s whatever happens: without the INFO timeout the scrape would
    // wait until then and see it up.
    const resume = setTimeout(() => process.kill(pid, 'SIGCONT'), 10_000);
    try {
      const hung = await scrape(registry);
      expect(hung.get('shoal_redis_up')).toBe(0);
    } finally {
      clearTimeout(resume);
      process.kill(pid, 'SIGCONT');
    }
    await waitUntil('Redis to answer again', async () => (await scrape(registry)).get('shoal_redis_up') === 1);
  });
});
