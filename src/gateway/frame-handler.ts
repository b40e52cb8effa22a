/**
 * One frame, WebSocket message or HTTP body, from bytes to ack:
 *
 *   processFrame ──accepted──▶ [sample if soft] ─▶ BusAppender.append per (region, partition) ─┐
 *                └─rejected──▶ BusAppender.appendDlq ─────────────────────────────────────┴─▶ ack JSON
 *
 * The ack is built only after both writes settled. Events whose bus append failed are
 * reported as OVERLOADED (the device keeps and resends them), never as accepted. Under `soft`
 * backpressure, readings of the sensor types in `sampling.sensors` are sampled (see
 * ReadingSampler): the ones sampled away are acked as delivered and reported in the ack's
 * `sampled_out`, GatewayStats and the metric, once their partition's append succeeded.
 * Each frame gets a correlation id (`cid`): set on its accepted events (it travels with them
 * through the bus to the shard's log lines), on its DLQ entries, and on the one `debug` line
 * logged per frame. Devices are named in logs by their pseudonym (see logging.ts).
 * Nothing a frame contains can make handle() throw or reject.
 */
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { CanonicalEvent } from '../contracts/canonical-event.js';
import { EventValidator } from '../contracts/event-validator.js';
import { ackMessage, processFrame, type DeviceIdentity, type FrameAnswer, type FrameResult, type Rejection } from '../contracts/frame.js';
import type { Config } from '../config.js';
import { RejectCode, errorMessage } from '../errors.js';
import { deviceField, newCorrelationId, pseudonymizerOf, type DevicePseudonymizer } from '../logging.js';
import { SOFT_SAMPLE_RATE, type Pressure } from '../runtime/lag-monitor.js';
import { partitionOf } from '../runtime/partitioning.js';
import { AcceptedRefs } from './accepted-refs.js';
import type { BusAppender, DlqMeta } from './bus-appender.js';
import type { GatewayMetrics } from './gateway-metrics.js';
import type { GatewayStats } from './gateway-stats.js';
import { ReadingSampler, type SampledOut } from './reading-sampler.js';

/** A frame's answer with its accepted events as refs (what the gateway keeps of them once handed to the bus). */
export type FrameRefs = FrameAnswer<AcceptedRefs>;

export interface FrameOutcome {
  result: FrameRefs;
  ack: string;
  /** Events refused because the bus failed, the pipeline lags too far, or the gateway sheds load. */
  overloaded: number;
  /** The worst backpressure among the frame's partitions: `soft` asks the device to throttle. */
  pressure: Pressure;
  /** The sample rate to ask of the device: the lowest among the frame's lagging partitions (1 = none). */
  sampleRate: number;
  /** Readings of accepted events sampled away under backpressure (the ack's `sampled_out`). */
  sampledOut: number;
}

export type { Pressure };

export interface FrameHandlerDeps {
  config: Config;
  appender: BusAppender;
  stats: GatewayStats;
  logger: Logger;
  clock: () => number;
  /** Backpressure of a partition (consumer lag); absent = always ok. */
  pressure?: (region: string, partition: number) => Pressure;
  /** The sample rate a throttle asks of a partition's devices; absent = SOFT_SAMPLE_RATE under backpressure. */
  sampleRate?: (region: string, partition: number) => number;
  /** `shoal_sampled_out_readings_total{region,sensor_type}`, when metrics are exported. */
  sampledOutReadings?: Counter<'region' | 'sensor_type'>;
  /** The gateway's Prometheus metrics (events, bytes, frames), when exported. */
  metrics?: GatewayMetrics;
}

interface Group {
  region: string;
  partition: number;
  /** What to append: the accepted events, sampled when the partition is under soft pressure; emptied once handed to the appender. */
  events: CanonicalEvent[];
  /** Positions in FrameResult.accepted of every accepted event of the group (sampled away or not). */
  positions: number[];
  /** Readings sampled away from the group's events. */
  sampledOut: SampledOut[];
}

