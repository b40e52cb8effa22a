/**
 * The checkpoint protocol's Lua scripts against a real redis-server: fencing by epoch, the
 * continuity check, intent bookkeeping, acknowledgement and trimming.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FencedError } from '../../../src/errors.js';
import { CheckpointStore } from '../../../src/runtime/checkpoint-store.js';
import { CONSUMER_GROUP, Keys } from '../../../src/runtime/keys.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis.js';

let r: TestRedis;
let n = 0;

beforeAll(async () => {
  r = await startTestRedis();
});
afterAll(async () => {
  await r?.stop();
});

function partition(): ReturnType<Keys['partition']> {
  return new Keys(`ckpt-test-${++n}`).partition('us-east', 0);
}

async function append(stream: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push((await r.redis.xadd(stream, '*', 'd', `payload-${i}`))!);
  return ids;
}

describe('checkpoint store', () => {
  it('hands entries to the owner, commits, acknowledges and trims', async () => {
    const keys = partition();
    const owner = new CheckpointStore(r.redis, keys, 1, 'shard-0');
    expect(await owner.acquire()).toEqual({ offset: '0-0', flushSeq: 0, dedupMinId: '0-0', intent: null });
    const ids = await append(keys.stream, 5);
    const read = await owner.read(100, '0-0');
    expect(read.map(([id]) => id)).toEqual(ids);
    expect(read[0]![1][1]!.toString()).toBe('payload-0');
    await owner.intent('0-0', ids[4]!);
    expect(await r.redis.hget(keys.checkpoint, 'intent_to')).toBe(ids[4]);
    const seq = await owner.commit({ from: '0-0', to: ids[4]!, dedupPayload: Buffer.from('ids'), dedupMinId: '0-0', ackIds: ids });
    expect(seq).toBe(1);
    expect(await r.redis.hmget(keys.checkpoint, 'offset', 'intent_to')).toEqual([ids[4], null]);
    const pending = (await r.redis.xpending(keys.stream, CONSUMER_GROUP)) as [number, ...unknown[]];
    expect(pending[0]).toBe(0);
    // Everything below the checkpoint is trimmed; the checkpointed entry itself may stay.
    expect(await r.redis.xlen(keys.stream)).toBeLessThanOrEqual(1);
    expect((await owner.dedupLog('0-0')).map((b) => b.toString())).toEqual(['ids']);
  });

  it('fences a stale owner out of reads, intents and commits once a newer epoch acquires', async () => {
    const keys = partition();
    const stale = new CheckpointStore(r.redis, keys, 5, 'shard-0');
    await stale.acquire();
    const ids = await append(keys.stream, 3);
    await stale.read(10, '0-0');
    const fresh = new CheckpointStore(r.redis, keys, 6, 'shard-1');
    await fresh.acquire();
    await expect(stale.read(10, '0-0')).rejects.toBeInstanceOf(FencedError);
    await expect(stale.intent('0-0', ids[2]!)).rejects.toBeInstanceOf(FencedError);
    await expect(stale.commit({ from: '0-0', to: ids[2]!, dedupPayload: null, dedupMinId: '0-0', ackIds: ids })).rejects.toBeInstanceOf(FencedError);
    expect(await r.redis.hget(keys.checkpoint, 'offset')).toBeNull();
    // The stale owner cannot take the partition back with its old epoch either.
    await expect(stale.acquire()).rejects.toBeInstanceOf(FencedError);
    // The new owner sees every entry after the checkpoint, including those the stale one read.
    expect((await fresh.read(10, '0-0')).map(([id]) => id)).toEqual(ids);
  });

  it('delivers again the entries of a read whose reply was lost, then new ones', async () => {
    const keys = partition();
    const owner = new CheckpointStore(r.redis, keys, 1, 'shard-0');
    await owner.acquire();
    const ids = await append(keys.stream, 4);
    await owner.read(2, '0-0'); // Redis delivered ids[0..1], but say the reply never arrived
    expect((await owner.read(2, '0-0')).map(([id]) => id)).toEqual(ids.slice(0, 2));
    expect((await owner.read(10, ids[1]!)).map(([id]) => id)).toEqual(ids.slice(2));
    expect(await owner.read(10, ids[3]!)).toEqual([]);
  });

  it('refuses a commit that does not start at the checkpoint', async () => {
    const keys = partition();
    const owner = new CheckpointStore(r.redis, keys, 1, 'shard-0');
    await owner.acquire();
    const ids = await append(keys.stream, 4);
    await owner.read(10, '0-0');
    await owner.commit({ from: '0-0', to: ids[1]!, dedupPayload: null, dedupMinId: '0-0', ackIds: ids.slice(0, 2) });
    await expect(owner.commit({ from: '0-0', to: ids[3]!, dedupPayload: null, dedupMinId: '0-0', ackIds: ids })).rejects.toThrow(/checkpoint is/);
  });

  it('gives a new owner the open intent and redelivers everything after the checkpoint', async () => {
    const keys = partition();
    const first = new CheckpointStore(r.redis, keys, 1, 'shard-0');
    await first.acquire();
    const ids = await append(keys.stream, 6);
    await first.read(10, '0-0');
    await first.commit({ from: '0-0', to: ids[1]!, dedupPayload: null, dedupMinId: '0-0', ackIds: ids.slice(0, 2) });
    await first.intent(ids[1]!, ids[3]!);
    // first dies here: its sinks may or may not have been written
    const next = new CheckpointStore(r.redis, keys, 2, 'shard-1');
    const acquired = await next.acquire();
    expect(acquired).toEqual({ offset: ids[1], flushSeq: 1, dedupMinId: '0-0', intent: { from: ids[1], to: ids[3] } });
    expect((await next.range(ids[1]!, ids[3]!)).map(([id]) => id)).toEqual(ids.slice(2, 4));
    expect((await next.read(10, '0-0')).map(([id]) => id)).toEqual(ids.slice(2));
  });

  it('trims the dedup log below the commit\'s MINID and tells the next owner where it was trimmed', async () => {
    const keys = partition();
    const owner = new CheckpointStore(r.redis, keys, 1, 'shard-0');
    await owner.acquire();
    const ids = await append(keys.stream, 3);
    await owner.read(10, '0-0');
    await owner.commit({ from: '0-0', to: ids[0]!, dedupPayload: Buffer.from('a'), dedupMinId: '0-0', ackIds: [ids[0]!] });
    await owner.commit({ from: ids[0]!, to: ids[1]!, dedupPayload: Buffer.from('b'), dedupMinId: '0-0', ackIds: [ids[1]!] });
    await owner.commit({ from: ids[1]!, to: ids[2]!, dedupPayload: Buffer.from('c'), dedupMinId: ids[1]!, ackIds: [ids[2]!] });
    expect((await owner.dedupLog('0-0')).map((b) => b.toString())).toEqual(['b', 'c']);
    const next = new CheckpointStore(r.redis, keys, 2, 'shard-1');
    expect(await next.acquire()).toEqual({ offset: ids[2], flushSeq: 3, dedupMinId: ids[1], intent: null });
  });
});
