// Shared parts of the peer runners (perf/peers/*.mjs): the event generator (Shoal's own
// simulator sources, so the peers ingest the same events Shoal does), a wall-clock-paced batch
// driver, /proc sampling, percentiles and the CLI wrapper.
//
// Units: an "event" is a wire event as the simulator sends it (v1: one reading; v2: one event
// carrying every sensor of the device); a "row" (InfluxDB: "point") is one reading. Shoal's
// `events` table and both peers store one row per reading, so rows/event is ≈ 1.7 with the
// simulator's defaults (half the devices on schema v2).
import { mkdtempSync, readFileSync, readdirSync, lstatSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { setImmediate } from 'node:timers';

// Shoal's simulator, from the build output.
const fromDist = (path) =>
  import(path).catch((err) => {
    throw new Error(`cannot load ${path} (${err.code ?? err.message}): run \`npm run build\` first`, { cause: err });
  });
const { DeviceEventSource } = await fromDist('../../dist/simulator/device-event-source.js');
const { buildProfiles } = await fromDist('../../dist/simulator/device-profiles.js');
const { Prng } = await fromDist('../../dist/simulator/prng.js');
const { DEFAULT_REGIONS } = await fromDist('../../dist/config.js');

export const CLK_TCK = 100;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const yieldToLoop = () => new Promise((r) => setImmediate(r));

// ---------------------------------------------------------------------------------------------
// Events

/**
 * `devices` simulated devices built exactly as DeviceFleet builds them (same seed → same
 * profiles, sensors, schema versions and regions as `shoal simulate`), producing events round
 * robin so each device emits rate/devices events per second, in event-time order per device.
 */
export class EventGenerator {
  constructor({ devices, seed = 1, regions = DEFAULT_REGIONS, v2Share = 0.5, msgpackShare = 0.5 }) {
    if (!Number.isInteger(devices) || devices < 1) throw new RangeError(`devices must be a positive integer, got ${devices}`);
    const rng = new Prng(seed);
    const profiles = buildProfiles({ devices, regions, v2Share, msgpackShare }, rng);
    const created = Date.now();
    const mix = { duplicateShare: 0, lateShare: 0 };
    this.sources = profiles.map((p, i) => new DeviceEventSource(p, rng.fork(i), mix, created));
    this.lastMs = new Float64Array(devices).fill(created);
    this.cursor = 0;
  }

  /** `n` events at wall time `nowMs`, each passed to `onEvent(event, deviceIndex)`. */
  generate(n, nowMs, onEvent) {
    const D = this.sources.length;
    const each = Math.floor(n / D);
    const extra = n - each * D;
    const count = each > 0 ? D : extra;
    for (let i = 0; i < count; i++) {
      const d = (this.cursor + i) % D;
      const k = each + (i < extra ? 1 : 0);
      // k events spread evenly since this device's previous one, the newest at nowMs, each in
      // its own millisecond (stores keyed by series and ms time, like InfluxDB, would overwrite
      // two readings of one sensor in the same ms). Only a device sending more than 1,000
      // events/s, or catching up after a stall, gets times a few ms ahead of the wall clock.
      const last = this.lastMs[d];
      const newest = Math.max(nowMs, last + k);
      const spacing = Math.max(1, (newest - last) / k);
      this.lastMs[d] = newest;
      const { events } = this.sources[d].next(k, newest, spacing);
      for (let j = 0; j < events.length; j++) onEvent(events[j], d);
    }
    this.cursor = (this.cursor + extra) % D;
  }
}

// ---------------------------------------------------------------------------------------------
// Driver

/**
 * Offer `rate` events/s (or as fast as the sink takes them, rate 'max') for `durationSec`,
 * cutting batches of `batchRows` rows (or older than `lingerMs`), with at most `maxInFlight`
 * batches outstanding. Open loop with a bounded queue: when the sink falls behind, generation
 * waits for a free slot and catches up afterwards; the shortfall shows as `backlogEvents`.
 *
 * encoder: { begin() → batch state, add(state, event, deviceIndex, genMs) → rows added,
 *            finish(state) → payload }
 * send(payload, meta) → Promise<{ ok: boolean, error?: string }>
 */
export async function driveLoad({
  rate,
  durationSec,
  generator,
  encoder,
  send,
  batchRows,
  lingerMs = 500,
  maxInFlight = 4,
  tickMs = 10,
  chunkEvents = 1000,
  drainTimeoutMs = 30_000,
  onAck = () => {},
  log = () => {},
  signal,
}) {
  const isMax = rate === 'max';
  const t0 = performance.now();
  const end = t0 + durationSec * 1000;
  const stats = {
    generatedEvents: 0,
    generatedRows: 0,
    sentBatches: 0,
    ackedBatches: 0,
    failedBatches: 0,
    writtenEvents: 0,
    writtenRows: 0,
    failedRows: 0,
    errors: {},
    latencies: [], // ms per batch, send → ack
    visibility: [], // [ms, weight]: generation → ack, weighted by events
    lastAckAt: t0,
    writtenEventsLoadPhase: 0, // acked before the end of the offered window
    ackedPerSecond: [], // events acked in each second since t0
    backlogEvents: 0,
    maxBacklogEvents: 0,
    drainTimedOut: false,
  };
  const inFlight = new Set();
  let batch = null;

  const newBatch = () => ({ state: encoder.begin(), events: 0, rows: 0, firstGen: 0, segments: [] });

  const waitForSlot = async () => {
    while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
  };

  const ship = async () => {
    const b = batch;
    batch = null;
    if (!b || b.rows === 0) return;
    await waitForSlot();
    const payload = encoder.finish(b.state);
    const id = ++stats.sentBatches;
    const sentAt = performance.now();
    const p = send(payload, { id, rows: b.rows, events: b.events })
      .catch((err) => ({ ok: false, error: String(err?.message ?? err) }))
      .then((res) => {
        const now = performance.now();
        if (res.ok) {
          stats.ackedBatches++;
          stats.writtenEvents += b.events;
          stats.writtenRows += b.rows;
          stats.latencies.push(now - sentAt);
          for (const [gen, n] of b.segments) stats.visibility.push([now - gen, n]);
          stats.lastAckAt = now;
          if (now <= end) stats.writtenEventsLoadPhase += b.events;
          const sec = Math.floor((now - t0) / 1000);
          while (stats.ackedPerSecond.length <= sec) stats.ackedPerSecond.push(0);
          stats.ackedPerSecond[sec] += b.events;
          onAck(b, res, now);
        } else {
          stats.failedBatches++;
          stats.failedRows += b.rows;
          const key = String(res.error ?? 'error').slice(0, 160);
          stats.errors[key] = (stats.errors[key] ?? 0) + 1;
          if (stats.failedBatches <= 3) log(`batch ${id} failed: ${key}`);
        }
        inFlight.delete(p);
      });
    inFlight.add(p);
  };

  for (;;) {
    const now = performance.now();
    if (now >= end || signal?.aborted) break;
    const due = isMax ? Infinity : Math.floor((rate * (now - t0)) / 1000);
    const want = due - stats.generatedEvents;
    if (!isMax) {
      stats.backlogEvents = Math.max(0, want);
      if (want > stats.maxBacklogEvents) stats.maxBacklogEvents = want;
    }
    if (want <= 0) {
      if (batch && batch.rows > 0 && now - batch.firstGen >= lingerMs) await ship();
      await sleep(Math.max(1, Math.min(tickMs, end - now)));
      continue;
    }
    const n = Math.min(want, chunkEvents);
    batch ??= newBatch();
    if (batch.rows === 0) batch.firstGen = now;
    const b = batch;
    let rows = 0;
    generator.generate(n, Date.now(), (ev, d) => {
      rows += encoder.add(b.state, ev, d);
    });
    b.events += n;
    b.rows += rows;
    b.segments.push([now, n]);
    stats.generatedEvents += n;
    stats.generatedRows += rows;
    if (b.rows >= batchRows || performance.now() - b.firstGen >= lingerMs) await ship();
    else await yieldToLoop();
  }
  const genEnd = performance.now();
  await ship();
  if (!isMax) stats.backlogEvents = Math.max(0, Math.floor(rate * durationSec) - stats.generatedEvents);
  const drained = await Promise.race([
    Promise.all(inFlight).then(() => true),
    sleep(drainTimeoutMs).then(() => false),
  ]);
  stats.drainTimedOut = !drained;
  if (!drained) log(`drain timed out with ${inFlight.size} batches in flight`);
  stats.t0 = t0;
  stats.genEnd = genEnd;
  stats.end = performance.now();
  return stats;
}

// ---------------------------------------------------------------------------------------------
// Figures

export function percentile(sorted, q) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

export function latencySummary(values) {
  const s = Float64Array.from(values).sort();
  return { p50: round(percentile(s, 0.5), 1), p99: round(percentile(s, 0.99), 1), max: round(s.at(-1) ?? null, 1), n: s.length };
}

/** Percentiles of [value, weight] pairs. */
export function weightedSummary(pairs) {
  if (pairs.length === 0) return { p50: null, p99: null, max: null };
  const s = [...pairs].sort((a, b) => a[0] - b[0]);
  const total = s.reduce((a, [, w]) => a + w, 0);
  const at = (q) => {
    let acc = 0;
    for (const [v, w] of s) {
      acc += w;
      if (acc >= q * total) return v;
    }
    return s.at(-1)[0];
  };
  return { p50: round(at(0.5), 1), p99: round(at(0.99), 1), max: round(s.at(-1)[0], 1) };
}

export function round(x, digits = 2) {
  if (x === null || x === undefined || !Number.isFinite(x)) return x ?? null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// ---------------------------------------------------------------------------------------------
// Processes

export function procCpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

export function procRssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Samples a process's RSS every `everyMs` and remembers the peak. */
export function rssSampler(pid, everyMs = 250) {
  let peak = procRssMb(pid) ?? 0;
  const timer = setInterval(() => {
    const v = procRssMb(pid);
    if (v !== null && v > peak) peak = v;
  }, everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      const v = procRssMb(pid);
      if (v !== null && v > peak) peak = v;
      return peak;
    },
    get peak() {
      return peak;
    },
  };
}

/** Bytes under `dir`: apparent (sum of sizes) and allocated (st_blocks × 512, as du). */
export function diskUsage(dir) {
  let apparent = 0;
  let allocated = 0;
  const walk = (p) => {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      let names = [];
      try {
        names = readdirSync(p);
      } catch {
        return;
      }
      for (const n of names) walk(join(p, n));
    } else {
      apparent += st.size;
      allocated += st.blocks * 512;
    }
  };
  walk(dir);
  return { apparent, allocated };
}