/** A frame handed to the appender, waiting for its writes (FrameHandler.start → finish). */
interface InFlightFrame {
  started: number;
  bytes: number;
  cid: string;
  identity: DeviceIdentity | null;
  meta: DlqMeta;
  shed: boolean;
  result: FrameRefs;
  groups: Group[];
  lagging: ReadonlySet<Group>;
  appendable: Group[];
  appends: Promise<void>[];
  dlq: Promise<void>;
  pressure: Pressure;
  sampleRate: number;
}

const LOG_EVERY_MS = 5000;

export class FrameHandler {
  private readonly validator = new EventValidator();
  private readonly sampler: ReadingSampler;
  private readonly pseudonyms: DevicePseudonymizer;
  private lastFailureLog = 0;

  constructor(private readonly deps: FrameHandlerDeps) {
    this.sampler = new ReadingSampler(deps.config.sampling.sensors);
    this.pseudonyms = pseudonymizerOf(deps.logger);
  }

  /**
   * Validate, append and build the ack. Everything up to the first await runs synchronously,
   * so `payload` may be a view that the caller invalidates once this returns.
   * With `shed`, accepted events are not appended but refused as OVERLOADED.
   */
  async handle(payload: Uint8Array, binary: boolean, identity: DeviceIdentity | null, meta: DlqMeta, shed = false): Promise<FrameOutcome> {
    // start() runs before the first await (payload may be a view the caller reclaims after).
    return this.finish(this.start(payload, binary, identity, meta, shed));
  }

  /**
   * Validate, group, sample and hand the groups to the appender, synchronously. What it
   * returns keeps the accepted events as AcceptedRefs (bytes), not the events: the frame then
   * waits for its bus append (from milliseconds to seconds under load) holding ~40 B an event
   * outside the heap instead of ~1 KB (the event, its readings and strings), which is what
   * the main thread's young collections copied and promoted (heap snapshot at 50k events/s:
   * ~49,000 events in flight), or ~250 B of ref objects and the strings they kept alive.
   */
  private start(payload: Uint8Array, binary: boolean, identity: DeviceIdentity | null, meta: DlqMeta, shed: boolean): InFlightFrame {
    const started = performance.now();
    const bytes = payload.byteLength;
    const cid = newCorrelationId();
    const result = this.validate(payload, binary, identity);
    for (const event of result.accepted) event.cid = cid;
    const groups = this.group(result.accepted);
    let pressure: Pressure = 'ok';
    let sampleRate = 1;
    const lagging = new Set<Group>();
    if (this.deps.pressure) {
      for (const g of groups) {
        const p = this.deps.pressure(g.region, g.partition);
        if (p === 'hard') lagging.add(g);
        if (p === 'hard' || (p === 'soft' && pressure === 'ok')) pressure = p;
        if (p !== 'ok') sampleRate = Math.min(sampleRate, this.deps.sampleRate?.(g.region, g.partition) ?? SOFT_SAMPLE_RATE);
        if (p === 'soft' && !shed && this.sampler.enabled) this.sample(g);
      }
    }
    const appendable = shed ? [] : groups.filter((g) => !lagging.has(g));
    const appends = appendable.map((g) => this.deps.appender.append(g.region, g.partition, g.events, g.sampledOut));
    const dlq = this.deps.appender.appendDlq(identity?.region ?? null, result.rejected, { ...meta, cid });
    for (const g of groups) g.events = [];
    const refs: FrameRefs = { seq: result.seq, accepted: AcceptedRefs.of(result.accepted), rejected: result.rejected };
    return { started, bytes, cid, identity, meta, shed, result: refs, groups, lagging, appendable, appends, dlq, pressure, sampleRate };
  }

