/**
 * Watches how far each partition's checkpoint trails its stream and turns that into
 * backpressure for the gateway (invariant 6: when a sink is down or lagging, intake slows
 * instead of anything being dropped).
 *
 *   lag of a partition = age of the oldest entry after its checkpoint (bus time → now)
 *   ok   < backpressure.softLagMs
 *   soft ≥ softLagMs: frames are accepted, devices get {"type":"throttle","sample_rate":r,...}
 *        with r = throttleSampleRate(lag): ½ at softLagMs, halved again for every tenth of
 *        the way to hardLagMs, never below MIN_SAMPLE_RATE
 *   hard ≥ hardLagMs: new events for that partition are answered OVERLOADED (devices keep
 *        them and resend); the backlog already in Redis drains first.
 *        Also hard from softLagMs on when an event accepted now would wait longer than
 *        backpressure.maxWaitMs for its flush: the predicted wait is the lag divided by the
 *        drain speed (how many seconds of bus time the checkpoint passed per second over the
 *        last DRAIN_WINDOW_MS). When the shards drain at 0.6× the intake, an entry accepted
 *        at 20 s of lag waits ~33 s: refusing on lag comes too late to bound visibility
 *        through a burst. Not while the partition's last flush failed: a sink outage drains
 *        nothing, its prediction is unbounded, and it keeps the lag thresholds (throttle and
 *        sample first, refuse at hardLagMs).
 *
 * Also exports each partition's checkpoint age (now − committed_at_ms of its checkpoint hash);
 * a partition that never committed has no age and no gauge.
 */
import type { Redis } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';
import type { Config } from '../config.js';
import type { Keys } from './keys.js';
import { allPartitions } from './partitioning.js';
import { busTimeOf } from './stream-id.js';
import { defineScripts } from './script-loader.js';

export type Pressure = 'ok' | 'soft' | 'hard';

/** The sample rate asked of devices as soon as their partition crosses softLagMs. */
export const SOFT_SAMPLE_RATE = 0.5;
/** The lowest sample rate ever asked: a throttled device still sends one event in 20. */
export const MIN_SAMPLE_RATE = 0.05;
/** How many times the rate halves between softLagMs and hardLagMs. */
const HALVINGS = 10;
/** The checkpoint progress a drain speed is measured over, ms. */
export const DRAIN_WINDOW_MS = 10_000;

/**
 * The sample rate to ask of a device whose partition lags `lagMs` (1 below `softLagMs`).
 * A fixed ½ bounds the lag only while devices offer less than twice what the pipeline
 * drains: past that the lag kept growing towards hardLagMs (34–54 s in 5-minute runs at 50k
 * events/s offered to a host that drains ~30k/s). Halving the rate again for every tenth of
 * the way from soft to hard (every 5 s with the defaults) stops the lag where the devices'
 * reduced rate meets the drain rate (it cycled between ~3 and ~18 s in the same run).
 * Rounded to 3 decimals, so the throttle message stays short and the same lag gives the same bytes.
 */
export function throttleSampleRate(lagMs: number, softLagMs: number, hardLagMs: number): number {
  if (!(lagMs >= softLagMs)) return 1;
  const halvingMs = (hardLagMs - softLagMs) / HALVINGS;
  const rate = SOFT_SAMPLE_RATE * 2 ** (-(lagMs - softLagMs) / halvingMs);
  return Math.max(MIN_SAMPLE_RATE, Math.round(rate * 1000) / 1000);
}

export interface PartitionLag {
  region: string;
  partition: number;
  /** Entries after the checkpoint (not yet visible). */
  entries: number;
  /** Age of the oldest entry after the checkpoint, ms (0 when caught up). */
  lagMs: number;
  /** Time since the partition's last commit, ms; null when it never committed. */
  checkpointAgeMs: number | null;
  pressure: Pressure;
  /** The sample rate asked of the partition's devices (throttleSampleRate; 1 = none). */
  sampleRate: number;
  /** How long an event accepted now would wait for its flush, ms (predictedWaitMs); null = not known yet. */
  predictedWaitMs: number | null;
  /** Bus time the checkpoint passed per unit of time lately (DrainSpeed); null = not known yet. */
  drainSpeed: number | null;
}

const LEVEL: Record<Pressure, number> = { ok: 0, soft: 1, hard: 2 };

/**
 * A partition's drain speed: how far its checkpoint moved through bus time per unit of time,
 * over the last DRAIN_WINDOW_MS (1 = keeping up with real time, 0.5 = half as fast). Fed one
 * sample per measurement; null until half a window of samples is known.
 */
export class DrainSpeed {
  private readonly samples: { atMs: number; busMs: number }[] = [];

  record(atMs: number, checkpointBusMs: number): void {
    this.samples.push({ atMs, busMs: checkpointBusMs });
    // Keep one sample at or before the window's start, as the base to measure from.
    while (this.samples.length > 2 && (this.samples[1] as { atMs: number }).atMs <= atMs - DRAIN_WINDOW_MS) this.samples.shift();
  }

  speed(): number | null {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (first === undefined || last === undefined) return null;
    const spanMs = last.atMs - first.atMs;
    if (spanMs < DRAIN_WINDOW_MS / 2) return null;
    return Math.max(0, last.busMs - first.busMs) / spanMs;
  }
}

/** How long an event accepted now would wait for its flush: lag ÷ drain speed (null = unknown). */
export function predictedWaitMs(lagMs: number, speed: number | null): number | null {
  if (speed === null) return null;
  if (lagMs === 0) return 0;
  return speed > 0 ? lagMs / speed : Number.POSITIVE_INFINITY;
}

