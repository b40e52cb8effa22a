#!/usr/bin/env node
// Peer: direct batched inserts into the same ClickHouse engine Shoal embeds (chDB), with no
// stream processing — no Redis, no actors, no dedup, no rollups, no archive: the ceiling of
// the analytics store.
//
//   node perf/peers/clickhouse-direct.mjs --rate 20000 --duration 10 [--devices 1000]
//        [--rate max] [--batch 20000] [--in-flight 2] [--concurrency 1] [--dedup-tokens false]
//        [--work-dir DIR]
//
// chDB binds one data directory per process, so the store lives in a child process
// (perf/peers/chdb-writer.mjs) that owns a Session in the work dir; this process generates
// the simulator's events, encodes one row per reading as TabSeparated (the format Shoal
// inserts) and streams the batches to it. The `events` table has the shape of Shoal's
// (src/sinks/clickhouse-schema.ts): ReplacingMergeTree, same columns, key, partitioning, TTL
// and dedup window; each insert carries its own insert_deduplication_token, as Shoal's do.
import { fork } from 'node:child_process';
import { closeSync, openSync, mkdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { INSERT_COLUMNS, schemaStatements } from '../../dist/sinks/clickhouse-schema.js';
import {
  EventGenerator,
  cliMain,
  diskUsage,
  driveLoad,
  killOnExit,
  latencySummary,
  prepareWorkDir,
  procCpuSeconds,
  round,
  rssSampler,
  stopChild,
  throwIfAborted,
  validateCommon,
  waitForExit,
  weightedSummary,
} from './common.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const DB = 'peer';
const TABLE = `${DB}.events`;
const PARTITIONS = 16;

/** Shoal's own `events` columns and DDL (the build's clickhouse-schema.js), so the peer's
 * table is Shoal's raw table exactly: same columns, key, partitioning, TTL and dedup window. */
export const EVENTS_COLUMNS = INSERT_COLUMNS.events;

/** DDL of the peer's table: the database and Shoal's `events` statements, nothing else. */
export function peerSchema() {
  const ttl = { eventsTtlDays: 30, rollup1mTtlDays: 30, rollup1hTtlDays: 730 };
  return schemaStatements(DB, ttl).filter((sql) => sql.startsWith('CREATE DATABASE') || sql.includes(`${TABLE} `) || sql.includes(`${TABLE}(`));
}

/** `2026-11-27T10:00:00.123Z` → `2026-11-27 10:00:00.123` (DateTime64(3) text). */
const isoToDateTime64 = (iso) => `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;

function fnv1a(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * TabSeparated rows of Shoal's `events` columns, written straight into a Buffer. Every piece of
 * text is kept one byte per char, with the only non-ASCII value (the unit `°C`) pre-encoded as its
 * UTF-8 bytes, so `latin1Write` emits valid UTF-8 without V8's slow two-byte path (about 2× faster
 * than building a string and calling Buffer.from). Per-device constant parts are cached.
 */
export class TsvEncoder {
  constructor(generator) {
    const SAFE = /^[^\t\n\r\\\0]*$/;
    this.devices = generator.sources.map(({ profile: p }) => {
      if (!SAFE.test(p.deviceId) || !SAFE.test(p.firmwareVersion)) throw new Error(`unexpected characters in ${p.deviceId}`);
      // stream_id is empty: there is no stream; partition is a stable hash, as Shoal's.
      return {
        head: `\t${utf8AsLatin1(p.deviceId)}\t${utf8AsLatin1(p.region)}\t`,
        partitionTail: `\t${fnv1a(p.deviceId) % PARTITIONS}\t\n`,
        fw: utf8AsLatin1(p.firmwareVersion),
      };
    });
    this.texts = new Map();
    this.lastIso = '';
    this.lastTime = '';
    this.lastNow = 0;
    this.nowText = '';
    this.initialBytes = 1 << 20;
  }

  text(u) {
    let v = this.texts.get(u);
    if (v === undefined) {
      if (/[\t\n\r\\\0]/.test(u)) throw new Error(`unexpected characters in ${u}`);
      v = utf8AsLatin1(u);
      this.texts.set(u, v);
    }
    return v;
  }

  begin() {
    return { buf: Buffer.allocUnsafe(this.initialBytes), off: 0 };
  }

  write(state, text) {
    if (state.off + text.length > state.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(state.buf.length * 2, state.off + text.length));
      state.buf.copy(bigger, 0, 0, state.off);
      state.buf = bigger;
    }
    state.off += state.buf.latin1Write(text, state.off);
  }

  eventTime(iso) {
    if (iso !== this.lastIso) {
      this.lastIso = iso;
      this.lastTime = isoToDateTime64(iso);
    }
    return this.lastTime;
  }

  ingestTime() {
    const now = Date.now();
    if (now !== this.lastNow) {
      this.lastNow = now;
      this.nowText = isoToDateTime64(new Date(now).toISOString());
    }
    return this.nowText;
  }

  add(state, ev, d) {
    const dev = this.devices[d];
    const et = this.eventTime(ev.event_time);
    const it = this.ingestTime();
    if (ev.readings) {
      const mid = `\t${dev.fw}\t2\t${ev.seq}${dev.partitionTail}`;
      for (let i = 0; i < ev.readings.length; i++) {
        const r = ev.readings[i];
        this.write(state, `${ev.event_id}\t${i}${dev.head}${et}\t${it}\t${this.text(r.sensor_type)}\t${r.value}\t1\t${this.text(r.unit)}${mid}`);
      }
      return ev.readings.length;
    }
    this.write(state, `${ev.event_id}\t0${dev.head}${et}\t${it}\t${this.text(ev.sensor_type)}\t${ev.value}\t1\t${this.text(ev.unit)}\t${dev.fw}\t1\t\\N${dev.partitionTail}`);
    return 1;
  }

  finish(state) {
    // Size the next batches' buffers from this one.
    if (state.off > this.initialBytes) this.initialBytes = Math.min(64 << 20, 2 ** Math.ceil(Math.log2(state.off + 1)));
    return state.buf.subarray(0, state.off);
  }
}

/** A string whose chars are the UTF-8 bytes of `s` (for latin1Write). */
function utf8AsLatin1(s) {
  return Buffer.from(s, 'utf8').toString('latin1');
}

/** The writer child: request/reply over IPC, batches over fd 4. */
class WriterClient {
  constructor(child, log) {
    this.child = child;
    this.log = log;
    this.acks = new Map();
    this.waiters = new Map();
    this.exited = null;
    child.on('message', (msg) => {
      if (msg.type === 'ack') {
        const w = this.acks.get(msg.id);
        this.acks.delete(msg.id);
        w?.(msg);
      } else {
        const key = msg.type === 'error' ? msg.for : ({ ready: 'init', closed: 'close' }[msg.type] ?? msg.type);
        const w = this.waiters.get(key);
        if (w) w(msg);
        else if (msg.type === 'error' || msg.type === 'fatal') log(`writer ${msg.type} (${msg.for ?? ''}): ${msg.error}`);
      }
    });
    child.once('exit', (code, sig) => {
      this.exited = `chdb-writer exited (code ${code}, signal ${sig})`;
      for (const w of this.acks.values()) w({ ok: false, error: this.exited });
      this.acks.clear();
      for (const w of this.waiters.values()) w({ type: 'error', error: this.exited });
      this.waiters.clear();
    });
    this.data = child.stdio[4];
    this.data.on('error', () => {}); // EPIPE after a crash shows up as the exit above
  }

  request(msg, timeoutMs) {
    const key = msg.type;
    return new Promise((resolve, reject) => {
      if (this.exited) return reject(new Error(this.exited));
      const timer = setTimeout(() => {
        this.waiters.delete(key);
        reject(new Error(`chdb-writer: no reply to ${key} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(key, (reply) => {
        clearTimeout(timer);
        this.waiters.delete(key);
        if (reply.type === 'error') reject(new Error(`chdb-writer ${key}: ${reply.error}`));
        else resolve(reply);
      });
      this.child.send(msg);
    });
  }

  insert(id, payload, timeoutMs = 30_000) {
    return new Promise((resolve) => {
      if (this.exited) return resolve({ ok: false, error: this.exited });
      const timer = setTimeout(() => {
        this.acks.delete(id);
        resolve({ ok: false, error: `no ack within ${timeoutMs} ms` });
      }, timeoutMs);
      this.acks.set(id, (msg) => {
        clearTimeout(timer);
        resolve(msg);
      });
      const header = Buffer.alloc(12);
      header.writeUInt32LE(0x53484f41, 0);
      header.writeUInt32LE(id, 4);
      header.writeUInt32LE(payload.length, 8);
      this.data.write(header);
      this.data.write(payload);
    });
  }
}

