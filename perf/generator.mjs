// Load generator process (forked by perf/lib/generators.mjs; one per `--generators`).
//
// Owns a slice of the simulated fleet (device i belongs to generator i mod N) and that share
// of the rate. Devices are multiplexed over a pool of WebSocket connections: each connection
// belongs to one region (it holds that region's fleet token) and one encoding (JSON text or
// MessagePack binary, as the device's firmware decides), and carries frames
// `{"seq": n, "events": [...]}` of many devices, at most `maxInFlight` unacked at a time.
//
// Events come from the simulator's DeviceEventSource (realistic sensor curves, schema v1 and
// v2, exact duplicates of recent events, late events); on top of that a small share of
// invalid events (each expected to be rejected with a contract code) is mixed in, and every
// frame is shuffled (out of order within a device). An event is made when its frame is built:
// until then a device's buffer holds only (device, sample time), two numbers, so the buffers
// that fill up under overload hold no event objects for the GC to carry into its old
// generation (the sensor models still advance in time order). Events refused as OVERLOADED, or lost
// with a closed connection, are resent (same event_id). A `throttle` message is honoured
// (the devices behind that connection skip events at the suggested sample rate) unless
// `honorThrottle` is off; resends after OVERLOADED back off (0.5 s doubling to 8 s).
//
// For the loss audit it counts the distinct events acked as accepted — an event object counts
// the first time any frame carrying it is acked (an intentional duplicate of an already acked
// event does not count again; invalid events never count) — per device.
//
// IPC: parent → {type:'init', ...config} → child answers {type:'ready'}; {type:'go', t0};
// {type:'rate', rate}; {type:'stop', drainMs}. Child → {type:'progress', ...} five times a second,
// {type:'final', ...} once drained, {type:'fatal', message} on a failure to connect.
/* global structuredClone */
import { randomUUID } from 'node:crypto';
import { pack } from 'msgpackr';
import { WebSocket } from 'ws';
import { LogHistogram } from './lib/histogram.mjs';
import { performance } from 'node:perf_hooks';

const dist = new URL('../dist/', import.meta.url);
const { DeviceEventSource } = await import(new URL('simulator/device-event-source.js', dist).href);
const { Prng } = await import(new URL('simulator/prng.js', dist).href);
const { buildProfiles } = await import(new URL('simulator/device-profiles.js', dist).href);

/** Codes an invalid event may legitimately get. */
const EXPECTED_INVALID_CODES = new Set(['FIELD_INVALID', 'FIELD_MISSING', 'SCHEMA_VERSION_UNSUPPORTED', 'MALFORMED']);
/** Resend delay after OVERLOADED: doubles while a connection keeps getting refusals, up to the max. */
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 8000;
const RECONNECT_DELAY_MS = 500;
const TICK_MS = 50;

let cfg;
let rate = 0;
let stopping = false;
let finished = false;
const devices = [];
const conns = [];
const acked = new WeakSet();
const invalid = new WeakSet();
/** Events sent in a frame that was never answered (connection lost); removed once acked. */
const unanswered = new Set();
const ackedPerDevice = new Map();
const hist = new LogHistogram();
let histSec = new LogHistogram();
let rng;

const counters = {
  offered: 0,
  generated: 0,
  duplicatesGenerated: 0,
  lateGenerated: 0,
  invalidGenerated: 0,
  droppedQueueFull: 0,
  throttleSkipped: 0,
  sentEvents: 0,
  sentFrames: 0,
  sentBytes: 0,
  ackedFrames: 0,
  acceptedEvents: 0,
  freshAcked: 0,
  resent: 0,
  overloaded: 0,
  invalidRejected: 0,
  invalidAccepted: 0,
  invalidOtherCode: 0,
  sampledOutReadings: 0,
  ackCountMismatch: 0,
  unknownAcks: 0,
  throttles: 0,
  reconnects: 0,
  socketErrors: 0,
  rejectedByCode: {},
  unexpectedRejected: {},
};

const bump = (obj, key, n = 1) => (obj[key] = (obj[key] ?? 0) + n);

function send(msg) {
  if (process.connected) process.send(msg);
}

// ---------------------------------------------------------------- connections

class Conn {
  constructor(region, binary, index, token) {
    this.region = region;
    this.binary = binary;
    this.index = index;
    this.token = token;
    this.ws = null;
    this.open = false;
    /** Samples waiting to be sent: index in `devices` and sample time (ms), in FIFO order. */
    this.slotDevice = [];
    this.slotTime = [];
    this.slotHead = 0;
    this.retry = [];
    this.retryHead = 0;
    this.inflight = new Map();
    this.nextSeq = 1;
    this.throttleUntil = 0;
    this.sampleRate = 1;
    this.devices = 0;
    this.retryDelayMs = RETRY_MIN_MS;
  }

