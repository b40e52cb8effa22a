/**
 * A kill -9 inside ClickHouse's insert can leave a table's dedup record of the insert's token
 * without the part holding its rows: MergeTreeSink writes the dedup log record before it
 * renames the part in. The re-run of that unfinished flush must still store every reading and
 * count it once in both rollups, so it cannot rely on the same token alone (ClickHouse would
 * drop it as a duplicate). A real redis-server and the real chDB. A torn insert is made by
 * inserting one stray row under the flush's token; a part lost from one rollup table alone
 * (each view commits its own) by deleting the flush's rows there after the insert, which keeps
 * the table's dedup record.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import type { CrashPoint } from '../../helpers/crash-gate.js';
import { busEvents } from '../../helpers/events.js';
import { PartitionRig, TORN_DEVICE, startRuntimeServices, type RuntimeServices } from '../../helpers/partition-rig.js';
import { HOUR_MS, MINUTE_MS, expectedReadings, expectedWindows } from '../../helpers/sink-snapshot.js';

let services: RuntimeServices | undefined;

beforeAll(async () => {
  services = await startRuntimeServices();
});
afterAll(async () => {
  await services?.stop();
});

let runs = 9000;

/** A rig with `sent` read by its owner, whose flush then dies at `point`. */
async function crashedFlush(point: CrashPoint): Promise<{ rig: PartitionRig; sent: CanonicalEvent[] }> {
  const rig = new PartitionRig(services!, ++runs);
  await rig.init();
  expect(await rig.restart(null)).toBe(true);
  const sent = busEvents(0, 12, { idPrefix: '7042e000', devicePrefix: 'torn-dev', devices: 3, region: rig.region });
  await rig.append(sent.slice(0, 6));
  await rig.append(sent.slice(6));
  expect(await rig.poll(100)).toBe(2);
  expect(await rig.crashInFlush(point)).toBe(true);
  expect((await rig.checkpoint()).intentTo).not.toBeNull();
  return { rig, sent };
}

/** After the re-run: every reading stored once, both rollups exact, the dead owner fenced. */
async function expectExactlyOnce(rig: PartitionRig, sent: CanonicalEvent[]): Promise<void> {
  await rig.settle();
  const snapshot = await rig.snapshot();
  const own = <V>(m: Map<string, V>): Map<string, V> => new Map([...m].filter(([k, v]) => !k.startsWith(`${TORN_DEVICE}|`) && !String(v).startsWith(`${TORN_DEVICE}|`)));
  expect(own(snapshot.readings)).toEqual(expectedReadings(sent));
  expect(snapshot.repeatedReadings).toBe(0);
  expect(own(snapshot.rollup1m)).toEqual(expectedWindows(sent, MINUTE_MS));
  expect(own(snapshot.rollup1h)).toEqual(expectedWindows(sent, HOUR_MS));
  // The dead owner, woken late, is fenced, and its writes change nothing a reader sees.
  for (const z of await rig.wakeZombies()) expect(z.fenced).toBe(true);
  const after = await rig.snapshot();
  expect(after.readings).toEqual(snapshot.readings);
  expect(after.repeatedReadings).toBe(0);
  expect(after.rollup1m).toEqual(snapshot.rollup1m);
  expect(after.rollup1h).toEqual(snapshot.rollup1h);
}

describe('a flush torn by a crash inside a ClickHouse insert, re-run by the next owner', () => {
  it('stores every reading of a torn events insert once', async () => {
    const { rig, sent } = await crashedFlush('torn-insert-events');
    await expectExactlyOnce(rig, sent);
  }, 60_000);

  it('counts the partials of a torn rollup insert once in both rollups', async () => {
    const { rig, sent } = await crashedFlush('torn-insert-rollup_1m');
    await expectExactlyOnce(rig, sent);
  }, 60_000);

  for (const table of ['rollup_1h', 'rollup_1m'] as const) {
    it(`puts back partials lost from ${table} alone, without counting them twice in the other`, async () => {
      const { rig, sent } = await crashedFlush('after-sinks');
      // Everything landed; now the part goes from one table while its dedup record stays.
      await services!.store.command(`ALTER TABLE ${rig.database}.${table} DELETE WHERE device_id LIKE 'torn-dev-%' SETTINGS mutations_sync = 2`);
      await expectExactlyOnce(rig, sent);
    }, 60_000);
  }

  it('adds nothing when the re-run\'s own insert landed (the owner died before its rollup insert)', async () => {
    const { rig, sent } = await crashedFlush('insert-rollup_1m');
    await expectExactlyOnce(rig, sent);
  }, 60_000);
});
