/**
 * DLQ triage endpoints other than replay, against a real redis-server fed by the gateway's
 * own DLQ writer (BusAppender.appendDlq): one entry by id, the list filtered by code (also
 * past one scan batch), deleting one entry, and purging a region by code, by time, or whole.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolveConfig, validateUserConfig, type Config } from '../../../src/config.js';
import type { Rejection } from '../../../src/contracts/frame.js';
import { RejectCode } from '../../../src/errors.js';
import { BusAppender } from '../../../src/gateway/bus-appender.js';
import { OpsServer } from '../../../src/ops/ops-server.js';
import { Keys } from '../../../src/runtime/keys.js';
import { opsServerDeps } from '../../helpers/ops-fixture.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis.js';
import { waitFor } from '../gateway/fixtures.js';

let testRedis: TestRedis;
let config: Config;
let keys: Keys;
let appender: BusAppender;
let server: OpsServer;
let base: string;
let serial = 0;

interface Entry {
  id: string;
  code: string;
  event_id: string;
  raw: unknown;
}

beforeAll(async () => {
  testRedis = await startTestRedis();
  config = resolveConfig(validateUserConfig({ ops: { port: 0 } }));
  keys = new Keys(`dlqentries${process.pid}`);
  appender = new BusAppender({ redis: testRedis.client(), keys, regions: config.regions, lingerMs: 0 });
  server = new OpsServer(opsServerDeps(testRedis, config, keys));
  base = `http://127.0.0.1:${await server.listen()}`;
});

beforeEach(async () => {
  await testRedis.redis.del(keys.dlq('us-east'), keys.dlq('eu-west'));
});

afterAll(async () => {
  await server?.close();
  await testRedis?.stop();
});

/** Write `n` rejections of `code` to a region's DLQ the way the gateway does. */
async function reject(region: string, code: RejectCode, n: number): Promise<void> {
  const rejections: Rejection[] = Array.from({ length: n }, () => {
    const i = serial++;
    return {
      index: 0,
      eventId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      code,
      message: `${code}: test rejection #${i}`,
      deviceId: `dev-${i % 3}`,
      region,
      raw: { event_id: `e${i}`, value: 'hot', serial: i },
    };
  });
  await appender.appendDlq(region, rejections, { source: 'http' });
}

async function call(method: string, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, { method });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function list(region: string, query = ''): Promise<{ length: number; entries: Entry[] }> {
  const { status, body } = await call('GET', `/api/v1/dlq?region=${region}${query}`);
  expect(status).toBe(200);
  return body as unknown as { length: number; entries: Entry[] };
}

