#!/usr/bin/env node
/**
 * What one flush costs the embedded ClickHouse (chDB), write by write: the `events` insert,
 * the rollup insert (`rollup_1m`, and `rollup_1h` through its view) and the raw archive's
 * Parquet encoding, on Shoal's own schema, actors and encoders (run `npm run build` first).
 *
 *   node perf/chdb-flush-cost.mjs [--events N] [--flushes N] [--devices N]
 *
 * Builds the flushes of one partition from a fleet shaped like the load generator's (half the
 * devices v1 with one reading an event, half v2 with three; `--events` per flush over
 * `--devices`), then for each write alone, all three together, and none (the idle baseline),
 * runs them in a child process of its own (chDB binds one data directory per process) against
 * a fresh store, one flush every 250 ms, and reports that process's CPU per flush and per
 * event, background merges included, less the baseline, and the most memory its merges
 * held at once (`system.merges`, read after each flush) and the RSS neither V8's heap nor
 * Node's buffers hold then, i.e. chDB's (its allocator keeps freed pages a while: set
 * `JE_MALLOC_CONF` to try its options). Run it at a small and a large
 * `--events` to separate what a flush costs whatever its size from what each event adds.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const MODES = ['none', 'events', 'rollup', 'archive', 'all'];
const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '12500' },
    flushes: { type: 'string', default: '40' },
    devices: { type: 'string', default: '2500' },
    mode: { type: 'string' },
  },
});
const events = Number(values.events);
const flushes = Number(values.flushes);
const devices = Number(values.devices);
for (const [name, n] of Object.entries({ events, flushes, devices })) {
  if (!(Number.isInteger(n) && n > 0)) {
    process.stderr.write(`--${name} must be a positive integer\n`);
    process.exit(2);
  }
}

if (values.mode === undefined) {
  const results = [];
  for (const mode of MODES) {
    const child = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--mode', mode, '--events', String(events), '--flushes', String(flushes), '--devices', String(devices)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (child.status !== 0) {
      process.stderr.write(`the ${mode} run failed (exit ${child.status})\n`);
      process.exit(1);
    }
    results.push(JSON.parse(child.stdout.trim().split('\n').pop()));
  }
  const baseline = results.find((r) => r.mode === 'none');
  console.log(`chDB CPU per flush of ${events.toLocaleString('en-US')} events (${results[0].rows.toLocaleString('en-US')} rows, ${results[0].partials.toLocaleString('en-US')} rollup partials), ${flushes} flushes, idle baseline ${baseline.cpuMsPerFlush.toFixed(1)} ms a flush subtracted:`);
  for (const r of results) {
    if (r.mode === 'none') continue;
    const ms = r.cpuMsPerFlush - baseline.cpuMsPerFlush;
    console.log(`  ${r.mode.padEnd(8)} ${ms.toFixed(1).padStart(6)} ms a flush  ${((ms * 1000) / events).toFixed(2).padStart(6)} µs an event  merges held ≤ ${r.mergeMemoryMb.toFixed(0)} MB  RSS outside V8 and buffers mean ${r.nativeMeanMb.toFixed(0)}, peak ${r.nativePeakMb.toFixed(0)} MB`);
  }
  process.exit(0);
}

const dist = new URL('../dist/', import.meta.url);
const { ChdbStore } = await import(new URL('sinks/chdb-store.js', dist).href);
const { PartitionActors } = await import(new URL('actors/partition-actors.js', dist).href);
const { encodeBatch } = await import(new URL('sinks/batch-encoder.js', dist).href);
const { resolveConfig } = await import(new URL('config.js', dist).href);

const SENSORS = [
  ['temperature', 'celsius'],
  ['humidity', 'percent'],
  ['pressure', 'hpa'],
];
const actors = new PartitionActors(0, { dedupHorizonMs: 600_000, idleMs: 600_000 });
let seq = 0;

/** One flush of the fleet: `events` events ending at t0, as the actors drain them. */
function flushBatch(t0) {
  const batch = [];
  for (let i = 0; i < events; i++) {
    const d = i % devices;
    const v2 = d % 2 === 0;
    const first = v2 ? 0 : (seq + i) % SENSORS.length;
    const readings = Array.from({ length: v2 ? SENSORS.length : 1 }, (_, k) => {
      const [sensorType, unit] = SENSORS[(first + k) % SENSORS.length];
      return { sensorType, value: Math.round(Math.random() * 10_000) / 100, unit, weight: 1 };
    });
    batch.push({
      eventId: randomUUID(),
      deviceId: `sim-us-east-${String(d).padStart(6, '0')}`,
      region: 'us-east',
      eventTime: t0 - 1000 + Math.floor((i * 1000) / events),
      ingestTime: t0,
      firmwareVersion: '2.1.0',
      schemaVersion: v2 ? 2 : 1,
      seq: v2 ? seq + i : null,
      readings,
    });
  }
  seq += events;
  actors.apply(`${t0}-0`, t0, batch);
  return encodeBatch(actors.drain(), 'RowBinary');
}

const dir = mkdtempSync(join(tmpdir(), 'shoal-flush-cost-'));
try {
  // Shoal's default configuration (database names, TTLs), as `shoal start` resolves it.
  const store = new ChdbStore(dir, resolveConfig({}, {}, dir));
  await store.init(['us-east']);
  let t = Date.now() - 10 * 60_000;
  const inserts = [];
  for (let i = 0; i < flushes; i++, t += 1000) inserts.push(flushBatch(t));
  const [eventsInsert, rollupInsert] = inserts[0];
  const mode = values.mode;
  const before = process.cpuUsage();
  let mergeMemory = 0;
  const rss = [];
  const sampleMerges = async () => {
    const [row] = await store.query('SELECT sum(memory_usage) AS bytes FROM system.merges');
    mergeMemory = Math.max(mergeMemory, Number(row?.bytes) || 0);
    // What neither V8's heap nor Node's buffers (the inserts made up front) hold: chDB's memory.
    const m = process.memoryUsage();
    rss.push(m.rss - m.heapTotal - m.external);
  };
  for (let i = 0; i < flushes; i++) {
    const [ev, r1m] = inserts[i];
    const day = Math.floor(t / 86_400_000);
    const writes = [];
    if (mode === 'events' || mode === 'all') writes.push(store.insert('us-east', ev, `cost/${i}/events`));
    if (mode === 'rollup' || mode === 'all') writes.push(store.insert('us-east', r1m, `cost/${i}/rollup_1m`));
    if (mode === 'archive' || mode === 'all') writes.push(store.archiveParquet(ev, [day]));
    await Promise.all(writes);
    await sampleMerges();
    await new Promise((r) => setTimeout(r, 250));
  }
  // Let the merges the inserts started run too.
  for (let i = 0; i < 12; i++) {
    await new Promise((r) => setTimeout(r, 250));
    await sampleMerges();
  }
  const cpu = process.cpuUsage(before);
  await store.close();
  console.log(JSON.stringify({ mode, rows: eventsInsert.rows, partials: rollupInsert.rows, cpuMsPerFlush: (cpu.user + cpu.system) / 1000 / flushes, mergeMemoryMb: mergeMemory / 1e6,
    nativeMeanMb: rss.reduce((a, b) => a + b, 0) / rss.length / 1e6, nativePeakMb: Math.max(...rss) / 1e6 }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
