/**
 * Adaptive sampling end to end with the built CLI: ClickHouse inserts fail (test-only fault
 * switch) until the partitions' lag passes softLagMs, so the gateway samples temperature
 * readings at one in 4 and acks the rest as `sampled_out`; once ClickHouse is back the backlog
 * drains and
 *   - every stored reading is in the raw archive and `events`, exactly the acked readings
 *     minus those sampled out;
 *   - the 1h rollups' count equals Σ weight of the stored readings (unsampled humidity: its
 *     exact count), and estimates the temperature readings sent within a few standard errors;
 *   - the audit finds no difference and reports the sampled-out readings, as does /metrics.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateSecret } from '../../src/contracts/auth-secret.js';
import { issueDeviceToken } from '../../src/contracts/device-token.js';
import { readArchiveObject } from '../../src/sinks/raw-archive.js';
import { DeviceClient, type Ack } from '../helpers/device-client.js';
import { hourStart, readingsOf, v1Event, v2Event, type DeviceEvent } from '../helpers/events.js';
import { getJson, startShoal, waitFor, type ShoalProcess } from '../helpers/shoal-process.js';

const KEEP = 4;
let shoal: ShoalProcess | undefined;

interface Device {
  id: string;
  region: string;
  client: DeviceClient;
  /** Readings acked (accepted or sampled out), per sensor type. */
  acked: Map<string, number>;
  sampledOut: number;
  /** Frames whose ack reported sampled_out > 0. */
  sampledAcks: number;
}

interface Stats {
  partitions: { pressure: string; lagMs: number | null }[];
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : [join(dir, n)]));
}

/** One device: frames of four temperature events and one v2 event (temperature + humidity). */
async function drive(d: Device, stop: () => boolean): Promise<void> {
  let n = 0;
  const outbox: DeviceEvent[][] = [];
  while (!stop() || outbox.length > 0) {
    if (outbox.length === 0) {
      const now = Date.now();
      outbox.push([
        ...Array.from({ length: 4 }, (_, i) => v1Event(d.id, d.region, now - i, 'temperature', 15 + ((n * 7 + i) % 20))),
        v2Event(d.id, d.region, now, n, [
          { sensor_type: 'temperature', value: 18 + (n % 5), unit: 'C' },
          { sensor_type: 'humidity', value: 40 + (n % 9), unit: '%' },
        ]),
      ]);
      n++;
    }
    const frame = outbox.shift()!;
    const ack = (await d.client.sendOrFail(frame)) as Ack & { sampled_out?: number };
    expect(ack.rejected.every((r) => r.code === 'OVERLOADED')).toBe(true);
    const refused = new Set(ack.rejected.map((r) => r.index));
    for (const r of frame.filter((_, i) => !refused.has(i)).flatMap(readingsOf)) d.acked.set(r.sensor, (d.acked.get(r.sensor) ?? 0) + 1);
    if (refused.size > 0) outbox.push(frame.filter((_, i) => refused.has(i))); // a device keeps and resends those
    if ((ack.sampled_out ?? 0) > 0) {
      d.sampledOut += ack.sampled_out!;
      d.sampledAcks++;
    }
    await new Promise((r) => setTimeout(r, refused.size > 0 ? 250 : 20));
  }
}

