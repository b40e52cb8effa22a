/**
 * A gateway upgrade does not strand the backlog: a stream that holds entries of the MessagePack
 * format an older gateway wrote, then entries of format 3, is read, stored and archived
 * exactly once, with the readings' weights and the frames' cids. A real redis-server and the
 * real chDB.
 */
import { Packr } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import { PartitionRig, startRuntimeServices, type RuntimeServices } from '../../helpers/partition-rig.js';
import { expectedReadings, MINUTE_MS, type WindowTotals } from '../../helpers/sink-snapshot.js';

let services: RuntimeServices | undefined;

beforeAll(async () => {
  services = await startRuntimeServices();
});
afterAll(async () => {
  await services?.stop();
});

function events(k: number, region: string): CanonicalEvent[] {
  const start = Date.now() - 10 * 60_000;
  return Array.from({ length: 50 }, (_, i) => {
    const n = k * 50 + i;
    return {
      eventId: `f0a3e000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`,
      deviceId: `upgrade-dev-${n % 5}`,
      region,
      eventTime: start + n * 1000,
      ingestTime: Date.now(),
      firmwareVersion: '2.0.1',
      schemaVersion: 2 as const,
      seq: n,
      readings: [
        { sensorType: 'temperature', value: n / 4, unit: 'C', weight: 1 },
        { sensorType: 'vibration', value: -n, unit: 'mm/s', weight: n % 3 === 0 ? 4 : 1 },
      ],
      cid: `frame-${k}`,
    };
  });
}

/** Format 2 as the gateway before format 3 wrote it (positional MessagePack arrays). */
function format2(list: readonly CanonicalEvent[]): Buffer {
  let cid: string | undefined;
  return new Packr({ useRecords: false }).pack([
    2,
    ...list.map((e) => {
      const fields: unknown[] = [e.eventId, e.deviceId, e.region, e.eventTime, e.ingestTime, e.firmwareVersion, e.schemaVersion, e.seq, e.readings.flatMap((r) => [r.sensorType, r.value, r.unit])];
      const weighted = e.readings.some((r) => r.weight > 1);
      if (weighted || e.cid !== cid) fields.push(weighted ? e.readings.map((r) => r.weight) : null);
      if (e.cid !== cid) fields.push((cid = e.cid) ?? null);
      return fields;
    }),
  ]);
}

/** Minute rollups of the distinct events: a reading of weight k counts k times (the values are exact in binary). */
function weightedMinutes(list: readonly CanonicalEvent[]): Map<string, WindowTotals> {
  const out = new Map<string, WindowTotals>();
  const seen = new Set<string>();
  for (const e of list) {
    if (seen.has(e.eventId)) continue;
    seen.add(e.eventId);
    for (const r of e.readings) {
      const key = `${e.deviceId}|${r.sensorType}|${Math.floor(e.eventTime / MINUTE_MS) * MINUTE_MS}`;
      const w = out.get(key) ?? { count: 0, sum: 0 };
      out.set(key, { count: w.count + r.weight, sum: w.sum + r.value * r.weight });
    }
  }
  return out;
}

describe('a stream written across a gateway upgrade', () => {
  it('stores every event of the old and the new format exactly once, weights included', async () => {
    const rig = new PartitionRig(services!, 7200);
    await rig.init();
    const sent: CanonicalEvent[] = [];
    for (let k = 0; k < 6; k++) {
      const list = events(k, rig.region);
      sent.push(...list);
      // Three entries from the old gateway, then three from the new one; one resent entry of each.
      if (k < 3) await rig.appendPayload(format2(list));
      else await rig.append(list);
    }
    await rig.appendPayload(format2(events(1, rig.region)));
    await rig.append(events(4, rig.region));
    await rig.settle();

    const snapshot = await rig.snapshot();
    expect(snapshot.readings).toEqual(expectedReadings(sent));
    expect(snapshot.repeatedReadings).toBe(0);
    expect(snapshot.rollup1m).toEqual(weightedMinutes(sent));
    const archived = await rig.archive();
    expect(archived.size).toBe(sent.length * 2);
    expect([...archived.values()].every((n) => n === 1)).toBe(true);
    expect(await services!.redis.redis.xlen(rig.keys.dlq(rig.region))).toBe(0);
  });
});
