/**
 * BusAppender against a real Redis: appends for one stream within a tick become one entry
 * (capped), every caller learns when its events are stored, DLQ entries land in the right
 * region, and a dead connection fails callers with a RetryableError. Plus the gateway-level
 * effect: many concurrent small frames produce far fewer stream entries than frames.
 */
import { randomUUID } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import type { Rejection } from '../../../src/contracts/frame.js';
import { RejectCode, RetryableError } from '../../../src/errors.js';
import { BusAppender } from '../../../src/gateway/bus-appender.js';
import { FrameHandler } from '../../../src/gateway/frame-handler.js';
import { GatewayStats } from '../../../src/gateway/gateway-stats.js';
import { HOUR_MS, parseCounterHash } from '../../../src/runtime/audit-counters.js';
import { Keys } from '../../../src/runtime/keys.js';
import { partitionOf } from '../../../src/runtime/partitioning.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis.js';
import { WsDevice, dlqEntries, makeConfig, startGateway, streamEvents, token, v1Event } from './fixtures.js';

const REGIONS = ['us-east', 'eu-west'];
let redis: TestRedis;

beforeAll(async () => {
  redis = await startTestRedis();
});

afterAll(async () => {
  await redis.stop();
});

function event(deviceId: string, region = 'us-east'): CanonicalEvent {
  const now = Date.now();
  return {
    eventId: randomUUID(),
    deviceId,
    region,
    eventTime: now - 1000,
    ingestTime: now,
    firmwareVersion: '1.0.0',
    schemaVersion: 1,
    seq: null,
    readings: [{ sensorType: 'temperature', value: 20.5, unit: 'celsius', weight: 1 }],
  };
}

function appender(options: Partial<ConstructorParameters<typeof BusAppender>[0]> = {}): { appender: BusAppender; keys: Keys } {
  const keys = new Keys(`ba${randomUUID().slice(0, 8)}`);
  return { keys, appender: new BusAppender({ redis: redis.redis, keys, regions: REGIONS, lingerMs: 2, ...options }) };
}

function rejection(extra: Partial<Rejection>): Rejection {
  return { index: 0, eventId: null, code: RejectCode.FIELD_INVALID, message: 'FIELD_INVALID: value', deviceId: 'd', region: null, raw: {}, ...extra };
}

