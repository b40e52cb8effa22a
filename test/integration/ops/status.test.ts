/**
 * `shoal status` against a running pipeline (the built CLI): after a known number of events
 * per region, GET /api/v1/status and the CLI report exactly that many stored events and
 * readings, non-zero bytes per event for the raw archive and for ClickHouse, and the
 * pipeline's shards and partitions. The pipeline's archive janitor, started with it, has
 * deleted an archive object back-dated past the retention.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateSecret } from '../../../src/contracts/auth-secret.js';
import { issueDeviceToken } from '../../../src/contracts/device-token.js';
import type { StatusReport } from '../../../src/ops/status-report.js';
import { DirObjectStore } from '../../../src/sinks/dir-object-store.js';
import { archiveKey, eventDate } from '../../../src/sinks/raw-archive.js';
import { DeviceClient } from '../../helpers/device-client.js';
import { v1Event, v2Event, type DeviceEvent } from '../../helpers/events.js';
import { CLI, getJson, startShoal, tempDataDir, waitFor, type ShoalProcess } from '../../helpers/shoal-process.js';

const run = promisify(execFile);
const DAY = 86_400_000;
let shoal: ShoalProcess | undefined;

function eventsFor(region: string, v1: number, v2: number, now: number): DeviceEvent[] {
  const id = `status-${region}`;
  return [
    ...Array.from({ length: v1 }, (_, k) => v1Event(id, region, now - k * 1_000, 'temperature', 20 + k / 10)),
    ...Array.from({ length: v2 }, (_, k) =>
      v2Event(id, region, now - k * 1_000 - 500, k + 1, [
        { sensor_type: 'temperature', value: 21 + k, unit: 'C' },
        { sensor_type: 'humidity', value: 40 + k, unit: '%' },
        { sensor_type: 'pressure', value: 1000 + k, unit: 'hPa' },
      ]),
    ),
  ];
}

describe('shoal status', () => {
  afterAll(async () => {
    await shoal?.cleanup();
  });

  it('reports the events stored per region and non-zero bytes per event for the archive and ClickHouse', async () => {
    const dataDir = tempDataDir();
    mkdirSync(dataDir, { recursive: true });
    // An archive object dated 40 days back: the janitor started with the pipeline removes it.
    const oldDate = eventDate(Date.now() - 40 * DAY);
    const oldKey = archiveKey({ region: 'us-east', eventDate: oldDate, partition: 0, fromId: '1-0', toId: '2-0' });
    await new DirObjectStore(join(dataDir, 'objects')).put(oldKey, Buffer.from('stale'));

    shoal = await startShoal({ dataDir, shards: 1, config: { partitions: 2, flush: { intervalMs: 150 } } });
    const s = shoal;
    const secret = loadOrCreateSecret(s.dataDir);
    const now = Date.now();
    const sent = { 'us-east': eventsFor('us-east', 40, 10, now), 'eu-west': eventsFor('eu-west', 25, 0, now) };
    const expected = {
      'us-east': { events: 50, readings: 40 + 10 * 3 },
      'eu-west': { events: 25, readings: 25 },
    };
    for (const [region, events] of Object.entries(sent)) {
      const client = await DeviceClient.connect(s.ingestUrl, await issueDeviceToken(secret, `status-${region}`, region));
      expect((await client.send(events)).accepted).toBe(events.length);
      await client.close();
    }

    // A flush writes the archive, then `events`, then the rollups: wait until all of it is in.
    const flushed = (x: StatusReport['regions'][number]): boolean =>
      x.archive.objects > 0 && ['rollup_1m', 'rollup_1h'].every((t) => (x.clickhouse.tables.find((y) => y.table === t)?.rows ?? 0) > 0);
    const report = await waitFor('status to count every event', async () => {
      const r = await getJson<StatusReport>(`${s.opsUrl}/api/v1/status`);
      const counts = Object.fromEntries(r.regions.map((x) => [x.region, { events: x.events, readings: x.readings }]));
      return JSON.stringify(counts) === JSON.stringify(expected) && r.regions.every(flushed) ? r : undefined;
    });

    expect(report.shards).toBe(1);
    expect(report.totals.events).toBe(75);
    expect(report.totals.readings).toBe(95);
    expect(report.totals.pipeline.partitions).toBe(4);
    for (const region of report.regions) {
      const bpe = region.bytes_per_event;
      expect(region.pipeline.partitions).toBe(2);
      expect(region.archive.bytes).toBeGreaterThan(0);
      expect(bpe.archive).toBeGreaterThan(0);
      expect(bpe.clickhouse_events).toBeGreaterThan(0);
      // The rollup tables cost bytes too: all tables together cost more than `events` alone.
      expect(bpe.clickhouse_all).toBeGreaterThan(bpe.clickhouse_events!);
      expect(region.clickhouse.tables.map((t) => t.table)).toEqual(expect.arrayContaining(['events', 'rollup_1m', 'rollup_1h']));
    }
    expect(report.totals.bytes_per_event.archive).toBeGreaterThan(0);

    // The janitor ran at start: the back-dated object and its date folder are gone.
    await waitFor('the back-dated archive object to be deleted', () => Promise.resolve(existsSync(join(s.dataDir, 'objects', oldKey)) ? undefined : true));
    expect(existsSync(join(s.dataDir, 'objects', 'raw', 'region=us-east', `event_date=${oldDate}`))).toBe(false);

    // The CLI: a human table with a row per region and a total, and the same report as JSON.
    const human = (await run(process.execPath, [CLI, 'status', '--ops', s.opsUrl])).stdout;
    expect(human).toMatch(/^us-east\s+50\s+70\s/m);
    expect(human).toMatch(/^eu-west\s+25\s+25\s/m);
    expect(human).toMatch(/^total\s+75\s+95\s/m);
    const json = JSON.parse((await run(process.execPath, [CLI, 'status', '--ops', s.opsUrl, '--json'])).stdout) as StatusReport;
    expect(json.totals.events).toBe(75);
    expect(json.regions.map((r) => r.region).sort()).toEqual(['eu-west', 'us-east']);

    expect(await s.stop()).toBe(0);
  }, 120_000);

  it('fails with one clear line when the ops API is not there', async () => {
    const err = (await run(process.execPath, [CLI, 'status', '--ops', 'http://127.0.0.1:1']).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/OPS_UNREACHABLE: cannot reach the ops API at http:\/\/127\.0\.0\.1:1/);
  });
});
