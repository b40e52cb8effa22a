/**
 * DeviceActor: the watermarks of one device. Its dedup memory moved to the partition's
 * DedupIndex (see dedup-index.test.ts), so passivation needs only idleness.
 */
import { describe, it, expect } from 'vitest';
import { DeviceActor } from '../../../src/actors/device-actor.js';
import { makeEvent } from './arbitraries.js';

const READING = [{ sensorType: 'temp', value: 1, unit: 'C', weight: 1 }];
const event = (eventId: string, seq: number | null = null, eventTime = 1_700_000_000_000) =>
  makeEvent({ eventId, deviceId: 'd1', eventTime, readings: READING, v2: seq !== null, seq });

describe('DeviceActor', () => {
  it('tracks the newest event time and the last v2 seq of accepted events', () => {
    const actor = new DeviceActor('d1');
    actor.accept(event('a', 4));
    actor.accept(event('b', null, 1_700_000_000_000 - 5_000)); // older: the newest stays
    expect(actor.lastSeq).toBe(4);
    expect(actor.newestEventTime).toBe(1_700_000_000_000);
    expect(actor.isLate(1_700_000_000_000 - 60_001)).toBe(true);
    expect(actor.isLate(1_700_000_000_000 - 60_000)).toBe(false);
  });

  it('may be passivated once idle for idleMs of bus time, whatever it accepted', () => {
    const actor = new DeviceActor('d1');
    actor.touch(1_000);
    actor.touch(500); // an older bus time does not move the watermark back
    expect(actor.lastBusTime).toBe(1_000);
    expect(actor.canPassivate(10_999, 10_000)).toBe(false);
    expect(actor.canPassivate(11_000, 10_000)).toBe(true);
  });
});
