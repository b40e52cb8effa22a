#!/usr/bin/env node
/**
 * What Shoal's JavaScript costs per event, stage by stage, on one thread and without the rest
 * of the pipeline: the gateway's frame decoding and validation and its bus encoding, then a
 * shard's bus decoding, actors, RowBinary events body, window drain with the rollup insert,
 * and dedup log record (run `npm run build` first).
 *
 *   node perf/hot-path-cost.mjs [--events N] [--devices N] [--frame-events N] [--rounds N] [--alloc]
 *
 * Builds `--events` events the way the load generator does (the simulator's devices: half v1
 * with one reading, half v2 with several; half JSON, half MessagePack; 1 % duplicates, 0.5 %
 * late), `--frame-events` to a frame, as a gateway sees them at 50k events/s. Each round runs
 * every stage over all of them with fresh actors; the report gives each stage's CPU time per
 * event (process CPU, so GC helper threads count) in the best and the median round, and the
 * bytes an event takes in the bus entries. End-to-end runs on a shared 2-core machine cannot
 * see a change of 1 µs an event; this can.
 *
 * `--alloc` also samples every allocation of the rounds (V8's sampling heap profiler, keeping
 * the samples of objects the GC has since collected) and reports the bytes allocated per
 * accepted event and the functions that allocate most. The profiler slows the rounds, so
 * read the CPU figures of an `--alloc` run as relative only.
 */
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { frameName } from './lib/profile-frames.mjs';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '200000' },
    devices: { type: 'string', default: '10000' },
    'frame-events': { type: 'string', default: '250' },
    rounds: { type: 'string', default: '7' },
    alloc: { type: 'boolean', default: false },
  },
});
const sampleAllocations = values.alloc;
const opts = { events: Number(values.events), devices: Number(values.devices), frameEvents: Number(values['frame-events']), rounds: Number(values.rounds) };
for (const [name, n] of Object.entries(opts)) {
  if (!(Number.isInteger(n) && n > 0)) {
    process.stderr.write(`--${name} must be a positive integer\n`);
    process.exit(2);
  }
}

const dist = new URL('../dist/', import.meta.url);
const load = (path) => import(new URL(path, dist).href);
const { Prng } = await load('simulator/prng.js');
const { buildProfiles } = await load('simulator/device-profiles.js');
const { DeviceEventSource } = await load('simulator/device-event-source.js');
const { encodeFrame } = await load('simulator/frame-codec.js');
const { EventValidator } = await load('contracts/event-validator.js');
const { processFrame } = await load('contracts/frame.js');
const { encodeEvents, decodeEvents, MAX_EVENTS_PER_ENTRY } = await load('contracts/bus-codec.js');
const { partitionOf } = await load('runtime/partitioning.js');
const { PartitionActors } = await load('actors/partition-actors.js');
const { EventsBodyWriter, encodePartials } = await load('sinks/batch-encoder.js');
const { encodeDedupRecords } = await load('runtime/dedup-log-codec.js');

const REGIONS = ['us-east', 'eu-west'];
const PARTITIONS = 2;
/** Events a partition flushes at once: 50k events/s over 4 partitions, 1 s flushes. */
const FLUSH_EVENTS = 12_500;
/** Events a gateway puts in one bus entry at 50k events/s (measured, ~980). */
const ENTRY_EVENTS = 1000;