describe('BusAppender', () => {
  it('coalesces every append of a tick for one stream into one entry, in arrival order', async () => {
    const { appender: a, keys } = appender();
    const batches = Array.from({ length: 300 }, (_, i) => [event(`dev-${i}`), event(`dev-${i}`)]);
    await Promise.all(batches.map((b) => a.append('us-east', 3, b)));
    const entries = await streamEvents(redis.redis, keys.partition('us-east', 3).stream);
    expect(entries).toHaveLength(1);
    expect(entries[0]?.events).toEqual(batches.flat());
    expect(a.counters).toMatchObject({ entries: 1, events: 600, failures: 0 });
  });

  it('caps an entry at maxEventsPerEntry and writes each stream of a tick separately', async () => {
    const { appender: a, keys } = appender({ maxEventsPerEntry: 2000, lingerMs: 0 });
    const big = Array.from({ length: 4500 }, (_, i) => event(`big-${i % 7}`));
    const other = [event('other', 'eu-west')];
    await Promise.all([a.append('us-east', 0, big.slice(0, 1500)), a.append('us-east', 0, big.slice(1500)), a.append('eu-west', 1, other)]);
    const entries = await streamEvents(redis.redis, keys.partition('us-east', 0).stream);
    expect(entries.map((e) => e.events.length)).toEqual([2000, 2000, 500]);
    expect(entries.flatMap((e) => e.events)).toEqual(big);
    expect((await streamEvents(redis.redis, keys.partition('eu-west', 1).stream)).flatMap((e) => e.events)).toEqual(other);
  });

  it('writes the accepted counters with its entries, per event hour and device', async () => {
    const { appender: a, keys } = appender({ maxEventsPerEntry: 2000, lingerMs: 0 });
    const hour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - HOUR_MS;
    const at = (e: CanonicalEvent, eventTime: number, readings = 1): CanonicalEvent => ({ ...e, eventTime, readings: Array.from({ length: readings }, () => e.readings[0]!) });
    // Three entries (2,000 events at most each): increments of 2,000 × 2^32 + 2,000 (13 digits).
    const busy = Array.from({ length: 4500 }, () => at(event('busy'), hour + 10));
    const others = [at(event('two-hours'), hour + 5, 3), at(event('two-hours'), hour + HOUR_MS + 5, 2), at(event('quiet'), hour + 20, 64)];
    await a.append('us-east', 2, [...others, ...busy]);
    const counts = async (h: number): Promise<Map<string, { events: number; readings: number; sampledOut: number }>> =>
      parseCounterHash(await redis.redis.hgetall(keys.acceptedCounts('us-east', 2, h)));
    expect(await counts(hour)).toEqual(
      new Map([
        ['two-hours', { events: 1, readings: 3, sampledOut: 0 }],
        ['quiet', { events: 1, readings: 64, sampledOut: 0 }],
        ['busy', { events: 4500, readings: 4500, sampledOut: 0 }],
      ]),
    );
    expect(await counts(hour + HOUR_MS)).toEqual(new Map([['two-hours', { events: 1, readings: 2, sampledOut: 0 }]]));
    expect(await redis.redis.ttl(keys.acceptedCounts('us-east', 2, hour))).toBeGreaterThan(0);
  });

  it('files DLQ entries under the rejection’s region, else the device’s, else the first region', async () => {
    const { appender: a, keys } = appender();
    const huge = { payload: 'y'.repeat(40_000) };
    await a.appendDlq('eu-west', [rejection({ region: 'us-east', eventId: 'e1' }), rejection({ region: null, eventId: 'e2', raw: huge })], { source: 'ws', remote: '10.0.0.9' });
    await a.appendDlq(null, [rejection({ region: null, eventId: 'e3', index: null, deviceId: null })], { source: 'http' });
    const us = await dlqEntries(redis.redis, keys.dlq('us-east'));
    const eu = await dlqEntries(redis.redis, keys.dlq('eu-west'));
    expect(us.map((e) => e['event_id'])).toEqual(['e1', 'e3']);
    expect(eu.map((e) => e['event_id'])).toEqual(['e2']);
    expect(us[0]).toMatchObject({ code: 'FIELD_INVALID', device_id: 'd', region: 'us-east', index: '0', source: 'ws', remote: '10.0.0.9', raw: '{}' });
    expect(us[1]).toMatchObject({ index: '', device_id: '', source: 'http' });
    expect(Buffer.byteLength(eu[0]?.['raw'] ?? '')).toBe(16 * 1024);
  });

  it('rejects every caller with a RetryableError when Redis cannot be reached', async () => {
    const dead = redis.client();
    dead.disconnect();
    const { appender: a } = appender({ redis: dead });
    const results = await Promise.allSettled([a.append('us-east', 0, [event('x')]), a.append('us-east', 1, [event('y')])]);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(RetryableError);
    }
    await expect(a.appendDlq(null, [rejection({})], { source: 'ws' })).rejects.toBeInstanceOf(RetryableError);
    expect(a.counters.failures).toBe(2);
  });
});

