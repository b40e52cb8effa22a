/**
 * FrameHandler with an in-memory bus: whatever the mix of good and bad events and whichever
 * partitions fail to append, the ack accounts for every event exactly once, nothing whose
 * append failed is acked as accepted (it is OVERLOADED, at its frame index), and everything
 * acked as accepted was appended.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { resolveConfig, validateUserConfig } from '../../../src/config.js';
import type { CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import type { Rejection } from '../../../src/contracts/frame.js';
import { RetryableError } from '../../../src/errors.js';
import type { BusAppender } from '../../../src/gateway/bus-appender.js';
import { FrameHandler, type Pressure } from '../../../src/gateway/frame-handler.js';
import { GatewayStats } from '../../../src/gateway/gateway-stats.js';
import { keepsReading, type SampledOut } from '../../../src/gateway/reading-sampler.js';
import { partitionOf } from '../../../src/runtime/partitioning.js';

const config = resolveConfig(validateUserConfig({ partitions: 4, auth: { mode: 'none' } }));
const DEVICES = ['pump-1', 'pump-2', 'valve-7', 'meter-9', 'gate:3', 'x.y_z-1'];

interface Ack {
  seq: number | null;
  accepted: number;
  rejected: { index: number | null; event_id: string | null; code: string }[];
}

/** A bus that fails appends to the listed `region:partition` streams. */
class FakeBus {
  appended: CanonicalEvent[] = [];
  sampledOut: SampledOut[] = [];
  dlq: Rejection[] = [];
  failing: ReadonlySet<string> = new Set();

  /** Start over, failing these streams from now on. */
  reset(failing: readonly string[] = []): this {
    this.appended = [];
    this.sampledOut = [];
    this.dlq = [];
    this.failing = new Set(failing);
    return this;
  }

  append(region: string, partition: number, events: CanonicalEvent[], sampledOut: SampledOut[] = []): Promise<void> {
    if (this.failing.has(`${region}:${partition}`)) return Promise.reject(new RetryableError('BUS_UNAVAILABLE', 'down'));
    this.appended.push(...events);
    this.sampledOut.push(...sampledOut);
    return Promise.resolve();
  }
  appendDlq(_region: string | null, rejections: Rejection[]): Promise<void> {
    this.dlq.push(...rejections);
    return Promise.resolve();
  }
}

function handler(bus: FakeBus, stats = new GatewayStats()): FrameHandler {
  return new FrameHandler({ config, appender: bus as unknown as BusAppender, stats, logger: pino({ level: 'silent' }), clock: Date.now });
}

// One handler for the property runs (building the validator compiles the schemas).
const sharedBus = new FakeBus();
const shared = handler(sharedBus);

interface EventSpec {
  device: string;
  region: string;
  valid: boolean;
  v2: boolean;
  value: number;
}

const eventArb: fc.Arbitrary<EventSpec> = fc.record({
  device: fc.constantFrom(...DEVICES),
  region: fc.constantFrom(...config.regions),
  valid: fc.boolean(),
  v2: fc.boolean(),
  value: fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
});
const failingArb = fc.subarray(config.regions.flatMap((r) => [0, 1, 2, 3].map((p) => `${r}:${p}`)));

function toWire(e: EventSpec): Record<string, unknown> {
  const base = { event_id: randomUUID(), device_id: e.device, event_time: new Date().toISOString(), firmware_version: '3.1.0', region: e.region };
  const value = e.valid ? e.value : 'not-a-number';
  return e.v2
    ? { ...base, schema_version: 2, readings: [{ sensor_type: 'flow', value, unit: 'l/min' }] }
    : { ...base, sensor_type: 'flow', value, unit: 'l/min' };
}