// --- the fleet's frames -------------------------------------------------------------------
const rng = new Prng(42);
const profiles = buildProfiles({ devices: opts.devices, regions: REGIONS, v2Share: 0.5, msgpackShare: 0.5 }, rng);
const now = Date.now();
const sources = profiles.map((p) => new DeviceEventSource(p, rng, { duplicateShare: 0.01, lateShare: 0.005 }, now - 60_000));
/** Per encoding, events are multiplexed over sockets of one encoding (as the generator does). */
const pending = { json: [], binary: [] };
let made = 0;
for (let round = 0; made < opts.events; round++) {
  for (let d = 0; d < sources.length && made < opts.events; d++) {
    const source = sources[d];
    const batch = source.next(1, now - 5000 + round * 10, 1000);
    pending[source.profile.binary ? 'binary' : 'json'].push(...batch.events);
    made += batch.events.length;
  }
}
const frames = [];
for (const [kind, list] of Object.entries(pending)) {
  for (let i = 0; i < list.length; i += opts.frameEvents) {
    const payload = encodeFrame(frames.length, list.slice(i, i + opts.frameEvents), kind === 'binary');
    frames.push({ payload: typeof payload === 'string' ? Buffer.from(payload) : payload, binary: kind === 'binary' });
  }
}
for (let i = frames.length - 1; i > 0; i--) {
  const j = rng.int(i + 1);
  [frames[i], frames[j]] = [frames[j], frames[i]];
}
const ctx = { now, regions: REGIONS, identity: null, maxFrameBytes: 1 << 20, maxEventsPerFrame: 1000, maxEventAgeMs: 7 * 86_400_000, maxEventAheadMs: 300_000 };

// --- the stages -----------------------------------------------------------------------------
const validator = new EventValidator();

/** Gateway: frames → accepted canonical events (decode, validate, normalise). */
function decodeValidate(step) {
  const accepted = [];
  for (const f of step) for (const e of processFrame(f.payload, f.binary, ctx, validator).accepted) accepted.push(e);
  return accepted;
}

