/**
 * Adaptive sampling at the gateway, end to end on a real uWS gateway and redis-server with the
 * partition pressure injected: at `soft`, configured sensor types keep one reading in k with
 * weight k on the bus, the ack reports the rest as `sampled_out` (and the device must not
 * resend them), and the gateway stats, the Prometheus counter and the audit's Redis counters
 * all count them. At `ok` nothing is sampled; at `hard` nothing is accepted, so nothing is
 * sampled either.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import type { Pressure } from '../../../src/gateway/frame-handler.js';
import { Gateway } from '../../../src/gateway/gateway.js';
import { keepsReading } from '../../../src/gateway/reading-sampler.js';
import { HOUR_MS, parseCounterHash } from '../../../src/runtime/audit-counters.js';
import { Keys } from '../../../src/runtime/keys.js';
import { partitionOf } from '../../../src/runtime/partitioning.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis.js';
import { SECRET, WsDevice, makeConfig, streamEvents, token, v1Event, v2Event, type Ack } from './fixtures.js';

const KEEP = 4;
let redis: TestRedis;
let gateway: Gateway;
let level: Pressure = 'ok';
/** The sample rate the pipeline's LagMonitor would ask for at `level`. */
const RATE = 0.125;
const registry = new Registry();
const prefix = `smp${randomUUID().slice(0, 8)}`;
const keys = new Keys(prefix);
const config = makeConfig({ redis: { keyPrefix: prefix }, sampling: { sensors: { temperature: { keepOneIn: KEEP } } } });
const devices: WsDevice[] = [];

type SampledAck = Ack & { sampled_out?: number };

beforeAll(async () => {
  redis = await startTestRedis();
  gateway = new Gateway({ config, redis: redis.redis, keys, logger: pino({ level: 'silent' }), authSecret: SECRET, pressure: () => level, sampleRate: () => RATE, registry });
  await gateway.listen();
});

afterAll(async () => {
  await Promise.all(devices.map((d) => d.close()));
  await gateway.close();
  await redis.stop();
});

async function device(deviceId: string): Promise<WsDevice> {
  const d = await WsDevice.connect(`ws://127.0.0.1:${gateway.port}/v1/stream`, { Authorization: `Bearer ${await token(deviceId, 'us-east')}` });
  devices.push(d);
  return d;
}

async function onBus(deviceId: string): Promise<CanonicalEvent[]> {
  const stream = keys.partition('us-east', partitionOf(deviceId, config.partitions)).stream;
  return (await streamEvents(redis.redis, stream)).flatMap((e) => e.events).filter((e) => e.deviceId === deviceId);
}

/** The audit counters of a device across the hours of `times`: events, readings, sampled out. */
async function auditCounters(deviceId: string, times: readonly number[]): Promise<{ events: number; readings: number; sampledOut: number }> {
  const total = { events: 0, readings: 0, sampledOut: 0 };
  for (const hour of new Set(times.map((t) => Math.floor(t / HOUR_MS) * HOUR_MS))) {
    const hash = await redis.redis.hgetall(keys.acceptedCounts('us-east', partitionOf(deviceId, config.partitions), hour));
    const c = parseCounterHash(hash).get(deviceId);
    total.events += c?.events ?? 0;
    total.readings += c?.readings ?? 0;
    total.sampledOut += c?.sampledOut ?? 0;
  }
  return total;
}

async function sampledMetric(sensorType: string): Promise<number> {
  const metric = await registry.getSingleMetric('shoal_sampled_out_readings_total')?.get();
  return metric?.values.find((v) => v.labels['region'] === 'us-east' && v.labels['sensor_type'] === sensorType)?.value ?? 0;
}

/** Readings of a wire event with their index, and whether sampling at KEEP keeps each. */
function decisions(wire: Record<string, unknown>): { sensor: string; keep: boolean }[] {
  const id = (wire['event_id'] as string).toLowerCase();
  const readings = (wire['readings'] as { sensor_type: string }[] | undefined) ?? [{ sensor_type: wire['sensor_type'] as string }];
  return readings.map((r, i) => ({ sensor: r.sensor_type, keep: r.sensor_type !== 'temperature' || keepsReading(id, i, KEEP) }));
}

