/**
 * A crash between the sink writes and the checkpoint commit (forced through the test-only
 * fault hook SHOAL_FAULT_CRASH_AFTER_SINKS): the restarted process finds the open flush intent,
 * re-runs exactly that range, and ClickHouse drops the repeated inserts by their tokens. Every
 * acked reading shows once and every rollup counts it once (invariant 2).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateSecret } from '../../src/contracts/auth-secret.js';
import { issueDeviceToken } from '../../src/contracts/device-token.js';
import { DeviceClient } from '../helpers/device-client.js';
import { expectedRollups, hourStart, readingsOf, v1Event, v2Event, type DeviceEvent } from '../helpers/events.js';
import { getJson, startShoal, waitFor, type ShoalProcess } from '../helpers/shoal-process.js';

let shoal: ShoalProcess | undefined;

describe('crash between sinks and checkpoint', () => {
  afterAll(async () => {
    await shoal?.cleanup();
  });

  it('re-runs the open flush without double counting', async () => {
    // One shard, one partition per region: the crash hits a flush that holds our events.
    const config = { partitions: 1, flush: { intervalMs: 100 } };
    shoal = await startShoal({ shards: 1, config, env: { SHOAL_FAULT_CRASH_AFTER_SINKS: '1' } });
    const first = shoal;
    const secret = loadOrCreateSecret(first.dataDir);
    const now = Date.now();
    const device = 'crash-dev-1';
    const client = await DeviceClient.connect(first.ingestUrl, await issueDeviceToken(secret, device, 'us-east'));
    const events: DeviceEvent[] = [
      ...Array.from({ length: 30 }, (_, i) => v1Event(device, 'us-east', now - i * 1000, 'temperature', i * 1.5)),
      v2Event(device, 'us-east', now - 90_000, 1, [
        { sensor_type: 'temperature', value: 7, unit: 'C' },
        { sensor_type: 'humidity', value: 60, unit: '%' },
      ]),
    ];
    const ack = await client.send(events);
    expect(ack.accepted).toBe(events.length);
    // The first flush with rows writes both sinks, then the hook kills the process.
    await new Promise<void>((resolve) => first.child.once('exit', () => resolve()));
    expect(first.child.signalCode).toBe('SIGKILL');
    expect(first.logs()).toContain('fault injection');

    shoal = await startShoal({ dataDir: first.dataDir, shards: 1, config });
    const second = shoal;
    expect(second.logs()).toContain('re-running unfinished flush');
    const from = new Date(hourStart(now - 3_600_000)).toISOString();
    const to = new Date(now + 60_000).toISOString();
    const want = new Set(events.flatMap((e) => readingsOf(e).map((r) => `${r.eventId}/${r.index}`)));
    const rows = await waitFor('events', async () => {
      const b = await getJson<{ rows: { event_id: string; reading_index: number }[] }>(
        `${second.opsUrl}/api/v1/devices/${device}/events?from=${from}&to=${to}&limit=1000`,
      );
      return b.rows.length >= want.size ? b.rows : undefined;
    });
    expect(rows.map((r) => `${r.event_id}/${r.reading_index}`).sort()).toEqual([...want].sort());
    for (const sensor of ['temperature', 'humidity']) {
      const expected = [...expectedRollups(events, 60_000)].filter(([k]) => k.includes(`|${sensor}|`));
      const body = await getJson<{ rows: { window_start: string; count: number; sum: number }[] }>(
        `${second.opsUrl}/api/v1/devices/${device}/rollups?sensor=${sensor}&from=${from}&to=${to}&step=1m`,
      );
      expect(body.rows).toHaveLength(expected.length);
      for (const [key, w] of expected) {
        const row = body.rows.find((r) => key.endsWith(`|${Date.parse(r.window_start)}`));
        expect(row?.count, key).toBe(w.count);
        expect(row?.sum).toBeCloseTo(w.sum, 9);
      }
    }
    await client.close().catch(() => undefined);
    expect(await second.stop()).toBe(0);
  }, 120_000);
});
