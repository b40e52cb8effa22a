/**
 * POST /api/v1/dlq/{region}/{id}/replay against a real redis-server: DLQ entries written the
 * way the gateway writes them (processFrame → BusAppender.appendDlq), replayed through a real
 * BusAppender, and the partition streams read back with XRANGE + decodeEvents.
 */
import { pack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig, validateUserConfig, type Config } from '../../../src/config.js';
import type { CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import { EventValidator } from '../../../src/contracts/event-validator.js';
import { processFrame, type DeviceIdentity } from '../../../src/contracts/frame.js';
import { BusAppender } from '../../../src/gateway/bus-appender.js';
import { OpsServer } from '../../../src/ops/ops-server.js';
import { Keys } from '../../../src/runtime/keys.js';
import { partitionOf } from '../../../src/runtime/partitioning.js';
import { v1Event, v2Event, type DeviceEvent } from '../../helpers/events.js';
import { opsServerDeps } from '../../helpers/ops-fixture.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis.js';
import { streamEvents } from '../gateway/fixtures.js';

const MINUTE = 60_000;
const PUMP: DeviceIdentity = { deviceId: 'pump-7', region: 'us-east' };

let testRedis: TestRedis;
let config: Config;
let keys: Keys;
let appender: BusAppender;
let server: OpsServer;
let base: string;
/** The ops server's clock (the gateway's is the real one). */
let opsNow = Date.now();
const validator = new EventValidator();

function startOps(withAppend: boolean): OpsServer {
  return new OpsServer(opsServerDeps(testRedis, config, keys, {
      clock: () => opsNow,
      ...(withAppend ? { append: (region: string, partition: number, events: readonly CanonicalEvent[]) => appender.append(region, partition, events) } : {}),
    }));
}

beforeAll(async () => {
  testRedis = await startTestRedis();
  config = resolveConfig(validateUserConfig({ ops: { port: 0 }, partitions: 4 }));
  keys = new Keys(`dlqreplay${process.pid}`);
  appender = new BusAppender({ redis: testRedis.client(), keys, regions: config.regions, lingerMs: 0 });
  server = startOps(true);
  base = `http://127.0.0.1:${await server.listen()}`;
});

afterAll(async () => {
  await server?.close();
  await testRedis?.stop();
});

/** Send one frame as the gateway would (device `identity`, gateway clock `now`); the DLQ ids of its rejections. */
async function rejectThroughGateway(events: DeviceEvent[], identity: DeviceIdentity, now = Date.now()): Promise<string[]> {
  const ctx = {
    now,
    regions: config.regions,
    identity,
    maxFrameBytes: config.ingest.maxFrameBytes,
    maxEventsPerFrame: config.ingest.maxEventsPerFrame,
    maxEventAgeMs: config.ingest.maxEventAgeMs,
    maxEventAheadMs: config.ingest.maxEventAheadMs,
  };
  const result = processFrame(Buffer.from(JSON.stringify(events)), false, ctx, validator);
  expect(result.rejected.length).toBe(events.length);
  await appender.appendDlq(identity.region, result.rejected, { source: 'ws', remote: '127.0.0.1' });
  const all = await testRedis.redis.xrange(keys.dlq(identity.region), '-', '+');
  return events.map((e) => {
    const hit = all.find(([, flat]) => flat.includes(e.event_id));
    if (!hit) throw new Error(`no DLQ entry for ${e.event_id}`);
    return hit[0];
  });
}

async function replay(region: string, id: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/api/v1/dlq/${region}/${id}/replay`, {
    method: 'POST',
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function entryStatus(region: string, id: string): Promise<number> {
  return (await fetch(`${base}/api/v1/dlq/${region}/${id}`)).status;
}

/** Every copy of an event on the bus, looked up in the partition its device maps to. */
async function onBus(region: string, deviceId: string, eventId: string): Promise<CanonicalEvent[]> {
  const stream = keys.partition(region, partitionOf(deviceId, config.partitions)).stream;
  return (await streamEvents(testRedis.redis, stream)).flatMap((e) => e.events).filter((e) => e.eventId === eventId);
}

describe('POST /api/v1/dlq/{region}/{id}/replay', () => {
  it('appends a repaired event to its partition stream and removes the entry', async () => {
    opsNow = Date.now();
    const bad = v1Event(PUMP.deviceId, 'us-east', opsNow - MINUTE, 'temperature', 0);
    bad['value'] = 'hot';
    const [id = ''] = await rejectThroughGateway([bad], PUMP);

    const answer = await replay('us-east', id, { event: { ...bad, value: 21.5 } });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ replayed: true, event_id: bad.event_id, region: 'us-east', partition: partitionOf(PUMP.deviceId, 4) });

    const copies = await onBus('us-east', PUMP.deviceId, bad.event_id);
    expect(copies).toEqual([
      expect.objectContaining({
        deviceId: PUMP.deviceId,
        region: 'us-east',
        eventTime: Date.parse(bad.event_time),
        ingestTime: opsNow,
        readings: [{ sensorType: 'temperature', value: 21.5, unit: 'C', weight: 1 }],
      }),
    ]);
    expect(await entryStatus('us-east', id)).toBe(404);
  });

  it('replays the stored event once it has become valid (a device clock that ran ahead)', async () => {
    const gatewayNow = Date.now();
    const ahead = v2Event(PUMP.deviceId, 'us-east', gatewayNow + 10 * MINUTE, 3, [
      { sensor_type: 'temperature', value: 19.25, unit: 'C' },
      { sensor_type: 'humidity', value: 40, unit: '%' },
    ]);
    const [id = ''] = await rejectThroughGateway([ahead], PUMP, gatewayNow);
    opsNow = gatewayNow + 15 * MINUTE;

    const answer = await replay('us-east', id);
    expect(answer.status).toBe(200);
    const [copy] = await onBus('us-east', PUMP.deviceId, ahead.event_id);
    expect(copy).toMatchObject({ schemaVersion: 2, seq: 3, eventTime: Date.parse(ahead.event_time), ingestTime: opsNow });
    expect(copy?.readings.map((r) => r.value)).toEqual([19.25, 40]);
  });

  it('answers 422 with the rejection for a still-invalid event, and keeps the entry', async () => {
    opsNow = Date.now();
    const bad = v1Event(PUMP.deviceId, 'us-east', opsNow, 'temperature', 0);
    bad['value'] = 'hot';
    const [id = ''] = await rejectThroughGateway([bad], PUMP);

    const stored = await replay('us-east', id);
    expect(stored.status).toBe(422);
    expect(stored.body).toEqual({ code: 'FIELD_INVALID', message: expect.stringMatching(/value must be a finite number/) as unknown });

    const stillBad = await replay('us-east', id, { event: { ...bad, value: 'warm' } });
    expect(stillBad.status).toBe(422);
    expect(stillBad.body['code']).toBe('FIELD_INVALID');

    const otherDevice = await replay('us-east', id, { event: { ...bad, value: 20, device_id: 'pump-8' } });
    expect(otherDevice.status).toBe(422);
    expect(otherDevice.body['code']).toBe('DEVICE_MISMATCH');

    const otherRegion = await replay('us-east', id, { event: { ...bad, value: 20, region: 'eu-west' } });
    expect(otherRegion.status).toBe(422);
    expect(otherRegion.body['code']).toBe('REGION_MISMATCH');

    expect(await entryStatus('us-east', id)).toBe(200);
    expect(await onBus('us-east', PUMP.deviceId, bad.event_id)).toEqual([]);
  });

  it('replays an entry once: a second replay of the same id is 404, and the bus holds one copy', async () => {
    opsNow = Date.now();
    const bad = v1Event(PUMP.deviceId, 'us-east', opsNow, 'humidity', 0);
    delete bad['unit'];
    const [id = ''] = await rejectThroughGateway([bad], PUMP);
    const repaired = { event: { ...bad, unit: '%' } };

    expect((await replay('us-east', id, repaired)).status).toBe(200);
    const again = await replay('us-east', id, repaired);
    expect(again.status).toBe(404);
    expect(again.body['code']).toBe('NOT_FOUND');
    expect(await onBus('us-east', PUMP.deviceId, bad.event_id)).toHaveLength(1);
  });

  it('lets only one of two concurrent replays of an entry through', async () => {
    opsNow = Date.now();
    const bad = v1Event(PUMP.deviceId, 'us-east', opsNow, 'humidity', 0);
    bad['firmware_version'] = '';
    const [id = ''] = await rejectThroughGateway([bad], PUMP);
    const repaired = { event: { ...bad, firmware_version: '1.2.4' } };

    const statuses = (await Promise.all([replay('us-east', id, repaired), replay('us-east', id, repaired)])).map((r) => r.status);
    expect(statuses.sort()).toEqual([200, 404]);
    expect(await onBus('us-east', PUMP.deviceId, bad.event_id)).toHaveLength(1);
  });

  it('replays an undecodable bus entry only with a repaired event, bound to its region', async () => {
    opsNow = Date.now();
    const payload = pack([99, ['not', 'an', 'event']]);
    // The fields a shard writes when it dead-letters a bus entry (src/runtime/shard.ts).
    const id = await testRedis.redis.xadd(
      keys.dlq('eu-west'), '*', 'code', 'ENTRY_UNDECODABLE', 'message', 'bus entry is not decodable: unknown format version 99',
      'entry_id', '1700000000000-0', 'region', 'eu-west', 'source', 'bus', 'ingest_time', String(opsNow), 'raw', payload.toString('base64'),
    );
    if (id === null) throw new Error('XADD returned no id');

    const shown = (await (await fetch(`${base}/api/v1/dlq/eu-west/${id}`)).json()) as Record<string, unknown>;
    expect(shown).toMatchObject({ code: 'ENTRY_UNDECODABLE', entry_id: '1700000000000-0', raw: payload.toString('base64'), raw_decoded: [99, ['not', 'an', 'event']] });

    const bare = await replay('eu-west', id);
    expect(bare.status).toBe(400);
    expect(bare.body['message']).toMatch(/repaired event/);

    const wrongRegion = await replay('eu-west', id, { event: v1Event('valve-2', 'us-east', opsNow, 'temperature', 5) });
    expect(wrongRegion.status).toBe(422);
    expect(wrongRegion.body['code']).toBe('REGION_MISMATCH');
    expect(await entryStatus('eu-west', id)).toBe(200);

    const repaired = v1Event('valve-2', 'eu-west', opsNow, 'temperature', 5);
    const ok = await replay('eu-west', id, { event: repaired });
    expect(ok.status).toBe(200);
    expect(await onBus('eu-west', 'valve-2', repaired.event_id)).toHaveLength(1);
    expect(await entryStatus('eu-west', id)).toBe(404);
  });

  it('refuses a malformed request with 400 naming what is wrong', async () => {
    opsNow = Date.now();
    const bad = v1Event(PUMP.deviceId, 'us-east', opsNow, 'temperature', 0);
    bad['value'] = null;
    const [id = ''] = await rejectThroughGateway([bad], PUMP);

    const notJson = await replay('us-east', id, '{"event": ');
    expect(notJson.status).toBe(400);
    expect(notJson.body['message']).toMatch(/^body:/);
    const noEvent = await replay('us-east', id, { value: 1 });
    expect(noEvent.status).toBe(400);
    expect(noEvent.body['message']).toMatch(/^body:/);
    const badId = await replay('us-east', 'latest');
    expect(badId.status).toBe(400);
    expect(badId.body['message']).toMatch(/^id:/);
    const badRegion = await replay('mars', id);
    expect(badRegion.status).toBe(400);
    expect(badRegion.body['message']).toMatch(/^region:/);
    expect(await entryStatus('us-east', id)).toBe(200);
  });

  it('answers 503 REPLAY_UNAVAILABLE when the server was given no bus appender', async () => {
    opsNow = Date.now();
    const bad = v1Event(PUMP.deviceId, 'us-east', opsNow, 'temperature', 0);
    bad['value'] = 'hot';
    const [id = ''] = await rejectThroughGateway([bad], PUMP);
    const readOnly = startOps(false);
    const port = await readOnly.listen();
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/dlq/us-east/${id}/replay`, { method: 'POST', body: JSON.stringify({ event: { ...bad, value: 1 } }) });
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ code: 'REPLAY_UNAVAILABLE' });
    } finally {
      await readOnly.close();
    }
    expect(await entryStatus('us-east', id)).toBe(200);
  });
});
