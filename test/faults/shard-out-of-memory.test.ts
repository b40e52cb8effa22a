/**
 * A shard thread that outgrows its heap limit (`shardHeapMb`) dies without taking the process
 * or any accepted data with it: the pipeline restarts the thread on the same partitions, the
 * events it had read but not committed are read again and land exactly once, the restart is
 * counted, the counters a restart would reset stay monotonic, and /healthz is up again.
 *
 * The fault (SHOAL_FAULT_SHARD_OOM_DEVICE) makes the thread's first incarnation allocate until
 * V8 stops it at its limit when it applies the named device's events: the real
 * ERR_WORKER_OUT_OF_MEMORY path, not a simulated exit.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateSecret } from '../../src/contracts/auth-secret.js';
import { issueDeviceToken } from '../../src/contracts/device-token.js';
import { DeviceClient } from '../helpers/device-client.js';
import { hourStart, v1Event } from '../helpers/events.js';
import { scrape, sum } from '../helpers/prometheus-text.js';
import { getJson, startShoal, waitFor, type ShoalProcess } from '../helpers/shoal-process.js';

let shoal: ShoalProcess | undefined;

describe('a shard thread out of heap', () => {
  afterAll(async () => {
    await shoal?.cleanup();
  });

  it('is restarted on its partitions and loses nothing', async () => {
    shoal = await startShoal({
      shards: 1,
      config: { partitions: 1, shardHeapMb: 64, flush: { intervalMs: 150 } },
      env: { SHOAL_FAULT_SHARD_OOM_DEVICE: 'heap-hog' },
    });
    const s = shoal;
    const secret = loadOrCreateSecret(s.dataDir);
    const now = Date.now();
    const from = new Date(hourStart(now - 3_600_000)).toISOString();
    const to = new Date(now + 60_000).toISOString();
    const eventIds = async (device: string): Promise<string[]> =>
      (await getJson<{ rows: { event_id: string }[] }>(`${s.opsUrl}/api/v1/devices/${device}/events?from=${from}&to=${to}`)).rows.map((r) => r.event_id);

    const steady = await DeviceClient.connect(s.ingestUrl, await issueDeviceToken(secret, 'heap-steady', 'us-east'));
    const before = Array.from({ length: 50 }, (_, i) => v1Event('heap-steady', 'us-east', now - 10_000 + i, 'temperature', 1));
    expect((await steady.send(before)).accepted).toBe(50);
    await waitFor('the first events visible', async () => ((await eventIds('heap-steady')).length === 50 ? true : undefined));
    // Committed (rows count at the checkpoint commit), and the count published by the shard.
    await waitFor('the first events committed', async () => (sum(await scrape(s.opsUrl), 'shoal_rows_flushed_total') === 50 ? true : undefined));
    expect(sum(await scrape(s.opsUrl), 'shoal_events_processed_total')).toBe(50);

    // The hog's event and the neighbour's next ones reach the shard together: it dies applying them.
    const hog = await DeviceClient.connect(s.ingestUrl, await issueDeviceToken(secret, 'heap-hog', 'us-east'));
    const hogEvent = v1Event('heap-hog', 'us-east', now - 5_000, 'temperature', 7);
    const after = Array.from({ length: 5 }, (_, i) => v1Event('heap-steady', 'us-east', now - 5_000 + i, 'temperature', 10 + i));
    const acks = await Promise.all([hog.send([hogEvent]), steady.send(after)]);
    expect(acks.map((a) => a.accepted)).toEqual([1, 5]);

    await waitFor('the restart counted', async () => {
      const restarts = sum(await scrape(s.opsUrl), 'shoal_shard_restarts_total', { shard: '0', reason: 'out_of_memory' });
      return restarts === 1 ? true : undefined;
    });
    await waitFor('every accepted event visible', async () => ((await eventIds('heap-steady')).length === 55 && (await eventIds('heap-hog')).length === 1 ? true : undefined));
    // Exactly once: the entries read again after the restart add no copies.
    expect(new Set(await eventIds('heap-steady'))).toEqual(new Set([...before, ...after].map((e) => e.event_id)));
    expect(await eventIds('heap-hog')).toEqual([hogEvent.event_id]);
    const rollups = await getJson<{ rows: { count: number; sum: number }[] }>(
      `${s.opsUrl}/api/v1/devices/heap-steady/rollups?sensor=temperature&from=${from}&to=${to}&step=1h`,
    );
    expect(rollups.rows).toEqual([expect.objectContaining({ count: 55, sum: 50 + 10 + 11 + 12 + 13 + 14 })]);

    const logs = s.logs();
    expect(logs).toContain('shard thread ran out of heap');
    expect(logs).toContain('shard thread restarted');
    // The dead thread's counts are kept: the new thread alone processed 6 events at most (the
    // 50 were committed before), the total goes on from the 50 (at least the hog's event more).
    // (The new thread publishes its counts once a second: wait for them.)
    const samples = await waitFor('the new thread counts published', async () => {
      const now = await scrape(s.opsUrl);
      return sum(now, 'shoal_rows_flushed_total') > 50 ? now : undefined;
    });
    expect(sum(samples, 'shoal_events_processed_total')).toBeGreaterThanOrEqual(51);
    const health = await fetch(`${s.opsUrl}/healthz`);
    expect(health.status).toBe(200);

    await Promise.all([steady.close(), hog.close()]);
    expect(await s.stop()).toBe(0);
  }, 120_000);
});