/** A partition's backpressure from its lag and predicted wait (see the module comment). */
export function pressureOf(lagMs: number, waitMs: number | null, sinkFailing: boolean, bp: Config['backpressure']): Pressure {
  if (lagMs >= bp.hardLagMs) return 'hard';
  if (lagMs < bp.softLagMs) return 'ok';
  return !sinkFailing && waitMs !== null && waitMs >= bp.maxWaitMs ? 'hard' : 'soft';
}

export class LagMonitor {
  private readonly lags = new Map<string, PartitionLag>();
  private readonly drains = new Map<string, DrainSpeed>();
  private timer: NodeJS.Timeout | null = null;
  private readonly lagEntries: Gauge<'region' | 'partition'>;
  private readonly lagSeconds: Gauge<'region' | 'partition'>;
  private readonly level: Gauge<'region' | 'partition'>;
  private readonly checkpointAge: Gauge<'region' | 'partition'>;
  private readonly throttleRate: Gauge<'region' | 'partition'>;
  private readonly drainSpeedGauge: Gauge<'region' | 'partition'>;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly config: Config,
    registry: Registry,
    private readonly clock: () => number = Date.now,
    /**
     * The partitions (as `region/partition`) whose last flush failed, a sink being down: they
     * refuse on lag only. Asked once per measurement.
     */
    private readonly failingPartitions: () => ReadonlySet<string> = () => new Set(),
  ) {
    const registers = [registry];
    const labelNames = ['region', 'partition'] as const;
    this.lagEntries = new Gauge({ name: 'shoal_consumer_lag_entries', help: 'Bus entries after the partition checkpoint', labelNames, registers });
    this.lagSeconds = new Gauge({ name: 'shoal_consumer_lag_seconds', help: 'Age of the oldest bus entry not yet checkpointed', labelNames, registers });
    this.level = new Gauge({ name: 'shoal_backpressure_level', help: 'Backpressure per partition: 0 ok, 1 throttle, 2 overloaded', labelNames, registers });
    this.checkpointAge = new Gauge({ name: 'shoal_checkpoint_age_seconds', help: 'Time since the partition last committed a flush', labelNames, registers });
    this.throttleRate = new Gauge({ name: 'shoal_throttle_sample_rate', help: 'Sample rate a throttle asks of the partition devices (1 = not throttled)', labelNames, registers });
    this.drainSpeedGauge = new Gauge({
      name: 'shoal_drain_speed',
      help: 'Bus time the partition checkpoint passed per second over the last 10 s (1 = keeping up)',
      labelNames,
      registers,
    });
  }

  start(): void {
    const tick = (): void => {
      this.refresh().catch(() => undefined);
    };
    tick();
    this.timer = setInterval(tick, this.config.backpressure.checkIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Backpressure for a partition; `ok` until the first measurement. */
  pressure(region: string, partition: number): Pressure {
    return this.lags.get(`${region}/${partition}`)?.pressure ?? 'ok';
  }

  /** The sample rate to ask of a device of a partition (1 = no throttle; see throttleSampleRate). */
  sampleRate(region: string, partition: number): number {
    return this.lags.get(`${region}/${partition}`)?.sampleRate ?? 1;
  }

  snapshot(): PartitionLag[] {
    return [...this.lags.values()];
  }

  /** Measure every partition once: one script call per partition (probe.lua), pipelined. */
  async refresh(): Promise<void> {
    const parts = allPartitions(this.config.regions, this.config.partitions);
    const redis = defineScripts(this.redis);
    const probes = await Promise.all(
      parts.map(async (p) => {
        const keys = this.keys.partition(p.region, p.partition);
        const [offset, committedAtMs, first, length] = (await redis.shoalProbe(keys.checkpoint, keys.stream)) as [string, string, string, number];
        return { first: first === '' ? null : first, length, offset, committedAtMs };
      }),
    );
    const now = this.clock();
    const bp = this.config.backpressure;
    const failing = this.failingPartitions();
    parts.forEach((p, i) => {
      const probe = probes[i]!;
      const key = `${p.region}/${p.partition}`;
      const lagMs = probe.first ? Math.max(0, now - busTimeOf(probe.first)) : 0;
      // The stream is trimmed below the checkpoint, so its length is about the backlog.
      const entries = probe.first ? Math.max(0, probe.length - (probe.offset === '0-0' ? 0 : 1)) : 0;
      let drain = this.drains.get(key);
      if (drain === undefined) this.drains.set(key, (drain = new DrainSpeed()));
      if (probe.offset !== '0-0') drain.record(now, busTimeOf(probe.offset));
      const drainSpeed = drain.speed();
      const waitMs = predictedWaitMs(lagMs, drainSpeed);
      const pressure = pressureOf(lagMs, waitMs, failing.has(key), bp);
      const labels = { region: p.region, partition: String(p.partition) };
      this.lagEntries.set(labels, entries);
      this.lagSeconds.set(labels, lagMs / 1000);
      this.level.set(labels, LEVEL[pressure]);
      const committedAt = probe.committedAtMs === '' ? NaN : Number(probe.committedAtMs);
      const checkpointAgeMs = Number.isFinite(committedAt) ? Math.max(0, now - committedAt) : null;
      if (checkpointAgeMs !== null) this.checkpointAge.set(labels, checkpointAgeMs / 1000);
      const sampleRate = throttleSampleRate(lagMs, bp.softLagMs, bp.hardLagMs);
      this.throttleRate.set(labels, sampleRate);
      if (drainSpeed !== null) this.drainSpeedGauge.set(labels, drainSpeed);
      this.lags.set(key, { region: p.region, partition: p.partition, entries, lagMs, checkpointAgeMs, pressure, sampleRate, predictedWaitMs: waitMs, drainSpeed });
    });
  }
}