describe('GET /api/v1/dlq/{region}/{id}', () => {
  it('answers one entry with its raw event parsed, 404 for an id it does not hold, 400 for a bad id', async () => {
    await reject('us-east', RejectCode.FIELD_INVALID, 3);
    const [newest] = (await list('us-east', '&limit=1')).entries;
    if (!newest) throw new Error('no entry');
    const one = await call('GET', `/api/v1/dlq/us-east/${newest.id}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: newest.id, code: 'FIELD_INVALID', event_id: newest.event_id, source: 'http', raw: newest.raw });
    expect(one.body['raw']).toMatchObject({ value: 'hot' });

    expect((await call('GET', `/api/v1/dlq/eu-west/${newest.id}`)).status).toBe(404);
    const bad = await call('GET', '/api/v1/dlq/us-east/not-an-id');
    expect(bad.status).toBe(400);
    expect(bad.body['message']).toMatch(/^id:/);
  });
});

describe('GET /api/v1/dlq?code=C', () => {
  it('lists only the entries of one code, newest first, also when they are spread over many entries', async () => {
    // 1,200 entries: every 100th is TOO_LARGE, so finding them takes several scan batches.
    for (let block = 0; block < 12; block++) {
      await reject('us-east', RejectCode.FIELD_INVALID, 99);
      await reject('us-east', RejectCode.TOO_LARGE, 1);
    }
    const all = await list('us-east', '&code=TOO_LARGE&limit=1000');
    expect(all.length).toBe(1200);
    expect(all.entries).toHaveLength(12);
    expect(all.entries.every((e) => e.code === 'TOO_LARGE')).toBe(true);
    const serials = all.entries.map((e) => (e.raw as { serial: number }).serial);
    expect(serials).toEqual([...serials].sort((a, b) => b - a));

    const newest = await list('us-east', '&code=TOO_LARGE&limit=3');
    expect(newest.entries.map((e) => e.id)).toEqual(all.entries.slice(0, 3).map((e) => e.id));
    expect((await list('us-east', '&code=MALFORMED')).entries).toEqual([]);
    expect((await call('GET', '/api/v1/dlq?region=us-east&code=not%20a%20code')).status).toBe(400);
  });
});

describe('DELETE /api/v1/dlq/{region}/{id}', () => {
  it('deletes one entry; deleting it again is 404', async () => {
    await reject('us-east', RejectCode.FIELD_MISSING, 2);
    const [first, second] = (await list('us-east')).entries;
    if (!first || !second) throw new Error('entries missing');
    expect(await call('DELETE', `/api/v1/dlq/us-east/${first.id}`)).toEqual({ status: 200, body: { deleted: 1 } });
    expect((await call('DELETE', `/api/v1/dlq/us-east/${first.id}`)).status).toBe(404);
    expect((await list('us-east')).entries.map((e) => e.id)).toEqual([second.id]);
  });
});

describe('DELETE /api/v1/dlq/{region}', () => {
  it('purges the entries of one code and leaves the others and the other region alone', async () => {
    await reject('us-east', RejectCode.FIELD_INVALID, 3);
    await reject('us-east', RejectCode.EVENT_TIME_OUT_OF_RANGE, 2);
    await reject('eu-west', RejectCode.FIELD_INVALID, 4);

    expect(await call('DELETE', '/api/v1/dlq/us-east?code=FIELD_INVALID')).toEqual({ status: 200, body: { deleted: 3 } });
    const left = await list('us-east');
    expect(left.length).toBe(2);
    expect(left.entries.every((e) => e.code === 'EVENT_TIME_OUT_OF_RANGE')).toBe(true);
    expect((await list('eu-west')).length).toBe(4);
  });

  it('purges the entries written before a time, with or without a code', async () => {
    await reject('us-east', RejectCode.FIELD_INVALID, 3);
    await reject('us-east', RejectCode.MALFORMED, 2);
    const [lastOld] = await testRedis.redis.xrevrange(keys.dlq('us-east'), '+', '-', 'COUNT', 1);
    const cutoff = Number(lastOld?.[0].split('-')[0]) + 1;
    // Entries get Redis's clock: write the newer ones once it has passed the cutoff.
    await waitFor(async () => {
      const [seconds = '0', micros = '0'] = (await testRedis.redis.time()).map(String);
      return Number(seconds) * 1000 + Number(micros) / 1000 > cutoff ? true : undefined;
    }, 'the redis clock to pass the cutoff');
    await reject('us-east', RejectCode.FIELD_INVALID, 4);
    await reject('us-east', RejectCode.MALFORMED, 1);
    const before = encodeURIComponent(new Date(cutoff).toISOString());

    expect(await call('DELETE', `/api/v1/dlq/us-east?code=FIELD_INVALID&before=${before}`)).toEqual({ status: 200, body: { deleted: 3 } });
    expect(await call('DELETE', `/api/v1/dlq/us-east?before=${before}`)).toEqual({ status: 200, body: { deleted: 2 } });
    const left = await list('us-east');
    expect(left.entries.map((e) => e.code).sort()).toEqual(['FIELD_INVALID', 'FIELD_INVALID', 'FIELD_INVALID', 'FIELD_INVALID', 'MALFORMED']);

    const bad = await call('DELETE', '/api/v1/dlq/us-east?before=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.body['message']).toMatch(/^before:/);
  });

  it('purges a whole region when no filter is given', async () => {
    await reject('eu-west', RejectCode.TOO_LARGE, 5);
    await reject('us-east', RejectCode.TOO_LARGE, 1);
    expect(await call('DELETE', '/api/v1/dlq/eu-west')).toEqual({ status: 200, body: { deleted: 5 } });
    expect((await list('eu-west')).length).toBe(0);
    expect((await list('us-east')).length).toBe(1);
    expect((await call('DELETE', '/api/v1/dlq/mars')).status).toBe(400);
  });

  it('answers 405 for a method a DLQ route does not take', async () => {
    const res = await call('PUT', '/api/v1/dlq/us-east');
    expect(res.status).toBe(405);
    expect(res.body['code']).toBe('METHOD_NOT_ALLOWED');
  });
});