/** `items` grouped by `keyOf`, groups in first-seen order. */
function groupBy(items, keyOf) {
  const groups = new Map();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

/** Gateway: accepted events → bus entry payloads per (region, partition), coalesced as the appender does. */
function busEncode(accepted) {
  const size = Math.min(ENTRY_EVENTS, MAX_EVENTS_PER_ENTRY);
  const entries = [];
  for (const [key, list] of groupBy(accepted, (e) => `${e.region}:${partitionOf(e.deviceId, PARTITIONS)}`)) {
    for (let i = 0; i < list.length; i += size) entries.push({ key, payload: encodeEvents(list.slice(i, i + size)) });
  }
  return entries;
}

/** Shard: entry payloads → canonical events. */
function busDecode(entries) {
  return entries.map((e) => ({ key: e.key, events: decodeEvents(e.payload) }));
}

/** Shard: apply each entry device by device, as PartitionProcessor does. */
function apply(decoded, state, busTime) {
  for (const { key, events } of decoded) {
    const p = state.get(key);
    for (const group of groupBy(events, (e) => e.deviceId).values()) p.actors.apply(`${busTime}-0`, busTime, group);
    p.since += events.length;
  }
}

/** Shard: the accepted events' rows into the events body (a shard's actors hand each over as they accept it). */
function rowBinary(state) {
  for (const p of state.values()) {
    const { events, streamIds, partition } = p.actors.pendingAccepted();
    for (let i = p.written; i < events.length; i++) p.body.write(events[i], streamIds[i], partition);
    p.written = events.length;
  }
}

/** Shard: at FLUSH_EVENTS a partition drains; its minute partials are encoded, its ids logged. */
function drainAndEncode(state, force) {
  let bytes = 0;
  for (const p of state.values()) {
    if (!force && p.since < FLUSH_EVENTS) continue;
    const batch = p.actors.drain();
    const events = p.body.take();
    p.written = 0;
    bytes += events === null ? 0 : events.body.byteLength;
    for (const insert of encodePartials('rollup_1m', batch.rollup1m, 'RowBinary')) bytes += insert.body.byteLength;
    p.dedupLog.push(batch.accepted);
    p.since = 0;
  }
  return bytes;
}

function dedupLog(state) {
  let bytes = 0;
  for (const p of state.values()) {
    for (const accepted of p.dedupLog) bytes += encodeDedupRecords(accepted)?.byteLength ?? 0;
    p.dedupLog = [];
  }
  return bytes;
}

const STAGES = ['gateway: decode + validate', 'gateway: bus encode', 'shard: bus decode', 'shard: actors (dedup, windows, rows)', 'shard: RowBinary events body', 'shard: drain + rollup insert', 'shard: dedup log'];

function cpuMicros() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Frames taken through every stage at once (10,000 events): a bounded working set, as in the running pipeline. */
const FRAMES_PER_STEP = 40;

function runRound() {
  const spent = new Array(STAGES.length).fill(0);
  let t = cpuMicros();
  const lap = (i) => {
    const n = cpuMicros();
    spent[i] += n - t;
    t = n;
  };
  const state = new Map();
  for (const region of REGIONS)
    for (let p = 0; p < PARTITIONS; p++) state.set(`${region}:${p}`, { actors: new PartitionActors(p, { dedupHorizonMs: 600_000, idleMs: 600_000 }), body: new EventsBodyWriter(), written: 0, since: 0, dedupLog: [] });
  // The frames flow through in steps: what a gateway holds between appends, what a shard reads at once.
  let busTime = now;
  let accepted = 0;
  let busBytes = 0;
  for (let i = 0; i < frames.length; i += FRAMES_PER_STEP, busTime += 50) {
    t = cpuMicros();
    const events = decodeValidate(frames.slice(i, i + FRAMES_PER_STEP));
    accepted += events.length;
    lap(0);
    const entries = busEncode(events);
    lap(1);
    for (const e of entries) busBytes += e.payload.byteLength;
    const decoded = busDecode(entries);
    lap(2);
    apply(decoded, state, busTime);
    lap(3);
    rowBinary(state);
    lap(4);
    drainAndEncode(state, i + FRAMES_PER_STEP >= frames.length);
    lap(5);
    dedupLog(state);
    lap(6);
  }
  return { spent, accepted, busBytes };
}

console.log(`${frames.length.toLocaleString('en-US')} frames of up to ${opts.frameEvents} events, ${made.toLocaleString('en-US')} events from ${opts.devices.toLocaleString('en-US')} devices; ${opts.rounds} rounds`);
const inspector = sampleAllocations ? new Session() : null;
if (inspector) {
  inspector.connect();
  await inspector.post('HeapProfiler.enable');
  await inspector.post('HeapProfiler.startSampling', { includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
}
const rounds = [];
for (let r = 0; r < opts.rounds; r++) rounds.push(runRound());
const events = rounds[0].accepted;
const allocations = inspector ? (await inspector.post('HeapProfiler.stopSampling')).profile : null;
console.log(`CPU per accepted event (${events.toLocaleString('en-US')} accepted), best / median of ${opts.rounds} rounds:`);
let bestTotal = 0;
let medianTotal = 0;
for (let i = 0; i < STAGES.length; i++) {
  const per = rounds.map((r) => r.spent[i] / events).sort((a, b) => a - b);
  const best = per[0];
  const median = per[Math.floor(per.length / 2)];
  bestTotal += best;
  medianTotal += median;
  console.log(`  ${STAGES[i].padEnd(38)} ${best.toFixed(2).padStart(6)} / ${median.toFixed(2).padStart(6)} µs`);
}
console.log(`  ${'all'.padEnd(38)} ${bestTotal.toFixed(2).padStart(6)} / ${medianTotal.toFixed(2).padStart(6)} µs`);
console.log(`Bus entries: ${(rounds[0].busBytes / events).toFixed(1)} bytes an event (entries of up to ${Math.min(ENTRY_EVENTS, MAX_EVENTS_PER_ENTRY)} events)`);

if (allocations) {
  /** Sampled bytes by allocating function (self), named as in perf/profile-summary.mjs. */
  const bySite = new Map();
  let total = 0;
  const walk = (node) => {
    const site = frameName(node.callFrame);
    total += node.selfSize;
    if (node.selfSize > 0) bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child);
  };
  walk(allocations.head);
  const perEvent = (bytes) => bytes / (events * opts.rounds);
  console.log(`\nAllocated per accepted event, all stages (sampled): ${perEvent(total).toFixed(0)} B; largest allocators:`);
  for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 15))
    console.log(`  ${perEvent(bytes).toFixed(0).padStart(5)} B  ${((100 * bytes) / total).toFixed(1).padStart(5)} %  ${site}`);
}
