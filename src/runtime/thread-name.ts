/**
 * Names the calling thread in the kernel: what `top -H`, `ps -L`, `pidstat -t` and
 * /proc/<pid>/task/<tid>/comm show. Every thread of a Node process is called `node` otherwise,
 * so an operator (and the perf harness, which reports Shoal's CPU thread by thread) could not
 * tell a shard from the main thread, libuv's pool or V8's helpers. chDB names its own threads.
 *
 * Linux only (it writes /proc/thread-self/comm, which the kernel cuts at 15 bytes); elsewhere,
 * or if /proc is not writable, the thread keeps its name: this never throws.
 */
import { writeFileSync } from 'node:fs';

/** The kernel keeps 15 bytes of a thread's name (TASK_COMM_LEN less the terminating NUL). */
const THREAD_NAME_BYTES = 15;

/** Name the calling thread `name` (cut to 15 bytes of ASCII); true if the kernel took it. */
export function nameThisThread(name: string): boolean {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').slice(0, THREAD_NAME_BYTES);
  if (process.platform !== 'linux' || ascii === '') return false;
  try {
    writeFileSync('/proc/thread-self/comm', ascii);
    return true;
  } catch {
    return false;
  }
}

/** The kernel's name of shard `shard`'s thread (`shoal-shard-<n>`). */
export function shardThreadName(shard: number): string {
  return `shoal-shard-${shard}`;
}
