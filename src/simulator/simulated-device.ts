/**
 * One simulated device: one WebSocket (a token binds one device), a token bucket for its
 * share of the fleet's rate, and at-least-once delivery — every frame is kept until its ack
 * arrives; after a reconnect the unacked frames are sent again, and events the gateway
 * rejects with OVERLOADED are resent after a backoff. Throttle messages pause sending for
 * `retry_after_ms` and scale the device's rate by `sample_rate` for a while.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import type { DeviceEventSource, WireEvent } from './device-event-source.js';
import type { FleetStats } from './fleet-stats.js';
import { encodeFrame, parseServerMessage, type AckMessage, type ThrottleMessage } from './frame-codec.js';
import type { Prng } from './prng.js';
import { TokenBucket } from './token-bucket.js';

export interface DeviceSettings {
  url: string;
  token: string | null;
  /** This device's share of the fleet's events per second. */
  ratePerSec: number;
  eventsPerFrame: number;
  /** A partial frame is sent once this long has passed since the previous fresh frame, ms. */
  lingerMs: number;
  /** Most frames awaiting an ack; the device stops producing beyond it. */
  maxInFlightFrames: number;
  /** Socket send-buffer level above which the device waits, bytes. */
  maxBufferedBytes: number;
}

interface PendingFrame {
  seq: number;
  events: WireEvent[];
  data: string | Buffer;
  sentAt: number;
}

/** How long a throttle's sample_rate stays in force after the last throttle message, ms. */
export const THROTTLE_HOLD_MS = 10_000;
const OVERLOAD_BACKOFF_MIN_MS = 250;
const OVERLOAD_BACKOFF_MAX_MS = 5_000;
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;
const CLOSE_WAIT_MS = 2_000;

export class SimulatedDevice {
  private ws: WebSocket | null = null;
  private readonly bucket: TokenBucket;
  private readonly pending = new Map<number, PendingFrame>();
  /** Frames to send again once the socket is open (unacked when the last socket closed). */
  private unsent: PendingFrame[] = [];
  /** Events rejected as OVERLOADED, resent in new frames from `retryDueAt`. */
  private retry: WireEvent[] = [];
  private retryDueAt = 0;
  private overloadBackoffMs = OVERLOAD_BACKOFF_MIN_MS;
  private nextFrameSeq = 1;
  private lastFreshAt = -Infinity;
  private pausedUntil = 0;
  private sampleRate = 1;
  private sampleUntil = 0;
  private reconnectDelayMs = RECONNECT_MIN_MS;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private attempted = false;

  constructor(
    readonly source: DeviceEventSource,
    private readonly settings: DeviceSettings,
    private readonly stats: FleetStats,
    private readonly rng: Prng,
    private readonly clock: () => number,
  ) {
    const nowMs = clock();
    const capacity = Math.max(2 * settings.eventsPerFrame, settings.ratePerSec);
    // Rate 0 until the first tick: nothing is earned while the fleet is still connecting.
    this.bucket = new TokenBucket(0, capacity, nowMs);
  }

