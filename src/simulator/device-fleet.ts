/**
 * DeviceFleet: N simulated devices across the configured regions, streaming realistic
 * telemetry over WebSocket to a Shoal gateway at a target total rate for a fixed duration.
 *
 *   connect every device (bounded wait) so the duration is spent producing, then
 *   setInterval(tickMs) ──► every device: token bucket → frames of ≤ eventsPerFrame events
 *        │                   (JSON or MessagePack envelopes {seq, events}) → its own socket
 *        └─ after durationSec: stop producing, wait (bounded) for outstanding acks and
 *           resends, close the sockets, resolve with a FleetSummary.
 */
import { issueDeviceToken } from '../contracts/device-token.js';
import { ConfigError } from '../errors.js';
import { buildProfiles } from './device-profiles.js';
import { DeviceEventSource } from './device-event-source.js';
import { FleetStats, type FleetCounters } from './fleet-stats.js';
import type { LatencySummary } from './latency-histogram.js';
import { Prng } from './prng.js';
import { SimulatedDevice } from './simulated-device.js';

export interface FleetOptions {
  /** Gateway stream endpoint, e.g. ws://127.0.0.1:8080/v1/stream. */
  url: string;
  devices: number;
  /** Target total events per second across the fleet. */
  ratePerSec: number;
  /** How long events are produced, seconds. */
  durationSec: number;
  regions: readonly string[];
  /** Token secret; null when the gateway runs with `auth: none`. */
  secret: string | null;
  /** Share of devices speaking schema v2 (0..1). */
  v2Share: number;
  /** Share of devices sending MessagePack frames (0..1). */
  msgpackShare: number;
  /** Most events per frame (1..1000). */
  eventsPerFrame: number;
  /** Share of events that repeat a recent event exactly (0..1). Default 0. */
  duplicateShare?: number;
  /** Share of events 2 minutes to 2 hours late (0..1). Default 0. */
  lateShare?: number;
  /** Seed of the sensor curves and the fleet's mix. Default 1. */
  seed?: number;
  /** Rate-control tick, ms. Default 50. */
  tickMs?: number;
  /** Longest wait for outstanding acks after the duration, seconds. Default 10. */
  drainTimeoutSec?: number;
  /** Longest wait for the first connection of every device before producing, seconds. Default 15. */
  connectTimeoutSec?: number;
  /** Most unacked frames per device. Default 256. */
  maxInFlightFrames?: number;
  /** Longest a device holds a partial frame, ms. Default 1000. */
  lingerMs?: number;
  /** Wall clock, ms (tests may slow or freeze it). Default Date.now. */
  clock?: () => number;
}

export interface FleetSummary extends FleetCounters {
  devices: number;
  targetRatePerSec: number;
  /** Time spent producing events, seconds. */
  durationSec: number;
  /** From the start of production to the end of the drain, seconds. */
  elapsedSec: number;
  /** Fresh events sent per second of production. */
  sentPerSec: number;
  /** Events still without a final answer when the run ended (0 after a clean drain). */
  unacked: number;
  /** True when every outstanding ack arrived before the drain deadline. */
  drained: boolean;
  ackLatencyMs: LatencySummary;
}

export interface FleetProgress {
  counters: FleetCounters;
  unacked: number;
  connected: number;
}

