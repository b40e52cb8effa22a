/**
 * Sink outages (invariant 6, backpressure not loss): ClickHouse inserts fail for 30 s, then
 * object-store writes fail for 30 s, through the test-only fault switch SHOAL_FAULTS_DIR. The
 * partitions hold their checkpoints, the backlog waits in Redis, devices are throttled and
 * then told OVERLOADED (they keep and resend those events); once each sink is back the
 * backlog drains and every acked event is visible exactly once.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateSecret } from '../../src/contracts/auth-secret.js';
import { issueDeviceToken } from '../../src/contracts/device-token.js';
import { DeviceClient } from '../helpers/device-client.js';
import { expectedRollups, hourStart, readingsOf, v1Event, type DeviceEvent } from '../helpers/events.js';
import { getJson, startShoal, waitFor, type ShoalProcess } from '../helpers/shoal-process.js';

const OUTAGE_MS = 30_000;
let shoal: ShoalProcess | undefined;

interface Device {
  id: string;
  region: string;
  client: DeviceClient;
  outbox: DeviceEvent[][];
  acked: DeviceEvent[];
  overloaded: number;
}

async function run(d: Device, until: () => boolean, now: number): Promise<void> {
  let n = 0;
  for (;;) {
    if (d.outbox.length === 0) {
      if (until()) return;
      d.outbox.push(Array.from({ length: 4 }, (_, i) => v1Event(d.id, d.region, now - ((n++ * 997 + i) % 300_000), 'temperature', (n % 40) + i / 8)));
    }
    const frame = d.outbox.shift()!;
    const ack = await d.client.sendOrFail(frame);
    const refused = new Set(ack.rejected.filter((r) => r.code === 'OVERLOADED').map((r) => r.index));
    expect(ack.rejected.every((r) => r.code === 'OVERLOADED')).toBe(true);
    d.acked.push(...frame.filter((_, i) => !refused.has(i)));
    if (refused.size > 0) {
      d.overloaded += refused.size;
      d.outbox.push(frame.filter((_, i) => refused.has(i)));
      await new Promise((r) => setTimeout(r, 250)); // back off as a device would
    } else {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

describe('sink outages', () => {
  afterAll(async () => {
    await shoal?.cleanup();
  });

  it('throttles, then refuses, loses nothing, and drains when the sinks come back', async () => {
    const faults = mkdtempSync(join(tmpdir(), 'shoal-faults-'));
    shoal = await startShoal({
      shards: 2,
      config: { partitions: 2, flush: { intervalMs: 200 }, backpressure: { softLagMs: 2000, hardLagMs: 8000, checkIntervalMs: 200 } },
      env: { SHOAL_FAULTS_DIR: faults },
    });
    const s = shoal;
    const secret = loadOrCreateSecret(s.dataDir);
    const now = Date.now();
    const devices: Device[] = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const region = i % 2 ? 'eu-west' : 'us-east';
        const id = `outage-${region}-${i}`;
        const client = await DeviceClient.connect(s.ingestUrl, await issueDeviceToken(secret, id, region));
        return { id, region, client, outbox: [], acked: [], overloaded: 0 };
      }),
    );
    let stop = false;
    const traffic = Promise.all(devices.map((d) => run(d, () => stop, now)));
    type PartitionStats = { lagMs: number | null; pressure: string; throttleSampleRate: number; drainSpeed: number | null; predictedWaitMs: number | null };
    const stats = (): Promise<{ partitions: PartitionStats[] }> => getJson(`${s.opsUrl}/api/v1/stats`);

    for (const sink of ['clickhouse-down', 'object-store-down']) {
      await new Promise((r) => setTimeout(r, 2000));
      writeFileSync(join(faults, sink), '');
      const hard = await waitFor(`${sink}: partitions reach hard backpressure`, async () => {
        const lagging = (await stats()).partitions.filter((p) => p.pressure === 'hard');
        return lagging.length > 0 ? lagging : undefined;
      }, OUTAGE_MS);
      // Refusing, the throttle asks for less than ½; the stats show how fast the partition
      // drained lately (the window may still hold the catch-up after the previous outage).
      for (const p of hard) {
        expect(p.throttleSampleRate).toBeLessThan(0.5);
        expect(typeof p.drainSpeed).toBe('number');
      }
      await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - 8000)));
      rmSync(join(faults, sink));
      await waitFor(`${sink}: backlog drained`, async () => ((await stats()).partitions.every((p) => p.pressure === 'ok' && (p.lagMs ?? 0) < 2000) ? true : undefined), 60_000);
    }
    stop = true;
    await traffic;

    const throttles = devices.flatMap((d) => d.client.messages).filter((m) => (m as { type?: string }).type === 'throttle');
    expect(throttles.length).toBeGreaterThan(0);
    const first = throttles[0] as { sample_rate: number; retry_after_ms: number };
    expect(first.sample_rate).toBeGreaterThan(0);
    expect(first.sample_rate).toBeLessThanOrEqual(1);
    expect(first.retry_after_ms).toBeGreaterThan(0);
    expect(devices.reduce((n, d) => n + d.overloaded, 0)).toBeGreaterThan(0);

    const from = new Date(hourStart(now - 3_600_000)).toISOString();
    const to = new Date(now + 60_000).toISOString();
    for (const d of devices) {
      const want = new Set(d.acked.flatMap((e) => readingsOf(e).map((r) => `${r.eventId}/${r.index}`)));
      const rows = await waitFor(`events of ${d.id}`, async () => {
        const b = await getJson<{ rows: { event_id: string; reading_index: number }[] }>(`${s.opsUrl}/api/v1/devices/${d.id}/events?from=${from}&to=${to}&limit=10000`);
        return b.rows.length >= want.size ? b.rows : undefined;
      });
      expect(rows.length).toBe(want.size);
      expect(new Set(rows.map((r) => `${r.event_id}/${r.reading_index}`))).toEqual(want);
      const wantTotal = [...expectedRollups(d.acked, 3_600_000).values()].reduce((n, w) => n + w.count, 0);
      // A flush's rollup insert lands after its events insert: wait for it as for the events.
      const total = await waitFor(`${d.id} rollups`, async () => {
        const body = await getJson<{ rows: { count: number }[] }>(`${s.opsUrl}/api/v1/devices/${d.id}/rollups?sensor=temperature&from=${from}&to=${to}&step=1h`);
        const n = body.rows.reduce((sum, r) => sum + r.count, 0);
        return n >= wantTotal ? n : undefined;
      });
      expect(total).toBe(wantTotal);
      await d.client.close();
    }
    expect(await s.stop()).toBe(0);
  }, 240_000);
});
