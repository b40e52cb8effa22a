/**
 * Closing the gateway: frames already received still get their acks (and what was acked as
 * accepted is in the stream), then devices are disconnected with 1001 and new connections
 * are refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOf } from '../../../src/runtime/partitioning.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis.js';
import { WsDevice, startGateway, streamEvents, token, v1Event } from './fixtures.js';

let redis: TestRedis;

beforeAll(async () => {
  redis = await startTestRedis();
});

afterAll(async () => {
  await redis.stop();
});

describe('Gateway.close', () => {
  it('acks every frame in flight, keeps what it acked, then disconnects devices', async () => {
    const gw = await startGateway(redis.redis, { ingest: { appendLingerMs: 20 } });
    const id = 'closing-dev';
    const dev = await WsDevice.connect(gw.wsUrl, { Authorization: `Bearer ${await token(id, 'us-east')}` });
    const closed = new Promise<number>((done) => dev.socket.once('close', (code) => done(code)));
    const frames = Array.from({ length: 20 }, (_, seq) => ({ seq, events: [v1Event(id, 'us-east'), v1Event(id, 'us-east')] }));
    for (const f of frames) dev.sendJson(f);
    await dev.ack(0); // the gateway is now busy with the rest
    await gw.close();

    const acks = await Promise.all(frames.map((_, n) => dev.ack(n)));
    expect(acks.map((a) => a.seq)).toEqual(frames.map((f) => f.seq));
    for (const a of acks) expect(a.accepted + a.rejected.filter((r) => r.code === 'OVERLOADED').length).toBe(2);
    expect(await closed).toBe(1001);

    const acceptedIds = frames.flatMap((f, n) => ((acks[n]?.accepted ?? 0) > 0 ? f.events.map((e) => e['event_id']) : []));
    const stream = gw.keys.partition('us-east', partitionOf(id, gw.config.partitions)).stream;
    const stored = (await streamEvents(redis.redis, stream)).flatMap((e) => e.events.map((ev) => ev.eventId));
    expect(stored).toEqual(expect.arrayContaining(acceptedIds));

    await expect(WsDevice.connect(gw.wsUrl, { Authorization: `Bearer ${await token(id, 'us-east')}` })).rejects.toThrow();
  });
});
