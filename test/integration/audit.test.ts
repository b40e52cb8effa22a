/**
 * `shoal audit` against a running pipeline: after traffic with duplicates, every device-hour
 * agrees (exit 0); once an archive object is lost, the audit names the device and hour that
 * lack it and exits 1.
 */
import { execFile } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateSecret } from '../../src/contracts/auth-secret.js';
import { issueDeviceToken } from '../../src/contracts/device-token.js';
import { DeviceClient } from '../helpers/device-client.js';
import { v1Event, v2Event } from '../helpers/events.js';
import { CLI, getJson, startShoal, waitFor, type ShoalProcess } from '../helpers/shoal-process.js';

const run = promisify(execFile);
let shoal: ShoalProcess | undefined;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : [join(dir, n)]));
}

async function audit(ops: string, from: string, to: string): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(process.execPath, [CLI, 'audit', '--ops', ops, '--from', from, '--to', to]);
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, stdout: e.stdout };
  }
}

describe('shoal audit', () => {
  afterAll(async () => {
    await shoal?.cleanup();
  });

  it('finds no difference after clean traffic, and names a lost archive object', async () => {
    shoal = await startShoal({ shards: 1, config: { partitions: 2, flush: { intervalMs: 150 } } });
    const s = shoal;
    const secret = loadOrCreateSecret(s.dataDir);
    const now = Date.now();
    const total = { events: 0 };
    for (const [i, region] of ['us-east', 'eu-west'].entries()) {
      const id = `audit-${region}`;
      const client = await DeviceClient.connect(s.ingestUrl, await issueDeviceToken(secret, id, region));
      const events = [
        ...Array.from({ length: 12 }, (_, k) => v1Event(id, region, now - k * 60_000, 'temperature', k)),
        v2Event(id, region, now - 2 * 3_600_000, 1, [
          { sensor_type: 'temperature', value: 1, unit: 'C' },
          { sensor_type: 'humidity', value: 2, unit: '%' },
        ]),
      ];
      expect((await client.send(events)).accepted).toBe(events.length);
      // The same frame again (a device that missed its ack) and once more in part.
      expect((await client.send(events, 'msgpack')).accepted).toBe(events.length);
      expect((await client.send(events.slice(0, 3 + i))).accepted).toBe(3 + i);
      total.events += events.length;
      await client.close();
    }
    const from = new Date(now - 4 * 3_600_000).toISOString();
    const to = new Date(now + 60_000).toISOString();
    await waitFor('all events visible', async () => {
      const r = await getJson<{ totals: { stored_events: number } }>(`${s.opsUrl}/api/v1/audit?from=${from}&to=${to}`);
      return r.totals.stored_events === total.events ? true : undefined;
    });

    const clean = await audit(s.opsUrl, from, to);
    expect(clean.stdout).not.toContain('DIFF');
    expect(clean.stdout).toMatch(/0 with differences; expected 26 events, archived 26, stored 26/);
    expect(clean.code).toBe(0);

    // Lose one archive object of eu-west: the audit must point at that device and its hours.
    const lost = files(join(s.dataDir, 'objects', 'raw', 'region=eu-west'))[0]!;
    rmSync(lost);
    const broken = await audit(s.opsUrl, from, to);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/^DIFF eu-west audit-eu-west /m);
    expect(broken.stdout).not.toMatch(/^DIFF us-east/m);
    expect(broken.stdout.trim().split('\n').at(-1)).toMatch(/[1-9]\d* with differences/);
    expect(await s.stop()).toBe(0);
  }, 120_000);
});
