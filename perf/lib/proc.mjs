// CPU and RSS of processes from /proc, sampled by the parent: Shoal, its redis-server, each
// generator and the harness itself. CPU of a process covers all its threads (Shoal's shards).
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const CLK_TCK = 100;

export function procCpuSeconds(pid) {
  try {
    const fields = readStat(pid).split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
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

const readStat = (pid) => readFileSync(`/proc/${pid}/stat`, 'utf8');
const readStatus = (pid) => readFileSync(`/proc/${pid}/status`, 'utf8');

/**
 * Tracks named processes: `sample()` returns each one's cores used since the previous sample
 * and its RSS; totals and peaks accumulate. A process that exits keeps its last reading.
 */
export class ProcessSampler {
  constructor() {
    this.procs = new Map();
  }

  add(name, pid) {
    if (!pid) return;
    const cpu = procCpuSeconds(pid);
    this.procs.set(name, { pid, startCpu: cpu, lastCpu: cpu, lastAt: performance.now(), startAt: performance.now(), rssPeak: procRssMb(pid) ?? 0, rssLast: null });
  }

  sample() {
    const out = {};
    const now = performance.now();
    for (const [name, p] of this.procs) {
      const cpu = procCpuSeconds(p.pid);
      const rss = procRssMb(p.pid);
      const dt = (now - p.lastAt) / 1000;
      out[name] = {
        cores: cpu !== null && p.lastCpu !== null && dt >= 0.2 ? (cpu - p.lastCpu) / dt : null,
        rssMb: rss,
      };
      if (cpu !== null) p.lastCpu = cpu;
      p.lastAt = now;
      if (rss !== null) {
        p.rssLast = rss;
        p.rssPeak = Math.max(p.rssPeak, rss);
      }
    }
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
