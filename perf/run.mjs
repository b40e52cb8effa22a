// Perf harness entry (`npm run perf -- --profile quick|steady|peak [--rate N] [--duration S] [--devices N]`).
//
// Starts `shoal start` as its own process on a temp data dir, drives it from this process
// with the simulated fleet (so the generator's CPU is counted apart from Shoal's), samples
// CPU and RSS of shoal and its redis-server every second, then reads Shoal's own metrics:
// visibility latency (ingest → queryable), events processed, flushes. Writes
// perf/results/<date>-<profile>.json and .md. Reports; never asserts speed.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runSimulate } from '../dist/simulator/index.js';
import { loadOrCreateSecret } from '../dist/contracts/auth-secret.js';

const PROFILES = {
  quick: { rate: 5_000, duration: 30, devices: 200 },
  steady: { rate: 50_000, duration: 300, devices: 2_000 },
  peak: { rate: 200_000, duration: 60, devices: 2_000 },
};

const { values } = parseArgs({
  options: {
    profile: { type: 'string', default: 'quick' },
    rate: { type: 'string' },
    duration: { type: 'string' },
    devices: { type: 'string' },
    shards: { type: 'string', default: '2' },
  },
});
const profile = PROFILES[values.profile];
if (!profile) {
  console.error(`unknown profile ${values.profile}; one of ${Object.keys(PROFILES).join(', ')}`);
  process.exit(2);
}
const rate = Number(values.rate ?? profile.rate);
const duration = Number(values.duration ?? profile.duration);
const devices = Number(values.devices ?? profile.devices);

