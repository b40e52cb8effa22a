/**
 * A shard hands its accepted events straight to the events insert when the store encodes the
 * archive from that insert (chDB), and keeps them until the flush when the archive is encoded
 * in JavaScript from their rows. Either way every event is stored and archived exactly once,
 * across several flushes, resends and days. A real redis-server and the real chDB.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import { PartitionRig, startRuntimeServices, type RuntimeServices } from '../../helpers/partition-rig.js';
import { expectedReadings } from '../../helpers/sink-snapshot.js';

let services: RuntimeServices | undefined;

beforeAll(async () => {
  services = await startRuntimeServices();
});
afterAll(async () => {
  await services?.stop();
});

const DAY_MS = 86_400_000;

/** 40 events a call over two UTC days (yesterday and today), one to three readings each. */
function events(k: number, region: string): CanonicalEvent[] {
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  return Array.from({ length: 40 }, (_, i) => {
    const n = k * 40 + i;
    return {
      eventId: `a7c1e000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`,
      deviceId: `archive-dev-${n % 7}`,
      region,
      eventTime: (i % 2 ? today : today - DAY_MS) + 60_000 + n * 1000,
      ingestTime: Date.now(),
      firmwareVersion: '2.0.1',
      schemaVersion: 2 as const,
      seq: n,
      readings: Array.from({ length: 1 + (n % 3) }, (_, r) => ({ sensorType: `s${r}`, value: n + r / 8, unit: 'u', weight: 1 })),
    };
  });
}

describe('the archive, encoded by the store or in JavaScript', () => {
  for (const [run, storeEncodes] of [[7300, true], [7301, false]] as const) {
    it(`stores and archives every event once when ${storeEncodes ? 'the store encodes it' : 'JavaScript encodes it'}`, async () => {
      const rig = new PartitionRig(services!, run, 60, undefined, storeEncodes);
      await rig.init();
      const sent: CanonicalEvent[] = [];
      for (let k = 0; k < 5; k++) {
        const list = events(k, rig.region);
        sent.push(...list);
        await rig.append(list);
      }
      await rig.append(events(2, rig.region));
      await rig.settle();

      const snapshot = await rig.snapshot();
      expect(snapshot.readings).toEqual(expectedReadings(sent));
      expect(snapshot.repeatedReadings).toBe(0);
      const archived = await rig.archive();
      const rows = sent.reduce((n, e) => n + e.readings.length, 0);
      expect(archived.size).toBe(rows);
      expect([...archived.values()].every((n) => n === 1)).toBe(true);
    });
  }
});
