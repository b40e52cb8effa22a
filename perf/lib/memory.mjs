// Shoal's memory by part, from its /metrics: what the process's RSS holds for the embedded
// ClickHouse (chDB's tracked memory), the V8 heaps (main thread and shard threads, as
// allocated), the main thread's buffers outside its heap, the dedup indexes' typed arrays,
// and mapped files (code: ~190 MB of libchdb.so once chDB runs, Node's binary). The rest of
// the RSS is allocations no gauge names: chDB's untracked ones, what malloc keeps after a
// free (glibc's arenas, chDB's jemalloc), thread stacks, V8's code and metadata.
import { n0 } from './format.mjs';

const MB = 1048576;

const sumOf = (samples, name) => samples.filter((s) => s.name === name && Number.isFinite(s.value)).reduce((a, s) => a + s.value, 0);

/** The parts of one scrape, bytes; null when Shoal does not export its RSS. */
export function memoryParts(samples) {
  if (!samples.some((s) => s.name === 'shoal_process_resident_memory_bytes')) return null;
  return {
    rss: sumOf(samples, 'shoal_process_resident_memory_bytes'),
    clickhouse: sumOf(samples, 'shoal_clickhouse_memory_bytes'),
    mainHeap: sumOf(samples, 'shoal_nodejs_heap_size_total_bytes'),
    mainExternal: sumOf(samples, 'shoal_nodejs_external_memory_bytes'),
    shardHeaps: sumOf(samples, 'shoal_shard_heap_total_bytes'),
    dedup: sumOf(samples, 'shoal_dedup_bytes'),
    mappedFiles: sumOf(samples, 'shoal_process_resident_file_bytes'),
  };
}

const PARTS = ['clickhouse', 'mainHeap', 'mainExternal', 'shardHeaps', 'dedup', 'mappedFiles'];

/**
 * Over a run's scrapes (each with `t` and `memory` from memoryParts): the parts, in MB, at the
 * scrape of the highest RSS, and each part's own maximum. Null when no scrape had them.
 */
export function memorySummary(scrapes) {
  const seen = scrapes.filter((s) => s.memory);
  if (seen.length === 0) return null;
  const peak = seen.reduce((a, s) => (s.memory.rss > a.memory.rss ? s : a));
  const atPeak = { rss: peak.memory.rss / MB };
  const max = { rss: atPeak.rss };
  let named = 0;
  for (const part of PARTS) {
    // Results written before a part was exported lack it: 0.
    atPeak[part] = (peak.memory[part] ?? 0) / MB;
    named += atPeak[part];
    max[part] = Math.max(...seen.map((s) => s.memory[part] ?? 0)) / MB;
  }
  atPeak.rest = Math.max(0, atPeak.rss - named);
  return { atSec: peak.t, atPeak, max };
}

/** One line for the report. */
export function describeMemory(m) {
  const p = m.atPeak;
  const parts = [
    `chDB tracked ${n0(p.clickhouse)} MB`,
    `V8 heaps ${n0(p.mainHeap + p.shardHeaps)} MB (main ${n0(p.mainHeap)}, shards ${n0(p.shardHeaps)})`,
    `main-thread buffers ${n0(p.mainExternal)} MB`,
    `dedup indexes ${n0(p.dedup)} MB`,
    `mapped files (code) ${n0(p.mappedFiles)} MB`,
    `the rest ${n0(p.rest)} MB`,
  ];
  const x = m.max;
  return (
    `RSS ${n0(p.rss)} MB at ${n0(m.atSec)} s (its peak among the scrapes): ${parts.join(', ')}; ` +
    `each at its own peak: chDB ${n0(x.clickhouse)}, main heap ${n0(x.mainHeap)}, shard heaps ${n0(x.shardHeaps)}, buffers ${n0(x.mainExternal)}, dedup ${n0(x.dedup)}, mapped files ${n0(x.mappedFiles)} MB`
  );
}