describe('gateway sampling under backpressure', () => {
  it('keeps everything at ok pressure: no sampled_out, every weight 1', async () => {
    level = 'ok';
    const d = await device('calm-1');
    const events = [v2Event('calm-1', 'us-east', 1), ...Array.from({ length: 20 }, () => v1Event('calm-1', 'us-east'))];
    d.sendJson({ seq: 1, events });
    expect(await d.ack(0)).toEqual({ type: 'ack', seq: 1, accepted: 21, rejected: [] });
    const bus = await onBus('calm-1');
    expect(bus).toHaveLength(21);
    expect(bus.flatMap((e) => e.readings).every((r) => r.weight === 1)).toBe(true);
    expect(d.messages.some((m) => m['type'] === 'throttle')).toBe(false);
  });

  it('at soft pressure keeps one temperature reading in 4 with weight 4, acks and counts the rest', async () => {
    level = 'soft';
    const d = await device('busy-1');
    const before = { stats: gateway.stats.snapshot().sampledOut, metric: await sampledMetric('temperature') };
    const events = [...Array.from({ length: 60 }, (_, i) => v2Event('busy-1', 'us-east', i)), ...Array.from({ length: 60 }, () => v1Event('busy-1', 'us-east'))];
    d.sendJson({ seq: 5, events });
    const ack = (await d.ack(0)) as SampledAck;

    const plan = events.map(decisions);
    const dropped = plan.flat().filter((r) => !r.keep).length;
    expect(dropped).toBeGreaterThan(0);
    expect(ack).toEqual({ type: 'ack', seq: 5, accepted: 120, rejected: [], sampled_out: dropped });
    expect(d.messages.filter((m) => m['type'] === 'throttle')).toEqual([{ type: 'throttle', sample_rate: RATE, retry_after_ms: 2000 }]);

    const bus = await onBus('busy-1');
    // Only events with a reading kept are on the bus; their readings are the kept ones, in order.
    const wanted = events.filter((_, i) => plan[i]!.some((r) => r.keep));
    expect(bus.map((e) => e.eventId)).toEqual(wanted.map((e) => (e['event_id'] as string).toLowerCase()));
    for (const e of bus) {
      const kept = decisions(events.find((w) => (w['event_id'] as string).toLowerCase() === e.eventId)!).filter((r) => r.keep);
      expect(e.readings.map((r) => [r.sensorType, r.weight])).toEqual(kept.map((r) => [r.sensor, r.sensor === 'temperature' ? KEEP : 1]));
    }

    expect(gateway.stats.snapshot().sampledOut - before.stats).toBe(dropped);
    expect((await sampledMetric('temperature')) - before.metric).toBe(dropped);
    expect(await sampledMetric('humidity')).toBe(0);
    const times = events.map((e) => Date.parse(e['event_time'] as string));
    expect(await auditCounters('busy-1', times)).toEqual({ events: bus.length, readings: bus.reduce((n, e) => n + e.readings.length, 0), sampledOut: dropped });
  });

  it('samples a resend of the same frame the same way (dedup sees identical events)', async () => {
    level = 'soft';
    const d = await device('resend-1');
    const events = Array.from({ length: 30 }, (_, i) => v2Event('resend-1', 'us-east', i));
    d.sendJson({ seq: 1, events });
    d.sendPack({ seq: 2, events });
    const [first, second] = [(await d.ack(0)) as SampledAck, (await d.ack(1)) as SampledAck];
    expect(second.sampled_out).toBe(first.sampled_out);
    const bus = await onBus('resend-1');
    const half = bus.length / 2;
    // Receipt time and correlation id belong to the frame, not to the events.
    const strip = (e: CanonicalEvent): unknown => ({ ...e, ingestTime: 0, cid: '' });
    expect(bus.slice(half).map(strip)).toEqual(bus.slice(0, half).map(strip));
  });

  it('reports sampled readings over HTTP too, and writes counters even when no reading of a frame was kept', async () => {
    level = 'soft';
    // Temperature-only events none of whose readings is kept: nothing to append, all acked.
    const events: Record<string, unknown>[] = [];
    while (events.length < 5) {
      const e = v1Event('http-1', 'us-east');
      if (!decisions(e)[0]!.keep) events.push(e);
    }
    const res = await fetch(`http://127.0.0.1:${gateway.port}/v1/events`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${await token('http-1', 'us-east')}` },
      body: JSON.stringify({ seq: 3, events }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ type: 'ack', seq: 3, accepted: 5, rejected: [], sampled_out: 5 });
    expect(await onBus('http-1')).toEqual([]);
    const times = events.map((e) => Date.parse(e['event_time'] as string));
    expect(await auditCounters('http-1', times)).toEqual({ events: 0, readings: 0, sampledOut: 5 });
  });

  it('samples nothing at hard pressure: the events are refused OVERLOADED and kept by the device', async () => {
    level = 'hard';
    const d = await device('full-1');
    const before = gateway.stats.snapshot().sampledOut;
    const events = Array.from({ length: 10 }, (_, i) => v2Event('full-1', 'us-east', i));
    d.sendJson({ seq: 1, events });
    const ack = (await d.ack(0)) as SampledAck;
    expect(ack.accepted).toBe(0);
    expect(ack.rejected.map((r) => r.code)).toEqual(events.map(() => 'OVERLOADED'));
    expect(ack.sampled_out).toBeUndefined();
    expect(gateway.stats.snapshot().sampledOut).toBe(before);
    expect(await onBus('full-1')).toEqual([]);
  });
});
