/**
 * The HTTP path: POST /v1/events with JSON and MessagePack bodies, its status codes
 * (200, 401, 413, 415), and the ingest port's /healthz.
 */
import { request } from 'node:http';
import { pack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOf } from '../../../src/runtime/partitioning.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis.js';
import { dlqEntries, startGateway, streamEvents, token, v1Event, v2Event, waitFor, type Ack, type RunningGateway } from './fixtures.js';

const MAX_BYTES = 64 * 1024;
let redis: TestRedis;
let gw: RunningGateway;

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startGateway(redis.redis, { ingest: { maxFrameBytes: MAX_BYTES } });
});

afterAll(async () => {
  await gw.close();
  await redis.stop();
});

interface Reply {
  status: number;
  body: string;
}

/** POST with node:http, so an early 413 is read even while the body is still being sent. */
function post(path: string, body: Buffer | string, headers: Record<string, string>): Promise<Reply> {
  return new Promise((done, fail) => {
    const req = request(`${gw.httpUrl}${path}`, { method: 'POST', headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => done({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', fail);
    req.end(body);
  });
}

async function bearer(deviceId: string, region: string): Promise<Record<string, string>> {
  return { Authorization: `Bearer ${await token(deviceId, region)}` };
}

describe('POST /v1/events', () => {
  it('accepts a JSON body and answers 200 with the ack once the events are in the stream', async () => {
    const events = [v1Event('http-1', 'us-east'), v2Event('http-1', 'us-east', 5)];
    const reply = await post('/v1/events', JSON.stringify({ seq: 3, events }), { 'Content-Type': 'application/json', ...(await bearer('http-1', 'us-east')) });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({ type: 'ack', seq: 3, accepted: 2, rejected: [] });
    const stream = gw.keys.partition('us-east', partitionOf('http-1', gw.config.partitions)).stream;
    const stored = (await streamEvents(redis.redis, stream)).flatMap((e) => e.events);
    expect(stored.map((e) => e.eventId)).toEqual(events.map((e) => e['event_id']));
  });

  it('accepts a MessagePack body and reports rejected events in the ack and the DLQ', async () => {
    const events = [v1Event('http-2', 'eu-west'), v1Event('http-2', 'eu-west', { value: null })];
    const reply = await post('/v1/events', pack(events), { 'Content-Type': 'application/x-msgpack', ...(await bearer('http-2', 'eu-west')) });
    expect(reply.status).toBe(200);
    const ack = JSON.parse(reply.body) as Ack;
    expect(ack.accepted).toBe(1);
    expect(ack.rejected.map((r) => [r.index, r.code])).toEqual([[1, 'FIELD_INVALID']]);
    const dlq = await dlqEntries(redis.redis, gw.keys.dlq('eu-west'));
    expect(dlq.filter((e) => e['device_id'] === 'http-2')).toMatchObject([{ code: 'FIELD_INVALID', source: 'http', index: '1' }]);
  });

  it('answers 401 with a JSON body for a missing or bad token', async () => {
    const body = JSON.stringify([v1Event('http-3', 'us-east')]);
    const missing = await post('/v1/events', body, { 'Content-Type': 'application/json' });
    const bad = await post('/v1/events', body, { 'Content-Type': 'application/json', Authorization: 'Bearer not.a.token' });
    for (const reply of [missing, bad]) {
      expect(reply.status).toBe(401);
      expect(JSON.parse(reply.body)).toMatchObject({ code: 'UNAUTHORIZED' });
    }
  });

  it('answers 413 with a TOO_LARGE ack for an oversize body, declared or streamed, and files it in the DLQ', async () => {
    const headers = { 'Content-Type': 'application/json', ...(await bearer('http-4', 'us-east')) };
    const big = JSON.stringify([v1Event('http-4', 'us-east', { firmware_version: 'x'.repeat(MAX_BYTES) })]);
    const declared = await post('/v1/events', big, headers);
    const streamed = await post('/v1/events', big, { ...headers, 'Transfer-Encoding': 'chunked' });
    for (const reply of [declared, streamed]) {
      expect(reply.status).toBe(413);
      expect(JSON.parse(reply.body)).toMatchObject({ type: 'ack', accepted: 0, rejected: [{ index: null, code: 'TOO_LARGE' }] });
    }
    const dlq = await waitFor(async () => {
      const entries = (await dlqEntries(redis.redis, gw.keys.dlq('us-east'))).filter((e) => e['device_id'] === 'http-4');
      return entries.length === 2 ? entries : undefined;
    }, 'two TOO_LARGE DLQ entries');
    expect(dlq.map((e) => [e['code'], e['region'], e['source']])).toEqual([
      ['TOO_LARGE', 'us-east', 'http'],
      ['TOO_LARGE', 'us-east', 'http'],
    ]);
    // The gateway keeps serving.
    const ok = await post('/v1/events', JSON.stringify(v1Event('http-4', 'us-east')), headers);
    expect(ok.status).toBe(200);
  });

  it('answers an empty body with a MALFORMED ack', async () => {
    const reply = await post('/v1/events', '', { 'Content-Type': 'application/json', ...(await bearer('http-6', 'us-east')) });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ accepted: 0, rejected: [{ index: null, code: 'MALFORMED' }] });
  });

  it('answers 415 for a body that is neither JSON nor MessagePack', async () => {
    const reply = await post('/v1/events', '<xml/>', { 'Content-Type': 'application/xml', ...(await bearer('http-5', 'us-east')) });
    expect(reply.status).toBe(415);
    expect(JSON.parse(reply.body)).toMatchObject({ code: 'MALFORMED' });
  });
});

describe('ingest port', () => {
  it('answers /healthz with ok and unknown routes with 404', async () => {
    const health = await fetch(`${gw.httpUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('ok');
    const missing = await fetch(`${gw.httpUrl}/nope`);
    expect(missing.status).toBe(404);
  });
});