  get queued() {
    return this.slotDevice.length - this.slotHead + this.retry.length - this.retryHead;
  }

  connect() {
    return new Promise((resolve, reject) => {
      const headers = this.token ? { authorization: `Bearer ${this.token}` } : {};
      const ws = new WebSocket(cfg.url, { headers, perMessageDeflate: false });
      this.ws = ws;
      ws.on('open', () => {
        this.open = true;
        resolve();
        this.pump(true);
      });
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => reject(new Error(`upgrade refused: HTTP ${res.statusCode} ${body}`)));
      });
      ws.on('error', (err) => {
        counters.socketErrors++;
        if (!this.open) reject(err);
      });
      ws.on('message', (data, isBinary) => {
        if (!isBinary) this.onMessage(data.toString());
      });
      ws.on('close', () => this.onClose(ws));
    });
  }

  onClose(ws) {
    if (this.ws !== ws) return;
    const wasOpen = this.open;
    this.open = false;
    this.ws = null;
    // Whatever was in flight may or may not have been accepted: resend it (the pipeline dedups).
    const now = Date.now();
    for (const frame of this.inflight.values()) {
      for (const ev of frame.events) {
        if (invalid.has(ev) || acked.has(ev)) continue;
        unanswered.add(ev);
        this.retry.push({ ev, at: now });
      }
    }
    this.inflight.clear();
    if (finished) return;
    if (wasOpen) counters.reconnects++;
    setTimeout(() => this.connect().catch(() => undefined), RECONNECT_DELAY_MS);
  }

  onMessage(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg?.type === 'throttle') {
      counters.throttles++;
      if (cfg.honorThrottle) {
        this.throttleUntil = Date.now() + (Number(msg.retry_after_ms) || 1000);
        this.sampleRate = Math.min(1, Math.max(0, Number(msg.sample_rate) || 1));
      }
      return;
    }
    if (msg?.type !== 'ack') return;
    const frame = this.inflight.get(msg.seq);
    if (!frame) {
      counters.unknownAcks++;
      return;
    }
    this.inflight.delete(msg.seq);
    const now = Date.now();
    const latency = performance.now() - frame.sentAt;
    hist.record(latency);
    histSec.record(latency);
    counters.ackedFrames++;
    if (typeof msg.sampled_out === 'number') counters.sampledOutReadings += msg.sampled_out;
    const rejected = Array.isArray(msg.rejected) ? msg.rejected : [];
    let wholeFrame = null;
    const byIndex = new Map();
    for (const r of rejected) {
      if (r.index === null || r.index === undefined) wholeFrame = r.code;
      else byIndex.set(r.index, r.code);
    }
    let accepted = 0;
    let refused = 0;
    frame.events.forEach((ev, i) => {
      const code = wholeFrame ?? byIndex.get(i);
      if (code === undefined) {
        accepted++;
        counters.acceptedEvents++;
        if (invalid.has(ev)) return void counters.invalidAccepted++;
        unanswered.delete(ev);
        if (acked.has(ev)) return;
        acked.add(ev);
        counters.freshAcked++;
        ackedPerDevice.set(ev.device_id, (ackedPerDevice.get(ev.device_id) ?? 0) + 1);
        return;
      }
      bump(counters.rejectedByCode, code);
      if (invalid.has(ev)) {
        if (EXPECTED_INVALID_CODES.has(code)) counters.invalidRejected++;
        else counters.invalidOtherCode++;
        return;
      }
      if (code === 'OVERLOADED') {
        counters.overloaded++;
        refused++;
        if (!acked.has(ev)) this.retry.push({ ev, at: now + this.retryDelayMs });
        return;
      }
      bump(counters.unexpectedRejected, code);
    });
    if (accepted !== msg.accepted) counters.ackCountMismatch++;
    this.retryDelayMs = refused > 0 ? Math.min(RETRY_MAX_MS, this.retryDelayMs * 2) : RETRY_MIN_MS;
    this.pump(stopping);
  }

  /** Send frames while the in-flight window allows; partial frames only when `flushPartial`. */
  pump(flushPartial) {
    if (!this.open) return;
    const now = Date.now();
    while (this.inflight.size < cfg.maxInFlight && !finished) {
      const available = this.queued;
      if (available === 0) break;
      if (!flushPartial && available < cfg.eventsPerFrame) break;
      const events = [];
      while (events.length < cfg.eventsPerFrame && this.retryHead < this.retry.length && this.retry[this.retryHead].at <= now) {
        const { ev } = this.retry[this.retryHead++];
        if (acked.has(ev)) continue;
        events.push(ev);
        counters.resent++;
      }
      while (events.length < cfg.eventsPerFrame && this.slotHead < this.slotDevice.length) {
        const h = this.slotHead++;
        materialize(devices[this.slotDevice[h]], this.slotTime[h], events, cfg.eventsPerFrame);
      }
      this.compact();
      if (events.length === 0) break;
      shuffle(events);
      const seq = this.nextSeq++;
      const body = this.binary ? pack({ seq, events }) : JSON.stringify({ seq, events });
      this.inflight.set(seq, { events, sentAt: performance.now() });
      this.ws.send(body);
      counters.sentFrames++;
      counters.sentEvents += events.length;
      counters.sentBytes += this.binary ? body.length : Buffer.byteLength(body);
    }
  }

  compact() {
    if (this.slotHead > 4096 && this.slotHead * 2 > this.slotDevice.length) {
      this.slotDevice = this.slotDevice.slice(this.slotHead);
      this.slotTime = this.slotTime.slice(this.slotHead);
      this.slotHead = 0;
    }
    if (this.retryHead > 1024 && this.retryHead * 2 > this.retry.length) {
      this.retry = this.retry.slice(this.retryHead);
      this.retryHead = 0;
    }
  }
}