describe('adaptive sampling end to end', () => {
  afterAll(async () => {
    await shoal?.cleanup();
  });

  it('samples under backpressure, reports it, and keeps the rollups unbiased and exact in weight', async () => {
    const faults = mkdtempSync(join(tmpdir(), 'shoal-faults-'));
    shoal = await startShoal({
      shards: 2,
      config: {
        partitions: 2,
        flush: { intervalMs: 200 },
        backpressure: { softLagMs: 1000, hardLagMs: 60_000, checkIntervalMs: 100 },
        sampling: { sensors: { temperature: { keepOneIn: KEEP } } },
      },
      env: { SHOAL_FAULTS_DIR: faults },
    });
    const s = shoal;
    const secret = loadOrCreateSecret(s.dataDir);
    const start = Date.now();
    const devices: Device[] = await Promise.all(
      ['us-east', 'eu-west', 'us-east', 'eu-west'].map(async (region, i) => {
        const id = `sampled-${region}-${i}`;
        const client = await DeviceClient.connect(s.ingestUrl, await issueDeviceToken(secret, id, region));
        return { id, region, client, acked: new Map<string, number>(), sampledOut: 0, sampledAcks: 0 };
      }),
    );
    let stopped = false;
    const traffic = Promise.all(devices.map((d) => drive(d, () => stopped)));
    const stats = (): Promise<Stats> => getJson<Stats>(`${s.opsUrl}/api/v1/stats`);
    const sampledAcks = (): number => devices.reduce((n, d) => n + d.sampledAcks, 0);

    await waitFor('traffic flowing', async () => Promise.resolve(devices.every((d) => (d.acked.get('temperature') ?? 0) >= 50) ? true : undefined));
    writeFileSync(join(faults, 'clickhouse-down'), '');
    await waitFor('partitions under soft backpressure', async () => ((await stats()).partitions.some((p) => p.pressure === 'soft') ? true : undefined));
    await waitFor('acks reporting sampled readings', async () => Promise.resolve(sampledAcks() >= 200 ? true : undefined), 60_000);
    rmSync(join(faults, 'clickhouse-down'));
    await waitFor(
      'backlog drained',
      async () => ((await stats()).partitions.every((p) => p.pressure === 'ok' && (p.lagMs ?? 0) < 1000) ? true : undefined),
      60_000,
    );
    stopped = true;
    await traffic;

    const from = new Date(hourStart(start - 3_600_000)).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const sampledTotal = devices.reduce((n, d) => n + d.sampledOut, 0);
    expect(sampledTotal).toBeGreaterThan(0);
    // Sampling happens only while devices are being throttled.
    expect(devices.flatMap((d) => d.client.messages).some((m) => (m as { type?: string }).type === 'throttle')).toBe(true);

    for (const d of devices) {
      const acked = [...d.acked.values()].reduce((a, b) => a + b, 0);
      const stored = acked - d.sampledOut;
      expect(stored).toBeLessThan(10_000); // one page of the events API
      const rows = await waitFor(
        `stored readings of ${d.id}`,
        async () => {
          const b = await getJson<{ rows: unknown[] }>(`${s.opsUrl}/api/v1/devices/${d.id}/events?from=${from}&to=${to}&limit=10000`);
          return b.rows.length >= stored ? b.rows : undefined;
        },
        60_000,
      );
      expect(rows).toHaveLength(stored);

      // Σ weight of the stored readings, from the raw archive.
      const weights = new Map<string, { rows: number; weight: number }>();
      for (const file of files(join(s.dataDir, 'objects', 'raw', `region=${d.region}`)).filter((f) => f.endsWith('.parquet'))) {
        for (const r of await readArchiveObject(readFileSync(file))) {
          if (r.deviceId !== d.id) continue;
          const w = weights.get(r.sensorType) ?? { rows: 0, weight: 0 };
          w.rows++;
          w.weight += r.weight;
          weights.set(r.sensorType, w);
        }
      }
      expect((weights.get('temperature')?.rows ?? 0) + (weights.get('humidity')?.rows ?? 0)).toBe(stored);

      for (const sensor of ['temperature', 'humidity']) {
        const body = await getJson<{ rows: { count: number; sum: number; avg: number }[] }>(
          `${s.opsUrl}/api/v1/devices/${d.id}/rollups?sensor=${sensor}&from=${from}&to=${to}&step=1h`,
        );
        const count = body.rows.reduce((n, r) => n + r.count, 0);
        expect(count, `${d.id} ${sensor}`).toBe(weights.get(sensor)?.weight);
        for (const r of body.rows) expect(r.avg).toBeCloseTo(r.sum / r.count, 9);
        const sent = d.acked.get(sensor) ?? 0;
        if (sensor === 'humidity') expect(count).toBe(sent);
        // Σ weight − sent = 3·kept − dropped over the sampled readings: variance 3·n ≤ 3·sent.
        else expect(Math.abs(count - sent), `${d.id}: weighted ${count} vs sent ${sent}`).toBeLessThanOrEqual(6 * Math.sqrt(3 * sent));
      }
    }

    const audit = await getJson<{ differences: unknown[]; totals: { sampled_out_readings: number } }>(`${s.opsUrl}/api/v1/audit?from=${from}&to=${to}`);
    expect(audit.differences).toEqual([]);
    expect(audit.totals.sampled_out_readings).toBe(sampledTotal);

    const metrics = await (await fetch(`${s.opsUrl}/metrics`)).text();
    const counted = [...metrics.matchAll(/^shoal_sampled_out_readings_total\{([^}]*)\} (\d+)$/gm)];
    expect(counted.every((m) => m[1]!.includes('sensor_type="temperature"'))).toBe(true);
    expect(counted.reduce((n, m) => n + Number(m[2]), 0)).toBe(sampledTotal);

    for (const d of devices) await d.client.close();
    expect(await s.stop()).toBe(0);
  }, 240_000);
});
