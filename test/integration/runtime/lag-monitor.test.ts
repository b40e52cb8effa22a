/**
 * LagMonitor on a real redis-server: a partition's lag is the age of its oldest entry after
 * the checkpoint, and it turns into the pressure level and the sample rate a throttle asks of
 * its devices: ½ at softLagMs, lower the further behind, never below MIN_SAMPLE_RATE. Past
 * softLagMs a partition whose checkpoint moves too slowly for a new event to be flushed within
 * maxWaitMs refuses new events before its lag reaches hardLagMs, unless its sink is failing.
 */
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig, validateUserConfig } from '../../../src/config.js';
import { Keys } from '../../../src/runtime/keys.js';
import { DRAIN_WINDOW_MS, DrainSpeed, LagMonitor, MIN_SAMPLE_RATE, SOFT_SAMPLE_RATE, predictedWaitMs, pressureOf, throttleSampleRate } from '../../../src/runtime/lag-monitor.js';
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

describe('drain speed and predicted wait', () => {
  const bp = { softLagMs: 10_000, hardLagMs: 60_000, maxWaitMs: 20_000, checkIntervalMs: 500 };

  it('measures how far the checkpoint moved through bus time per unit of time, over the last window', () => {
    const d = new DrainSpeed();
    expect(d.speed()).toBeNull();
    d.record(0, 1_000_000);
    d.record(DRAIN_WINDOW_MS / 2 - 1, 1_000_000 + 1000);
    expect(d.speed()).toBeNull(); // less than half a window known
    d.record(DRAIN_WINDOW_MS / 2, 1_000_000 + 2500);
    expect(d.speed()).toBe(0.5);
    // Samples older than the window stop counting: a stall shows within one window.
    for (let t = DRAIN_WINDOW_MS / 2 + 500; t <= 3 * DRAIN_WINDOW_MS; t += 500) d.record(t, 1_000_000 + 2500);
    expect(d.speed()).toBe(0);
    d.record(3 * DRAIN_WINDOW_MS + 500, 1_000_000 + 2500 + 10 * DRAIN_WINDOW_MS);
    expect(d.speed()).toBeGreaterThan(9);
  });

  it('predicts the wait of a new event as lag ÷ speed', () => {
    expect(predictedWaitMs(12_000, 0.5)).toBe(24_000);
    expect(predictedWaitMs(12_000, 2)).toBe(6_000);
    expect(predictedWaitMs(0, 0)).toBe(0);
    expect(predictedWaitMs(5_000, 0)).toBe(Number.POSITIVE_INFINITY);
    expect(predictedWaitMs(5_000, null)).toBeNull();
  });

  it('refuses past softLagMs when the predicted wait passes maxWaitMs, but not for a failing sink', () => {
    expect(pressureOf(5_000, Number.POSITIVE_INFINITY, false, bp)).toBe('ok');
    expect(pressureOf(12_000, 19_999, false, bp)).toBe('soft');
    expect(pressureOf(12_000, 20_000, false, bp)).toBe('hard');
    expect(pressureOf(12_000, null, false, bp)).toBe('soft');
    expect(pressureOf(12_000, Number.POSITIVE_INFINITY, true, bp)).toBe('soft');
    expect(pressureOf(60_000, 0, true, bp)).toBe('hard');
  });

  it('turns a slow drain into OVERLOADED before the lag reaches hardLagMs, on a real stream', async () => {
    const prefix = `drn${randomUUID().slice(0, 8)}`;
    const keys = new Keys(prefix);
    const config = resolveConfig(validateUserConfig({ partitions: 2, regions: ['us-east'], redis: { keyPrefix: prefix } }));
    expect(config.backpressure).toMatchObject({ softLagMs: 10_000, maxWaitMs: 20_000, hardLagMs: 60_000 });
    const t0 = Date.now();
    // Both partitions: an entry a second from t0 − 15 s to t0, checkpoint at the first.
    for (const partition of [0, 1]) {
      const k = keys.partition('us-east', partition);
      for (let t = t0 - 15_000; t <= t0; t += 1000) await redis.redis.xadd(k.stream, `${t}-0`, 'd', 'x');
      await redis.redis.hset(k.checkpoint, 'offset', `${t0 - 15_000}-0`, 'committed_at_ms', String(t0));
    }
    let now = t0;
    const registry = new Registry();
    const monitor = new LagMonitor(redis.redis, keys, config, registry, () => now, () => new Set(['us-east/1']));
    await monitor.refresh();
    expect(monitor.pressure('us-east', 0)).toBe('soft'); // lag 14 s, speed not known yet

    // 6 s later the checkpoints have moved 3 s through bus time: half the speed of real time.
    now = t0 + 6000;
    for (const partition of [0, 1]) await redis.redis.hset(keys.partition('us-east', partition).checkpoint, 'offset', `${t0 - 12_000}-0`);
    await monitor.refresh();
    const lag = new Map(monitor.snapshot().map((l) => [l.partition, l]));
    expect(lag.get(0)?.lagMs).toBe(17_000);
    expect(lag.get(0)?.drainSpeed).toBe(0.5);
    expect(lag.get(0)?.predictedWaitMs).toBe(34_000);
    expect(monitor.pressure('us-east', 0)).toBe('hard');
    // The same drain behind a failing sink keeps the lag thresholds: throttled, not refused.
    expect(monitor.pressure('us-east', 1)).toBe('soft');
    // Operators see the same in Prometheus.
    const gauge = async (name: string, partition: number): Promise<number | undefined> =>
      (await registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels['partition'] === String(partition))?.value;
    expect(await gauge('shoal_drain_speed', 0)).toBe(0.5);
    expect(await gauge('shoal_backpressure_level', 0)).toBe(2);
    expect(await gauge('shoal_backpressure_level', 1)).toBe(1);
    expect(await gauge('shoal_throttle_sample_rate', 1)).toBe(throttleSampleRate(17_000, 10_000, 60_000));
  });
});
