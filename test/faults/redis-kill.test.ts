/**
 * kill -9 of the embedded redis-server under load with SHOAL_REDIS_APPENDFSYNC=always: Shoal
 * respawns it from its AOF without a manual step; devices resend whatever was answered
 * OVERLOADED while it was gone, and every acked event is visible exactly once afterwards
 * (invariant 1).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateSecret } from '../../src/contracts/auth-secret.js';
import { issueDeviceToken } from '../../src/contracts/device-token.js';
import { DeviceClient } from '../helpers/device-client.js';
import { expectedRollups, hourStart, readingsOf, v1Event, v2Event, type DeviceEvent } from '../helpers/events.js';
import { getJson, startShoal, waitFor, type ShoalProcess } from '../helpers/shoal-process.js';

let shoal: ShoalProcess | undefined;

function redisPid(dataDir: string): number {
  return (JSON.parse(readFileSync(join(dataDir, 'redis', 'shoal-redis.json'), 'utf8')) as { pid: number }).pid;
}

describe('redis-server killed under load', () => {
  afterAll(async () => {
    await shoal?.cleanup();
  });

  it('loses no acked event with appendfsync always', async () => {
    shoal = await startShoal({ shards: 2, config: { partitions: 2, flush: { intervalMs: 150 } }, env: { SHOAL_REDIS_APPENDFSYNC: 'always' } });
    const s = shoal;
    const secret = loadOrCreateSecret(s.dataDir);
    const now = Date.now();
    let stop = false;
    const acked = new Map<string, DeviceEvent[]>();
    const traffic = Array.from({ length: 8 }, async (_, i) => {
      const region = i % 2 ? 'eu-west' : 'us-east';
      const id = `rkill-${region}-${i}`;
      const mine: DeviceEvent[] = [];
      acked.set(id, mine);
      const client = await DeviceClient.connect(s.ingestUrl, await issueDeviceToken(secret, id, region));
      const outbox: DeviceEvent[][] = [];
      let n = 0;
      while (!stop || outbox.length > 0) {
        if (outbox.length === 0) {
          n++;
          outbox.push([
            v1Event(id, region, now - n * 1000, 'temperature', n % 23),
            v2Event(id, region, now - n * 1000 - 500, n, [{ sensor_type: 'humidity', value: n % 31, unit: '%' }]),
          ]);
        }
        const frame = outbox.shift()!;
        const ack = await client.sendOrFail(frame, n % 2 ? 'json' : 'msgpack');
        const refused = new Set(ack.rejected.map((r) => r.index));
        expect(ack.rejected.every((r) => r.code === 'OVERLOADED')).toBe(true);
        mine.push(...frame.filter((_, k) => !refused.has(k)));
        if (refused.size) {
          outbox.push(frame.filter((_, k) => refused.has(k)));
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      await client.close();
    });

    await waitFor('traffic', () => Promise.resolve([...acked.values()].every((e) => e.length >= 20) ? true : undefined));
    const before = redisPid(s.dataDir);
    process.kill(before, 'SIGKILL');
    await waitFor('redis respawned', () => Promise.resolve(redisPid(s.dataDir) !== before ? true : undefined), 30_000);
    const ackedAtRestart = [...acked.values()].reduce((n, e) => n + e.length, 0);
    await waitFor('acks flowing again', () => Promise.resolve([...acked.values()].reduce((n, e) => n + e.length, 0) > ackedAtRestart + 40 ? true : undefined), 30_000);
    stop = true;
    await Promise.all(traffic);
    expect(s.logs()).toContain('embedded redis-server restarted');

    const from = new Date(hourStart(now - 3_600_000)).toISOString();
    const to = new Date(now + 60_000).toISOString();
    for (const [id, events] of acked) {
      const want = new Set(events.flatMap((e) => readingsOf(e).map((r) => `${r.eventId}/${r.index}`)));
      const rows = await waitFor(`events of ${id}`, async () => {
        const b = await getJson<{ rows: { event_id: string; reading_index: number }[] }>(`${s.opsUrl}/api/v1/devices/${id}/events?from=${from}&to=${to}&limit=10000`);
        return b.rows.length >= want.size ? b.rows : undefined;
      });
      expect(rows.length).toBe(want.size);
      expect(new Set(rows.map((r) => `${r.event_id}/${r.reading_index}`))).toEqual(want);
      for (const sensor of ['temperature', 'humidity']) {
        const total = [...expectedRollups(events, 3_600_000)].filter(([k]) => k.includes(`|${sensor}|`)).reduce((n, [, w]) => n + w.count, 0);
        const body = await waitFor(`${id}/${sensor} rollups`, async () => {
          const b = await getJson<{ rows: { count: number }[] }>(`${s.opsUrl}/api/v1/devices/${id}/rollups?sensor=${sensor}&from=${from}&to=${to}&step=1h`);
          return b.rows.reduce((n, r) => n + r.count, 0) >= total ? b : undefined;
        }, 15_000);
        expect(body.rows.reduce((n, r) => n + r.count, 0)).toBe(total);
      }
    }
    expect(await s.stop()).toBe(0);
  }, 180_000);
});
