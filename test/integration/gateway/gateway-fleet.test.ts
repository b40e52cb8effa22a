/**
 * Fleet tokens end to end: real uWS gateway, real redis-server, one `ws` socket. A fleet token
 * lets that one socket carry events of many devices of its region, each landing in its own
 * device's partition stream; an event of another region is still refused (REGION_MISMATCH).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueFleetToken } from '../../../src/contracts/device-token.js';
import { partitionOf } from '../../../src/runtime/partitioning.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis.js';
import { SECRET, WsDevice, dlqEntries, startGateway, streamEvents, v1Event, v2Event, type RunningGateway } from './fixtures.js';

let redis: TestRedis;
let gw: RunningGateway;
let socket: WsDevice | null = null;

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startGateway(redis.redis);
});

afterAll(async () => {
  await socket?.close();
  await gw.close();
  await redis.stop();
});

describe('gateway with a fleet token', () => {
  it('accepts events of several devices of the region on one socket, and refuses another region', async () => {
    const fleetToken = await issueFleetToken(SECRET, 'edge-7', 'eu-west');
    socket = await WsDevice.connect(gw.wsUrl, { Authorization: `Bearer ${fleetToken}` });
    const devices = ['fleet-dev-a', 'fleet-dev-b', 'fleet-dev-c'];
    const events = [v1Event('fleet-dev-a', 'eu-west'), v2Event('fleet-dev-b', 'eu-west', 1), v1Event('fleet-dev-c', 'eu-west'), v1Event('fleet-dev-d', 'us-east')];

    socket.sendJson({ seq: 1, events });
    const ack = await socket.ack(0);
    expect(ack).toMatchObject({ type: 'ack', seq: 1, accepted: 3 });
    expect(ack.rejected).toHaveLength(1);
    expect(ack.rejected[0]).toMatchObject({ index: 3, event_id: events[3]?.['event_id'], code: 'REGION_MISMATCH' });

    // Each accepted event is in its own device's eu-west partition stream when the ack arrives.
    for (const [i, deviceId] of devices.entries()) {
      const key = gw.keys.partition('eu-west', partitionOf(deviceId, gw.config.partitions)).stream;
      const stored = (await streamEvents(redis.redis, key)).flatMap((e) => e.events).filter((e) => e.deviceId === deviceId);
      expect(stored.map((e) => [e.eventId, e.region])).toEqual([[events[i]?.['event_id'], 'eu-west']]);
    }
    // Nothing reached the other region's streams; the refused event is in the token region's DLQ
    // under its own device, so a repaired copy can be replayed for that device.
    for (let p = 0; p < gw.config.partitions; p++) expect(await redis.redis.xlen(gw.keys.partition('us-east', p).stream)).toBe(0);
    const dlq = await dlqEntries(redis.redis, gw.keys.dlq('eu-west'));
    expect(dlq).toHaveLength(1);
    expect(dlq[0]).toMatchObject({ code: 'REGION_MISMATCH', device_id: 'fleet-dev-d', region: 'eu-west', event_id: events[3]?.['event_id'] });
  });
});
