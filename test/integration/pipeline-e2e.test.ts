/**
 * End to end: `shoal start` as a child process, dozens of devices over real WebSockets with
 * tokens in both regions, v1 and v2, JSON and MessagePack, duplicates, out-of-order and
 * hour-late events, and invalid events of every code the gateway can see. Everything is then
 * checked through the query API, and residency straight in the stores.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateSecret } from '../../src/contracts/auth-secret.js';
import { issueDeviceToken } from '../../src/contracts/device-token.js';
import { readArchiveObject } from '../../src/sinks/raw-archive.js';
import { DeviceClient, type Ack } from '../helpers/device-client.js';
import { expectedRollups, readingsOf, v1Event, v2Event, type DeviceEvent } from '../helpers/events.js';
import { getJson, startShoal, waitFor, type ShoalProcess } from '../helpers/shoal-process.js';

const REGIONS = ['us-east', 'eu-west'] as const;
const DEVICES_PER_REGION = 12;
const SENSORS = ['temperature', 'humidity'];

interface RollupRow {
  window_start: string;
  count: number;
  sum: number;
  min: number;
  max: number;
  avg: number;
  p50: number;
  p95: number;
  p99: number;
}

let shoal: ShoalProcess;
const accepted = new Map<string, DeviceEvent[]>(); // device → events acked as accepted (with duplicates)
const rejections: { code: string; deviceId: string }[] = [];
let secret: string;

function allFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? allFiles(p) : [p];
  });
}

describe('pipeline end to end', () => {
  beforeAll(async () => {
    shoal = await startShoal({ shards: 2, config: { partitions: 4, flush: { intervalMs: 250 } } });
    secret = loadOrCreateSecret(shoal.dataDir);
    const now = Date.now();
    const devices = REGIONS.flatMap((region) =>
      Array.from({ length: DEVICES_PER_REGION }, (_, i) => ({ region, id: `e2e-${region}-${String(i).padStart(3, '0')}` })),
    );
    await Promise.all(
      devices.map(async ({ region, id }, d) => {
        const client = await DeviceClient.connect(shoal.ingestUrl, await issueDeviceToken(secret, id, region));
        const mine: DeviceEvent[] = [];
        accepted.set(id, mine);
        const record = (ack: Ack, events: DeviceEvent[]): void => {
          expect(ack.rejected).toEqual([]);
          expect(ack.accepted).toBe(events.length);
          mine.push(...events);
        };
        // In order, then shuffled (out of order), v1 JSON.
        const v1 = Array.from({ length: 20 }, (_, i) => v1Event(id, region, now - 120_000 + i * 1000 + d, SENSORS[i % 2]!, 10 + ((i * 7 + d) % 13)));
        record(await client.send(v1.slice(0, 10)), v1.slice(0, 10));
        const shuffled = v1.slice(10).reverse();
        record(await client.send(shuffled, 'msgpack'), shuffled);
        // v2 multi-reading, MessagePack, with seq.
        const v2 = Array.from({ length: 5 }, (_, i) =>
          v2Event(id, region, now - 60_000 + i * 500, i + 1, [
            { sensor_type: 'temperature', value: 20 + i, unit: 'C' },
            { sensor_type: 'humidity', value: 40 + i * 2, unit: '%' },
            { sensor_type: 'pressure', value: 1000 + i, unit: 'hPa' },
          ]),
        );
        record(await client.send(v2, 'msgpack'), v2);
        // Hour-late events (both single and multi reading), JSON.
        const late = [
          v1Event(id, region, now - 3_600_000 - 5000, 'temperature', -3.5),
          v2Event(id, region, now - 3_700_000, 6, [{ sensor_type: 'humidity', value: 12.25, unit: '%' }]),
        ];
        record(await client.send(late), late);
        // Exact duplicates: resend an earlier frame, and mix a duplicate with a new event.
        record(await client.send(v1.slice(0, 10)), v1.slice(0, 10));
        const fresh = v1Event(id, region, now - 30_000, 'temperature', 99);
        record(await client.send([v2[0]!, fresh], 'msgpack'), [v2[0]!, fresh]);

        // Invalid events: the first device of each region sends one of every code.
        if (d % DEVICES_PER_REGION === 0) {
          const other = REGIONS.find((r) => r !== region)!;
          const bad: [string, unknown][] = [
            ['SCHEMA_VERSION_UNSUPPORTED', { ...v1Event(id, region, now, 'temperature', 1), schema_version: 3 }],
            ['FIELD_MISSING', (({ event_time: _t, ...rest }) => rest)(v1Event(id, region, now, 'temperature', 1))],
            ['FIELD_INVALID', { ...v1Event(id, region, now, 'temperature', 1), value: 'hot' }],
            ['EVENT_TIME_OUT_OF_RANGE', v1Event(id, region, now - 8 * 86_400_000, 'temperature', 1)],
            ['REGION_UNKNOWN', v1Event(id, 'mars-north', now, 'temperature', 1)],
            ['REGION_MISMATCH', v1Event(id, other, now, 'temperature', 1)],
            ['DEVICE_MISMATCH', v1Event(`${id}-impostor`, region, now, 'temperature', 1)],
          ];
          const good = v1Event(id, region, now - 10_000, 'humidity', 55);
          const ack = await client.send([...bad.map(([, e]) => e), good]);
          expect(ack.accepted).toBe(1);
          expect(ack.rejected.map((r) => r.code)).toEqual(bad.map(([code]) => code));
          ack.rejected.forEach((r, i) => expect(r.index).toBe(i));
          mine.push(good);
          for (const [code] of bad) rejections.push({ code, deviceId: id });
          const malformed = await client.sendRaw('{"events": [ not json');
          expect(malformed.rejected[0]?.code).toBe('MALFORMED');
          rejections.push({ code: 'MALFORMED', deviceId: id });
          const tooMany = Array.from({ length: 1001 }, () => v1Event(id, region, now, 'temperature', 1));
          const big = await client.send(tooMany);
          expect(big.accepted).toBe(0);
          expect(big.rejected[0]?.code).toBe('TOO_LARGE');
          rejections.push({ code: 'TOO_LARGE', deviceId: id });
        }
        await client.close();
      }),
    );
    // A device with a forged token is refused before any event is read.
    await expect(DeviceClient.connect(shoal.ingestUrl, 'not-a-token')).rejects.toThrow(/401/);
  }, 120_000);

  afterAll(async () => {
    await shoal?.cleanup();
  });

  it('shows every accepted reading exactly once in events', async () => {
    for (const [deviceId, events] of accepted) {
      const expected = new Map<string, number>();
      for (const e of events) for (const r of readingsOf(e)) expected.set(`${r.eventId}/${r.index}`, r.value);
      const url = `${shoal.opsUrl}/api/v1/devices/${deviceId}/events?from=${new Date(Date.now() - 2 * 3_600_000).toISOString()}&to=${new Date(Date.now() + 60_000).toISOString()}&limit=10000`;
      const body = await waitFor(`events of ${deviceId}`, async () => {
        const b = await getJson<{ device_id: string; rows: { event_id: string; reading_index: number; value: number; region: string; schema_version: number }[] }>(url);
        return b.rows.length >= expected.size ? b : undefined;
      });
      expect(body.device_id).toBe(deviceId);
      const keys = body.rows.map((r) => `${r.event_id}/${r.reading_index}`);
      expect(new Set(keys).size).toBe(keys.length);
      expect(new Set(keys)).toEqual(new Set(expected.keys()));
      for (const r of body.rows) expect(r.value).toBe(expected.get(`${r.event_id}/${r.reading_index}`));
      expect(new Set(body.rows.map((r) => r.schema_version))).toEqual(new Set([1, 2]));
    }
  });

  it('answers 1m and 1h rollups equal to the distinct accepted readings', async () => {
    for (const [width, step] of [
      [60_000, '1m'],
      [3_600_000, '1h'],
    ] as const) {
      for (const [deviceId, events] of accepted) {
        const expected = expectedRollups(events, width);
        for (const sensor of ['temperature', 'humidity', 'pressure']) {
          const want = [...expected].filter(([k]) => k.startsWith(`${deviceId}|${sensor}|`));
          const from = new Date(Date.now() - 3 * 3_600_000).toISOString();
          const to = new Date(Date.now() + 3_600_000).toISOString();
          const url = `${shoal.opsUrl}/api/v1/devices/${deviceId}/rollups?sensor=${sensor}&from=${from}&to=${to}&step=${step}`;
          const body = await waitFor(`${step} rollups of ${deviceId}/${sensor}`, async () => {
            const b = await getJson<{ device_id: string; sensor_type: string; step: string; rows: RollupRow[] }>(url);
            const total = b.rows.reduce((n, r) => n + r.count, 0);
            return total >= want.reduce((n, [, w]) => n + w.count, 0) ? b : undefined;
          });
          expect(body).toMatchObject({ device_id: deviceId, sensor_type: sensor, step });
          const got = new Map(body.rows.map((r) => [`${deviceId}|${sensor}|${Date.parse(r.window_start)}`, r]));
          expect(got.size).toBe(want.length);
          for (const [key, w] of want) {
            const row = got.get(key);
            expect(row, key).toBeDefined();
            expect(row!.count).toBe(w.count);
            expect(row!.sum).toBeCloseTo(w.sum, 9);
            expect(row!.min).toBe(w.min);
            expect(row!.max).toBe(w.max);
            expect(row!.avg).toBeCloseTo(w.sum / w.count, 9);
            expect(row!.p50).toBeGreaterThanOrEqual(w.min);
            expect(row!.p99).toBeLessThanOrEqual(w.max);
          }
        }
      }
    }
  });

  it('puts each invalid event in its region DLQ with its code and device', async () => {
    for (const region of REGIONS) {
      const body = await getJson<{ entries: { code: string; device_id: string | null }[] }>(`${shoal.opsUrl}/api/v1/dlq?region=${region}&limit=1000`);
      const mine = rejections.filter((r) => r.deviceId.startsWith(`e2e-${region}-`));
      for (const r of mine.filter((x) => x.code !== 'MALFORMED' && x.code !== 'TOO_LARGE')) {
        expect(body.entries.some((e) => e.code === r.code && e.device_id === r.deviceId), `${r.code} in ${region}`).toBe(true);
      }
      for (const code of ['MALFORMED', 'TOO_LARGE']) expect(body.entries.some((e) => e.code === code), `${code} in ${region}`).toBe(true);
    }
  });

  it('stops on SIGTERM with exit 0 and keeps each region in its own stores', async () => {
    expect(await shoal.stop()).toBe(0);
    // Raw archive: every object under region=R holds only R's events, and all accepted
    // readings are archived exactly once.
    const archived = new Map<string, number>();
    for (const region of REGIONS) {
      const dir = join(shoal.dataDir, 'objects', 'raw', `region=${region}`);
      for (const file of allFiles(dir)) {
        for (const row of await readArchiveObject(new Uint8Array(readFileSync(file)))) {
          expect(row.region).toBe(region);
          expect(row.deviceId.startsWith(`e2e-${region}-`)).toBe(true);
          const key = `${row.eventId}/${row.readingIndex}`;
          archived.set(key, (archived.get(key) ?? 0) + 1);
        }
      }
    }
    const expectedKeys = new Set<string>();
    for (const events of accepted.values()) for (const e of events) for (const r of readingsOf(e)) expectedKeys.add(`${r.eventId}/${r.index}`);
    expect(new Set(archived.keys())).toEqual(expectedKeys);
    expect([...archived.values()].every((n) => n === 1)).toBe(true);

    // ClickHouse: each region's database holds only its own devices.
    const { Session } = await import('chdb');
    const session = new Session(join(shoal.dataDir, 'clickhouse'));
    try {
      for (const region of REGIONS) {
        const db = `shoal_${region.replace('-', '_')}`;
        const rows = JSON.parse(
          `[${session.query(`SELECT DISTINCT region, device_id FROM ${db}.events`, 'JSONEachRow').trim().split('\n').join(',')}]`,
        ) as { region: string; device_id: string }[];
        expect(rows.length).toBe(DEVICES_PER_REGION);
        for (const r of rows) {
          expect(r.region).toBe(region);
          expect(r.device_id.startsWith(`e2e-${region}-`)).toBe(true);
        }
        const rollupDevices = session.query(`SELECT DISTINCT device_id FROM ${db}.rollup_1h`, 'CSV');
        expect(rollupDevices).not.toContain(`e2e-${REGIONS.find((r) => r !== region)}-`);
      }
    } finally {
      session.close();
    }
  });
});
