// Perf harness: `npm run perf -- --profile quick|steady|peak|soak|ramp [options]` (see --help).
//
//   1. starts `shoal start` on a fresh temp data dir (its own process, with its redis-server);
//   2. forks the load generators (perf/generator.mjs: thousands of simulated devices over a
//      pool of WebSockets each, v1 and v2, JSON and MessagePack, duplicates, late, invalid and
//      out-of-order events) and a probe device whose events are polled through the query API;
//   3. records every second: offered / sent / acked rates, ack latency, Shoal's /metrics
//      (consumer lag, backlog, visibility histogram), CPU and RSS of every process;
//   4. after the load: drains (generators resend what was refused, Shoal catches up), reads
//      bytes per event (GET /api/v1/status) and runs the loss audit (lib/audit.mjs);
//   5. optionally runs the peers (perf/peers/*) at the same rate and duration;
//   6. writes perf/results/<date>-<profile>.json, .md and -*.svg charts.
// Speed is reported, never asserted: with --check the exit code is non-zero only when the
// loss audit fails.
/* global AbortSignal */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { lossAudit } from './lib/audit.mjs';
import { calibrate } from './lib/calibrate.mjs';
import { buildCharts } from './lib/charts.mjs';
import { GeneratorPool } from './lib/generators.mjs';
import { memorySummary } from './lib/memory.mjs';
import { scrape, histogramQuantile } from './lib/metrics.mjs';
import { peerRatios, runPeers } from './lib/peers.mjs';
import { Probe } from './lib/probe.mjs';
import { ProcessSampler } from './lib/proc.mjs';
import { MIX, PROFILES } from './lib/profiles.mjs';
import { Recorder } from './lib/recorder.mjs';
import { renderMarkdown } from './lib/report.mjs';
import { issueTokens, resolveAuth, startShoal, writeConfig } from './lib/shoal.mjs';
import { performance } from 'node:perf_hooks';

const HELP = `npm run perf -- [options]

  --profile P          quick | steady | peak | soak | ramp (default quick)
  --rate N             events/s offered (ramp: first step)
  --duration S         seconds of load (soak: required)
  --devices N          simulated devices
  --generators N       generator processes
  --sockets N          WebSocket connections per generator
  --shards N           Shoal worker threads (default 2)
  --frame-events N     most events per frame (default 250)
  --max-in-flight N    unacked frames per connection (default 8)
  --linger-ms N        how long events wait for their frame (generator tick, default 50)
  --device-buffer-s S  seconds of its share a device buffers while unacked before it drops new events (default 5)
  --seed N             simulation seed (default 42)
  --auth MODE          auto | fleet | none (default auto: fleet tokens if dist has issueFleetToken)
  --ignore-throttle    keep sending at full rate when the gateway asks to throttle
  --duplicate-share X  --late-share X  --invalid-share X  --v2-share X  --msgpack-share X
  --ramp-step N  --ramp-max N  --step-duration S     ramp profile
  --peers | --no-peers run perf/peers/* after Shoal (default: on for steady and peak)
  --check              exit 1 if the loss audit fails (never on speed)
  --out DIR            results directory (default perf/results)
  --keep               keep Shoal's temp data dir
  --shoal-config FILE  YAML appended to the harness's shoal.config.yaml (e.g. partitions, flush:)
  --cpu-prof DIR       run Shoal under node --cpu-prof: one .cpuprofile per thread in DIR
  --generator-cpu-prof DIR  run each load generator under node --cpu-prof, its .cpuprofile in DIR
  --node-args=ARGS     more Node/V8 options for Shoal (e.g. --node-args="--trace-gc"); its stdout then
                       goes to the harness's stderr
`;

