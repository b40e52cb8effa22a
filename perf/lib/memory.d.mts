/** Types of memory.mjs, for the tests (the harness itself is plain JavaScript). */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MemoryParts {
  rss: number;
  clickhouse: number;
  mainHeap: number;
  mainExternal: number;
  shardHeaps: number;
  dedup: number;
  /** Resident pages of mapped files (code), 0 when Shoal does not export them. */
  mappedFiles: number;
}

export interface MemorySummary {
  atSec: number;
  atPeak: MemoryParts & { rest: number };
  max: MemoryParts;
}

export declare function memoryParts(samples: Sample[]): MemoryParts | null;
export declare function memorySummary(scrapes: { t: number; memory: MemoryParts | null }[]): MemorySummary | null;
export declare function describeMemory(m: MemorySummary): string;
