/**
 * heapGrowthPercent (src/runtime/heap-growth.ts) as the CLI applies it: a process-wide V8
 * flag that bounds the garbage a heap keeps, in the thread that sets it and in the worker
 * threads (shards) it starts. A child process runs the built module (dist) with a workload
 * shaped like a shard's: a set of long-lived objects (actors) and batches that live for a few
 * rounds and die old (pending flushes). Its largest heap is what an operator sees as RSS.
 * Were Node to make the flag a no-op at runtime, the bounded run would grow like the other.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { applyHeapGrowthPercent } from '../../../src/runtime/heap-growth.js';

const MODULE = new URL('../../../dist/runtime/heap-growth.js', import.meta.url).href;
const execFileAsync = promisify(execFile);

// Runs in a worker thread of the child: the largest heap it reached, MB.
const WORKLOAD = `
const { parentPort } = require('node:worker_threads');
const { getHeapStatistics } = require('node:v8');
const live = [];
for (let i = 0; i < 300000; i++) live.push({ id: i, name: 'device-' + i, v: [i, i * 2, i * 3] });
const pending = new Array(8);
let max = 0;
for (let round = 0; round < 300; round++) {
  const batch = [];
  for (let i = 0; i < 20000; i++) batch.push({ a: i, b: 'x' + i, c: [round, i] });
  pending[round % pending.length] = batch;
  max = Math.max(max, getHeapStatistics().total_heap_size);
}
parentPort.postMessage({ maxMb: max / 1048576, live: live.length });
`;

const CHILD = `
import { Worker } from 'node:worker_threads';
const { applyHeapGrowthPercent } = await import(process.argv[1]);
applyHeapGrowthPercent(Number(process.argv[2]));
const worker = new Worker(process.argv[3], { eval: true, execArgv: [] });
worker.once('message', (m) => { console.log(JSON.stringify(m)); worker.terminate(); });
`;

async function largestShardHeapMb(percent: number): Promise<number> {
  const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '-e', CHILD, MODULE, String(percent), WORKLOAD], { timeout: 60_000 });
  const result = JSON.parse(stdout) as { maxMb: number; live: number };
  expect(result.live).toBe(300_000);
  return result.maxMb;
}

describe('heapGrowthPercent', () => {
  it("bounds a worker thread's garbage well below V8's own growth (0)", { timeout: 120_000 }, async () => {
    const own = await largestShardHeapMb(0);
    const bounded = await largestShardHeapMb(20);
    expect(bounded).toBeLessThan(own * 0.75);
  });

  it('refuses a negative or fractional percent before touching V8', () => {
    expect(() => applyHeapGrowthPercent(-5)).toThrow(RangeError);
    expect(() => applyHeapGrowthPercent(12.5)).toThrow(/non-negative integer/);
  });
});