  private async finish(frame: InFlightFrame): Promise<FrameOutcome> {
    const { started, bytes, cid, identity, meta, shed, result, groups, lagging, appendable, appends, dlq, pressure, sampleRate } = frame;
    const settled = await Promise.allSettled(appends);
    const failed = shed ? groups : [...lagging, ...appendable.filter((_, i) => settled[i]?.status === 'rejected')];
    const dlqSettled = await Promise.allSettled([dlq]);
    this.logFailures(settled, dlqSettled[0]);

    const reason = shed ? 'the gateway is shedding load' : lagging.size > 0 && failed.length === lagging.size ? 'the pipeline is behind' : 'the event bus is unavailable';
    const final = failed.length === 0 ? result : overload(result, failed, reason);
    const sampledOut = this.recordSampled(appendable.filter((_, i) => settled[i]?.status === 'fulfilled'));
    this.deps.stats.recordFrame(bytes, final);
    this.deps.metrics?.recordFrame(meta.source, bytes, final, result.accepted);
    this.deps.metrics?.observeFrameSeconds(meta.source, (performance.now() - started) / 1000);
    this.logFrame(cid, identity, final);
    return { result: final, ack: ackMessage(final, sampledOut), overloaded: result.accepted.length - final.accepted.length, pressure, sampleRate, sampledOut };
  }

  /** The ack of a frame refused as a whole before it could be read (e.g. over the HTTP size limit). */
  static refusalAck(code: RejectCode, detail: string): string {
    return ackMessage({ seq: null, accepted: [], rejected: [wholeFrame(code, detail, null, null)] });
  }

  /** Count a frame refused as a whole and write its DLQ entry with device metadata. Never rejects. */
  async recordRefusal(code: RejectCode, detail: string, identity: DeviceIdentity | null, raw: unknown, bytes: number, meta: DlqMeta): Promise<void> {
    const cid = newCorrelationId();
    const result: FrameRefs = { seq: null, accepted: AcceptedRefs.empty, rejected: [wholeFrame(code, detail, identity, raw)] };
    this.deps.stats.recordFrame(bytes, result);
    this.deps.metrics?.recordFrame(meta.source, bytes, result);
    this.logFrame(cid, identity, result);
    const dlq = await Promise.allSettled([this.deps.appender.appendDlq(identity?.region ?? null, result.rejected, { ...meta, cid })]);
    this.logFailures([], dlq[0]);
  }

  private validate(payload: Uint8Array, binary: boolean, identity: DeviceIdentity | null): FrameResult {
    const { config, clock } = this.deps;
    try {
      return processFrame(
        payload,
        binary,
        {
          now: clock(),
          regions: config.regions,
          identity,
          maxFrameBytes: config.ingest.maxFrameBytes,
          maxEventsPerFrame: config.ingest.maxEventsPerFrame,
          maxEventAgeMs: config.ingest.maxEventAgeMs,
          maxEventAheadMs: config.ingest.maxEventAheadMs,
        },
        this.validator,
      );
    } catch (err) {
      this.deps.logger.error({ err }, 'frame processing threw; answering MALFORMED');
      return { seq: null, accepted: [], rejected: [wholeFrame(RejectCode.MALFORMED, 'the frame could not be processed', identity, null)] };
    }
  }

  private group(accepted: readonly CanonicalEvent[]): Group[] {
    const partitions = this.deps.config.partitions;
    const groups: Group[] = [];
    // Most frames hold one device (a device token binds one), so the partition hash and the
    // group lookup are done once per run of events of the same device.
    let lastDevice: string | null = null;
    let current: Group | undefined;
    for (let position = 0; position < accepted.length; position++) {
      const event = accepted[position] as CanonicalEvent;
      if (event.deviceId !== lastDevice || event.region !== current?.region) {
        lastDevice = event.deviceId;
        const partition = partitionOf(event.deviceId, partitions);
        current = groups.find((g) => g.partition === partition && g.region === event.region);
        if (!current) groups.push((current = { region: event.region, partition, events: [], positions: [], sampledOut: [] }));
      }
      current.events.push(event);
      current.positions.push(position);
    }
    return groups;
  }