/** A work directory: the caller's (kept) or a fresh temp dir (removed by `cleanup`). */
export function prepareWorkDir(workDir, prefix) {
  if (workDir) {
    mkdirSync(workDir, { recursive: true });
    const dir = mkdtempSync(join(workDir, `${prefix}-`));
    return { dir, cleanup() {} };
  }
  const dir = mkdtempSync(join(tmpdir(), `shoal-peer-${prefix}-`));
  return {
    dir,
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Wait for a child process to exit, up to `ms`; true if it did. */
export function waitForExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`. Resolves once the child is gone. */
export async function stopChild(child, graceMs = 10_000, log = () => {}) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try {
    child.kill('SIGTERM');
  } catch {
    return;
  }
  if (await waitForExit(child, graceMs)) return;
  log(`pid ${child.pid} ignored SIGTERM for ${graceMs} ms; SIGKILL`);
  try {
    child.kill('SIGKILL');
  } catch {
    // already gone
  }
  await waitForExit(child, 5_000);
}

/**
 * Kill `child` with SIGKILL if this process exits first (process.exit, uncaught error), then
 * run `cleanup` (synchronous: 'exit' handlers cannot wait).
 */
export function killOnExit(child, cleanup = () => {}) {
  const onExit = () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {
        // gone
      }
    }
    try {
      cleanup();
    } catch {
      // best effort
    }
  };
  process.once('exit', onExit);
  return () => process.removeListener('exit', onExit);
}

// ---------------------------------------------------------------------------------------------
// CLI

/** Parse the shared CLI flags, run `fn(opts)`, print its result as JSON; exit 1 on error. */
export async function cliMain(fn, extraOptions = {}) {
  const { values } = parseArgs({
    options: {
      rate: { type: 'string', default: '20000' },
      duration: { type: 'string', default: '10' },
      devices: { type: 'string', default: '1000' },
      seed: { type: 'string', default: '1' },
      'work-dir': { type: 'string' },
      batch: { type: 'string' },
      'in-flight': { type: 'string' },
      settle: { type: 'string' },
      ...extraOptions,
    },
  });
  const num = (v) => (v === undefined ? undefined : Number(v));
  const opts = {
    rate: values.rate === 'max' ? 'max' : Number(values.rate),
    durationSec: Number(values.duration),
    devices: Number(values.devices),
    seed: Number(values.seed),
    workDir: values['work-dir'],
    batchRows: num(values.batch),
    maxInFlight: num(values['in-flight']),
    settleSec: num(values.settle),
    log: (m) => process.stderr.write(`${m}\n`),
  };
  for (const k of Object.keys(extraOptions)) opts[k.replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = values[k];
  // First Ctrl-C / SIGTERM: abort, so the runner stops what it started and cleans up; a second
  // one exits at once (the 'exit' hooks still SIGKILL the server and remove the temp dir).
  const abort = new globalThis.AbortController();
  opts.signal = abort.signal;
  for (const sig of ['SIGINT', 'SIGTERM'])
    process.on(sig, () => {
      if (abort.signal.aborted) process.exit(130);
      process.stderr.write(`${sig}: stopping (again to exit at once)\n`);
      abort.abort(new Error(`interrupted by ${sig}`));
    });
  try {
    const result = await fn(opts);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    process.exit(0);
  } catch (err) {
    process.stderr.write(`${err?.stack ?? err}\n`);
    process.exit(1);
  }
}

/** Throw if `signal` has been aborted. */
export function throwIfAborted(signal) {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

export function validateCommon({ rate, durationSec, devices }) {
  if (!(rate === 'max' || (Number.isFinite(rate) && rate > 0))) throw new RangeError(`rate must be > 0 or 'max', got ${rate}`);
  if (!(Number.isFinite(durationSec) && durationSec > 0 && durationSec <= 3600))
    throw new RangeError(`durationSec must be in (0, 3600], got ${durationSec}`);
  if (!(Number.isInteger(devices) && devices > 0)) throw new RangeError(`devices must be a positive integer, got ${devices}`);
}
