/**
 * The dedup log keeps what a restore needs and no more: once a partition's dedup index is full,
 * the ids it evicted are trimmed from the log too (not only those past the horizon), so Redis
 * holds about as many ids as the index does. A new owner restored from that log still decides
 * like the one before it. A real redis-server and the real chDB.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import { busEvents } from '../../helpers/events.js';
import { decodeDedupRecords } from '../../../src/runtime/dedup-log-codec.js';
import { busTimeOf } from '../../../src/runtime/stream-id.js';
import { PartitionRig, startRuntimeServices, type RuntimeServices } from '../../helpers/partition-rig.js';
import { MINUTE_MS } from '../../helpers/sink-snapshot.js';

let services: RuntimeServices | undefined;

beforeAll(async () => {
  services = await startRuntimeServices();
});
afterAll(async () => {
  await services?.stop();
});

const CAPACITY = 30;
const PER_ENTRY = 10;

/** Every dedup log entry, oldest first, as the ids it holds. */
async function dedupLog(rig: PartitionRig): Promise<string[][]> {
  const key = rig.keys.partition(rig.region, rig.partition).dedup;
  const entries = (await services!.redis.redis.xrangeBuffer(key, '-', '+')) as unknown as [Buffer, Buffer[]][];
  return entries.map(([, fields]) => decodeDedupRecords(fields[1]!).map((r) => r.eventId));
}

async function appendAndFlush(rig: PartitionRig, batch: CanonicalEvent[]): Promise<string> {
  const id = await rig.append(batch);
  expect(await rig.poll(100)).toBe(1);
  await rig.flush();
  // The next entry in a later ms: the index keeps or evicts the ids of one ms together.
  await new Promise((r) => setTimeout(r, 3));
  return id;
}

describe('the dedup log, trimmed with the dedup index', () => {
  it('holds only the ids the full index still remembers, and a new owner restored from it decides the same', async () => {
    const rig = new PartitionRig(services!, 9500, 20_000, { dedupHorizonMs: 10 * MINUTE_MS, dedupMaxIds: CAPACITY, idleMs: 10 * MINUTE_MS });
    await rig.init();
    expect(await rig.restart(null)).toBe(true);
    const sent = Array.from({ length: 8 }, (_, entry) => busEvents(entry * PER_ENTRY, PER_ENTRY, { idPrefix: 'd7e1b000', devicePrefix: 'trim-dev', devices: 4, region: rig.region }));
    const ids: string[] = [];
    for (const batch of sent) ids.push(await appendAndFlush(rig, batch));

    // Ten minutes of horizon would keep all 80 ids; the index holds the last three entries' 30.
    const log = await dedupLog(rig);
    // (A log entry groups its ids by device.)
    expect(log.flat().sort()).toEqual(sent.slice(5).flat().map((e) => e.eventId).sort());
    const checkpoint = await services!.redis.redis.hget(rig.keys.partition(rig.region, rig.partition).checkpoint, 'dedup_min');
    expect(checkpoint).toBe(`${busTimeOf(ids[5]!)}-0`);

    // A new owner: a resend of a remembered event is a duplicate, one of an evicted event is
    // accepted again, as the previous owner would have decided.
    expect(await rig.restart(null)).toBe(true);
    const remembered = sent[7]![3]!;
    const evicted = sent[0]![3]!;
    await appendAndFlush(rig, [remembered, evicted]);
    const after = await dedupLog(rig);
    expect(after[after.length - 1]).toEqual([evicted.eventId]);
  });
});
