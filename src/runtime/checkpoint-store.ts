/**
 * The partition checkpoint protocol in Redis, one method per Lua script:
 *
 *   acquire  → take the partition for an epoch; learn offset, flush_seq and any open intent
 *   read     → fenced XREADGROUP of new entries
 *   intent   → record the range a flush is about to write (before any sink write)
 *   commit   → offset, dedup ids, XACK and trims, atomically (after every sink write)
 *
 * Every script checks the owner epoch inside Redis, so a stale owner cannot read, record an
 * intent or commit once another owner took the partition (FencedError).
 */
import type { Redis } from 'ioredis';
import { CheckpointMovedError, FencedError, RetryableError, ShoalError } from '../errors.js';
import { CONSUMER_GROUP, type PartitionKeys } from './keys.js';
import { COUNTER_TTL_S, counterArgs, type HourCounts } from './audit-counters.js';
import { defineScripts, type ScriptedRedis } from './script-loader.js';

export interface AcquiredPartition {
  offset: string;
  flushSeq: number;
  /** The dedup log's trim point at the last commit ('0-0' before the first): a restore skips ids before it. */
  dedupMinId: string;
  /** An unfinished flush from a previous owner: re-run exactly (from, to]. */
  intent: { from: string; to: string } | null;
}

export type StreamEntry = [id: string, fields: Buffer[]];

export interface CommitRequest {
  from: string;
  to: string;
  dedupPayload: Buffer | null;
  dedupMinId: string;
  ackIds: readonly string[];
  /** Duplicates dropped by this flush, per event hour (audit counters); default none. */
  duplicates?: readonly HourCounts[];
}

function mapScriptError(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  if (message.includes('FENCED')) throw new FencedError(message.replace(/^.*FENCED\s*/, ''));
  if (message.includes('CHECKPOINT_MOVED')) throw new CheckpointMovedError(message.replace(/^.*CHECKPOINT_MOVED\s*/, ''));
  if (err instanceof ShoalError) throw err;
  throw new RetryableError('REDIS_FAILED', `redis: ${message}`, { cause: err });
}

export class CheckpointStore {
  private readonly redis: ScriptedRedis;

  constructor(
    redis: Redis,
    private readonly keys: PartitionKeys,
    private readonly epoch: number,
    private readonly consumer: string,
    /** Key of the duplicate-counter hash of an event hour (audit). */
    private readonly duplicateKey: (hour: number) => string = (hour) => `${keys.checkpoint}:dupes:${hour}`,
  ) {
    this.redis = defineScripts(redis);
  }

  async acquire(): Promise<AcquiredPartition> {
    const reply = (await this.redis
      .shoalAcquire(this.keys.checkpoint, this.keys.stream, this.epoch, CONSUMER_GROUP)
      .catch(mapScriptError)) as string[];
    const [offset = '0-0', seq = '0', from = '', to = '', dedupMinId = ''] = reply;
    return { offset, flushSeq: Number(seq), dedupMinId: dedupMinId || '0-0', intent: from && to ? { from, to } : null };
  }

  /**
   * Entries after `after` for this owner, or [] when none: first any of its own pending
   * entries after `after` (a read whose reply was lost), then new ones.
   */
  async read(count: number, after: string): Promise<StreamEntry[]> {
    const reply = (await this.redis
      .shoalReadBuffer(this.keys.checkpoint, this.keys.stream, this.epoch, CONSUMER_GROUP, this.consumer, count, after)
      .catch(mapScriptError)) as [Buffer, StreamEntry[]][] | null;
    if (!reply || reply.length === 0) return [];
    const entries = reply[0]?.[1] ?? [];
    return entries.map(([id, fields]) => [id.toString(), fields]);
  }

  /** Entries in (from, to], for re-running an unfinished flush. */
  async range(from: string, to: string, count = 1000): Promise<StreamEntry[]> {
    const out: StreamEntry[] = [];
    let start = `(${from}`;
    for (;;) {
      const page = (await this.redis.xrangeBuffer(this.keys.stream, start, to, 'COUNT', count)) as unknown as [Buffer, Buffer[]][];
      for (const [id, fields] of page) out.push([id.toString(), fields]);
      if (page.length < count) return out;
      start = `(${out[out.length - 1]![0]}`;
    }
  }

  /** Acknowledge entries already covered by the checkpoint (redelivered after an acquire). */
  async ack(ids: readonly string[]): Promise<void> {
    await this.redis.xack(this.keys.stream, CONSUMER_GROUP, ...ids);
  }

  async intent(from: string, to: string): Promise<void> {
    await this.redis.shoalIntent(this.keys.checkpoint, this.epoch, from, to).catch(mapScriptError);
  }

  async commit(req: CommitRequest): Promise<number> {
    const dupes = counterArgs(req.duplicates ?? [], this.duplicateKey);
    const seq = await this.redis
      .shoalCommit(
        3 + dupes.keys.length,
        this.keys.checkpoint,
        this.keys.stream,
        this.keys.dedup,
        ...dupes.keys,
        this.epoch,
        req.from,
        req.to,
        CONSUMER_GROUP,
        req.dedupPayload ?? '',
        req.dedupMinId,
        COUNTER_TTL_S,
        req.ackIds.length,
        ...req.ackIds,
        ...dupes.argv,
      )
      .catch(mapScriptError);
    return Number(seq);
  }

  /** Dedup log payloads from `minId` on, oldest first. */
  async dedupLog(minId: string, count = 500): Promise<Buffer[]> {
    const out: Buffer[] = [];
    let start = minId;
    for (;;) {
      const page = (await this.redis.xrangeBuffer(this.keys.dedup, start, '+', 'COUNT', count)) as unknown as [Buffer, Buffer[]][];
      for (const [, fields] of page) {
        const payload = fields[1];
        if (payload) out.push(payload);
      }
      if (page.length < count) return out;
      start = `(${page[page.length - 1]![0].toString()}`;
    }
  }
}