function validate(o: FleetOptions): void {
  const problems: string[] = [];
  const share = (name: string, v: number | undefined): void => {
    if (v !== undefined && !(v >= 0 && v <= 1)) problems.push(`${name}: must be between 0 and 1, got ${v}`);
  };
  if (!/^wss?:\/\//.test(o.url)) problems.push(`url: must be a ws:// or wss:// URL, got "${o.url}"`);
  if (!(Number.isInteger(o.devices) && o.devices >= 1)) problems.push(`devices: must be a positive integer, got ${o.devices}`);
  if (!(o.ratePerSec > 0 && Number.isFinite(o.ratePerSec))) problems.push(`ratePerSec: must be > 0, got ${o.ratePerSec}`);
  if (!(o.durationSec > 0 && Number.isFinite(o.durationSec))) problems.push(`durationSec: must be > 0, got ${o.durationSec}`);
  if (o.regions.length === 0) problems.push('regions: at least one region is needed');
  if (!(Number.isInteger(o.eventsPerFrame) && o.eventsPerFrame >= 1 && o.eventsPerFrame <= 1000))
    problems.push(`eventsPerFrame: must be an integer 1..1000, got ${o.eventsPerFrame}`);
  share('v2Share', o.v2Share);
  share('msgpackShare', o.msgpackShare);
  share('duplicateShare', o.duplicateShare);
  share('lateShare', o.lateShare);
  if (o.tickMs !== undefined && !(o.tickMs >= 1)) problems.push(`tickMs: must be >= 1, got ${o.tickMs}`);
  if (problems.length) throw new ConfigError(problems);
}

export class DeviceFleet {
  private readonly stats = new FleetStats();
  private readonly clock: () => number;
  private devices: SimulatedDevice[] = [];
  private stopRequested = false;

  constructor(private readonly options: FleetOptions) {
    validate(options);
    this.clock = options.clock ?? Date.now;
  }

  /** End production now (e.g. on SIGINT); run() still drains and resolves its summary. */
  stop(): void {
    this.stopRequested = true;
  }

  /** Counters so far, events outstanding and sockets open. */
  progress(): FleetProgress {
    let unacked = 0;
    let connected = 0;
    for (const d of this.devices) {
      unacked += d.outstanding;
      if (d.isOpen) connected++;
    }
    return { counters: this.stats.snapshot(), unacked, connected };
  }

  /** Ack latency since the previous call. */
  takeIntervalLatency(): LatencySummary {
    return this.stats.takeIntervalLatency();
  }

  /** Run once: connect, produce for durationSec, drain, close; resolves with the summary. */
  async run(): Promise<FleetSummary> {
    if (this.devices.length > 0) throw new Error('a DeviceFleet runs once; create a new one');
    const o = this.options;
    const rng = new Prng(o.seed ?? 1);
    const profiles = buildProfiles(o, rng);
    const tokens = await Promise.all(
      profiles.map((p) => (o.secret === null ? Promise.resolve(null) : issueDeviceToken(o.secret, p.deviceId, p.region))),
    );
    const createdMs = this.clock();
    const mix = { duplicateShare: o.duplicateShare ?? 0, lateShare: o.lateShare ?? 0 };
    this.devices = profiles.map((profile, i) => {
      const deviceRng = rng.fork(i);
      const source = new DeviceEventSource(profile, deviceRng, mix, createdMs);
      const settings = {
        url: o.url,
        token: tokens[i] ?? null,
        ratePerSec: o.ratePerSec / o.devices,
        eventsPerFrame: o.eventsPerFrame,
        lingerMs: o.lingerMs ?? 1000,
        maxInFlightFrames: o.maxInFlightFrames ?? 256,
        maxBufferedBytes: 1 << 20,
      };
      return new SimulatedDevice(source, settings, this.stats, deviceRng, this.clock);
    });
    for (const d of this.devices) d.connect();
    await this.waitForConnections((o.connectTimeoutSec ?? 15) * 1000);

    const startMs = this.clock();
    const productionEnd = startMs + o.durationSec * 1000;
    let productionStoppedAt: number | null = null;
    for (const d of this.devices) {
      d.startProducing(startMs);
      d.tick(startMs, true);
    }
    const drained = await new Promise<boolean>((resolve) => {
      const timer = setInterval(() => {
        const now = this.clock();
        if (productionStoppedAt === null && (this.stopRequested || now >= productionEnd)) {
          // One last producing tick at the very end, so the tail of the duration is not lost.
          productionStoppedAt = Math.min(now, productionEnd);
          for (const d of this.devices) d.tick(productionStoppedAt, true);
        }
        const generating = productionStoppedAt === null;
        let outstanding = 0;
        for (const d of this.devices) {
          d.tick(now, generating);
          outstanding += d.outstanding;
        }
        if (productionStoppedAt === null) return;
        const deadline = productionStoppedAt + (o.drainTimeoutSec ?? 10) * 1000;
        if (outstanding === 0 || now >= deadline) {
          clearInterval(timer);
          resolve(outstanding === 0);
        }
      }, o.tickMs ?? 50);
    });
    const unacked = this.progress().unacked;
    await Promise.all(this.devices.map((d) => d.close()));
    const endMs = this.clock();
    const durationSec = ((productionStoppedAt ?? endMs) - startMs) / 1000;
    const counters = this.stats.snapshot();
    return {
      ...counters,
      devices: o.devices,
      targetRatePerSec: o.ratePerSec,
      durationSec,
      elapsedSec: (endMs - startMs) / 1000,
      sentPerSec: durationSec > 0 ? Math.round(counters.sent / durationSec) : 0,
      unacked,
      drained,
      ackLatencyMs: this.stats.ackLatency(),
    };
  }

  /** Resolve once every device's first connection attempt has ended, or at the deadline. */
  private waitForConnections(timeoutMs: number): Promise<void> {
    const deadline = this.clock() + timeoutMs;
    return new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.stopRequested || this.clock() >= deadline || this.devices.every((d) => d.settled)) resolve();
        else setTimeout(check, 20);
      };
      check();
    });
  }
}
