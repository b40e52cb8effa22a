/**
 * Device dropouts end to end with the built CLI: a device reporting every 100 ms that stops
 * is listed in /api/v1/stats as `quiet` within seconds (and not while it reports), a v2
 * device numbering 1, 2, 3, 7 is listed as `seq_gap` with 3 missing, and /metrics counts both.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import type { Dropout } from '../../src/actors/dropout-tracker.js';
import { loadOrCreateSecret } from '../../src/contracts/auth-secret.js';
import { issueDeviceToken } from '../../src/contracts/device-token.js';
import { DeviceClient } from '../helpers/device-client.js';
import { v1Event, v2Event } from '../helpers/events.js';
import { getJson, startShoal, waitFor, type ShoalProcess } from '../helpers/shoal-process.js';

type Listed = Dropout & { region: string };

let shoal: ShoalProcess | undefined;
const clients: DeviceClient[] = [];

describe('device dropouts', () => {
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await shoal?.cleanup();
  });

  it('tells a device that went quiet apart from one whose events never arrived', async () => {
    shoal = await startShoal({ config: { flush: { intervalMs: 100 } } });
    const s = shoal;
    const secret = loadOrCreateSecret(s.dataDir);
    const { regions } = await getJson<{ regions: string[] }>(`${s.opsUrl}/api/v1/stats`);
    const region = regions[0]!;
    const dropouts = async (): Promise<Listed[]> => (await getJson<{ dropouts: Listed[] }>(`${s.opsUrl}/api/v1/stats`)).dropouts;

    const connect = async (id: string): Promise<DeviceClient> => {
      const client = await DeviceClient.connect(s.ingestUrl, await issueDeviceToken(secret, id, region));
      clients.push(client);
      return client;
    };
    const steady = await connect('dropout-steady');
    const gappy = await connect('dropout-gappy');

    // The gappy device numbers its events 1, 2, 3, 7: 4, 5 and 6 never reach the gateway.
    for (const seq of [1, 2, 3, 7]) {
      const ack = await gappy.send([v2Event('dropout-gappy', region, Date.now(), seq, [{ sensor_type: 'temperature', value: seq, unit: 'C' }])]);
      expect(ack.accepted).toBe(1);
    }

    // The steady device reports every 100 ms for about 2 s (pacing the device, not waiting on the pipeline).
    for (let i = 0; i < 20; i++) {
      const ack = await steady.send([v1Event('dropout-steady', region, Date.now(), 'temperature', 20 + i)]);
      expect(ack.accepted).toBe(1);
      await delay(100);
    }
    // While it was reporting, it was never called quiet.
    expect((await dropouts()).filter((d) => d.device_id === 'dropout-steady')).toEqual([]);
    const stoppedAt = Date.now();

    const quiet = await waitFor('the steady device listed as quiet', async () => {
      const found = (await dropouts()).find((d) => d.device_id === 'dropout-steady' && d.kind === 'quiet');
      return found?.kind === 'quiet' ? found : undefined;
    }, 15_000);
    // Flagged within a few seconds of stopping, with the interval it was reporting at.
    expect(Date.now() - stoppedAt).toBeLessThan(5000);
    expect(quiet.region).toBe(region);
    expect(quiet.interval_s).toBeGreaterThanOrEqual(0.1);
    expect(quiet.interval_s).toBeLessThan(0.5);
    // Silent for more than 5 intervals, as far as figures rounded to 0.1 s can show it: the
    // true silence is at most silent_s + 0.05, the true interval at least interval_s − 0.05.
    expect(quiet.silent_s + 0.05).toBeGreaterThan(5 * (quiet.interval_s - 0.05));

    const listed = await dropouts();
    expect(listed.find((d) => d.device_id === 'dropout-gappy' && d.kind === 'seq_gap')).toEqual({
      device_id: 'dropout-gappy',
      region,
      kind: 'seq_gap',
      missing: 3,
      last_seq: 7,
    });
    // The steady device sent no seq: it never shows a gap.
    expect(listed.some((d) => d.device_id === 'dropout-steady' && d.kind === 'seq_gap')).toBe(false);

    // /metrics counts the flagged devices by kind.
    await waitFor('shoal_dropouts in /metrics', async () => {
      const text = await (await fetch(`${s.opsUrl}/metrics`)).text();
      const total = (kind: string): number =>
        [...text.matchAll(new RegExp(`^shoal_dropouts\\{[^}]*kind="${kind}"[^}]*\\} (\\S+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
      return total('quiet') >= 1 && total('seq_gap') >= 1 ? true : undefined;
    });
  });
});
