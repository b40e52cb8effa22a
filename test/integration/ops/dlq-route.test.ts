/**
 * GET /api/v1/dlq against a real redis-server, fed by the gateway's own DLQ writer
 * (BusAppender.appendDlq): newest entries first, the documented fields, the stream length,
 * per-region isolation, and 503 when Redis is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig, validateUserConfig, type Config } from '../../../src/config.js';
import type { Rejection } from '../../../src/contracts/frame.js';
import { RejectCode } from '../../../src/errors.js';
import { BusAppender } from '../../../src/gateway/bus-appender.js';
import { OpsServer } from '../../../src/ops/ops-server.js';
import { Keys } from '../../../src/runtime/keys.js';
import { opsServerDeps } from '../../helpers/ops-fixture.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis.js';

const INGEST_TIME = Date.parse('2026-03-01T08:30:00.250Z');

let testRedis: TestRedis;
let config: Config;
let keys: Keys;
let server: OpsServer;
let base: string;

interface DlqBody {
  region: string;
  length: number;
  entries: Record<string, unknown>[];
}

function rejection(i: number, overrides: Partial<Rejection> = {}): Rejection {
  return {
    index: i,
    eventId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    code: RejectCode.FIELD_INVALID,
    message: `FIELD_INVALID: value must be a finite number (#${i})`,
    deviceId: 'dev-1',
    region: 'us-east',
    raw: { event_id: `e${i}`, value: 'hot', nested: { n: i } },
    ...overrides,
  };
}

beforeAll(async () => {
  testRedis = await startTestRedis();
  config = resolveConfig(validateUserConfig({ ops: { port: 0 } }));
  keys = new Keys(`dlqtest${process.pid}`);
  server = new OpsServer(opsServerDeps(testRedis, config, keys));
  base = `http://127.0.0.1:${await server.listen()}`;

  const appender = new BusAppender({ redis: testRedis.redis, keys, regions: config.regions, lingerMs: 0, clock: () => INGEST_TIME });
  await appender.appendDlq('us-east', Array.from({ length: 12 }, (_, i) => rejection(i)), { source: 'ws', remote: '127.0.0.1' });
  await appender.appendDlq(
    'eu-west',
    [rejection(0, { index: null, eventId: null, deviceId: null, region: 'eu-west', code: RejectCode.MALFORMED, message: 'MALFORMED: not JSON', raw: '{"trunc' })],
    { source: 'http' },
  );
});

afterAll(async () => {
  await server?.close();
  await testRedis?.stop();
});

async function getDlq(query: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${base}/api/v1/dlq?${query}`);
  return { status: res.status, body: await res.json() };
}

describe('GET /api/v1/dlq', () => {
  it('answers the newest entries of a region first, with the stream length', async () => {
    const { status, body } = await getDlq('region=us-east&limit=5');
    expect(status).toBe(200);
    const page = body as DlqBody;
    expect(page.region).toBe('us-east');
    expect(page.length).toBe(12);
    expect(page.entries.length).toBe(5);
    expect(page.entries.map((e) => e['index'])).toEqual([11, 10, 9, 8, 7]);
    const ids = page.entries.map((e) => (e['id'] as string).split('-').map(BigInt));
    for (let i = 1; i < ids.length; i++) {
      const [ms0 = 0n, seq0 = 0n] = ids[i - 1] ?? [];
      const [ms1 = 0n, seq1 = 0n] = ids[i] ?? [];
      expect(ms0 > ms1 || (ms0 === ms1 && seq0 > seq1)).toBe(true);
    }
  });

  it('gives each entry its code, message, event, device, region, ingest time and raw event', async () => {
    const page = (await getDlq('region=us-east&limit=1')).body as DlqBody;
    const entry = page.entries[0] as Record<string, unknown>;
    expect(entry).toMatchObject({
      code: 'FIELD_INVALID',
      message: 'FIELD_INVALID: value must be a finite number (#11)',
      event_id: '00000000-0000-4000-8000-000000000011',
      device_id: 'dev-1',
      region: 'us-east',
      index: 11,
      source: 'ws',
      ingest_time: '2026-03-01T08:30:00.250Z',
      raw: { event_id: 'e11', value: 'hot', nested: { n: 11 } },
    });
    expect(typeof entry['id']).toBe('string');
  });

  it('keeps regions apart and shows unknown values as null', async () => {
    const page = (await getDlq('region=eu-west')).body as DlqBody;
    expect(page.length).toBe(1);
    expect(page.entries[0]).toMatchObject({
      code: 'MALFORMED',
      event_id: null,
      device_id: null,
      region: 'eu-west',
      index: null,
      source: 'http',
      raw: '{"trunc',
    });
  });

  it('defaults the limit to 100 entries', async () => {
    const page = (await getDlq('region=us-east')).body as DlqBody;
    expect(page.entries.length).toBe(12);
  });

  it('answers 503 BUS_UNAVAILABLE when Redis is down, and recovers', async () => {
    await testRedis.server.stop();
    try {
      const { status, body } = await getDlq('region=us-east');
      expect(status).toBe(503);
      expect(body).toMatchObject({ code: 'BUS_UNAVAILABLE' });
    } finally {
      await testRedis.server.start();
    }
    const deadline = Date.now() + 20_000;
    let last = 0;
    while (Date.now() < deadline) {
      last = (await getDlq('region=eu-west')).status;
      if (last === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(last).toBe(200);
  });
});