describe('FrameHandler', () => {
  it('accounts for every event once and never acks a failed append as accepted', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(eventArb, { maxLength: 40 }), failingArb, fc.option(fc.nat()), async (specs, failing, seq) => {
        const bus = sharedBus.reset(failing);
        const wire = specs.map(toWire);
        const outcome = await shared.handle(Buffer.from(JSON.stringify({ seq, events: wire })), false, null, { source: 'ws' });
        const ack = JSON.parse(outcome.ack) as Ack;
        const failed = (i: number): boolean => bus.failing.has(`${specs[i]?.region}:${partitionOf(specs[i]?.device ?? '', 4)}`);

        expect(ack.seq).toBe(seq);
        expect(ack.rejected.map((r) => r.index)).toEqual(specs.map((_, i) => i).filter((i) => !specs[i]?.valid || failed(i)));
        for (const r of ack.rejected) {
          const i = r.index as number;
          expect(r.code).toBe(specs[i]?.valid ? 'OVERLOADED' : 'FIELD_INVALID');
          expect(r.event_id).toBe(wire[i]?.['event_id']);
        }
        const acceptedIds = wire.filter((_, i) => specs[i]?.valid && !failed(i)).map((w) => w['event_id']);
        expect(ack.accepted).toBe(acceptedIds.length);
        expect(bus.appended.map((e) => e.eventId).sort()).toEqual([...acceptedIds].sort());
        expect(outcome.overloaded).toBe(specs.filter((s, i) => s.valid && failed(i)).length);
        // Contract rejections go to the DLQ; OVERLOADED events stay with the device.
        expect(bus.dlq.map((r) => r.index)).toEqual(specs.map((_, i) => i).filter((i) => !specs[i]?.valid));
      }),
      { numRuns: 150 },
    );
  });

  it('refuses every good event as OVERLOADED without appending when shedding', async () => {
    const bus = new FakeBus();
    const stats = new GatewayStats();
    const events = [toWire({ device: 'pump-1', region: 'us-east', valid: true, v2: false, value: 1 }), toWire({ device: 'pump-2', region: 'eu-west', valid: true, v2: true, value: 2 })];
    const outcome = await handler(bus, stats).handle(Buffer.from(JSON.stringify(events)), false, null, { source: 'ws' }, true);
    const ack = JSON.parse(outcome.ack) as Ack;
    expect(ack.accepted).toBe(0);
    expect(ack.rejected.map((r) => [r.index, r.code])).toEqual([
      [0, 'OVERLOADED'],
      [1, 'OVERLOADED'],
    ]);
    expect(bus.appended).toEqual([]);
    expect(stats.snapshot()).toMatchObject({ frames: 1, accepted: 0, rejected: { OVERLOADED: 2 } });
  });

  it('answers any bytes with an ack and never throws', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.boolean(), async (bytes, binary) => {
        const outcome = await shared.handle(bytes, binary, null, { source: 'ws' });
        const ack = JSON.parse(outcome.ack) as Ack & { type: string };
        expect(ack.type).toBe('ack');
        expect(ack.accepted).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 200 },
    );
  });
});