/**
 * Run the direct-ClickHouse peer. `rate` is events/s or 'max' (as fast as inserts go).
 * Options beyond the harness's: batchRows (rows per insert, 20000), maxInFlight (batches
 * outstanding, 2), concurrency (inserts the writer runs at once, 1), dedupTokens (true).
 */
export async function runClickHousePeer({
  rate,
  durationSec,
  devices,
  seed = 1,
  workDir,
  log = () => {},
  signal,
  batchRows = 20_000,
  maxInFlight = 2,
  concurrency = 1,
  dedupTokens = true,
  lingerMs = 1000,
  startTimeoutSec = 60,
}) {
  validateCommon({ rate, durationSec, devices });
  batchRows ??= 20_000;
  maxInFlight ??= 2;
  concurrency = Number(concurrency ?? 1);
  dedupTokens = dedupTokens !== false && dedupTokens !== 'false';
  const notes = [];
  const work = prepareWorkDir(workDir, 'clickhouse');
  const dataDir = join(work.dir, 'chdb');
  mkdirSync(dataDir, { recursive: true });
  const logPath = join(work.dir, 'chdb-writer.log');
  const logFd = openSync(logPath, 'a');
  let child = null;
  let unhook = () => {};
  try {
    const startAt = performance.now();
    // Batches go over fd 4, not stdin: the embedded engine may read fd 0.
    child = fork(join(HERE, 'chdb-writer.mjs'), [], { stdio: ['ignore', logFd, logFd, 'ipc', 'pipe'], cwd: work.dir });
    unhook = killOnExit(child, work.cleanup);
    const writer = new WriterClient(child, log);
    log(`chdb-writer pid ${child.pid}, dir ${dataDir}`);
    let ready;
    try {
      ready = await writer.request(
        { type: 'init', dir: dataDir, statements: peerSchema(), table: TABLE, columns: EVENTS_COLUMNS, dedupTokens, concurrency },
        startTimeoutSec * 1000,
      );
    } catch (err) {
      throw new Error(`${err.message}; writer log: ${readFileSync(logPath, 'utf8').slice(-2000)}`);
    }
    const startupMs = performance.now() - startAt;
    log(`chDB ${ready.version} ready in ${Math.round(startupMs)} ms (session + DDL ${Math.round(ready.openMs)} ms)`);

    const generator = new EventGenerator({ devices, seed });
    const encoder = new TsvEncoder(generator);
    const engineMs = [];
    const cpu0 = procCpuSeconds(child.pid);
    const gen0 = process.cpuUsage();
    const rss = rssSampler(child.pid);
    const stats = await driveLoad({
      rate,
      durationSec,
      generator,
      encoder,
      send: async (payload, meta) => {
        const ack = await writer.insert(meta.id, payload);
        if (ack.ok) {
          engineMs.push(ack.ms);
          if (ack.rowsWritten !== null && ack.rowsWritten !== meta.rows)
            return { ok: false, error: `rowsWritten ${ack.rowsWritten} ≠ rows sent ${meta.rows}` };
        }
        return ack;
      },
      batchRows,
      lingerMs,
      maxInFlight,
      log,
      signal,
    });
    throwIfAborted(signal);
    const cpu1 = procCpuSeconds(child.pid);
    const genCpu = process.cpuUsage(gen0);
    const rssMbPeak = rss.stop();
    const runWallSec = (stats.end - stats.t0) / 1000;

    let stored = null;
    try {
      stored = await writer.request({ type: 'stats' }, 60_000);
    } catch (err) {
      notes.push(`final stats failed: ${err.message}`);
    }
    const du = diskUsage(dataDir);

    const stopAt = performance.now();
    child.stdio[4]?.end();
    try {
      await writer.request({ type: 'close' }, 15_000);
    } catch (err) {
      notes.push(`close: ${err.message}`);
    }
    if (!(await waitForExit(child, 10_000))) await stopChild(child, 5_000, log);
    const stopMs = performance.now() - stopAt;
    unhook();

    const storedRows = stored?.count ?? null;
    const rowsPerEvent = stats.writtenEvents ? stats.writtenRows / stats.writtenEvents : null;
    const storedEvents =
      storedRows === null ? null : storedRows >= stats.writtenRows ? stats.writtenEvents : Math.round(storedRows / (rowsPerEvent || 1));
    if (storedRows !== null && storedRows !== stats.writtenRows) notes.push(`stored rows ${storedRows} ≠ acked rows ${stats.writtenRows}`);
    if (stats.failedBatches) notes.push(`${stats.failedBatches} inserts failed (not retried): ${JSON.stringify(stats.errors)}`);
    if (rate !== 'max' && stats.backlogEvents > 0.005 * stats.generatedEvents)
      notes.push(`offered load not reached: ${stats.backlogEvents} events were still due at the end (generation waited for free insert slots)`);
    const genCores = (genCpu.user + genCpu.system) / 1e6 / runWallSec;
    if (rate === 'max' && genCores > 0.85)
      notes.push(`the generator used ${round(genCores, 2)} cores: at 'max' the ceiling may be the generator's, not chDB's`);
    notes.push(
      "table shaped like Shoal's events (ReplacingMergeTree, same columns, key, partitioning, TTL, dedup window); events table only: no rollups, no materialized views",
      `synchronous TabSeparated inserts (async_insert = 0), ${dedupTokens ? 'each with its own insert_deduplication_token, as Shoal does' : 'without dedup tokens'}; rows are queryable when the insert returns`,
      'writtenPerSec = acked events / (start → last ack); writtenPerSecLoadPhase = events acked within the offered window / durationSec',
      'events are wire events (v2 events carry several readings); rows = readings; stream_id empty (no stream)',
      'generator CPU = this Node process: event generation, TSV encoding and piping batches to the writer; server = the chdb-writer process',
      'visibility = generation → insert ack (includes batching: a batch waits until it holds batchRows rows or lingerMs passes)',
      'bytesPerEvent = system.parts bytes_on_disk of active parts / events; parts are as the background merges left them',
    );

    return {
      name: 'clickhouse-direct',
      version: ready.version,
      offered: { ratePerSec: rate, durationSec, devices },
      generatedEvents: stats.generatedEvents,
      generatedPerSec: round(stats.generatedEvents / ((stats.genEnd - stats.t0) / 1000), 0),
      writtenEvents: stats.writtenEvents,
      writtenRows: stats.writtenRows,
      writtenPerSec: round(stats.writtenEvents / runWallSec, 0),
      writtenRowsPerSec: round(stats.writtenRows / runWallSec, 0),
      writtenPerSecLoadPhase: round(stats.writtenEventsLoadPhase / durationSec, 0),
      ackedPerSecond: stats.ackedPerSecond,
      failedBatches: stats.failedBatches,
      batches: { rows: batchRows, inFlight: maxInFlight, concurrency, sent: stats.sentBatches },
      writeLatencyMs: latencySummary(stats.latencies),
      engineInsertMs: latencySummary(engineMs),
      visibilityMs: weightedSummary(stats.visibility),
      storedEvents,
      storedRows,
      cpuSeconds: {
        server: round(cpu1 - cpu0, 2),
        generator: round((genCpu.user + genCpu.system) / 1e6, 2),
      },
      cpuCores: {
        server: round((cpu1 - cpu0) / runWallSec, 2),
        generator: round(genCores, 2),
      },
      rssMbPeak: round(rssMbPeak, 1),
      bytesPerEvent: stored && stats.writtenEvents ? round(stored.bytesOnDisk / stats.writtenEvents, 1) : null,
      bytesPerRow: stored?.rows ? round(stored.bytesOnDisk / stored.rows, 1) : null,
      disk: stored
        ? {
            bytesOnDisk: stored.bytesOnDisk,
            uncompressedBytes: stored.uncompressedBytes,
            activeParts: stored.activeParts,
            units: stored.units,
            duDataDir: du.allocated,
            largestColumns: stored.columns.slice(0, 5),
          }
        : { duDataDir: du.allocated },
      wallSec: round(runWallSec, 2),
      startupMs: { ready: Math.round(startupMs), sessionAndDdl: Math.round(ready.openMs) },
      stopMs: Math.round(stopMs),
      notes,
    };
  } finally {
    if (child) await stopChild(child, 10_000, log);
    unhook();
    closeSync(logFd);
    work.cleanup();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await cliMain(runClickHousePeer, { concurrency: { type: 'string' }, 'dedup-tokens': { type: 'string' } });
}
