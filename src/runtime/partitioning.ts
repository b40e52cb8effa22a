/**
 * Stable device → partition → shard mapping.
 *
 * partition = FNV-1a(device_id) mod partitions. FNV-1a is tiny, fast, stable across
 * processes and releases, and spreads short ids well; it is not a security boundary.
 */

export function fnv1a32(input: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < input.length; i++) {
    h ^= input.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function partitionOf(deviceId: string, partitions: number): number {
  return fnv1a32(deviceId) % partitions;
}

export interface PartitionRef {
  region: string;
  partition: number;
}

/** Every (region, partition) pair, regions in config order. */
export function allPartitions(regions: readonly string[], partitions: number): PartitionRef[] {
  const out: PartitionRef[] = [];
  for (const region of regions) for (let p = 0; p < partitions; p++) out.push({ region, partition: p });
  return out;
}

/** Round-robin assignment of partitions to shards, so each shard gets both regions' load. */
export function partitionsForShard(
  regions: readonly string[],
  partitions: number,
  shards: number,
  shard: number,
): PartitionRef[] {
  const interleaved: PartitionRef[] = [];
  for (let p = 0; p < partitions; p++) for (const region of regions) interleaved.push({ region, partition: p });
  return interleaved.filter((_, i) => i % shards === shard);
}