  /** Replace a group's events by their samples (events with no reading kept drop out). */
  private sample(g: Group): void {
    const events: CanonicalEvent[] = [];
    for (const event of g.events) {
      const sampled = this.sampler.sample(event);
      if (sampled.event !== null) events.push(sampled.event);
      for (const s of sampled.sampledOut) g.sampledOut.push(s);
    }
    g.events = events;
  }

  /** Count the readings sampled away from groups whose append succeeded; returns their number. */
  private recordSampled(appended: readonly Group[]): number {
    let total = 0;
    for (const g of appended) {
      for (const s of g.sampledOut) {
        total += s.readings;
        this.deps.sampledOutReadings?.inc({ region: g.region, sensor_type: s.sensorType }, s.readings);
      }
    }
    this.deps.stats.sampledOut += total;
    return total;
  }

  /** The frame's one debug line: its cid, its device (the authenticated one, else its first event's). */
  private logFrame(cid: string, identity: DeviceIdentity | null, result: FrameRefs): void {
    const { logger } = this.deps;
    if (!logger.isLevelEnabled('debug')) return;
    const firstAccepted = result.accepted.length > 0 ? result.accepted.deviceIdAt(0) : null;
    const deviceId = identity?.deviceId ?? firstAccepted ?? result.rejected.find((r) => r.deviceId !== null)?.deviceId ?? null;
    const device = deviceId === null ? null : deviceField(this.pseudonyms, deviceId);
    logger.debug({ cid, device, accepted: result.accepted.length, rejected: result.rejected.length }, 'frame handled');
  }

  private logFailures(appends: PromiseSettledResult<void>[], dlq: PromiseSettledResult<void> | undefined): void {
    const failure = appends.find((s) => s.status === 'rejected') ?? (dlq?.status === 'rejected' ? dlq : undefined);
    if (failure?.status !== 'rejected') return;
    const now = Date.now();
    if (now - this.lastFailureLog < LOG_EVERY_MS) return;
    this.lastFailureLog = now;
    this.deps.logger.warn({ err: errorMessage(failure.reason) }, 'bus write failed: answering OVERLOADED');
  }
}

/** A rejection of the whole frame; `detail` is prefixed with the code like the contract's messages. */
function wholeFrame(code: RejectCode, detail: string, identity: DeviceIdentity | null, raw: unknown): Rejection {
  return { index: null, eventId: null, code, message: `${code}: ${detail}`, deviceId: identity?.deviceId ?? null, region: identity?.region ?? null, raw };
}

/** Move the events of failed groups from accepted to rejected (OVERLOADED, at their frame index). */
function overload(result: FrameRefs, failed: readonly Group[], reason: string): FrameRefs {
  const out = new Set<number>();
  for (const g of failed) for (const p of g.positions) out.add(p);
  const frameIndex = frameIndices(result);
  const message = `${RejectCode.OVERLOADED}: ${reason}; resend later`;
  const rejected = [...result.rejected];
  for (const position of out) {
    const event = result.accepted.at(position);
    rejected.push({
      index: frameIndex[position] ?? null,
      eventId: event.eventId,
      code: RejectCode.OVERLOADED,
      message,
      deviceId: event.deviceId,
      region: event.region,
      raw: null,
    });
  }
  rejected.sort((a, b) => (a.index ?? -1) - (b.index ?? -1));
  return { seq: result.seq, accepted: result.accepted.filter((position) => !out.has(position)), rejected };
}

/**
 * The frame index of each accepted event: processFrame keeps frame order and rejects an event
 * at most once, so accepted events fill the indices the rejections leave free, in order.
 */
function frameIndices(result: FrameRefs): number[] {
  const taken = new Set<number>();
  for (const r of result.rejected) if (r.index !== null) taken.add(r.index);
  const indices: number[] = [];
  for (let i = 0; indices.length < result.accepted.length; i++) if (!taken.has(i)) indices.push(i);
  return indices;
}