describe('coalescing through the gateway', () => {
  it('keeps no appended event while its entry waits to be written, and writes them whole', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // A long linger: the entry is not written until drain().
    const { appender: a, keys } = appender({ lingerMs: 60_000 });
    const copies: CanonicalEvent[] = [];
    const handed: WeakRef<CanonicalEvent>[] = [];
    // 20 frames of 50 events, built and appended in a function of their own (the suspended
    // test function keeps its locals).
    const appends = ((): Promise<void>[] => {
      const out: Promise<void>[] = [];
      for (let f = 0; f < 20; f++) {
        const events = Array.from({ length: 50 }, (_, i) => event(`dev-${(f * 50 + i) % 13}`));
        for (const e of events) {
          copies.push(structuredClone(e));
          handed.push(new WeakRef(e));
        }
        out.push(a.append('us-east', 2, events));
      }
      return out;
    })();
    await new Promise((done) => setTimeout(done, 10)); // a WeakRef keeps its target until the job ends
    gc();
    expect(handed.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
    expect(await streamEvents(redis.redis, keys.partition('us-east', 2).stream)).toHaveLength(0);
    await a.drain();
    await Promise.all(appends);
    const entries = await streamEvents(redis.redis, keys.partition('us-east', 2).stream);
    expect(entries.flatMap((e) => e.events)).toEqual(copies);
    const hour = Math.floor(copies[0]!.eventTime / HOUR_MS) * HOUR_MS;
    const counted = parseCounterHash(await redis.redis.hgetall(keys.acceptedCounts('us-east', 2, hour)));
    expect([...counted.values()].reduce((n, c) => n + c.events, 0)).toBe(1000);
  });

  it('refuses, as retryable, an append whose event cannot be encoded, and writes the others', async () => {
    const { appender: a, keys } = appender();
    const first = event('dev-a');
    const broken = { ...event('dev-b'), seq: -1 }; // no gateway accepts it: a varint cannot hold it
    const after = event('dev-c');
    const refused = a.append('us-east', 1, [first, broken]);
    const fine = a.append('us-east', 1, [after]);
    await expect(refused).rejects.toBeInstanceOf(RetryableError);
    await fine;
    const stored = (await streamEvents(redis.redis, keys.partition('us-east', 1).stream)).flatMap((e) => e.events);
    // The event before the broken one is in the entry (its device resends it: a duplicate the shards drop).
    expect(stored).toEqual([first, after]);
    expect(a.counters.failures).toBe(1);
  });

  it('turns many concurrent small frames for one partition into far fewer stream entries', async () => {
    const gw = await startGateway(redis.redis, { partitions: 2, ingest: { appendLingerMs: 5 } });
    try {
      const ids: string[] = [];
      for (let i = 0; ids.length < 40; i++) if (partitionOf(`fleet-${i}`, 2) === 0) ids.push(`fleet-${i}`);
      const devices = await Promise.all(ids.map(async (id) => WsDevice.connect(gw.wsUrl, { Authorization: `Bearer ${await token(id, 'eu-west')}` })));
      const framesEach = 5;
      for (let f = 0; f < framesEach; f++) devices.forEach((d, i) => d.sendJson({ seq: f, events: [v1Event(ids[i] as string, 'eu-west')] }));
      const acks = await Promise.all(devices.flatMap((d) => Array.from({ length: framesEach }, (_, f) => d.ack(f))));
      expect(acks.every((a) => a.accepted === 1)).toBe(true);

      const frames = ids.length * framesEach;
      const entries = await streamEvents(redis.redis, gw.keys.partition('eu-west', 0).stream);
      expect(entries.flatMap((e) => e.events)).toHaveLength(frames);
      expect(entries.length).toBeLessThanOrEqual(frames / 10);
      await Promise.all(devices.map((d) => d.close()));
    } finally {
      await gw.close();
    }
  });
});

describe('a frame waiting for its bus append', () => {
  it('holds none of its events once they are encoded, and is acked when Redis answers', async () => {
    // gc() from a context of its own: vitest's workers do not run with --expose-gc.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { appender: bus, keys } = appender({ lingerMs: 0 });
    // Watch, without keeping, the events the handler hands over.
    const handed: WeakRef<CanonicalEvent>[] = [];
    const append = bus.append.bind(bus);
    bus.append = (region, partition, events, sampledOut) => {
      for (const e of events) handed.push(new WeakRef(e));
      return append(region, partition, events, sampledOut);
    };
    const handler = new FrameHandler({ config: makeConfig(), appender: bus, stats: new GatewayStats(), logger: pino({ level: 'silent' }), clock: Date.now });
    const frame = { type: 'events', seq: 7, events: Array.from({ length: 200 }, (_, i) => v1Event(`dev-${i % 5}`, 'us-east')) };
    // Redis holds every write for a second: the appends stay in flight.
    const pauser = redis.redis.duplicate();
    await pauser.call('CLIENT', 'PAUSE', '1000', 'WRITE');
    try {
      const outcome = handler.handle(new TextEncoder().encode(JSON.stringify(frame)), false, null, { source: 'ws' });
      await new Promise((done) => setTimeout(done, 100)); // the appends are written (encoded), not answered
      gc();
      expect(handed).toHaveLength(200);
      expect(handed.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
      const { ack, result } = await outcome;
      expect(JSON.parse(ack)).toEqual({ type: 'ack', seq: 7, accepted: 200, rejected: [] });
      expect(result.accepted.toArray().map((e) => e.eventId)).toEqual(frame.events.map((e) => e['event_id']));
    } finally {
      pauser.disconnect();
    }
    const stored = (await Promise.all([0, 1, 2, 3].map((p) => streamEvents(redis.redis, keys.partition('us-east', p).stream)))).flat();
    expect(stored.flatMap((entry) => entry.events).map((e) => e.eventId).sort()).toEqual(frame.events.map((e) => e['event_id'] as string).sort());
  });
});
