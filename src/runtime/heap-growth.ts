/**
 * How far V8 lets a heap grow past what survived its last full collection before it collects
 * again: the `heapGrowthPercent` setting. V8 derives that factor from the heap limit (up to 4×
 * the live objects with Node's default limit), so a process whose live objects are small but
 * whose garbage is old (batches that wait for their flush, proxied inserts) keeps several
 * times its live heap as garbage. V8's `--heap-growing-percent=N` fixes the factor at
 * 1 + N/100 instead; 0 leaves V8's own.
 *
 * V8 flags are process-wide: the setting covers the main thread and every shard thread, also
 * those already running (V8 reads the flag each time it sizes a heap after a collection). Only
 * the CLI, which owns its process, applies it; a Pipeline embedded in another program leaves
 * the host's heaps alone.
 */
import { setFlagsFromString } from 'node:v8';

/** Fix V8's heap growing factor for this process at 1 + percent/100 (0: V8's own factor). */
export function applyHeapGrowthPercent(percent: number): void {
  if (!Number.isInteger(percent) || percent < 0) throw new RangeError(`heap growth percent must be a non-negative integer, got ${percent}`);
  setFlagsFromString(`--heap-growing-percent=${percent}`);
}
