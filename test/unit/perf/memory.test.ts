/**
 * Shoal's memory by part in the perf report (perf/lib/memory.mjs): the parts read from one
 * scrape, and the breakdown taken at the scrape of the highest RSS.
 */
import { describe, expect, it } from 'vitest';
import { describeMemory, memoryParts, memorySummary, type MemoryParts, type Sample } from '../../../perf/lib/memory.mjs';

const MB = 1048576;
const sample = (name: string, value: number, labels: Record<string, string> = {}): Sample => ({ name, labels, value });

function parts(rssMb: number, chdbMb: number, dedupMb = 100, filesMb = 0): MemoryParts {
  return { rss: rssMb * MB, clickhouse: chdbMb * MB, mainHeap: 120 * MB, mainExternal: 30 * MB, shardHeaps: 200 * MB, dedup: dedupMb * MB, mappedFiles: filesMb * MB };
}

describe('memoryParts', () => {
  it('sums each gauge over its labels (shards, partitions)', () => {
    const samples = [
      sample('shoal_process_resident_memory_bytes', 1000 * MB),
      sample('shoal_clickhouse_memory_bytes', 300 * MB),
      sample('shoal_nodejs_heap_size_total_bytes', 120 * MB),
      sample('shoal_nodejs_heap_size_used_bytes', 80 * MB),
      sample('shoal_nodejs_external_memory_bytes', 30 * MB),
      sample('shoal_shard_heap_total_bytes', 90 * MB, { shard: '0' }),
      sample('shoal_shard_heap_total_bytes', 110 * MB, { shard: '1' }),
      sample('shoal_shard_heap_used_bytes', 70 * MB, { shard: '1' }),
      sample('shoal_dedup_bytes', 40 * MB, { region: 'eu', partition: '0' }),
      sample('shoal_dedup_bytes', 60 * MB, { region: 'eu', partition: '1' }),
      sample('shoal_process_resident_file_bytes', 190 * MB),
    ];
    expect(memoryParts(samples)).toEqual(parts(1000, 300, 100, 190));
  });

  it('is null when Shoal does not export its RSS', () => {
    expect(memoryParts([sample('shoal_dedup_bytes', 1)])).toBeNull();
  });
});

describe('memorySummary', () => {
  it('breaks down the scrape of the highest RSS, and keeps each part at its own peak', () => {
    const scrapes = [
      { t: 1, memory: null },
      { t: 10, memory: parts(900, 500) },
      { t: 20, memory: parts(1500, 400, 230, 190) },
      { t: 30, memory: parts(1200, 300, 230) },
    ];
    const m = memorySummary(scrapes)!;
    expect(m.atSec).toBe(20);
    expect(m.atPeak).toEqual({ rss: 1500, clickhouse: 400, mainHeap: 120, mainExternal: 30, shardHeaps: 200, dedup: 230, mappedFiles: 190, rest: 1500 - 400 - 120 - 30 - 200 - 230 - 190 });
    expect(m.max.clickhouse).toBe(500);
    expect(m.max.dedup).toBe(230);
    const line = describeMemory(m);
    expect(line).toContain('RSS 1,500 MB at 20 s');
    expect(line).toContain('chDB tracked 400 MB');
    expect(line).toContain('V8 heaps 320 MB (main 120, shards 200)');
    expect(line).toContain('mapped files (code) 190 MB');
    expect(line).toContain('the rest 330 MB');
  });

  it('is null without a scrape that had the gauges', () => {
    expect(memorySummary([{ t: 1, memory: null }])).toBeNull();
  });
});
