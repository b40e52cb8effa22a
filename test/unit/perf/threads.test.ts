/**
 * Shoal's CPU by thread in the perf report (perf/lib/threads.mjs): which thread counts where,
 * threads that start or end between samples, and a reading of this very process.
 */
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { ThreadCpu, describeThreadCores, orderThreadGroups, readThreads, threadGroup, type ThreadReading } from '../../../perf/lib/threads.mjs';

const PID = 100;

function reading(total: number, threads: [tid: number, name: string, cpu: number][]): ThreadReading {
  return { total, threads: new Map(threads.map(([tid, name, cpuSeconds]) => [tid, { name, cpuSeconds }])) };
}

/** A ThreadCpu over scripted readings (the first one is the constructor's). */
function scripted(...readings: (ThreadReading | null)[]): ThreadCpu {
  let i = 0;
  return new ThreadCpu(PID, () => readings[Math.min(i++, readings.length - 1)] ?? null);
}

describe('Shoal CPU by thread', () => {
  it('groups the main thread, each shard, chDB merges, chDB threads and Node helper threads', () => {
    expect(threadGroup(PID, 'node', PID)).toBe('main');
    expect(threadGroup(101, 'shoal-shard-3', PID)).toBe('shoal-shard-3');
    expect(threadGroup(102, 'MergeMutate', PID)).toBe('chdb-merges');
    expect(threadGroup(103, 'ThreadPool', PID)).toBe('chdb-other');
    expect(threadGroup(104, 'node', PID)).toBe('node-helpers');
  });

  it('gives each group its CPU since the previous sample', () => {
    const cpu = scripted(
      reading(10, [[PID, 'node', 4], [101, 'shoal-shard-0', 3], [102, 'shoal-shard-1', 2], [103, 'node', 1]]),
      reading(15, [[PID, 'node', 6], [101, 'shoal-shard-0', 4], [102, 'shoal-shard-1', 3.5], [103, 'node', 1.5]]),
    );
    expect(cpu.sample()).toEqual({ main: 2, 'shoal-shard-0': 1, 'shoal-shard-1': 1.5, 'node-helpers': 0.5, ended: 0 });
  });

  it('counts a thread that started since the last sample whole, and one that ended as ended', () => {
    const cpu = scripted(
      reading(10, [[PID, 'node', 4], [120, 'ThreadPool', 5], [121, 'ThreadPool', 1]]),
      // 120 ended after 0.5 s more; 122 started and used 0.25 s; 121 used 0.5 s more.
      reading(11.25, [[PID, 'node', 4], [121, 'ThreadPool', 1.5], [122, 'ThreadPool', 0.25]]),
    );
    expect(cpu.sample()).toEqual({ main: 0, 'chdb-other': 0.75, ended: 0.5 });
  });

  it('counts a reused thread id as a new thread', () => {
    const cpu = scripted(reading(10, [[PID, 'node', 4], [130, 'MergeMutate', 5]]), reading(10.5, [[PID, 'node', 4], [130, 'MergeMutate', 0.25]]));
    expect(cpu.sample()).toEqual({ main: 0, 'chdb-merges': 0.25, ended: 0.25 });
  });

  it('has nothing to say once the process is gone', () => {
    const cpu = scripted(reading(10, [[PID, 'node', 4]]), null);
    expect(cpu.sample()).toBeNull();
  });

  it('reads this process: a worker thread that names itself shows under its name', async () => {
    const before = readThreads(process.pid);
    expect(before?.threads.get(process.pid)?.cpuSeconds).toBeGreaterThanOrEqual(0);
    const code = `
      const { writeFileSync } = require('node:fs');
      const { parentPort } = require('node:worker_threads');
      writeFileSync('/proc/thread-self/comm', 'shoal-shard-7');
      parentPort.postMessage('named');
      parentPort.once('message', () => process.exit(0));`;
    const worker = new Worker(code, { eval: true });
    await new Promise((resolve) => worker.once('message', resolve));
    const names = [...(readThreads(process.pid)?.threads.values() ?? [])].map((t) => t.name);
    worker.postMessage('exit');
    await new Promise((resolve) => worker.once('exit', resolve));
    expect(names).toContain('shoal-shard-7');
  });

  it('orders groups as the report does: main, shards by number, chDB, Node, ended', () => {
    expect(orderThreadGroups(['ended', 'shoal-shard-10', 'node-helpers', 'chdb-other', 'shoal-shard-2', 'chdb-merges', 'main'])).toEqual([
      'main', 'shoal-shard-2', 'shoal-shard-10', 'chdb-merges', 'chdb-other', 'node-helpers', 'ended',
    ]);
  });

  it('reports shards summed, each one in brackets, then the other groups in a fixed order', () => {
    const cell = describeThreadCores({ ended: 0.01, 'node-helpers': 0.3, 'shoal-shard-1': 0.2, 'shoal-shard-0': 0.19, main: 0.3, 'chdb-merges': 0.12 });
    expect(cell).toBe("main thread 0.30, shards 0.39 (0.19 + 0.20), chDB merges 0.12, Node's helper threads (libuv's pool: chDB queries, file I/O; V8: GC, compiling) 0.30, threads that ended 0.01");
  });
});
