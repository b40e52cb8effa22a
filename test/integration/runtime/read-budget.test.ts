/**
 * What a partition holds is bounded by events, not by bus entries. Under a backlog the gateway
 * packs up to MAX_EVENTS_PER_ENTRY events into one entry, so reading flush.readCount entries
 * at once could hold hundreds of thousands of events (a shard heap of 1.2 GB at 200k events/s
 * offered). A real redis-server and the real chDB.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import { backlogEntry } from '../../helpers/backlog.js';
import { PartitionRig, startRuntimeServices, type RuntimeServices } from '../../helpers/partition-rig.js';
import { expectedReadings } from '../../helpers/sink-snapshot.js';

let services: RuntimeServices | undefined;

beforeAll(async () => {
  services = await startRuntimeServices();
});
afterAll(async () => {
  await services?.stop();
});

const MAX_EVENTS = 1000;
const PER_ENTRY = 400;
const ENTRIES = 12;

function entry(k: number, region: string): CanonicalEvent[] {
  return backlogEntry({ region, k, perEntry: PER_ENTRY, idPrefix: 'b0d9e000', device: (n) => `budget-dev-${n % 7}`, agoMs: 10 * 60_000 });
}

/** Poll with a generous entry count until the owner reads nothing more. */
async function readUntilStopped(rig: PartitionRig): Promise<number> {
  let entries = 0;
  for (let n = await rig.poll(256); n > 0; n = await rig.poll(256)) entries += n;
  return entries;
}

describe('reading a backlog of big bus entries', () => {
  it('holds about flush.maxEvents events, not flush.readCount entries, and loses none of the backlog', async () => {
    const rig = new PartitionRig(services!, 7100, MAX_EVENTS);
    await rig.init();
    expect(await rig.restart(null)).toBe(true);
    const sent: CanonicalEvent[] = [];
    for (let k = 0; k < ENTRIES; k++) {
      const events = entry(k, rig.region);
      sent.push(...events);
      await rig.append(events);
    }

    // One poll(256) used to read all 12 entries (4,800 events) at once.
    const first = await readUntilStopped(rig);
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(ENTRIES);
    expect(rig.pendingEvents()).toBeGreaterThanOrEqual(MAX_EVENTS);
    expect(rig.pendingEvents()).toBeLessThan(MAX_EVENTS + PER_ENTRY);

    // Each flush makes room for the next batch, until the backlog is read.
    let read = first;
    while (read < ENTRIES) {
      await rig.flush();
      const more = await readUntilStopped(rig);
      expect(more).toBeGreaterThan(0);
      expect(rig.pendingEvents()).toBeLessThan(MAX_EVENTS + PER_ENTRY);
      read += more;
    }
    await rig.flush();
    expect(read).toBe(ENTRIES);
    const snapshot = await rig.snapshot();
    expect(snapshot.readings).toEqual(expectedReadings(sent));
    expect(snapshot.repeatedReadings).toBe(0);
  });
});
