/**
 * semiSpaceMb (src/runtime/young-generation.ts) as a shard thread gets it: the Worker resource
 * limits ShardHost starts it with. A worker runs a workload shaped like a shard's or the
 * gateway's: batches of small objects that stay in flight for a while (waiting for their bus
 * append or flush), then die. Young enough, they die in the young generation; with too small a
 * semi-space they are promoted and every one of them costs a share of a full collection.
 * The count of full (mark-compact) collections is the work the setting saves; were the limits
 * to stop reaching the worker's heap, the two runs would collect alike.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { shardResourceLimits } from '../../../src/runtime/shard-host.js';

// ~100 KB a batch, 120 batches in flight (~12 MB): more than an 8 MB semi-space holds, far
// less than a 32 MB one.
const WORKLOAD = `
const { parentPort } = require('node:worker_threads');
const { getHeapSpaceStatistics } = require('node:v8');
const { PerformanceObserver, constants: perf } = require('node:perf_hooks');
let major = 0;
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (e.detail.kind === perf.NODE_PERFORMANCE_GC_MAJOR) major++;
});
observer.observe({ entryTypes: ['gc'] });
const inFlight = new Array(120);
let newSpace = 0;
for (let batch = 0; batch < 12000; batch++) {
  const events = [];
  for (let i = 0; i < 250; i++) events.push({ id: 'e-' + batch + '-' + i, t: batch * 1000 + i, readings: [{ v: i }, { v: -i }] });
  inFlight[batch % inFlight.length] = events;
  if (batch % 500 === 0) newSpace = Math.max(newSpace, getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size);
}
// GC entries reach the observer asynchronously.
setTimeout(() => parentPort.postMessage({ major, newSpaceMb: newSpace / 1048576, kept: inFlight.length }), 200);
`;

async function run(semiSpaceMb: number): Promise<{ major: number; newSpaceMb: number }> {
  const worker = new Worker(WORKLOAD, { eval: true, resourceLimits: shardResourceLimits({ shardHeapMb: 512, semiSpaceMb }) });
  try {
    const result = await new Promise<{ major: number; newSpaceMb: number; kept: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    expect(result.kept).toBe(120);
    return result;
  } finally {
    await worker.terminate();
  }
}

describe('semiSpaceMb in a shard thread', () => {
  it('sizes the young generation, and lets in-flight batches die young instead of in full collections', async () => {
    const small = await run(8);
    const large = await run(32);
    // new_space counts both semi-spaces.
    expect(small.newSpaceMb).toBeLessThanOrEqual(2 * 8);
    expect(large.newSpaceMb).toBeGreaterThan(2 * 16);
    expect(large.newSpaceMb).toBeLessThanOrEqual(2 * 32);
    expect(small.major).toBeGreaterThanOrEqual(4);
    expect(large.major).toBeLessThan(small.major / 4);
  }, 60_000);
});
