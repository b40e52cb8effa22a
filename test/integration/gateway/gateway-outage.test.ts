/**
 * Backpressure, not loss (DESIGN §5.6): while Redis is down the gateway keeps its sockets and
 * answers every event as OVERLOADED (HTTP 503), never as accepted; once Redis is back the same
 * device's resent events are accepted and stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOf } from '../../../src/runtime/partitioning.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis.js';
import { WsDevice, startGateway, streamEvents, token, v1Event, v2Event, waitFor, type RunningGateway } from './fixtures.js';

let redis: TestRedis;
let gw: RunningGateway;

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startGateway(redis.redis);
});

afterAll(async () => {
  await gw.close();
  await redis.stop();
});

describe('gateway during a Redis outage', () => {
  it('answers OVERLOADED while Redis is down and accepts again once it is back', async () => {
    const id = 'outage-dev';
    const auth = { Authorization: `Bearer ${await token(id, 'us-east')}` };
    const dev = await WsDevice.connect(gw.wsUrl, auth);
    dev.sendJson({ seq: 1, events: [v1Event(id, 'us-east')] });
    expect(await dev.ack(0)).toMatchObject({ seq: 1, accepted: 1 });

    await redis.server.stop();
    const held = [v1Event(id, 'us-east'), v1Event(id, 'us-east', { value: 'bad' }), v2Event(id, 'us-east', 9)];
    dev.sendJson({ seq: 2, events: held });
    const refused = await dev.ack(1);
    expect(refused.seq).toBe(2);
    expect(refused.accepted).toBe(0);
    expect(refused.rejected.map((r) => [r.index, r.code])).toEqual([
      [0, 'OVERLOADED'],
      [1, 'FIELD_INVALID'],
      [2, 'OVERLOADED'],
    ]);
    expect(refused.rejected[2]?.event_id).toBe(held[2]?.['event_id']);

    const http = await fetch(`${gw.httpUrl}/v1/events`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...auth },
      body: JSON.stringify([v1Event(id, 'us-east')]),
    });
    expect(http.status).toBe(503);
    expect(await http.json()).toMatchObject({ accepted: 0, rejected: [{ index: 0, code: 'OVERLOADED' }] });
    expect((await fetch(`${gw.httpUrl}/healthz`)).status).toBe(200);
    expect(gw.gateway.stats.rejected.OVERLOADED).toBeGreaterThanOrEqual(3);

    await redis.server.start();
    // The device resends what was not acked until the gateway accepts it (same socket).
    const resend = [held[0], held[2]];
    let n = 2;
    const ack = await waitFor(async () => {
      dev.sendJson({ seq: 3, events: resend });
      const a = await dev.ack(n++);
      return a.accepted === 2 ? a : undefined;
    }, 'events accepted after Redis restarted');
    expect(ack.rejected).toEqual([]);

    const stream = gw.keys.partition('us-east', partitionOf(id, gw.config.partitions)).stream;
    const stored = (await streamEvents(redis.redis, stream)).flatMap((e) => e.events.map((ev) => ev.eventId));
    expect(stored).toEqual(expect.arrayContaining(resend.map((e) => e?.['event_id'])));
    await dev.close();
  });
});
