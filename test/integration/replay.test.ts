/**
 * `shoal replay` against a running pipeline (the built CLI): after live traffic over two event
 * dates, rebuilding yesterday from the raw archive gives the same 1m and 1h rollups as the live
 * pipeline (compared by a digest per device and hour, and per device and minute) and each of
 * yesterday's readings once; a second rebuild changes nothing; a `--into live` replay adds to
 * what is stored (so inserts really come from the archive) and a rebuild then restores it.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateSecret } from '../../src/contracts/auth-secret.js';
import { issueDeviceToken } from '../../src/contracts/device-token.js';
import { DeviceClient } from '../helpers/device-client.js';
import { readingsOf, v1Event, v2Event, type DeviceEvent } from '../helpers/events.js';
import { deviceReadings, type TimeSpan } from '../helpers/query-api.js';
import { CLI, getJson, startShoal, waitFor, type ShoalProcess } from '../helpers/shoal-process.js';

const run = promisify(execFile);
const REGION = 'us-east';
const DAY_MS = 86_400_000;
const SENSORS = ['temperature', 'humidity', 'pressure'];
let shoal: ShoalProcess | undefined;

interface RollupAnswer {
  rows: { window_start: string; count: number; sum: number; min: number; max: number }[];
}

/** sha256 of a window's (sensor, count, sum, min, max) lines, keyed `${device}|${bucket start}`. */
async function digests(ops: string, devices: readonly string[], step: '1m' | '1h', span: TimeSpan): Promise<Map<string, string>> {
  const lines = new Map<string, string[]>();
  for (const device of devices) {
    for (const sensor of SENSORS) {
      const q = `sensor=${sensor}&step=${step}&from=${new Date(span.from).toISOString()}&to=${new Date(span.to).toISOString()}`;
      const body = await getJson<RollupAnswer>(`${ops}/api/v1/devices/${device}/rollups?${q}`);
      for (const r of body.rows) {
        const key = `${device}|${r.window_start}`;
        lines.set(key, [...(lines.get(key) ?? []), `${sensor} ${r.count} ${r.sum} ${r.min} ${r.max}`]);
      }
    }
  }
  return new Map([...lines].map(([key, l]) => [key, createHash('sha256').update(l.sort().join('\n')).digest('hex')]));
}

async function replay(ops: string, date: string, into: 'rebuild' | 'live'): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'replay', '--ops', ops, '--region', REGION, '--from', date, '--to', date, '--into', into]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Events of three devices: v1 and v2 (multi-reading) events at whole-number values. */
function traffic(devices: readonly string[], times: readonly number[]): DeviceEvent[] {
  return devices.flatMap((device, d) =>
    times.flatMap((t, k) => [
      v1Event(device, REGION, t, 'temperature', 10 * d + k),
      v2Event(device, REGION, t + 500, k + 1, [
        { sensor_type: 'humidity', value: 40 + k, unit: '%' },
        { sensor_type: 'pressure', value: 1000 - d - k, unit: 'hPa' },
        { sensor_type: 'temperature', value: -k, unit: 'C' },
      ]),
    ]),
  );
}

describe('shoal replay', () => {
  afterAll(async () => {
    await shoal?.cleanup();
  });

  it('rebuilds a date from the raw archive with the live rollups, idempotently', async () => {
    shoal = await startShoal({ shards: 1, config: { partitions: 2, flush: { intervalMs: 150 } } });
    const s = shoal;
    const now = Date.now();
    const today = Math.floor(now / DAY_MS) * DAY_MS;
    const yesterday = today - DAY_MS;
    const yesterdayDate = new Date(yesterday).toISOString().slice(0, 10);
    const devices = ['replay-a', 'replay-b', 'replay-c'];
    // Yesterday: minutes spread over several hours; today: spread between midnight and now.
    const yesterdayTimes = [1, 2, 5, 13, 22].flatMap((h) => [h * 3_600_000 + 61_000, h * 3_600_000 + 62_000, h * 3_600_000 + 1_800_000].map((o) => yesterday + o));
    const todayTimes = Array.from({ length: 6 }, (_, k) => today + Math.floor(((now - today) * k) / 7));
    const events = [...traffic(devices, yesterdayTimes), ...traffic(devices, todayTimes)];

    const secret = loadOrCreateSecret(s.dataDir);
    for (const device of devices) {
      const client = await DeviceClient.connect(s.ingestUrl, await issueDeviceToken(secret, device, REGION));
      const own = events.filter((e) => e.device_id === device);
      expect((await client.send(own)).accepted).toBe(own.length);
      expect((await client.send(own.slice(0, 4), 'msgpack')).accepted).toBe(4); // a resend: dedup's job
      await client.close();
    }
    const readings = events.reduce((n, e) => n + readingsOf(e).length, 0);
    const span = { from: yesterday, to: now + 60_000 };
    const auditUrl = `${s.opsUrl}/api/v1/audit?from=${new Date(span.from).toISOString()}&to=${new Date(span.to).toISOString()}`;
    await waitFor('every event stored and rolled up', async () => {
      const r = await getJson<{ totals: { stored_events: number; rolled_up_readings: number } }>(auditUrl);
      return r.totals.stored_events === events.length && r.totals.rolled_up_readings === readings ? true : undefined;
    });

    const yesterdaySpan = { from: yesterday, to: today };
    const yesterdayReadings = events
      .filter((e) => Date.parse(e.event_time) < today)
      .flatMap((e) => readingsOf(e).map((r) => `${r.eventId}/${r.index}`));
    const snapshot = async (): Promise<{ hours: Map<string, string>; minutes: Map<string, string>; readings: string[] }> => ({
      hours: await digests(s.opsUrl, devices, '1h', span),
      minutes: await digests(s.opsUrl, devices, '1m', span),
      readings: (await Promise.all(devices.map((d) => deviceReadings(s.opsUrl, d, yesterdaySpan)))).flat().sort(),
    });
    const live = await snapshot();
    expect(live.readings).toEqual([...yesterdayReadings].sort());
    expect(live.hours.size).toBeGreaterThan(devices.length * 5);

    const first = await replay(s.opsUrl, yesterdayDate, 'rebuild');
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`replay done: ${REGION} ${yesterdayDate}..${yesterdayDate} (rebuild)`);
    expect(first.stdout).toContain(`, ${yesterdayReadings.length} rows`);
    expect(await snapshot()).toEqual(live);

    const second = await replay(s.opsUrl, yesterdayDate, 'rebuild');
    expect(second.code).toBe(0);
    expect(await snapshot()).toEqual(live);

    // `--into live` adds the archive's rows to what is stored: yesterday's counts double
    // (raw rows merge away by key), today's stay. A rebuild then restores the live rollups.
    expect((await replay(s.opsUrl, yesterdayDate, 'live')).code).toBe(0);
    const doubled = await snapshot();
    expect(doubled.readings).toEqual(live.readings);
    for (const [key, digest] of doubled.hours) {
      if (Date.parse(key.split('|')[1]!) < today) expect(digest).not.toBe(live.hours.get(key));
      else expect(digest).toBe(live.hours.get(key));
    }
    expect((await replay(s.opsUrl, yesterdayDate, 'rebuild')).code).toBe(0);
    expect(await snapshot()).toEqual(live);

    const bad = await replay(s.opsUrl, '2026-02-30', 'rebuild');
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toMatch(/^shoal: BAD_REQUEST: from: must be a date YYYY-MM-DD/);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(await s.stop()).toBe(0);
  }, 120_000);
});
