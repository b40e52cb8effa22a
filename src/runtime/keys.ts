/**
 * Every Redis key Shoal uses, built in one place. Per-partition keys share the hash tag
 * `{region:partition}` so a partition's stream, checkpoint, dedup log and actor state live in
 * one Redis Cluster slot and a Lua script may touch them together.
 */

export interface PartitionKeys {
  /** The event stream (XADD by the gateway, XREADGROUP by the owning shard). */
  stream: string;
  /** Checkpoint hash: offset, flush sequence, owner epoch, open flush intent. */
  checkpoint: string;
  /** Dedup log: one entry per committed flush holding the event ids it accepted. */
  dedup: string;
  /** Passivated actor state: hash device_id → msgpack state. */
  state: string;
  /** Ownership lease of the partition (fencing). */
  lease: string;
}

export const CONSUMER_GROUP = 'shoal';

export class Keys {
  constructor(readonly prefix: string = 'shoal') {}

  partition(region: string, partition: number): PartitionKeys {
    const tag = `{${region}:${partition}}`;
    const base = `${this.prefix}:${tag}`;
    return {
      stream: `${base}:events`,
      checkpoint: `${base}:ckpt`,
      dedup: `${base}:dedup`,
      state: `${base}:state`,
      lease: `${base}:lease`,
    };
  }

  /** The region's dead-letter stream. */
  dlq(region: string): string {
    return `${this.prefix}:{${region}:dlq}:dlq`;
  }

  /** Gateway counters of events accepted onto a partition's stream, per event hour (audit). */
  acceptedCounts(region: string, partition: number, hour: number): string {
    return `${this.prefix}:{${region}:${partition}}:accepted:${hour}`;
  }

  /** Shard counters of duplicates dropped in a partition, per event hour (audit). */
  duplicateCounts(region: string, partition: number, hour: number): string {
    return `${this.prefix}:{${region}:${partition}}:dupes:${hour}`;
  }

  /** Process-wide metadata (owner epoch counter, instance info). */
  meta(): string {
    return `${this.prefix}:meta`;
  }
}
