// Shoal's CPU thread by thread, from /proc/<pid>/task: where the time goes in every run,
// without a profiler. Threads are told apart by the names the kernel shows for them
// (/proc/<pid>/task/<tid>/comm):
//
//   main            the thread whose id is the process id: uWebSockets.js, validation, bus
//                   appends, the ops API, and the calls into chDB
//   shoal-shard-<n> the shard worker threads (src/runtime/thread-name.ts names them)
//   chdb-merges     chDB's background merges (`MergeMutate`)
//   chdb-other      chDB's other named threads (its query pipelines' `ThreadPool`, schedulers)
//   node-helpers    the other threads called `node`: libuv's pool (where chDB queries run,
//                   file I/O) and V8's platform threads (garbage collection, compiling)
//   ended           CPU of threads that ended between two samples (chDB's short-lived pool
//                   threads): the process's own total less what the live threads account for
import { readdirSync, readFileSync } from 'node:fs';
import { n2 } from './format.mjs';

/** Clock ticks a second in /proc CPU times (USER_HZ: 100 on Linux). */
export const CLK_TCK = 100;
/** The name prefix of Shoal's shard threads (src/runtime/thread-name.ts). */
const SHARD = 'shoal-shard-';

/** The group a thread of Shoal's process counts in (see above). */
export function threadGroup(tid, name, pid) {
  if (tid === pid) return 'main';
  if (name.startsWith(SHARD)) return name;
  if (name === 'MergeMutate') return 'chdb-merges';
  if (name === 'node') return 'node-helpers';
  return 'chdb-other';
}

/** utime + stime of a /proc stat line, in seconds (the name may hold spaces or parentheses). */
export function statCpuSeconds(line) {
  const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/**
 * What /proc says of `pid` now: its CPU seconds (threads that ended included) and each live
 * thread's name and CPU seconds. Null once the process is gone.
 */
export function readThreads(pid) {
  try {
    const total = statCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    const threads = new Map();
    for (const entry of readdirSync(`/proc/${pid}/task`)) {
      try {
        const name = readFileSync(`/proc/${pid}/task/${entry}/comm`, 'utf8').trim();
        threads.set(Number(entry), { name, cpuSeconds: statCpuSeconds(readFileSync(`/proc/${pid}/task/${entry}/stat`, 'utf8')) });
      } catch {
        // The thread ended between the listing and the read: its time shows up as `ended`.
      }
    }
    return { total, threads };
  } catch {
    return null;
  }
}

/**
 * CPU seconds per group between consecutive `sample()`s. A thread first seen counts all its
 * CPU (it started since the previous sample: the constructor takes every thread alive then),
 * and so does a thread id the kernel reused (its CPU went down).
 */
export class ThreadCpu {
  constructor(pid, read = readThreads) {
    this.pid = pid;
    this.read = read;
    this.last = read(pid);
  }

  /** { group → CPU seconds } since the previous sample; null if either reading failed. */
  sample() {
    const now = this.read(this.pid);
    const before = this.last;
    if (now !== null) this.last = now;
    if (now === null || before === null) return null;
    const groups = {};
    let live = 0;
    for (const [tid, t] of now.threads) {
      const prev = before.threads.get(tid);
      const used = prev !== undefined && t.cpuSeconds >= prev.cpuSeconds ? t.cpuSeconds - prev.cpuSeconds : t.cpuSeconds;
      const group = threadGroup(tid, t.name, this.pid);
      groups[group] = (groups[group] ?? 0) + used;
      live += used;
    }
    // Ticks are counted per thread and per process apart: a sample can come out a tick short.
    groups.ended = Math.max(0, now.total - before.total - live);
    return groups;
  }
}

/** The report's order of groups ('shards' stands for every shoal-shard-<n>, by number). */
const ORDER = ['main', 'shards', 'chdb-merges', 'chdb-other', 'node-helpers', 'ended'];
const LABELS = {
  main: 'main thread',
  shards: 'shards',
  'chdb-merges': 'chDB merges',
  'chdb-other': "chDB's other threads",
  'node-helpers': "Node's helper threads (libuv's pool: chDB queries, file I/O; V8: GC, compiling)",
  ended: 'threads that ended',
};

/** A group's name in the report's words (shards by their thread name). */
export function threadGroupLabel(group) {
  return LABELS[group] ?? group;
}

const rank = (group) => (group.startsWith(SHARD) ? ORDER.indexOf('shards') + Number(group.slice(SHARD.length)) / 1e6 : ORDER.indexOf(group));

/** Groups in the report's order: main, the shards by number, chDB's, Node's, ended. */
export function orderThreadGroups(groups) {
  return [...groups].sort((a, b) => rank(a) - rank(b));
}

/** The report's cell: cores per group, the shards summed with each one's share in brackets. */
export function describeThreadCores(cores) {
  const shards = orderThreadGroups(Object.keys(cores))
    .filter((k) => k.startsWith(SHARD))
    .map((k) => [k, cores[k]]);
  const parts = [];
  for (const key of ORDER) {
    if (key === 'shards') {
      if (shards.length === 0) continue;
      const sum = shards.reduce((s, [, x]) => s + x, 0);
      parts.push(`shards ${n2(sum)}${shards.length > 1 ? ` (${shards.map(([, x]) => n2(x)).join(' + ')})` : ''}`);
    } else if (cores[key] !== undefined) parts.push(`${LABELS[key]} ${n2(cores[key])}`);
  }
  return parts.join(', ');
}
