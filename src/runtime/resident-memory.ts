/**
 * What of the process's RSS is mapped files: `RssFile` in /proc/self/status, the resident
 * pages of mapped files, nearly all of them code (libchdb.so alone is ~190 MB of it once
 * chDB runs, Node's binary most of the rest). It is not memory Shoal allocates, and it does
 * not grow with load, so the perf report names it apart from the allocations (the default
 * `shoal_process_resident_memory_bytes` counts both).
 *
 *   shoal_process_resident_file_bytes   resident pages of mapped files (Linux only)
 */
import { readFileSync } from 'node:fs';
import { Gauge, type Registry } from 'prom-client';

const STATUS = '/proc/self/status';

/** `RssFile` of a /proc/<pid>/status text, bytes; null when the line is missing. */
export function residentFileBytes(status: string): number | null {
  const kb = /^RssFile:\s+(\d+) kB$/m.exec(status)?.[1];
  return kb === undefined ? null : Number(kb) * 1024;
}

function readStatus(): string | null {
  try {
    return readFileSync(STATUS, 'utf8');
  } catch {
    return null;
  }
}

/** Register the gauge where the kernel reports it (Linux); elsewhere, nothing. */
export function registerResidentFileGauge(registry: Registry): void {
  const status = readStatus();
  if (status === null || residentFileBytes(status) === null) return;
  new Gauge({
    name: 'shoal_process_resident_file_bytes',
    help: "Resident pages of mapped files (RssFile: code, libchdb.so's included), part of shoal_process_resident_memory_bytes",
    registers: [registry],
    collect() {
      const now = readStatus();
      const bytes = now === null ? null : residentFileBytes(now);
      if (bytes !== null) this.set(bytes);
    },
  });
}