  get deviceId(): string {
    return this.source.profile.deviceId;
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** The first connection attempt has ended, opened or failed. */
  get settled(): boolean {
    return this.attempted;
  }

  /** Events sent or due to be sent that have no final answer yet. */
  get outstanding(): number {
    let n = this.retry.length;
    for (const f of this.pending.values()) n += f.events.length;
    for (const f of this.unsent) n += f.events.length;
    return n;
  }

  connect(): void {
    if (this.stopped || this.ws) return;
    const headers: Record<string, string> = {};
    if (this.settings.token) headers['Authorization'] = `Bearer ${this.settings.token}`;
    const ws = new WebSocket(this.settings.url, { headers, perMessageDeflate: false, handshakeTimeout: 10_000 });
    this.ws = ws;
    let opened = false;
    ws.on('open', () => {
      opened = true;
      this.attempted = true;
      this.reconnectDelayMs = RECONNECT_MIN_MS;
      this.stats.counters.connects++;
    });
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      if (isBinary) return;
      const text = Buffer.isBuffer(data)
        ? data.toString('utf8')
        : Array.isArray(data)
          ? Buffer.concat(data).toString('utf8')
          : Buffer.from(data).toString('utf8');
      const msg = parseServerMessage(text);
      if (msg?.type === 'ack') this.onAck(msg);
      else if (msg?.type === 'throttle') this.onThrottle(msg, this.clock());
    });
    ws.on('error', (err: Error) => {
      this.stats.counters.lastError = err.message;
      if (!opened) this.stats.counters.connectErrors++;
    });
    ws.on('close', () => {
      this.attempted = true;
      if (opened) this.stats.counters.disconnects++;
      this.ws = null;
      // Keep every unacked frame, in send order, ahead of anything already waiting.
      this.unsent = [...[...this.pending.values()].sort((a, b) => a.seq - b.seq), ...this.unsent];
      this.pending.clear();
      if (!this.stopped) this.scheduleReconnect();
    });
  }

  /**
   * Production starts at `nowMs`. Each device gets a random phase (a partly filled bucket, a
   * partial-frame timer part-way through) so a fleet does not send in lock-step bursts; on
   * average the head start equals the partial frame left unsent at the end.
   */
  startProducing(nowMs: number): void {
    this.bucket.setRate(this.settings.ratePerSec, nowMs);
    this.bucket.setLevel(this.rng.next() * Math.min(this.settings.eventsPerFrame, this.bucket.capacity), nowMs);
    this.lastFreshAt = nowMs - this.rng.next() * this.settings.lingerMs;
  }

  /**
   * Advance to `nowMs`: send what is due — first frames left unacked by a closed socket, then
   * OVERLOADED events, then fresh events when `generating` and the bucket allows.
   */
  tick(nowMs: number, generating: boolean): void {
    const paused = nowMs < this.pausedUntil;
    const scale = nowMs < this.sampleUntil ? this.sampleRate : 1;
    this.bucket.setRate(generating && !paused ? this.settings.ratePerSec * scale : 0, nowMs);
    if (!this.isOpen || paused) return;
    while (this.unsent.length > 0 && this.canSend()) {
      const frame = this.unsent.shift() as PendingFrame;
      this.transmit(frame);
      this.stats.counters.resentFrames++;
      this.stats.counters.resent += frame.events.length;
    }
    if (nowMs >= this.retryDueAt) {
      while (this.retry.length > 0 && this.canSend()) {
        const events = this.retry.splice(0, this.settings.eventsPerFrame);
        this.transmit(this.frame(events));
        this.stats.counters.resentFrames++;
        this.stats.counters.resent += events.length;
      }
    }
    if (!generating) return;
    const spacingMs = this.settings.ratePerSec > 0 ? 1000 / (this.settings.ratePerSec * scale) : 0;
    while (this.canSend()) {
      const available = this.bucket.available(nowMs);
      if (available < 1) break;
      if (available < this.settings.eventsPerFrame && nowMs - this.lastFreshAt < this.settings.lingerMs) break;
      const n = this.bucket.takeUpTo(this.settings.eventsPerFrame, nowMs);
      const batch = this.source.next(n, nowMs, Math.min(spacingMs, this.settings.lingerMs / n));
      this.lastFreshAt = nowMs;
      this.transmit(this.frame(batch.events));
      const c = this.stats.counters;
      c.sentFrames++;
      c.sent += batch.events.length;
      c.duplicates += batch.duplicates;
      c.late += batch.late;
    }
  }

  /** Close the socket and stop reconnecting; resolves once closed (bounded wait). */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const ws = this.ws;
    if (!ws) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, CLOSE_WAIT_MS);
      ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, 'simulation finished');
    });
  }

  private canSend(): boolean {
    const ws = this.ws;
    return (
      ws !== null &&
      ws.readyState === WebSocket.OPEN &&
      this.pending.size < this.settings.maxInFlightFrames &&
      ws.bufferedAmount < this.settings.maxBufferedBytes
    );
  }

  private frame(events: WireEvent[]): PendingFrame {
    const seq = this.nextFrameSeq++;
    return { seq, events, data: encodeFrame(seq, events, this.source.profile.binary), sentAt: 0 };
  }

  private transmit(frame: PendingFrame): void {
    const ws = this.ws as WebSocket;
    frame.sentAt = performance.now();
    this.pending.set(frame.seq, frame);
    ws.send(frame.data, { binary: typeof frame.data !== 'string' });
  }

  private onAck(ack: AckMessage): void {
    const frame = ack.seq !== null ? this.pending.get(ack.seq) : this.pending.values().next().value;
    if (!frame) return; // an ack for a frame already answered (or never ours)
    this.pending.delete(frame.seq);
    this.stats.recordAckLatency(performance.now() - frame.sentAt);
    this.stats.counters.acked += ack.accepted;
    let overloaded = false;
    for (const r of ack.rejected) {
      const events = r.index === null ? frame.events : frame.events.slice(r.index, r.index + 1);
      if (r.code === 'OVERLOADED') {
        overloaded = true;
        this.retry.push(...events);
        this.stats.counters.overloaded += events.length;
      } else {
        this.stats.reject(r.code, r.index === null ? Math.max(0, events.length - ack.accepted) : events.length);
      }
    }
    if (overloaded) {
      this.retryDueAt = Math.max(this.retryDueAt, this.clock() + this.overloadBackoffMs);
      this.overloadBackoffMs = Math.min(OVERLOAD_BACKOFF_MAX_MS, this.overloadBackoffMs * 2);
    } else {
      this.overloadBackoffMs = OVERLOAD_BACKOFF_MIN_MS;
    }
  }

  private onThrottle(msg: ThrottleMessage, nowMs: number): void {
    this.stats.counters.throttles++;
    this.sampleRate = msg.sampleRate;
    this.pausedUntil = Math.max(this.pausedUntil, nowMs + msg.retryAfterMs);
    this.sampleUntil = nowMs + Math.max(msg.retryAfterMs, THROTTLE_HOLD_MS);
    this.retryDueAt = Math.max(this.retryDueAt, this.pausedUntil);
  }

  private scheduleReconnect(): void {
    const delay = this.reconnectDelayMs * (0.5 + this.rng.next());
    this.reconnectDelayMs = Math.min(RECONNECT_MAX_MS, this.reconnectDelayMs * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }
}
