// Client-side visibility: a dedicated probe device sends one event every `intervalMs` with a
// known event_id over its own WebSocket, and a poller asks the query API
// (GET /api/v1/devices/{id}/events?from&to on the ops port) until each one appears. Visibility
// = time from the send to the poll that first returned it (so it includes up to one poll
// interval of resolution and the query's own latency — what a dashboard user would see).
// It also checks the API returns each probe exactly once.
/* global AbortSignal */
import { randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';
import { percentile } from './histogram.mjs';
import { performance } from 'node:perf_hooks';

export class Probe {
  /**
   * @param {object} o
   * @param {string} o.ingestUrl ws://…/v1/stream
   * @param {string} o.opsUrl http://…
   * @param {string|null} o.token device token (null with auth none)
   * @param {string} o.deviceId
   * @param {string} o.region
   * @param {number} o.t0 performance.now() origin of the run's timeline
   */
  constructor({ ingestUrl, opsUrl, token, deviceId, region, t0, intervalMs = 500, pollMs = 250 }) {
    Object.assign(this, { ingestUrl, opsUrl, token, deviceId, region, t0, intervalMs, pollMs });
    this.sent = new Map(); // event_id → { event, sentAt, sentWall, ackedAt, seenAt, visibleMs }, until acked and seen
    this.done = []; // [sent at (s since t0), visibility ms] of probes acked and seen
    this.doneIds = new Set();
    this.flaggedDuplicates = new Set();
    this.queryMs = []; // duration of each successful poll of the query API
    this.seq = 1;
    this.inflight = new Map(); // seq → [event_id]
    this.stats = { sent: 0, acked: 0, overloaded: 0, otherRejected: {}, seen: 0, duplicateRows: 0, pollErrors: 0, polls: 0, reconnects: 0 };
    this.ws = null;
    this.sending = false;
    this.polling = false;
  }

  async start() {
    await this.connect();
    this.sending = true;
    this.polling = true;
    this.sendTimer = setInterval(() => this.sendOne(), this.intervalMs);
    this.pollLoop();
  }

  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.ingestUrl, { headers: this.token ? { authorization: `Bearer ${this.token}` } : {}, perMessageDeflate: false });
      ws.on('open', () => {
        this.ws = ws;
        resolve();
      });
      ws.on('unexpected-response', (_q, res) => reject(new Error(`probe upgrade refused: HTTP ${res.statusCode}`)));
      ws.on('error', (err) => this.ws !== ws && reject(err));
      ws.on('message', (data, binary) => !binary && this.onAck(data.toString()));
      ws.on('close', () => {
        if (this.ws !== ws) return;
        this.ws = null;
        // Unanswered probes go out again with the next send (same event_id, same send time).
        for (const ids of this.inflight.values()) for (const id of ids) this.sent.get(id).resend = true;
        this.inflight.clear();
        if (this.sending || this.waitingAcks()) {
          this.stats.reconnects++;
          setTimeout(() => this.connect().catch(() => undefined), 500);
        }
      });
    });
  }

  waitingAcks() {
    return [...this.sent.values()].some((p) => p.ackedAt === null && !p.refused);
  }

  sendOne() {
    const now = Date.now();
    const event = {
      event_id: randomUUID(),
      device_id: this.deviceId,
      event_time: new Date(now).toISOString(),
      sensor_type: 'temperature',
      value: Math.round((20 + Math.sin(now / 60_000) * 2) * 100) / 100,
      unit: '°C',
      firmware_version: 'perf-probe-1.0.0',
      region: this.region,
    };
    this.sent.set(event.event_id, { event, sentAt: performance.now(), sentWall: now, ackedAt: null, seenAt: null, visibleMs: null, resend: false, refused: false });
    this.stats.sent++;
    this.flush();
  }

  /** Send the newest probe and any that must go out again. */
  flush() {
    if (!this.ws) return;
    const events = [...this.sent.entries()].filter(([id, p]) => p.ackedAt === null && !p.refused && (p.resend || !this.isInflight(id))).map(([, p]) => p.event);
    if (events.length === 0) return;
    for (const e of events) this.sent.get(e.event_id).resend = false;
    const seq = this.seq++;
    this.inflight.set(seq, events.map((e) => e.event_id));
    this.ws.send(JSON.stringify({ seq, events }));
  }

  isInflight(id) {
    for (const ids of this.inflight.values()) if (ids.includes(id)) return true;
    return false;
  }

  onAck(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.type !== 'ack') return;
    const ids = this.inflight.get(msg.seq);
    if (!ids) return;
    this.inflight.delete(msg.seq);
    const rejected = new Map((msg.rejected ?? []).map((r) => [r.index, r.code]));
    ids.forEach((id, i) => {
      const p = this.sent.get(id);
      const code = rejected.get(i) ?? rejected.get(null);
      if (code === undefined) {
        if (p.ackedAt === null) {
          p.ackedAt = performance.now();
          this.stats.acked++;
        }
      } else if (code === 'OVERLOADED') {
        this.stats.overloaded++;
        p.resend = true;
      } else {
        p.refused = true;
        this.stats.otherRejected[code] = (this.stats.otherRejected[code] ?? 0) + 1;
      }
    });
  }

  async pollLoop() {
    while (this.polling) {
      const started = performance.now();
      await this.pollOnce();
      const wait = this.pollMs - (performance.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }

  async pollOnce() {
    const pending = [...this.sent.values()].filter((p) => p.seenAt === null && !p.refused);
    if (pending.length === 0) return;
    const from = new Date(Math.min(...pending.map((p) => p.sentWall)) - 1000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const url = `${this.opsUrl}/api/v1/devices/${encodeURIComponent(this.deviceId)}/events?from=${from}&to=${to}&limit=10000`;
    this.stats.polls++;
    const started = performance.now();
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = await res.json();
      const now = performance.now();
      this.queryMs.push(now - started);
      const counts = new Map();
      for (const row of body.rows ?? []) counts.set(row.event_id, (counts.get(row.event_id) ?? 0) + 1);
      for (const [id, n] of counts) {
        const p = this.sent.get(id);
        if (n > 1 && (p || this.doneIds.has(id)) && !this.flaggedDuplicates.has(id)) {
          this.flaggedDuplicates.add(id);
          this.stats.duplicateRows += n - 1;
        }
        if (!p) continue;
        if (p.seenAt === null) {
          p.seenAt = now;
          p.visibleMs = now - p.sentAt;
          this.stats.seen++;
        }
      }
      this.prune();
    } catch {
      this.stats.pollErrors++;
    }
  }

  /** Move probes that are acked and seen out of the working set. */
  prune() {
    for (const [id, p] of this.sent) {
      if (p.ackedAt === null || p.seenAt === null) continue;
      this.done.push([(p.sentAt - this.t0) / 1000, p.visibleMs]);
      this.doneIds.add(id);
      this.sent.delete(id);
    }
  }

  /** Probes that became visible, as [seconds since t0 at send, visibility ms], in send order. */
  points() {
    const open = [...this.sent.values()].filter((p) => p.visibleMs !== null).map((p) => [(p.sentAt - this.t0) / 1000, p.visibleMs]);
    return [...this.done, ...open].sort((a, b) => a[0] - b[0]);
  }

  /** Probes sent between t (s since t0) a and b: visibility ms of the seen ones, age ms of the unseen ones. */
  window(a, b, nowMs = performance.now()) {
    const seen = this.points().filter(([t]) => t >= a && t < b).map(([, v]) => v);
    const unseen = [...this.sent.values()].filter((p) => p.seenAt === null && !p.refused && (p.sentAt - this.t0) / 1000 >= a && (p.sentAt - this.t0) / 1000 < b).map((p) => nowMs - p.sentAt);
    return { seen, unseen };
  }

  stopSending() {
    this.sending = false;
    clearInterval(this.sendTimer);
  }

  /** Stop sending; keep polling until every acked probe is visible or timeoutMs passed. */
  async finish(timeoutMs) {
    this.stopSending();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      this.flush();
      const left = [...this.sent.values()].filter((p) => !p.refused && (p.ackedAt === null || p.seenAt === null));
      if (left.length === 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    this.polling = false;
    this.ws?.close(1000, 'done');
    this.ws = null;
  }

  summary() {
    this.prune();
    const vis = this.points().map(([, v]) => v);
    const ackedNotSeen = [...this.sent.values()].filter((p) => p.ackedAt !== null && p.seenAt === null).length;
    return {
      deviceId: this.deviceId,
      ...this.stats,
      ackedNotSeen,
      queryMs: { count: this.queryMs.length, p50: percentile(this.queryMs, 0.5), p99: percentile(this.queryMs, 0.99), max: this.queryMs.length ? Math.max(...this.queryMs) : null },
      visibilityMs: { count: vis.length, p50: percentile(vis, 0.5), p90: percentile(vis, 0.9), p99: percentile(vis, 0.99), max: vis.length ? Math.max(...vis) : null },
    };
  }
}
