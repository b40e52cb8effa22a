/**
 * kill -9 of the shoal process mid-stream, restart on the same data dir, devices resend their
 * unacked frames: nothing acked is missing and nothing is counted twice (invariants 1 and 2).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateSecret } from '../../src/contracts/auth-secret.js';
import { issueDeviceToken } from '../../src/contracts/device-token.js';
import { DeviceClient } from '../helpers/device-client.js';
import { expectedRollups, hourStart, readingsOf, v1Event, v2Event, type DeviceEvent } from '../helpers/events.js';
import { getJson, startShoal, waitFor, type ShoalProcess } from '../helpers/shoal-process.js';

const REGIONS = ['us-east', 'eu-west'] as const;

interface Device {
  id: string;
  region: string;
  token: string;
  /** Frames sent but not acked: resent after a reconnect. */
  outbox: DeviceEvent[][];
  acked: DeviceEvent[];
  seq: number;
  /** Why its last stream() ended early (expected after the kill; a clue before it). */
  stopped?: string;
}

function frame(d: Device, base: number): DeviceEvent[] {
  return Array.from({ length: 5 }, (_, i) => {
    d.seq++;
    const t = base - ((d.seq * 7919) % 600_000); // scattered over the last 10 minutes
    return d.seq % 3 === 0
      ? v2Event(d.id, d.region, t, d.seq, [
          { sensor_type: 'temperature', value: (d.seq % 50) + i / 4, unit: 'C' },
          { sensor_type: 'humidity', value: 30 + (d.seq % 40), unit: '%' },
        ])
      : v1Event(d.id, d.region, t, 'temperature', (d.seq % 37) - 5);
  });
}

/** Send outbox frames, then new ones until `until()`; stops quietly when the socket dies. */
async function stream(d: Device, url: string, until: () => boolean, base: number): Promise<void> {
  const client = await DeviceClient.connect(url, d.token);
  try {
    for (;;) {
      if (d.outbox.length === 0) {
        if (until()) break;
        d.outbox.push(frame(d, base));
      }
      const next = d.outbox[0]!;
      const ack = await client.sendOrFail(next, d.seq % 2 ? 'json' : 'msgpack');
      expect(ack.rejected).toEqual([]);
      d.acked.push(...next);
      d.outbox.shift();
    }
    await client.close();
  } catch (err) {
    // The server was killed: the frame stays in the outbox and is resent after restart.
    d.stopped = err instanceof Error ? err.message : String(err);
  }
}

let shoal: ShoalProcess | undefined;

describe('kill -9 and restart', () => {
  afterAll(async () => {
    await shoal?.cleanup();
  });

  it('loses nothing acked and counts nothing twice', async () => {
    const config = { partitions: 4, flush: { intervalMs: 200 } };
    shoal = await startShoal({ shards: 2, config });
    const dataDir = shoal.dataDir;
    const secret = loadOrCreateSecret(dataDir);
    const base = Date.now();
    const devices: Device[] = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const region = REGIONS[i % 2]!;
        const id = `kill-${region}-${i}`;
        return { id, region, token: await issueDeviceToken(secret, id, region), outbox: [], acked: [], seq: 0 };
      }),
    );

    // Phase 1: stream until the process is killed at an arbitrary moment mid-stream.
    let killed = false;
    const first = shoal;
    const phase1 = Promise.all(devices.map((d) => stream(d, first.ingestUrl, () => killed, base)));
    await waitFor('some acked traffic', () => Promise.resolve(devices.every((d) => d.acked.length >= 20) ? true : undefined)).catch((err: unknown) => {
      // Say which devices stalled and why, and keep the pipeline's logs.
      const states = devices.map((d) => `${d.id}: ${d.acked.length} acked, ${d.outbox.length} waiting${d.stopped ? `, stopped: ${d.stopped}` : ''}`);
      mkdirSync('test-artifacts', { recursive: true });
      writeFileSync('test-artifacts/kill-restart-failure.log', `${states.join('\n')}\n----- shoal -----\n${first.logs()}`);
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n${states.join('\n')}`);
    });
    await new Promise((r) => setTimeout(r, 150 + Math.floor(Math.random() * 400)));
    await first.kill9();
    killed = true;
    await phase1;
    const unacked = devices.reduce((n, d) => n + d.outbox.length, 0);

    // Phase 2: restart on the same data dir; devices resend what was unacked, then a bit more.
    shoal = await startShoal({ dataDir, shards: 2, config });
    const second = shoal;
    const stopAt = Date.now() + 1500;
    await Promise.all(devices.map((d) => stream(d, second.ingestUrl, () => Date.now() > stopAt, base)));
    expect(devices.every((d) => d.outbox.length === 0)).toBe(true);

    const from = new Date(hourStart(base - 3_600_000)).toISOString();
    const to = new Date(base + 3_600_000).toISOString();
    for (const d of devices) {
      const want = new Set(d.acked.flatMap((e) => readingsOf(e).map((r) => `${r.eventId}/${r.index}`)));
      const rows = await waitFor(`events of ${d.id}`, async () => {
        const b = await getJson<{ rows: { event_id: string; reading_index: number }[] }>(
          `${second.opsUrl}/api/v1/devices/${d.id}/events?from=${from}&to=${to}&limit=10000`,
        );
        return b.rows.length >= want.size ? b.rows : undefined;
      });
      const got = rows.map((r) => `${r.event_id}/${r.reading_index}`);
      expect(got.length).toBe(want.size);
      expect(new Set(got)).toEqual(want);

      for (const sensor of ['temperature', 'humidity']) {
        const expected = [...expectedRollups(d.acked, 3_600_000)].filter(([k]) => k.includes(`|${sensor}|`));
        const wantTotal = expected.reduce((n, [, w]) => n + w.count, 0);
        const url = `${second.opsUrl}/api/v1/devices/${d.id}/rollups?sensor=${sensor}&from=${from}&to=${to}&step=1h`;
        const body = await waitFor(`${d.id}/${sensor} rollups`, async () => {
          const b = await getJson<{ rows: { window_start: string; count: number; sum: number }[] }>(url);
          return b.rows.reduce((n, r) => n + r.count, 0) >= wantTotal ? b : undefined;
        }).catch((err: unknown) => {
          // Keep the pipeline's logs: a flush retrying with backoff and a lost rollup look alike here.
          mkdirSync('test-artifacts', { recursive: true });
          writeFileSync('test-artifacts/kill-restart-failure.log', `${first.logs()}\n----- restart -----\n${second.logs()}`);
          throw err;
        });
        const total = body.rows.reduce((n, r) => n + r.count, 0);
        expect(total, `${d.id}/${sensor} rollup count`).toBe(wantTotal);
        for (const [key, w] of expected) {
          const row = body.rows.find((r) => key.endsWith(`|${Date.parse(r.window_start)}`));
          expect(row?.count, key).toBe(w.count);
          expect(row?.sum).toBeCloseTo(w.sum, 9);
        }
      }
    }
    // The kill must really have cut traffic mid-stream for this test to mean anything.
    expect(unacked).toBeGreaterThan(0);
    expect(await second.stop()).toBe(0);
  }, 180_000);
});