describe('FrameHandler sampling under backpressure', () => {
  const sampling = resolveConfig(validateUserConfig({ partitions: 4, auth: { mode: 'none' }, sampling: { sensors: { temperature: { keepOneIn: 3 } } } }));
  const NOW = Date.now();
  const sampler = (pressure: Pressure, stats = new GatewayStats(), bus = new FakeBus()): FrameHandler =>
    new FrameHandler({ config: sampling, appender: bus as unknown as BusAppender, stats, logger: pino({ level: 'silent' }), clock: () => NOW, pressure: () => pressure });
  const frame = (n: number): Record<string, unknown>[] =>
    Array.from({ length: n }, (_, i) => ({
      schema_version: 2,
      event_id: randomUUID(),
      device_id: DEVICES[i % DEVICES.length],
      event_time: new Date(NOW - i * 1000).toISOString(),
      firmware_version: '2.0.1',
      region: 'us-east',
      readings: [
        { sensor_type: 'temperature', value: 20 + i, unit: 'C' },
        { sensor_type: 'humidity', value: 40, unit: '%' },
        { sensor_type: 'temperature', value: 21 + i, unit: 'C' },
      ],
    }));

  it('keeps one temperature reading in 3 at soft pressure, weighted 3, and acks the rest as sampled_out', async () => {
    const bus = new FakeBus();
    const stats = new GatewayStats();
    const events = frame(60);
    const outcome = await sampler('soft', stats, bus).handle(Buffer.from(JSON.stringify({ seq: 9, events })), false, null, { source: 'ws' });
    const ack = JSON.parse(outcome.ack) as Ack & { sampled_out?: number };
    const ids = events.map((e) => (e['event_id'] as string).toLowerCase());
    const keptTemps = ids.flatMap((id) => [0, 2].filter((i) => keepsReading(id, i, 3)).map((i) => `${id}/${i}`));
    const dropped = 2 * ids.length - keptTemps.length;

    expect(ack.accepted).toBe(60);
    expect(ack.rejected).toEqual([]);
    expect(ack.sampled_out).toBe(dropped);
    expect(outcome.sampledOut).toBe(dropped);
    expect(stats.snapshot().sampledOut).toBe(dropped);
    const readings = bus.appended.flatMap((e) => e.readings);
    expect(readings.filter((r) => r.sensorType === 'humidity').map((r) => r.weight)).toEqual(ids.map(() => 1));
    expect(readings.filter((r) => r.sensorType === 'temperature').map((r) => r.weight)).toEqual(keptTemps.map(() => 3));
    expect(bus.sampledOut.reduce((n, s) => n + s.readings, 0)).toBe(dropped);
  });

  it('samples nothing at ok pressure, and its ack is byte-identical to a gateway without sampling', async () => {
    const bus = new FakeBus();
    const payload = Buffer.from(JSON.stringify({ seq: 4, events: frame(30) }));
    const sampled = await sampler('ok', new GatewayStats(), bus).handle(payload, false, null, { source: 'ws' });
    const plain = await new FrameHandler({ config, appender: new FakeBus() as unknown as BusAppender, stats: new GatewayStats(), logger: pino({ level: 'silent' }), clock: () => NOW }).handle(
      payload,
      false,
      null,
      { source: 'ws' },
    );
    expect(sampled.ack).toBe(plain.ack);
    expect(sampled.ack).not.toContain('sampled_out');
    expect(bus.appended.flatMap((e) => e.readings).every((r) => r.weight === 1)).toBe(true);
    expect(bus.appended).toHaveLength(30);
  });

  it('does not report readings sampled from events whose append failed (they are OVERLOADED)', async () => {
    const bus = new FakeBus().reset(config.regions.flatMap((r) => [0, 1, 2, 3].map((p) => `${r}:${p}`)));
    const stats = new GatewayStats();
    const outcome = await sampler('soft', stats, bus).handle(Buffer.from(JSON.stringify(frame(20))), false, null, { source: 'ws' });
    const ack = JSON.parse(outcome.ack) as Ack & { sampled_out?: number };
    expect(ack.accepted).toBe(0);
    expect(ack.rejected.every((r) => r.code === 'OVERLOADED')).toBe(true);
    expect(ack.sampled_out).toBeUndefined();
    expect(stats.snapshot().sampledOut).toBe(0);
  });

  it('asks the device for the lowest sample rate among the partitions its frame went to', async () => {
    const partitions = [...new Set(DEVICES.map((d) => partitionOf(d, sampling.partitions)))];
    expect(partitions.length).toBeGreaterThan(1);
    const [lagging, further] = partitions as [number, number];
    let rates = new Map([
      [lagging, 0.4],
      [further, 0.1],
    ]);
    const handler = (soft: ReadonlySet<number>): FrameHandler =>
      new FrameHandler({
        config: sampling,
        appender: new FakeBus() as unknown as BusAppender,
        stats: new GatewayStats(),
        logger: pino({ level: 'silent' }),
        clock: () => NOW,
        pressure: (_region, p) => (soft.has(p) ? 'soft' : 'ok'),
        sampleRate: (_region, p) => rates.get(p) ?? 1,
      });
    const payload = Buffer.from(JSON.stringify(frame(DEVICES.length)));
    const both = await handler(new Set([lagging, further])).handle(payload, false, null, { source: 'ws' });
    expect(both.pressure).toBe('soft');
    expect(both.sampleRate).toBe(0.1);
    rates = new Map([
      [lagging, 0.1],
      [further, 0.4],
    ]);
    expect((await handler(new Set([lagging, further])).handle(payload, false, null, { source: 'ws' })).sampleRate).toBe(0.1);
    rates = new Map([
      [lagging, 0.4],
      [further, 0.1],
    ]);
    const one = await handler(new Set([lagging])).handle(payload, false, null, { source: 'ws' });
    expect(one.sampleRate).toBe(0.4);
    const none = await handler(new Set()).handle(payload, false, null, { source: 'ws' });
    expect(none.pressure).toBe('ok');
    expect(none.sampleRate).toBe(1);
  });
});
