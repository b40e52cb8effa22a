/**
 * DeviceActor dedup memory: duplicates inside the horizon are caught, and memory stays
 * bounded by the horizon and by the per-device cap, checked against a few-line model.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { DeviceActor } from '../../../src/actors/device-actor.js';
import { makeEvent } from './arbitraries.js';

const READING = [{ sensorType: 'temp', value: 1, unit: 'C', weight: 1 }];
const event = (eventId: string, seq: number | null = null) =>
  makeEvent({ eventId, deviceId: 'd1', eventTime: 1_700_000_000_000, readings: READING, v2: seq !== null, seq });

describe('DeviceActor', () => {
  it('drops a resend inside the horizon and accepts it again once the horizon has passed', () => {
    const actor = new DeviceActor('d1', { dedupHorizonMs: 10_000, maxIdsPerDevice: 100 });
    expect(actor.offer(event('a'), 1_000)).toBe(true);
    expect(actor.offer(event('a'), 11_000)).toBe(false); // exactly at the horizon: still known
    expect(actor.offer(event('b'), 11_001)).toBe(true); // moves newest bus time past a's horizon
    expect(actor.rememberedIds()).toBe(1);
    expect(actor.offer(event('a'), 11_001)).toBe(true);
  });

  it('keeps at most maxIdsPerDevice ids, forgetting the oldest first', () => {
    const actor = new DeviceActor('d1', { dedupHorizonMs: 1e9, maxIdsPerDevice: 3 });
    for (const id of ['a', 'b', 'c', 'd', 'e']) expect(actor.offer(event(id), 1)).toBe(true);
    expect(actor.rememberedIds()).toBe(3);
    expect(actor.offer(event('e'), 2)).toBe(false);
    expect(actor.offer(event('c'), 2)).toBe(false);
    expect(actor.offer(event('a'), 2)).toBe(true); // forgotten, so accepted; evicts c
    expect(actor.offer(event('c'), 2)).toBe(true);
  });

  it('remember() rebuilds memory without counting as traffic beyond its bus time', () => {
    const actor = new DeviceActor('d1', { dedupHorizonMs: 5_000, maxIdsPerDevice: 10 });
    actor.remember('x', 100);
    actor.remember('y', 200);
    expect(actor.lastBusTime).toBe(200);
    expect(actor.offer(event('x'), 300)).toBe(false);
    expect(actor.canPassivate(5_300, 1)).toBe(true);
    expect(actor.canPassivate(5_200, 1)).toBe(false);
  });

  it('tracks the newest event time and the last v2 seq of accepted events', () => {
    const actor = new DeviceActor('d1', { dedupHorizonMs: 5_000, maxIdsPerDevice: 10 });
    expect(actor.offer(event('a', 4), 1)).toBe(true);
    expect(actor.offer(event('b'), 2)).toBe(true);
    expect(actor.lastSeq).toBe(4);
    expect(actor.newestEventTime).toBe(1_700_000_000_000);
    expect(actor.isLate(1_700_000_000_000 - 60_001)).toBe(true);
    expect(actor.isLate(1_700_000_000_000 - 60_000)).toBe(false);
  });

  it('decides like the model "forget past the horizon, keep the newest maxIds" and stays within the cap', () => {
    const op = fc.record({ id: fc.integer({ min: 0, max: 15 }), step: fc.nat({ max: 3_000 }), rebuild: fc.boolean() });
    fc.assert(
      fc.property(
        fc.integer({ min: 1_000, max: 20_000 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(op, { maxLength: 200 }),
        (horizon, cap, ops) => {
          const actor = new DeviceActor('d1', { dedupHorizonMs: horizon, maxIdsPerDevice: cap });
          let model: [id: string, at: number][] = [];
          let busTime = 0;
          for (const o of ops) {
            busTime += o.step;
            const id = `id-${o.id}`;
            model = model.filter(([, at]) => at >= busTime - horizon);
            const known = model.some(([m]) => m === id);
            if (!known) model = [...model, [id, busTime] as [string, number]].slice(-cap);
            if (o.rebuild) {
              // Only the accepted ids (what a dedup log holds) reach the rebuilt actor.
              if (!known) actor.remember(id, busTime);
            } else {
              expect(actor.offer(event(id), busTime)).toBe(!known);
            }
            expect(actor.rememberedIds()).toBeLessThanOrEqual(cap);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