const CLK_TCK = 100;
function procCpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return null;
  }
}
function procRssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Quantile from a Prometheus histogram's cumulative buckets (linear within a bucket). */
function histogramQuantile(buckets, q) {
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const { le, count } of buckets) {
    if (count >= rank) {
      if (!Number.isFinite(le)) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(1, count - prevCount);
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

function parseMetrics(text) {
  const sums = {};
  const buckets = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m) continue;
    const [, name, labels = '', value] = m;
    sums[name] = (sums[name] ?? 0) + Number(value);
    if (name === 'shoal_visibility_latency_seconds_bucket') {
      const le = /le="([^"]+)"/.exec(labels)[1];
      const key = le === '+Inf' ? Infinity : Number(le);
      buckets.set(key, (buckets.get(key) ?? 0) + Number(value));
    }
  }
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
  return { sums, visibility: sorted };
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-perf-'));
  writeFileSync(join(dataDir, 'shoal.config.yaml'), 'log:\n  level: warn\n');
  const cli = new URL('../dist/cli/main.js', import.meta.url).pathname;
  const shoal = spawn(
    process.execPath,
    [cli, 'start', '--config', join(dataDir, 'shoal.config.yaml'), '--data-dir', dataDir, '--ingest-port', '0', '--ops-port', '0', '--shards', values.shards],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const urls = await new Promise((resolve, reject) => {
    let out = '';
    shoal.stdout.on('data', (d) => {
      out += d;
      const ingest = /shoal ingest (\S+)/.exec(out)?.[1];
      const ops = /shoal ops (\S+)/.exec(out)?.[1];
      if (ingest && ops) resolve({ ingest, ops });
    });
    shoal.on('exit', (code) => reject(new Error(`shoal exited ${code} before ready`)));
  });
  const redisFile = join(dataDir, 'redis', 'shoal-redis.json');
  const redisPid = existsSync(redisFile) ? JSON.parse(readFileSync(redisFile, 'utf8')).pid : null;

  const samples = [];
  const cpu0 = { shoal: procCpuSeconds(shoal.pid), redis: redisPid ? procCpuSeconds(redisPid) : null, gen: process.cpuUsage() };
  const t0 = Date.now();
  const sampler = setInterval(() => {
    samples.push({ t: (Date.now() - t0) / 1000, shoalRssMb: procRssMb(shoal.pid), redisRssMb: redisPid ? procRssMb(redisPid) : null });
  }, 1000);

  console.error(`perf ${values.profile}: ${rate} events/s offered for ${duration} s from ${devices} devices → ${urls.ingest}`);
  const summary = await runSimulate({
    url: urls.ingest,
    devices,
    ratePerSec: rate,
    durationSec: duration,
    secret: loadOrCreateSecret(dataDir),
    out: process.stderr,
  });
  // Let the last flushes land, then read Shoal's own view.
  const drainStart = Date.now();
  let metrics;
  for (;;) {
    metrics = parseMetrics(await (await fetch(`${urls.ops}/metrics`)).text());
    if ((metrics.sums.shoal_events_processed_total ?? 0) >= summary.acked || Date.now() - drainStart > 60_000) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  await new Promise((r) => setTimeout(r, 1500));
  metrics = parseMetrics(await (await fetch(`${urls.ops}/metrics`)).text());
  clearInterval(sampler);
  const wall = (Date.now() - t0) / 1000;
  const gen = process.cpuUsage(cpu0.gen);
  const cpu = {
    shoalCores: (procCpuSeconds(shoal.pid) - cpu0.shoal) / wall,
    redisCores: redisPid ? (procCpuSeconds(redisPid) - cpu0.redis) / wall : null,
    generatorCores: (gen.user + gen.system) / 1e6 / wall,
  };
  shoal.kill('SIGTERM');
  await new Promise((r) => shoal.on('exit', r));

  const result = {
    profile: values.profile,
    date: new Date().toISOString(),
    machine: { cores: (await import('node:os')).availableParallelism(), node: process.version },
    offered: { ratePerSec: rate, durationSec: duration, devices },
    generator: {
      sent: summary.sent,
      acked: summary.acked,
      rejected: summary.rejected,
      unacked: summary.unacked,
      ackedPerSec: summary.acked / summary.elapsedSec,
      ackLatencyMs: summary.ackLatencyMs,
    },
    shoal: {
      eventsProcessed: metrics.sums.shoal_events_processed_total ?? 0,
      rowsFlushed: metrics.sums.shoal_rows_flushed_total ?? 0,
      visibilitySeconds: {
        p50: histogramQuantile(metrics.visibility, 0.5),
        p95: histogramQuantile(metrics.visibility, 0.95),
        p99: histogramQuantile(metrics.visibility, 0.99),
      },
    },
    cpu,
    rssMb: {
      shoalPeak: Math.max(...samples.map((s) => s.shoalRssMb ?? 0)),
      redisPeak: Math.max(...samples.map((s) => s.redisRssMb ?? 0)),
    },
  };
  const outDir = new URL('./results/', import.meta.url).pathname;
  mkdirSync(outDir, { recursive: true });
  const base = join(outDir, `${result.date.slice(0, 10)}-${values.profile}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
  const v = result.shoal.visibilitySeconds;
  const f = (x, d = 2) => (x === null || x === undefined ? 'n/a' : x.toFixed(d));
  const md = [
    `# Shoal perf — ${values.profile} — ${result.date}`,
    '',
    `| measure | value |`,
    `|---|---|`,
    `| offered | ${rate} events/s × ${duration} s, ${devices} devices |`,
    `| acked | ${result.generator.acked} of ${result.generator.sent} sent (${f(result.generator.ackedPerSec, 0)} events/s), unacked ${result.generator.unacked} |`,
    `| processed by shards | ${result.shoal.eventsProcessed} events, ${result.shoal.rowsFlushed} rows |`,
    `| ack latency | p50 ${f(summary.ackLatencyMs.p50, 1)} ms, p99 ${f(summary.ackLatencyMs.p99, 1)} ms |`,
    `| visibility (Shoal histogram) | p50 ${f(v.p50)} s, p95 ${f(v.p95)} s, p99 ${f(v.p99)} s |`,
    `| CPU (cores) | shoal ${f(cpu.shoalCores)}, redis ${f(cpu.redisCores)}, generator ${f(cpu.generatorCores)} |`,
    `| peak RSS | shoal ${f(result.rssMb.shoalPeak, 0)} MB, redis ${f(result.rssMb.redisPeak, 0)} MB |`,
    '',
  ].join('\n');
  writeFileSync(`${base}.md`, md);
  process.stdout.write(md);
  rmSync(dataDir, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
