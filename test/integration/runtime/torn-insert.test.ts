/**
 * A kill -9 inside ClickHouse's insert can leave a table's dedup record of the insert's token
 * without the part holding its rows: MergeTreeSink writes the dedup log record before it
 * renames the part in. The re-run of that unfinished flush must still store every reading,
 * so it cannot rely on the same token (ClickHouse would drop it as a duplicate). A real
 * redis-server and the real chDB; the torn insert leaves one stray row under the flush's token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import { PartitionRig, TORN_DEVICE, startRuntimeServices, type RuntimeServices } from '../../helpers/partition-rig.js';
import { HOUR_MS, MINUTE_MS, expectedReadings, expectedWindows } from '../../helpers/sink-snapshot.js';

let services: RuntimeServices | undefined;

beforeAll(async () => {
  services = await startRuntimeServices();
});
afterAll(async () => {
  await services?.stop();
});

function events(n: number): CanonicalEvent[] {
  const start = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 5 * MINUTE_MS;
  return Array.from({ length: n }, (_, i) => ({
    eventId: `7042e000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
    deviceId: `torn-dev-${i % 3}`,
    region: 'x',
    eventTime: start + i * 1000,
    ingestTime: Date.now(),
    firmwareVersion: '1.0.0',
    schemaVersion: 2 as const,
    seq: i,
    readings: [
      { sensorType: 'temperature', value: 20 + i, unit: 'C', weight: 1 },
      { sensorType: 'humidity', value: 40 + i, unit: '%', weight: 1 },
    ],
  }));
}

describe('a flush whose events insert was torn by a crash', () => {
  it('is re-run by the next owner with every reading stored once, and rollups counted once', async () => {
    const rig = new PartitionRig(services!, 9001);
    await rig.init();
    expect(await rig.restart(null)).toBe(true);
    const sent = events(12).map((e) => ({ ...e, region: rig.region }));
    await rig.append(sent.slice(0, 6));
    await rig.append(sent.slice(6));
    expect(await rig.poll(100)).toBe(2);
    // The owner dies inside the events insert: the token is recorded, the batch's rows are not.
    expect(await rig.crashInFlush('torn-insert-events')).toBe(true);
    expect((await rig.checkpoint()).intentTo).not.toBeNull();

    await rig.settle();
    const snapshot = await rig.snapshot();
    const stored = new Map([...snapshot.readings].filter(([, v]) => !v.startsWith(`${TORN_DEVICE}|`)));
    expect(stored).toEqual(expectedReadings(sent));
    expect(snapshot.repeatedReadings).toBe(0);
    expect(snapshot.rollup1m).toEqual(expectedWindows(sent, MINUTE_MS));
    expect(snapshot.rollup1h).toEqual(expectedWindows(sent, HOUR_MS));

    // The dead owner, woken late, is fenced and changes nothing a reader sees.
    for (const z of await rig.wakeZombies()) expect(z.fenced).toBe(true);
    const after = await rig.snapshot();
    expect(after.readings).toEqual(snapshot.readings);
    expect(after.repeatedReadings).toBe(0);
    expect(after.rollup1m).toEqual(snapshot.rollup1m);
  }, 60_000);
});
