/**
 * LagMonitor on a real redis-server: a partition's lag is the age of its oldest entry after
 * the checkpoint, and it turns into the pressure level and the sample rate a throttle asks of
 * its devices: ½ at softLagMs, lower the further behind, never below MIN_SAMPLE_RATE.
 */
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig, validateUserConfig } from '../../../src/config.js';
import { Keys } from '../../../src/runtime/keys.js';
import { LagMonitor, MIN_SAMPLE_RATE, SOFT_SAMPLE_RATE, throttleSampleRate } from '../../../src/runtime/lag-monitor.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis.js';

let redis: TestRedis;

beforeAll(async () => {
  redis = await startTestRedis();
});

afterAll(async () => {
  await redis.stop();
});

describe('throttleSampleRate', () => {
  const SOFT = 10_000;
  const HARD = 60_000;

  it('asks nothing below the soft threshold and ½ at it', () => {
    expect(throttleSampleRate(0, SOFT, HARD)).toBe(1);
    expect(throttleSampleRate(SOFT - 1, SOFT, HARD)).toBe(1);
    expect(throttleSampleRate(SOFT, SOFT, HARD)).toBe(SOFT_SAMPLE_RATE);
  });

  it('halves the rate for every tenth of the way from soft to hard, down to the floor', () => {
    const step = (HARD - SOFT) / 10;
    expect(throttleSampleRate(SOFT + step, SOFT, HARD)).toBe(0.25);
    expect(throttleSampleRate(SOFT + 2 * step, SOFT, HARD)).toBe(0.125);
    expect(throttleSampleRate(SOFT + 2.5 * step, SOFT, HARD)).toBeCloseTo(0.5 * 2 ** -2.5, 3);
    expect(throttleSampleRate(HARD, SOFT, HARD)).toBe(MIN_SAMPLE_RATE);
    expect(throttleSampleRate(10 * HARD, SOFT, HARD)).toBe(MIN_SAMPLE_RATE);
  });

  it('never rises as the lag grows', () => {
    let last = 1;
    for (let lag = 0; lag <= 2 * HARD; lag += 250) {
      const rate = throttleSampleRate(lag, SOFT, HARD);
      expect(rate).toBeLessThanOrEqual(last);
      expect(rate).toBeGreaterThanOrEqual(MIN_SAMPLE_RATE);
      last = rate;
    }
  });
});

describe('LagMonitor', () => {
  it('measures each partition from its checkpoint and asks a lower rate of the one further behind', async () => {
    const prefix = `lag${randomUUID().slice(0, 8)}`;
    const keys = new Keys(prefix);
    const config = resolveConfig(
      validateUserConfig({ partitions: 3, regions: ['us-east'], redis: { keyPrefix: prefix }, backpressure: { softLagMs: 10_000, hardLagMs: 60_000 } }),
    );
    const now = Date.now();
    // Partition 0: caught up (checkpoint at its last entry). 1: its oldest entry after the
    // checkpoint is 20 s old. 2: 70 s old, past the hard threshold.
    const ages = [5_000, 20_000, 70_000];
    for (const [partition, age] of ages.entries()) {
      const k = keys.partition('us-east', partition);
      const id = await redis.redis.xadd(k.stream, `${now - age}-0`, 'd', 'x');
      await redis.redis.xadd(k.stream, `${now - 1000}-0`, 'd', 'y');
      if (partition === 0) await redis.redis.hset(k.checkpoint, 'offset', `${now - 1000}-0`, 'committed_at_ms', String(now - 900));
      else expect(id).toBe(`${now - age}-0`);
    }
    const monitor = new LagMonitor(redis.redis, keys, config, new Registry(), () => now);
    await monitor.refresh();

    expect(monitor.pressure('us-east', 0)).toBe('ok');
    expect(monitor.sampleRate('us-east', 0)).toBe(1);
    expect(monitor.pressure('us-east', 1)).toBe('soft');
    expect(monitor.sampleRate('us-east', 1)).toBe(throttleSampleRate(20_000, 10_000, 60_000));
    expect(monitor.sampleRate('us-east', 1)).toBeLessThan(SOFT_SAMPLE_RATE);
    expect(monitor.pressure('us-east', 2)).toBe('hard');
    expect(monitor.sampleRate('us-east', 2)).toBe(MIN_SAMPLE_RATE);
    const lags = new Map(monitor.snapshot().map((l) => [l.partition, l]));
    expect(lags.get(1)?.lagMs).toBe(20_000);
    expect(lags.get(0)?.checkpointAgeMs).toBe(900);
    // A partition never measured is not throttled.
    expect(monitor.sampleRate('eu-west', 0)).toBe(1);
  });
});