function shuffle(a) {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

// ---------------------------------------------------------------- events

/** A copy of `ev` with a new event_id and one defect the contract rejects. */
function invalidCopy(ev, kind) {
  const bad = { ...ev, event_id: randomUUID() };
  switch (kind % 4) {
    case 0:
      if (bad.schema_version === 2) bad.readings = [];
      else bad.value = 'not-a-number';
      break;
    case 1:
      bad.event_time = 'yesterday at noon';
      break;
    case 2:
      delete bad.firmware_version;
      break;
    default:
      bad.schema_version = 9;
  }
  return bad;
}

/**
 * Make the event device `d` sampled at `t` into `out`, and now and then an invalid copy of it
 * (only while `out` holds fewer than `cap` events: a frame never exceeds --frame-events).
 */
function materialize(d, t, out, cap) {
  const batch = d.source.next(1, t, d.spacingMs);
  counters.generated += batch.events.length;
  counters.duplicatesGenerated += batch.duplicates;
  counters.lateGenerated += batch.late;
  for (const ev of batch.events) {
    out.push(ev);
    if (out.length < cap && cfg.invalidShare > 0 && rng.next() < cfg.invalidShare) {
      const bad = invalidCopy(ev, invalidKind++);
      invalid.add(bad);
      out.push(bad);
      counters.invalidGenerated++;
    }
  }
}

let cursor = 0;
let invalidKind = 0;
let carry = 0;
let lastTick = 0;

function generate() {
  const now = Date.now();
  carry += (rate * (now - lastTick)) / 1000;
  lastTick = now;
  let due = Math.floor(carry);
  carry -= due;
  if (due <= 0 || devices.length === 0) return;
  counters.offered += due;
  const D = devices.length;
  const full = Math.floor(due / D);
  const rem = due % D;
  const visit = full > 0 ? D : rem;
  // A device buffers at most maxQueueSec of its connection's share; past that it drops (counted).
  const maxQueued = Math.max(4 * cfg.eventsPerFrame, Math.ceil((rate / conns.length) * cfg.maxQueueSec));
  for (let v = 0; v < visit; v++) {
    const index = (cursor + v) % D;
    const d = devices[index];
    let k = full + (v < rem ? 1 : 0);
    if (k === 0) continue;
    const conn = d.conn;
    if (conn.queued >= maxQueued) {
      counters.droppedQueueFull += k;
      continue;
    }
    if (conn.throttleUntil > now && conn.sampleRate < 1) {
      let keep = 0;
      for (let i = 0; i < k; i++) if (rng.next() < conn.sampleRate) keep++;
      counters.throttleSkipped += k - keep;
      k = keep;
      if (k === 0) continue;
    }
    for (let i = 0; i < k; i++) {
      conn.slotDevice.push(index);
      conn.slotTime.push(now - (k - 1 - i) * d.spacingMs);
    }
  }
  cursor = (cursor + rem) % D;
  for (const c of conns) c.pump(true);
}

// ---------------------------------------------------------------- lifecycle

function status() {
  let inflightFrames = 0;
  let inflightEvents = 0;
  let queued = 0;
  let open = 0;
  for (const c of conns) {
    inflightFrames += c.inflight.size;
    for (const f of c.inflight.values()) inflightEvents += f.events.length;
    queued += c.queued;
    if (c.open) open++;
  }
  return { inflightFrames, inflightEvents, queued, connsOpen: open, conns: conns.length };
}

function progress() {
  const h = histSec.sparse();
  histSec = new LogHistogram();
  send({ type: 'progress', t: Date.now(), counters: structuredClone(counters), ackHist: h, ...status(), cpu: process.cpuUsage(), rssMb: process.memoryUsage.rss() / 1048576 });
}

async function init(message) {
  cfg = message;
  rate = cfg.rate;
  rng = new Prng((cfg.seed * 7919 + cfg.index * 104729) >>> 0);
  const profiles = buildProfiles({ devices: cfg.devices, regions: cfg.regions, v2Share: cfg.v2Share, msgpackShare: cfg.msgpackShare }, new Prng(cfg.seed));
  const mine = profiles.map((profile, fleetIndex) => ({ profile, fleetIndex })).filter((d) => d.fleetIndex % cfg.generators === cfg.index);
  // Connections per (region, encoding) group, in proportion to the group's devices, at least one each.
  const groups = new Map();
  for (const { profile: p, fleetIndex } of mine) {
    const key = `${p.region}|${p.binary ? 'bin' : 'json'}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push({ profile: p, fleetIndex });
  }
  const totalSockets = Math.max(cfg.sockets, groups.size);
  const startMs = Date.now();
  const deviceRate = cfg.totalRate / cfg.devices;
  for (const [key, members] of [...groups].sort()) {
    const [region, enc] = key.split('|');
    const n = Math.max(1, Math.round((totalSockets * members.length) / mine.length));
    const pool = Array.from({ length: n }, (_, i) => new Conn(region, enc === 'bin', conns.length + i, cfg.tokens?.[region] ?? null));
    conns.push(...pool);
    members.forEach(({ profile, fleetIndex }, i) => {
      const conn = pool[i % n];
      conn.devices++;
      devices.push({ profile, fleetIndex, conn, spacingMs: 1000 / Math.max(deviceRate, 1e-6), source: new DeviceEventSource(profile, new Prng((cfg.seed * 31 + fleetIndex * 2654435761) >>> 0), cfg.mix, startMs) });
    });
  }
  // Back in fleet order (regions and encodings interleaved), so each tick's share touches every connection.
  devices.sort((a, b) => a.fleetIndex - b.fleetIndex);
  await Promise.all(conns.map((c) => c.connect()));
  send({ type: 'ready', devices: devices.length, conns: conns.length });
}

function go() {
  lastTick = Date.now();
  const timer = setInterval(() => {
    if (!stopping) generate();
  }, cfg.tickMs ?? TICK_MS);
  const reporter = setInterval(progress, 200); // the parent samples the latest every second
  process.on('message', (m) => {
    if (m.type === 'rate') rate = m.rate;
    if (m.type === 'stop') {
      stopping = true;
      clearInterval(timer);
      drain(m.drainMs).then(() => {
        clearInterval(reporter);
        finish();
      });
    }
  });
}

/** Send what is queued and wait for every ack, up to drainMs; then wait for what is in flight. */
async function drain(drainMs) {
  const deadline = Date.now() + drainMs;
  while (Date.now() < deadline) {
    for (const c of conns) c.pump(true);
    const s = status();
    if (s.queued === 0 && s.inflightFrames === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  // Out of time: send nothing more, but give frames already sent a chance to be answered, so
  // every event the pipeline accepted is known here.
  finished = true;
  const hard = Date.now() + 30_000;
  while (Date.now() < hard && status().inflightFrames > 0) await new Promise((r) => setTimeout(r, 50));
}

function finish() {
  finished = true;
  const s = status();
  let unsent = 0;
  for (const c of conns) unsent += c.queued;
  const final = {
    type: 'final',
    counters,
    ackHist: hist.sparse(),
    ackedPerDevice: Object.fromEntries(ackedPerDevice),
    leftover: { unsent, inflightEvents: s.inflightEvents, unansweredEvents: [...unanswered].filter((ev) => !acked.has(ev)).length },
    cpu: process.cpuUsage(),
    rssMb: process.memoryUsage.rss() / 1048576,
  };
  for (const c of conns) c.ws?.close(1000, 'done');
  process.send(final, () => setTimeout(() => process.exit(0), 100));
}

process.once('message', (m) => {
  if (m.type !== 'init') return;
  init(m).then(
    () => process.once('message', (g) => g.type === 'go' && go()),
    (err) => {
      send({ type: 'fatal', message: err instanceof Error ? err.message : String(err) });
      setTimeout(() => process.exit(1), 100);
    },
  );
});
process.on('disconnect', () => process.exit(0));
