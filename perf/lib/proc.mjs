// CPU and RSS of processes from /proc, sampled by the parent: Shoal, its redis-server, each
// generator and the harness itself. CPU of a process covers all its threads (Shoal's shards);
// a process added with `threads` also gets its CPU per group of threads (threads.mjs).
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { CLK_TCK, statCpuSeconds, ThreadCpu } from './threads.mjs';

export function procCpuSeconds(pid) {
  try {
    return statCpuSeconds(readStat(pid));
  } catch {
    return null;
  }
}

export function procRssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readStatus(pid));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * CPU seconds the whole machine has been busy (every core, every process and the kernel):
 * the first line of /proc/stat less idle and iowait. Null where there is no /proc/stat.
 */
export function machineBusySeconds() {
  try {
    const ticks = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user and nice)
    const busy = ticks.slice(0, 8).reduce((s, x, i) => (i === 3 || i === 4 ? s : s + x), 0);
    return busy / CLK_TCK;
  } catch {
    return null;
  }
}

const readStat = (pid) => readFileSync(`/proc/${pid}/stat`, 'utf8');
const readStatus = (pid) => readFileSync(`/proc/${pid}/status`, 'utf8');

/** The name under which sample() reports the CPU of everything it does not track. */
export const OTHERS = 'others';

/**
 * Tracks named processes: `sample()` returns each one's cores used since the previous sample
 * and its RSS; totals and peaks accumulate. A process that exits keeps its last reading.
 * It also reports OTHERS: the cores the rest of the machine used meanwhile (kernel threads,
 * other tenants of a shared host), which say whether a run's figures were disturbed.
 */
export class ProcessSampler {
  constructor() {
    this.procs = new Map();
    this.machine = { lastBusy: machineBusySeconds(), lastAt: performance.now() };
  }

  /** Track `pid` as `name`; with `threads`, its CPU per group of threads too. */
  add(name, pid, { threads = false } = {}) {
    if (!pid) return;
    const cpu = procCpuSeconds(pid);
    const perThread = threads ? new ThreadCpu(pid) : null;
    this.procs.set(name, { pid, perThread, startCpu: cpu, lastCpu: cpu, lastAt: performance.now(), startAt: performance.now(), rssPeak: procRssMb(pid) ?? 0, rssLast: null });
  }

  sample() {
    const out = {};
    const now = performance.now();
    const busy = machineBusySeconds();
    let tracked = 0;
    for (const [name, p] of this.procs) {
      const cpu = procCpuSeconds(p.pid);
      const rss = procRssMb(p.pid);
      const dt = (now - p.lastAt) / 1000;
      if (cpu !== null && p.lastCpu !== null) tracked += cpu - p.lastCpu;
      out[name] = {
        cores: cpu !== null && p.lastCpu !== null && dt >= 0.2 ? (cpu - p.lastCpu) / dt : null,
        rssMb: rss,
      };
      if (p.perThread) {
        const groups = p.perThread.sample();
        if (groups !== null && dt >= 0.2) out[name].threads = Object.fromEntries(Object.entries(groups).map(([g, seconds]) => [g, seconds / dt]));
      }
      if (cpu !== null) p.lastCpu = cpu;
      p.lastAt = now;
      if (rss !== null) {
        p.rssLast = rss;
        p.rssPeak = Math.max(p.rssPeak, rss);
      }
    }
    const dt = (now - this.machine.lastAt) / 1000;
    // A process's ticks and the machine's are counted apart, so a second can come out a
    // little below zero: clamped.
    const others = busy !== null && this.machine.lastBusy !== null && dt >= 0.2 ? Math.max(0, (busy - this.machine.lastBusy - tracked) / dt) : null;
    out[OTHERS] = { cores: others, rssMb: null };
    this.machine = { lastBusy: busy, lastAt: now };
    return out;
  }

  /** Per process: CPU seconds since add(), mean cores over that time, peak RSS. */
  totals() {
    const out = {};
    for (const [name, p] of this.procs) {
      const cpuSeconds = p.lastCpu !== null && p.startCpu !== null ? p.lastCpu - p.startCpu : null;
      const wall = (p.lastAt - p.startAt) / 1000;
      out[name] = { pid: p.pid, cpuSeconds, meanCores: cpuSeconds !== null && wall > 0 ? cpuSeconds / wall : null, rssPeakMb: p.rssPeak };
    }
    return out;
  }
}
