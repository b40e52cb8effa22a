/**
 * The WebSocket path end to end: real uWS gateway, real redis-server, `ws` devices.
 * Acks carry the right seq and counts and arrive only once the events are in their region's
 * partition stream; every rejection code reachable here lands in the ack and the DLQ.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOf } from '../../../src/runtime/partitioning.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis.js';
import { WsDevice, dlqEntries, startGateway, streamEvents, token, v1Event, v2Event, waitFor, type RunningGateway } from './fixtures.js';

let redis: TestRedis;
let gw: RunningGateway;
const devices: WsDevice[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  // A long linger: an ack sent before its XADD would find the stream still empty.
  gw = await startGateway(redis.redis, { ingest: { appendLingerMs: 50 } });
});

afterAll(async () => {
  await Promise.all(devices.map((d) => d.close()));
  await gw.close();
  await redis.stop();
});

async function device(deviceId: string, region: string): Promise<WsDevice> {
  const d = await WsDevice.connect(gw.wsUrl, { Authorization: `Bearer ${await token(deviceId, region)}` });
  devices.push(d);
  return d;
}

function streamOf(deviceId: string, region: string): string {
  return gw.keys.partition(region, partitionOf(deviceId, gw.config.partitions)).stream;
}

describe('gateway over WebSocket', () => {
  it('acks v1 and v2 events in JSON and MessagePack frames only once they are in their partition stream', async () => {
    const dev = await device('sensor-eu-1', 'eu-west');
    const key = streamOf('sensor-eu-1', 'eu-west');
    const json = [v1Event('sensor-eu-1', 'eu-west'), v2Event('sensor-eu-1', 'eu-west', 1)];
    const packed = { seq: 7, events: [v2Event('sensor-eu-1', 'eu-west', 2), v1Event('sensor-eu-1', 'eu-west')] };

    dev.sendJson({ seq: 6, events: json });
    const first = await dev.ack(0);
    // Read the stream the moment the ack arrives: the events must already be there.
    const afterFirst = (await streamEvents(redis.redis, key)).flatMap((e) => e.events.map((ev) => ev.eventId));
    expect(first).toEqual({ type: 'ack', seq: 6, accepted: 2, rejected: [] });
    expect(afterFirst).toEqual(json.map((e) => e['event_id']));

    dev.sendPack(packed);
    const second = await dev.ack(1);
    const stored = (await streamEvents(redis.redis, key)).flatMap((e) => e.events);
    expect(second).toEqual({ type: 'ack', seq: 7, accepted: 2, rejected: [] });
    expect(stored.map((e) => e.eventId)).toEqual([...json, ...packed.events].map((e) => e['event_id']));
    expect(stored.map((e) => e.readings.length)).toEqual([1, 3, 3, 1]);
    expect(stored.every((e) => e.deviceId === 'sensor-eu-1' && e.region === 'eu-west')).toBe(true);

    // A bare event and a bare array are frames too; their acks have seq null.
    dev.sendJson(v1Event('sensor-eu-1', 'eu-west'));
    dev.sendPack([v1Event('sensor-eu-1', 'eu-west'), v1Event('sensor-eu-1', 'eu-west')]);
    expect(await dev.ack(2)).toMatchObject({ seq: null, accepted: 1 });
    expect(await dev.ack(3)).toMatchObject({ seq: null, accepted: 2 });
  });

  it('keeps regions apart: each device lands only in its own region streams', async () => {
    const us = await device('dev-us-7', 'us-east');
    const eu = await device('dev-eu-7', 'eu-west');
    us.sendJson([v1Event('dev-us-7', 'us-east')]);
    eu.sendJson([v1Event('dev-eu-7', 'eu-west')]);
    await us.ack(0);
    await eu.ack(0);
    const usEvents = (await streamEvents(redis.redis, streamOf('dev-us-7', 'us-east'))).flatMap((e) => e.events);
    const euEvents = (await streamEvents(redis.redis, streamOf('dev-eu-7', 'eu-west'))).flatMap((e) => e.events);
    expect(usEvents.filter((e) => e.deviceId === 'dev-us-7')).toHaveLength(1);
    expect(euEvents.filter((e) => e.deviceId === 'dev-eu-7')).toHaveLength(1);
    expect([...usEvents, ...euEvents].every((e) => e.region === (e.deviceId === 'dev-us-7' ? 'us-east' : 'eu-west'))).toBe(true);
  });

  it('acks a resent event as accepted again (dedup is downstream)', async () => {
    const dev = await device('dup-device', 'us-east');
    const event = v1Event('dup-device', 'us-east');
    dev.sendJson({ seq: 1, events: [event] });
    dev.sendJson({ seq: 2, events: [event] });
    expect(await dev.ack(0)).toMatchObject({ seq: 1, accepted: 1, rejected: [] });
    expect(await dev.ack(1)).toMatchObject({ seq: 2, accepted: 1, rejected: [] });
  });

  it('answers each rejection code in the ack and files a DLQ entry with device metadata', async () => {
    const id = 'bad-device-1';
    const dev = await device(id, 'us-east');
    const old = new Date(Date.now() - 8 * 24 * 3600_000).toISOString();
    const good = v1Event(id, 'us-east');
    const events = [
      v1Event(id, 'us-east', { schema_version: 9 }), // 0 SCHEMA_VERSION_UNSUPPORTED
      (({ unit: _unit, ...rest }) => rest)(v1Event(id, 'us-east')), // 1 FIELD_MISSING
      v1Event(id, 'us-east', { value: 'hot' }), // 2 FIELD_INVALID
      v1Event(id, 'us-east', { event_time: old }), // 3 EVENT_TIME_OUT_OF_RANGE
      v1Event(id, 'mars-north'), // 4 REGION_UNKNOWN
      v1Event(id, 'eu-west'), // 5 REGION_MISMATCH
      v1Event('someone-else', 'us-east'), // 6 DEVICE_MISMATCH
      good, // 7 accepted
      42, // 8 MALFORMED (not an object)
    ];
    dev.sendJson({ seq: 11, events });
    const ack = await dev.ack(0);
    expect(ack.accepted).toBe(1);
    expect(ack.rejected.map((r) => [r.index, r.code])).toEqual([
      [0, 'SCHEMA_VERSION_UNSUPPORTED'],
      [1, 'FIELD_MISSING'],
      [2, 'FIELD_INVALID'],
      [3, 'EVENT_TIME_OUT_OF_RANGE'],
      [4, 'REGION_UNKNOWN'],
      [5, 'REGION_MISMATCH'],
      [6, 'DEVICE_MISMATCH'],
      [8, 'MALFORMED'],
    ]);
    expect(ack.rejected[2]?.message).toContain('value');
    expect(ack.rejected[0]?.event_id).toBe(events[0] && (events[0] as Record<string, unknown>)['event_id']);

    const dlq = (await dlqEntries(redis.redis, gw.keys.dlq('us-east'))).filter((e) => e['device_id'] === id);
    expect(dlq.map((e) => e['code'])).toEqual(ack.rejected.map((r) => r.code));
    for (const entry of dlq) {
      expect(entry).toMatchObject({ device_id: id, region: 'us-east', source: 'ws' });
      expect(Number(entry['ingest_time'])).toBeGreaterThan(Date.now() - 60_000);
      expect(entry['message']).toMatch(new RegExp(`^${entry['code']}`));
    }
    expect(JSON.parse(dlq[2]?.['raw'] ?? 'null')).toMatchObject({ value: 'hot', device_id: id });
    expect(dlq[2]?.['index']).toBe('2');
  });

  it('answers whole-frame MALFORMED and TOO_LARGE and stays connected', async () => {
    const id = 'bad-frames-1';
    const dev = await device(id, 'eu-west');
    dev.socket.send('{"seq": 1, "events": [');
    const tooMany = Array.from({ length: gw.config.ingest.maxEventsPerFrame + 1 }, () => v1Event(id, 'eu-west'));
    dev.sendJson(tooMany);
    const big = 'x'.repeat(gw.config.ingest.maxFrameBytes + 10);
    dev.sendJson([v1Event(id, 'eu-west', { firmware_version: big })]);
    dev.socket.send(Buffer.from([0xc1, 0xff, 0x00])); // not MessagePack
    dev.sendJson([v1Event(id, 'eu-west')]);

    const acks = await Promise.all([0, 1, 2, 3, 4].map((n) => dev.ack(n)));
    expect(acks.slice(0, 4).map((a) => [a.accepted, a.rejected.map((r) => [r.index, r.code])])).toEqual([
      [0, [[null, 'MALFORMED']]],
      [0, [[null, 'TOO_LARGE']]],
      [0, [[null, 'TOO_LARGE']]],
      [0, [[null, 'MALFORMED']]],
    ]);
    expect(acks[4]).toMatchObject({ accepted: 1, rejected: [] });
    const dlq = (await dlqEntries(redis.redis, gw.keys.dlq('eu-west'))).filter((e) => e['device_id'] === id);
    expect(dlq.map((e) => e['code'])).toEqual(['MALFORMED', 'TOO_LARGE', 'TOO_LARGE', 'MALFORMED']);
    expect(dlq.every((e) => e['index'] === '' && e['region'] === 'eu-west')).toBe(true);
    expect(gw.gateway.stats.rejected.TOO_LARGE).toBeGreaterThanOrEqual(2);
  });
});

describe('gateway backpressure', () => {
  it('delivers every ack, in order, to a device that stops reading for a while', async () => {
    const id = 'slow-reader';
    const dev = await device(id, 'us-east');
    // Stop reading from the TCP socket so the gateway's acks pile up on its side.
    const tcp = (dev.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    tcp.pause();
    const frames = 400;
    const bad = Array.from({ length: 200 }, () => v1Event(id, 'us-east', { value: 'NaN' }));
    for (let seq = 0; seq < frames; seq++) dev.sendJson({ seq, events: bad });
    await waitFor(() => (gw.gateway.stats.frames >= frames ? true : undefined), 'the gateway to read every frame', 30_000);
    tcp.resume();
    const acks = await Promise.all(Array.from({ length: frames }, (_, n) => dev.ack(n, 30_000)));
    expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: frames }, (_, n) => n));
    expect(acks.every((a) => a.rejected.length === 200)).toBe(true);
  });
});

describe('gateway authentication', () => {
  it('refuses the upgrade with 401 and a JSON body for a missing or forged token', async () => {
    await expect(WsDevice.connect(gw.wsUrl)).rejects.toThrow(/^HTTP 401 .*"code":"UNAUTHORIZED"/);
    const forged = `${(await token('dev-x', 'us-east')).slice(0, -4)}AAAA`;
    await expect(WsDevice.connect(gw.wsUrl, { Authorization: `Bearer ${forged}` })).rejects.toThrow(/^HTTP 401 .*"code":"UNAUTHORIZED"/);
    expect(gw.gateway.stats.unauthorized).toBeGreaterThanOrEqual(2);
  });

  it('accepts the token as ?token=', async () => {
    const t = await token('query-dev', 'us-east');
    const dev = await WsDevice.connect(`${gw.wsUrl}?token=${encodeURIComponent(t)}`);
    devices.push(dev);
    dev.sendJson([v1Event('query-dev', 'us-east')]);
    expect(await dev.ack(0)).toMatchObject({ accepted: 1 });
  });

  it('needs no token with auth mode none, trusting each event’s device and region', async () => {
    const open = await startGateway(redis.redis, { auth: { mode: 'none' } });
    try {
      const dev = await WsDevice.connect(open.wsUrl);
      dev.sendJson([v1Event('anon-1', 'us-east'), v1Event('anon-2', 'eu-west'), v1Event('anon-3', 'nowhere')]);
      const ack = await dev.ack(0);
      expect(ack.accepted).toBe(2);
      expect(ack.rejected.map((r) => r.code)).toEqual(['REGION_UNKNOWN']);
      const eu = await streamEvents(redis.redis, open.keys.partition('eu-west', partitionOf('anon-2', open.config.partitions)).stream);
      expect(eu.flatMap((e) => e.events).map((e) => e.deviceId)).toEqual(['anon-2']);
      // Unknown region, no identity: the DLQ entry goes to the first configured region.
      const dlq = await dlqEntries(redis.redis, open.keys.dlq(open.config.regions[0] as string));
      expect(dlq.map((e) => [e['code'], e['device_id']])).toEqual([['REGION_UNKNOWN', 'anon-3']]);
      await dev.close();
    } finally {
      await open.close();
    }
  });
});