const { values: args } = parseArgsOrExit({
  options: {
    profile: { type: 'string', default: 'quick' },
    rate: { type: 'string' },
    duration: { type: 'string' },
    devices: { type: 'string' },
    generators: { type: 'string' },
    sockets: { type: 'string' },
    shards: { type: 'string', default: '2' },
    'frame-events': { type: 'string', default: '250' },
    'max-in-flight': { type: 'string', default: '8' },
    'linger-ms': { type: 'string', default: '50' },
    'device-buffer-s': { type: 'string', default: '5' },
    seed: { type: 'string', default: '42' },
    auth: { type: 'string', default: 'auto' },
    'ignore-throttle': { type: 'boolean', default: false },
    'duplicate-share': { type: 'string' },
    'late-share': { type: 'string' },
    'invalid-share': { type: 'string' },
    'v2-share': { type: 'string' },
    'msgpack-share': { type: 'string' },
    'ramp-step': { type: 'string' },
    'ramp-max': { type: 'string' },
    'step-duration': { type: 'string' },
    peers: { type: 'boolean' },
    'no-peers': { type: 'boolean' },
    check: { type: 'boolean', default: false },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'shoal-config': { type: 'string' },
    'cpu-prof': { type: 'string' },
    'generator-cpu-prof': { type: 'string' },
    'node-args': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

/** A wrong command line: its message alone on stderr, exit code 2. */
function usageExit(message) {
  process.stderr.write(`${message}\n(npm run perf -- --help lists the options)\n`);
  process.exit(2);
}

/** parseArgs, with an unknown or malformed option reported by usageExit. */
function parseArgsOrExit(config) {
  try {
    return parseArgs(config);
  } catch (err) {
    return usageExit(err.message);
  }
}

function options() {
  if (args.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const profile = PROFILES[args.profile];
  if (!profile) throw new Error(`unknown profile ${args.profile}; one of ${Object.keys(PROFILES).join(', ')}`);
  const num = (name, fallback) => {
    const raw = args[name];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: a non-negative number, got ${raw}`);
    return n;
  };
  if (!['auto', 'fleet', 'none'].includes(args.auth)) throw new Error(`--auth: auto, fleet or none, got ${args.auth}`);
  const o = {
    profile: args.profile,
    rate: num('rate', profile.rate),
    duration: num('duration', profile.duration),
    devices: num('devices', profile.devices),
    generators: Math.max(1, num('generators', profile.generators)),
    sockets: Math.max(1, num('sockets', profile.sockets)),
    shards: num('shards', 2),
    eventsPerFrame: Math.min(999, Math.max(1, num('frame-events', 250))),
    maxInFlight: Math.max(1, num('max-in-flight', 8)),
    lingerMs: Math.max(5, num('linger-ms', 50)),
    deviceBufferS: Math.max(0.1, num('device-buffer-s', 5)),
    seed: num('seed', 42),
    auth: args.auth,
    honorThrottle: !args['ignore-throttle'],
    mix: {
      duplicateShare: num('duplicate-share', MIX.duplicateShare),
      lateShare: num('late-share', MIX.lateShare),
      invalidShare: num('invalid-share', MIX.invalidShare),
      v2Share: num('v2-share', MIX.v2Share),
      msgpackShare: num('msgpack-share', MIX.msgpackShare),
    },
    peers: args['no-peers'] ? false : (args.peers ?? profile.peers),
    check: args.check,
    out: args.out ?? new URL('./results/', import.meta.url).pathname,
    keep: args.keep,
    shoalConfig: args['shoal-config'] ?? null,
    cpuProfDir: args['cpu-prof'] ?? null,
    generatorCpuProfDir: args['generator-cpu-prof'] ?? null,
    nodeArgs: (args['node-args'] ?? '').split(/\s+/).filter(Boolean),
    generatorDrainSec: profile.generatorDrainSec,
    shoalDrainSec: profile.shoalDrainSec,
    ramp: profile.ramp
      ? { ...profile.ramp, start: num('rate', profile.ramp.start), step: num('ramp-step', profile.ramp.step), max: num('ramp-max', profile.ramp.max), stepSec: num('step-duration', profile.ramp.stepSec) }
      : null,
  };
  if (o.profile === 'soak' && !o.duration) throw new Error('--profile soak needs --duration S');
  if (o.profile !== 'ramp' && !(o.duration > 0)) throw new Error('--duration must be > 0');
  return o;
}

const started = performance.now();
const log = (line) => process.stderr.write(`[perf ${((performance.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function gitInfo() {
  try {
    const cwd = new URL('..', import.meta.url).pathname;
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd, encoding: 'utf8' }).trim().length > 0;
    return { commit, srcDirty: dirty };
  } catch {
    return null;
  }
}

/** Ramp: raise the rate step by step until a step fails; returns the steps. */
async function runRamp(o, pool, recorder, probe) {
  const steps = [];
  for (let rate = o.ramp.start; rate <= o.ramp.max; rate += o.ramp.step) {
    const start = recorder.now();
    if (steps.length > 0) pool.setRate(rate);
    log(`ramp step ${steps.length + 1}: ${rate} events/s for ${o.ramp.stepSec} s`);
    await sleep(o.ramp.stepSec * 1000);
    const end = recorder.now();
    const step = evaluateStep(o, recorder, probe, rate, start, end);
    steps.push(step);
    log(`ramp step ${rate}/s: ${step.pass ? 'pass' : `FAIL (${step.failures.join('; ')})`} acked ${fmt0(step.acceptedPerSec)}/s, vis p99 ${fmt2(step.visibilityP99Sec)} s, probe p99 ${fmt2(step.probeP99Sec)} s, lag ${fmt2(step.lagSecondsEnd)} s`);
    if (!step.pass) break;
  }
  return steps;
}

const fmt0 = (x) => (x == null ? 'n/a' : Math.round(x).toString());
const fmt2 = (x) => (x == null ? 'n/a' : x.toFixed(2));

/** A ramp step passes when, over its second half, the backlog does not grow, p99 visibility < 5 s (Shoal's histogram and the probe) and ≥ 95 % of the offered rate is acked. */
function evaluateStep(o, recorder, probe, rate, start, end) {
  const a = start + (end - start) / 2;
  const failures = [];
  const acceptedPerSec = recorder.rate('acceptedEvents', a, end);
  const offeredPerSec = recorder.rate('offered', a, end);
  const visibilityP99Sec = recorder.visibility(a, end, 0.99);
  const { seen, unseen } = probe.window(a, end);
  // A probe still unseen counts with its age so far (a lower bound of its visibility).
  const probeAll = [...seen, ...unseen].map((ms) => ms / 1000).sort((x, y) => x - y);
  const probeP99Sec = probeAll.length ? probeAll[Math.min(probeAll.length - 1, Math.ceil(0.99 * probeAll.length) - 1)] : null;
  const unreadSlope = recorder.slope('unreadEvents', a, end);
  const lagSlope = recorder.slope('lagSecondsMax', a, end);
  const lagSecondsEnd = recorder.latestScrape()?.lagSecondsMax ?? null;
  const limit = o.ramp.maxVisibilityP99Sec;
  if (acceptedPerSec === null || acceptedPerSec < o.ramp.minAckedShare * rate) failures.push(`acked ${fmt0(acceptedPerSec)}/s < ${o.ramp.minAckedShare * 100} % of ${rate}/s`);
  if (visibilityP99Sec === null || visibilityP99Sec >= limit) failures.push(`Shoal visibility p99 ${fmt2(visibilityP99Sec)} s ≥ ${limit} s`);
  if (probeP99Sec !== null && probeP99Sec >= limit) failures.push(`probe visibility p99 ${fmt2(probeP99Sec)} s ≥ ${limit} s`);
  // Growing: over the half step, the lag would rise by more than 2 s, or more than a second's
  // worth of events would pile up unread (a steady pipeline's lag only oscillates with its flushes).
  const half = end - a;
  const growing = (unreadSlope !== null && unreadSlope * half > rate) || (lagSlope !== null && lagSlope * half > 2);
  if (growing && (lagSecondsEnd ?? 0) > 2) failures.push(`backlog growing (unread ${fmt0(unreadSlope)}/s, lag ${fmt2(lagSlope)} s/s, lag now ${fmt2(lagSecondsEnd)} s)`);
  if ((lagSecondsEnd ?? 0) >= limit) failures.push(`consumer lag ${fmt2(lagSecondsEnd)} s ≥ ${limit} s`);
  return { rate, start, end, offeredPerSec, acceptedPerSec, visibilityP99Sec, probeP99Sec, unreadSlopePerSec: unreadSlope, lagSlopeSecPerSec: lagSlope, lagSecondsEnd, pass: failures.length === 0, failures };
}

/** Consumer lag over this many seconds counts as a slow spell in the background-work summary. */
const SLOW_LAG_SEC = 1.5;

/**
 * The bus Redis and ClickHouse's merges over the run, from the scrapes (about one a second):
 * Redis's peak memory, the AOF rewrites it made, and how many of the slow spells (consumer lag
 * over SLOW_LAG_SEC) came while a rewrite or a merge ran.
 */
function backgroundSummary(scrapes) {
  const seen = scrapes.filter((s) => s.redisUsedBytes !== null);
  if (seen.length === 0) return null;
  const rewrites = seen.filter((s) => s.aofRewrites !== null).map((s) => s.aofRewrites);
  const slow = scrapes.filter((s) => s.lagSecondsMax > SLOW_LAG_SEC);
  return {
    usedMemoryPeakMb: Math.max(...seen.map((s) => s.redisUsedBytes)) / 1048576,
    aofRewrites: rewrites.length > 0 ? Math.max(...rewrites) - Math.min(...rewrites) : null,
    scrapes: scrapes.length,
    scrapesRewriting: scrapes.filter((s) => s.aofRewriting).length,
    slowLagSec: SLOW_LAG_SEC,
    scrapesSlow: slow.length,
    scrapesSlowRewriting: slow.filter((s) => s.aofRewriting).length,
    scrapesMerging: scrapes.filter((s) => s.mergesRunning > 0).length,
    scrapesSlowMerging: slow.filter((s) => s.mergesRunning > 0).length,
    mergeBytesMaxMb: Math.max(0, ...scrapes.map((s) => s.mergeBytes ?? 0)) / 1048576,
  };
}

/** After the generators finished: wait until every accepted event is read and checkpointed. */
/** Count, p50 and p99 of cumulative histogram buckets (a report's latency cell). */
function histogramSummary(buckets) {
  return { count: buckets.at(-1)?.count ?? 0, p50: histogramQuantile(buckets, 0.5), p99: histogramQuantile(buckets, 0.99) };
}

async function drainShoal(opsUrl, timeoutSec) {
  const deadline = Date.now() + timeoutSec * 1000;
  let calm = 0;
  let last = null;
  while (Date.now() < deadline) {
    last = await scrape(opsUrl, 10_000);
    if (last && last.lagEntries === 0 && last.unreadEvents === 0) {
      if (++calm >= 2) return { drained: true, last };
    } else calm = 0;
    await sleep(500);
  }
  return { drained: false, last };
}

async function getJson(url, timeoutMs = 120_000) {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  return res.json();
}

async function main() {
  let o;
  try {
    o = options();
  } catch (err) {
    usageExit(err.message);
  }
  const startedAt = new Date();
  const { DEFAULT_REGIONS } = await import(new URL('../dist/config.js', import.meta.url).href);
  const regions = DEFAULT_REGIONS;
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-perf-'));
  const auth = await resolveAuth(o.auth);
  log(`profile ${o.profile}: ${o.ramp ? `ramp from ${o.ramp.start}/s by ${o.ramp.step}/s, ${o.ramp.stepSec} s a step` : `${o.rate} events/s for ${o.duration} s`}, ${o.devices} devices, ${o.generators} generator(s) × ${o.sockets} sockets; auth ${auth.mode} (${auth.reason}); data ${dataDir}`);
  const configFile = writeConfig(dataDir, { authMode: auth.mode, extraFile: o.shoalConfig });
  const loadavgStart = loadavg();
  const calibration = calibrate();
  log(`${calibration.cpuModel} at ${calibration.cpuMhz ?? '?'} MHz: reference work ${calibration.referenceWorkMs.toFixed(0)} ms of CPU (lower is a faster core)`);

  let shoal = null;
  let pool = null;
  let probe = null;
  let recorder = null;
  const cleanup = () => {
    pool?.kill();
    if (shoal && !shoal.exited) shoal.proc.kill('SIGKILL');
  };
  process.once('SIGINT', () => {
    log('interrupted');
    cleanup();
    process.exit(130);
  });
  try {
    shoal = await startShoal({ dataDir, configFile, shards: o.shards, log, cpuProfDir: o.cpuProfDir, nodeArgs: o.nodeArgs });
    const startupSec = (performance.now() - started) / 1000;
    const probeId = { deviceId: 'perf-probe-000', region: regions[0] };
    const tokens = await issueTokens({ authMode: auth.mode, dataDir, regions, generators: o.generators, probe: probeId });
    const initialRate = o.ramp ? o.ramp.start : o.rate;
    pool = new GeneratorPool({
      count: o.generators,
      rate: initialRate,
      log,
      cpuProfDir: o.generatorCpuProfDir,
      config: {
        url: shoal.urls.ingest,
        devices: o.devices,
        regions,
        tokensByIndex: tokens.generatorTokens,
        seed: o.seed,
        sockets: o.sockets,
        eventsPerFrame: o.eventsPerFrame,
        maxInFlight: o.maxInFlight,
        maxQueueSec: o.deviceBufferS,
        tickMs: o.lingerMs,
        honorThrottle: o.honorThrottle,
        mix: { duplicateShare: o.mix.duplicateShare, lateShare: o.mix.lateShare },
        invalidShare: o.mix.invalidShare,
        v2Share: o.mix.v2Share,
        msgpackShare: o.mix.msgpackShare,
      },
    });
    const fleet = await pool.start();
    log(`generators ready: ${fleet.devices} devices on ${fleet.connections} connections`);

    const sampler = new ProcessSampler();
    sampler.add('shoal', shoal.pid, { threads: true });
    sampler.add('redis', shoal.redisPid);
    pool.pids.forEach((pid, i) => sampler.add(`generator-${i}`, pid));
    sampler.add('harness', process.pid);

    const t0 = performance.now();
    const loadStartWall = Date.now();
    probe = new Probe({ ingestUrl: shoal.urls.ingest, opsUrl: shoal.urls.ops, token: tokens.probeToken, ...probeId, t0 });
    await probe.start();
    recorder = new Recorder({ pool, sampler, opsUrl: shoal.urls.ops, t0 });
    recorder.start();
    pool.go();

    let steps = null;
    if (o.ramp) steps = await runRamp(o, pool, recorder, probe);
    else {
      for (let s = 10; s < o.duration; s += 10) {
        await sleep(10_000);
        const a = recorder.now() - 10;
        log(`t=${Math.round(recorder.now())}s offered ${fmt0(recorder.rate('offered', a, a + 10))}/s acked ${fmt0(recorder.rate('acceptedEvents', a, a + 10))}/s overloaded ${fmt0(recorder.rate('overloaded', a, a + 10))}/s lag ${fmt2(recorder.latestScrape()?.lagSecondsMax)} s unread ${fmt0(recorder.latestScrape()?.unreadEvents)}`);
      }
      await sleep((o.duration - Math.floor((o.duration - 1) / 10) * 10) * 1000);
    }
    const loadEnd = recorder.now();
    probe.stopSending();
    log(`load done at ${loadEnd.toFixed(1)} s; draining generators (≤ ${o.generatorDrainSec} s)`);
    const gen = await pool.stop(o.generatorDrainSec * 1000);
    const generatorsDone = recorder.now();
    log(`generators drained at ${generatorsDone.toFixed(1)} s; waiting for Shoal to catch up (≤ ${o.shoalDrainSec} s)`);
    const shoalDrain = await drainShoal(shoal.urls.ops, o.shoalDrainSec);
    await probe.finish(shoalDrain.drained ? 15_000 : 1000);
    const drainEnd = recorder.now();
    recorder.stop();
    const cpuTotals = sampler.totals(); // load + drain, before the audit's own work
    log(`Shoal ${shoalDrain.drained ? 'caught up' : 'did NOT catch up'} at ${drainEnd.toFixed(1)} s`);

    const finalMetrics = (await scrape(shoal.urls.ops, 30_000)) ?? recorder.latestScrape();
    let status = null;
    try {
      status = await getJson(`${shoal.urls.ops}/api/v1/status`);
    } catch (err) {
      log(`status failed: ${err.message}`);
    }

    // Loss audit: client-side distinct acked events (generators + probe) vs Shoal's audit.
    const probeSummary = probe.summary();
    const clientPerDevice = { ...gen.ackedPerDevice, [probeId.deviceId]: probeSummary.acked };
    const clientAcked = (gen.counters.freshAcked ?? 0) + probeSummary.acked;
    const indeterminate = gen.leftover.unansweredEvents + gen.leftover.inflightEvents;
    const audit = await lossAudit({
      opsUrl: shoal.urls.ops,
      fromMs: Math.floor((loadStartWall - 2 * 3_600_000 - 10 * 60_000) / 3_600_000) * 3_600_000,
      toMs: Date.now() + 10 * 60_000,
      clientAcked,
      clientPerDevice,
      indeterminate,
      log,
    });
    if (!shoalDrain.drained) {
      audit.checks.push({ name: 'Shoal drained before the audit', ok: false, detail: `lag entries ${shoalDrain.last?.lagEntries}, unread ${shoalDrain.last?.unreadEvents}` });
      audit.ok = false;
    }

    const shoalExit = await shoal.stop();
    log(`shoal exited with ${shoalExit}`);

    // Figures.
    const loadCores = recorder.meanCores(0, loadEnd);
    const c = gen.counters;
    const shoalCpuSeconds = (cpuTotals.shoal?.cpuSeconds ?? 0) + (cpuTotals.redis?.cpuSeconds ?? 0);
    const storage = status
      ? {
          events: status.totals.events,
          readings: status.totals.readings,
          clickhouseBytes: status.totals.clickhouse_bytes,
          archiveBytes: status.totals.archive_bytes,
          bytesPerEvent: {
            archive: status.totals.bytes_per_event.archive,
            clickhouseEvents: status.totals.bytes_per_event.clickhouse_events,
            clickhouseAll: status.totals.bytes_per_event.clickhouse_all,
            total: status.totals.events > 0 ? (status.totals.clickhouse_bytes + status.totals.archive_bytes) / status.totals.events : null,
          },
          perRegion: status.regions.map((r) => ({ region: r.region, events: r.events, bytesPerEvent: r.bytes_per_event })),
        }
      : null;
    const visWhole = (q) => histogramQuantile(finalMetrics?.visibility ?? [], q);
    const result = {
      profile: o.profile,
      date: startedAt.toISOString(),
      machine: { cores: availableParallelism(), node: process.version, loadavgStart, loadavgEnd: loadavg(), ...calibration },
      git: gitInfo(),
      options: { ...o, out: undefined },
      auth,
      fleet,
      phases: { startupSec, loadSec: loadEnd, generatorDrainSec: generatorsDone - loadEnd, shoalDrainSec: drainEnd - generatorsDone, drained: shoalDrain.drained, auditSec: audit.auditSeconds ?? null },
      generator: {
        offered: c.offered,
        offeredPerSec: c.offered / loadEnd,
        sentEvents: c.sentEvents,
        sentFrames: c.sentFrames,
        bytesPerFrame: c.sentFrames ? c.sentBytes / c.sentFrames : null,
        eventsPerFrame: c.sentFrames ? c.sentEvents / c.sentFrames : null,
        acceptedEvents: c.acceptedEvents,
        // Like the peers' written/s: everything acked, over the time until the last ack.
        acceptedPerSec: c.acceptedEvents / generatorsDone,
        acceptedPerSecLoadPhase: recorder.rate('acceptedEvents', 0, loadEnd),
        distinctAcked: c.freshAcked,
        distinctAckedPerSec: c.freshAcked / (generatorsDone || 1),
        duplicatesGenerated: c.duplicatesGenerated,
        lateGenerated: c.lateGenerated,
        invalid: { generated: c.invalidGenerated, rejectedAsExpected: c.invalidRejected, accepted: c.invalidAccepted, otherCode: c.invalidOtherCode },
        droppedQueueFull: c.droppedQueueFull,
        throttleSkipped: c.throttleSkipped,
        throttles: c.throttles,
        overloaded: c.overloaded,
        resent: c.resent,
        rejectedByCode: c.rejectedByCode,
        unexpectedRejected: c.unexpectedRejected,
        sampledOutReadings: c.sampledOutReadings,
        ackCountMismatch: c.ackCountMismatch,
        unknownAcks: c.unknownAcks,
        reconnects: c.reconnects,
        socketErrors: c.socketErrors,
        leftover: gen.leftover,
        missingFinals: gen.missingFinals,
        ackLatencyMs: gen.ackHist.summary(),
      },
      probe: probeSummary,
      shoal: {
        exitCode: shoalExit,
        visibilitySeconds: { p50: visWhole(0.5), p95: visWhole(0.95), p99: visWhole(0.99) },
        frameSeconds: histogramSummary(finalMetrics?.frameSeconds ?? []),
        flushSeconds: Object.fromEntries(Object.entries(finalMetrics?.flushDuration ?? {}).map(([sink, buckets]) => [sink, histogramSummary(buckets)])),
        chdbOperationSeconds: Object.fromEntries(
          Object.entries(finalMetrics?.chdbOperations ?? {}).map(([operation, o]) => [operation, { ...histogramSummary(o.buckets), queued: o.queued }]),
        ),
        acceptedEvents: finalMetrics?.acceptedEvents,
        processedEvents: finalMetrics?.processedEvents,
        dedupDropped: finalMetrics?.dedupDropped,
        lateEvents: finalMetrics?.lateEvents,
        rowsFlushed: finalMetrics?.rowsFlushed,
        flushRetries: finalMetrics?.flushRetries,
        shardRestarts: finalMetrics?.shardRestarts,
        sampledOutReadings: finalMetrics?.sampledOutReadings,
        rejectedByCode: finalMetrics?.rejectedByCode,
      },
      backlog: {
        maxLagSeconds: Math.max(0, ...recorder.scrapes.map((s) => s.lagSecondsMax)),
        maxLagEntries: Math.max(0, ...recorder.scrapes.map((s) => s.lagEntries)),
        maxUnreadEvents: Math.max(0, ...recorder.scrapes.map((s) => s.unreadEvents)),
        maxGeneratorQueue: Math.max(0, ...recorder.timeline.map((p) => p.queued)),
        maxBackpressure: Math.max(0, ...recorder.scrapes.map((s) => s.backpressureMax)),
      },
      background: backgroundSummary(recorder.scrapes),
      memory: memorySummary(recorder.scrapes),
      cpu: {
        loadPhaseCores: loadCores,
        loadPhaseShoalThreads: recorder.meanThreadCores('shoal', 0, loadEnd),
        totals: cpuTotals,
        shoalPlusRedisCpuSecondsPerEvent: clientAcked > 0 ? shoalCpuSeconds / clientAcked : null,
      },
      storage,
      audit,
      steps,
      timeline: recorder.timeline.map((p) => ({ t: +p.t.toFixed(2), offered: p.c.offered, sent: p.c.sentEvents, accepted: p.c.acceptedEvents, distinctAcked: p.c.freshAcked, overloaded: p.c.overloaded, queued: p.queued, inflight: p.inflightEvents, ackP50: p.ackP50, ackP99: p.ackP99, proc: p.proc })),
      scrapes: recorder.scrapes.map(({ visibility: _visibility, frameSeconds: _frameSeconds, ...s }) => ({ ...s, t: +s.t.toFixed(2) })),
      probePoints: probe.points().map(([t, v]) => [+t.toFixed(2), +v.toFixed(1)]),
    };
    if (steps) {
      const passed = steps.filter((s) => s.pass);
      result.ramp = { maxPassingRate: passed.length ? passed.at(-1).rate : null, firstFailingRate: steps.find((s) => !s.pass)?.rate ?? null };
    }

    // Peers, after Shoal stopped, at the same rate and duration.
    const shoalForPeers = {
      ackedPerSec: result.generator.acceptedPerSec,
      cpuSecondsPerEvent: result.cpu.shoalPlusRedisCpuSecondsPerEvent,
      bytesPerEvent: storage?.bytesPerEvent,
    };
    if (o.peers) {
      const peerRate = o.ramp ? (result.ramp.maxPassingRate ?? o.ramp.start) : o.rate;
      const peerDuration = o.ramp ? o.ramp.stepSec : o.duration;
      result.peers = await runPeers({ rate: peerRate, durationSec: peerDuration, devices: o.devices, seed: o.seed, workDir: join(dataDir, 'peers'), log });
      result.peerRatios = peerRatios(shoalForPeers, result.peers);
    } else result.peers = [];

    // Files.
    mkdirSync(o.out, { recursive: true });
    const stem = `${startedAt.toISOString().slice(0, 10)}-${o.profile}`;
    const markers = [{ x: loadEnd, label: 'load end' }, ...(steps ?? []).slice(1).map((s) => ({ x: s.start, label: `${s.rate / 1000}k` }))];
    const charts = buildCharts({ recorder, probePoints: probe.points(), markers, profile: o.profile });
    result.charts = {};
    for (const [name, svg] of Object.entries(charts)) {
      const file = `${stem}-${name}.svg`;
      writeFileSync(join(o.out, file), svg);
      result.charts[name] = file;
    }
    writeFileSync(join(o.out, `${stem}.json`), `${JSON.stringify(result, null, 1)}\n`);
    const md = renderMarkdown(result);
    writeFileSync(join(o.out, `${stem}.md`), md);
    process.stdout.write(md);
    log(`wrote ${join(o.out, stem)}.{json,md} and ${Object.keys(charts).length} charts in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    if (!o.keep) rmSync(dataDir, { recursive: true, force: true });
    else log(`kept ${dataDir}`);
    if (o.check && !audit.ok) {
      log('--check: the loss audit FAILED');
      process.exitCode = 1;
    }
  } catch (err) {
    cleanup();
    log(`failed; Shoal's data dir is kept for inspection: ${dataDir}`);
    throw err;
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
