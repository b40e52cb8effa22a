/**
 * Device dropouts, one tracker per partition: pure, no I/O, time passed in.
 *
 * Learns each device's usual reporting interval online (an EWMA of the gap between arrivals,
 * in bus time) and the last v2 `seq` it numbered, and reports two kinds of dropout:
 *
 * - `quiet`: the device stopped sending. Nothing of it has reached the gateway for longer
 *   than k times its usual interval, so the silence is on the device's side (power, network,
 *   crash), not the pipeline's.
 * - `seq_gap`: the device numbered events the pipeline never saw: lost between the device
 *   and the gateway, rejected by the gateway (see the DLQ), or sampled away under
 *   backpressure. The pipeline's own losses after ingest (bus → sinks) are not visible here;
 *   they are what `shoal audit` finds by comparing the bus counts with the sinks.
 *
 * Memory is bounded: at most `maxDevices` devices are tracked (the least recently seen is
 * forgotten first), and a device silent for more than `forgetAfterMs` is forgotten.
 */

/** One flagged device, as listed by /api/v1/stats and the dashboard. */
export type Dropout =
  | { device_id: string; kind: 'quiet'; silent_s: number; interval_s: number }
  | { device_id: string; kind: 'seq_gap'; missing: number; last_seq: number };

export interface DropoutTrackerOptions {
  /** Devices tracked at most; the least recently seen is evicted first. Default 100,000. */
  maxDevices?: number;
  /** A device silent this long (ms) is forgotten. Default 24 h. */
  forgetAfterMs?: number;
  /** EWMA weight of a new interval sample, in (0, 1]. Default 0.2. */
  alpha?: number;
}

/** Shortest interval learned (ms): arrivals closer than this count as this far apart. */
export const MIN_INTERVAL_MS = 100;

interface DeviceState {
  deviceId: string;
  /** Neighbours in order of last observation (see DropoutTracker.oldest). */
  older: DeviceState | null;
  newer: DeviceState | null;
  /** Bus time of the latest arrival (ms). */
  lastSeen: number;
  /** Newest event time seen (ms): older events are resends and teach no interval. */
  newestEventTime: number;
  /** EWMA of the inter-arrival interval (ms); null until the second arrival. */
  intervalMs: number | null;
  /** Interval samples taken. */
  samples: number;
  lastSeq: number | null;
  /** Sequence numbers skipped so far. */
  missing: number;
}

export class DropoutTracker {
  private readonly maxDevices: number;
  private readonly forgetAfterMs: number;
  private readonly alpha: number;
  private readonly devices = new Map<string, DeviceState>();
  /**
   * The same devices as a list in order of last observation, least recently seen first: an
   * observation moves its device to the end with a few pointer writes. (Keeping the Map itself
   * in that order took a delete and a set per event, 6 % of a shard thread at 45k events/s.)
   */
  private oldest: DeviceState | null = null;
  private newest: DeviceState | null = null;
  /** Until this time (ms) no tracked device can have been silent for forgetAfterMs. */
  private keepAllUntil = Number.NEGATIVE_INFINITY;

  constructor(options: DropoutTrackerOptions = {}) {
    this.maxDevices = options.maxDevices ?? 100_000;
    this.forgetAfterMs = options.forgetAfterMs ?? 24 * 3600_000;
    this.alpha = options.alpha ?? 0.2;
    if (!(this.maxDevices >= 1)) throw new RangeError('maxDevices must be at least 1');
    if (!(this.alpha > 0 && this.alpha <= 1)) throw new RangeError('alpha must be in (0, 1]');
  }

  /** Devices currently tracked. */
  get size(): number {
    return this.devices.size;
  }

  /**
   * Record one accepted event. Arrivals at the same bus time (one frame of several events)
   * count as one arrival; an event not newer than the device's newest event time is a resend
   * and refreshes last-seen without teaching an interval.
   */
  observe(deviceId: string, eventTime: number, seq: number | null, busTime: number): void {
    let state = this.devices.get(deviceId);
    if (state) {
      if (state !== this.newest) {
        this.unlink(state);
        this.append(state);
      }
      const delta = busTime - state.lastSeen;
      if (delta > 0 && eventTime > state.newestEventTime) {
        const sample = Math.max(MIN_INTERVAL_MS, delta);
        state.intervalMs = state.intervalMs === null ? sample : state.intervalMs + this.alpha * (sample - state.intervalMs);
        state.samples++;
      }
      state.lastSeen = Math.max(state.lastSeen, busTime);
      state.newestEventTime = Math.max(state.newestEventTime, eventTime);
    } else {
      state = { deviceId, older: null, newer: null, lastSeen: busTime, newestEventTime: eventTime, intervalMs: null, samples: 0, lastSeq: null, missing: 0 };
      this.devices.set(deviceId, state);
      this.append(state);
    }
    if (seq !== null) {
      if (state.lastSeq === null) state.lastSeq = seq;
      else if (seq > state.lastSeq) {
        state.missing += seq - state.lastSeq - 1;
        state.lastSeq = seq;
      }
    }
    this.forget(busTime);
    while (this.devices.size > this.maxDevices && this.oldest !== null) this.remove(this.oldest);
  }

  /**
   * The devices flagged at `nowMs`, worst first (see compareDropouts): those with at least
   * `minSamples` intervals learned and silent for more than k intervals, and those with
   * sequence gaps.
   */
  dropouts(nowMs: number, k = 5, minSamples = 3): Dropout[] {
    this.forget(nowMs);
    const out: Dropout[] = [];
    for (const [device_id, s] of this.devices) {
      const silentMs = nowMs - s.lastSeen;
      if (s.intervalMs !== null && s.samples >= minSamples && silentMs > k * s.intervalMs) {
        out.push({ device_id, kind: 'quiet', silent_s: seconds(silentMs), interval_s: seconds(s.intervalMs) });
      }
      if (s.missing > 0 && s.lastSeq !== null) out.push({ device_id, kind: 'seq_gap', missing: s.missing, last_seq: s.lastSeq });
    }
    return out.sort(compareDropouts);
  }

  /**
   * Drop devices silent for longer than forgetAfterMs (the list is in last-seen order). Runs
   * per event, so it returns at once until the time the first device it kept could expire:
   * the first device only changes by deletion, and its successors were seen no earlier.
   */
  private forget(nowMs: number): void {
    if (nowMs <= this.keepAllUntil) return;
    for (let s = this.oldest; s !== null; s = this.oldest) {
      if (nowMs - s.lastSeen <= this.forgetAfterMs) {
        this.keepAllUntil = s.lastSeen + this.forgetAfterMs;
        return;
      }
      this.remove(s);
    }
  }

  private remove(state: DeviceState): void {
    this.unlink(state);
    this.devices.delete(state.deviceId);
  }

  private unlink(state: DeviceState): void {
    if (state.older === null) this.oldest = state.newer;
    else state.older.newer = state.newer;
    if (state.newer === null) this.newest = state.older;
    else state.newer.older = state.older;
    state.older = state.newer = null;
  }

  private append(state: DeviceState): void {
    state.older = this.newest;
    state.newer = null;
    if (this.newest === null) this.oldest = state;
    else this.newest.newer = state;
    this.newest = state;
  }
}

/**
 * Worst first: quiet devices before sequence gaps (a quiet device is losing everything now),
 * quiet ones by silence in intervals, gaps by events missing; then by device id.
 */
export function compareDropouts(a: Dropout, b: Dropout): number {
  if (a.kind !== b.kind) return a.kind === 'quiet' ? -1 : 1;
  return severity(b) - severity(a) || (a.device_id < b.device_id ? -1 : a.device_id > b.device_id ? 1 : 0);
}

/** Partitions' dropout lists merged into one, each tagged with its region, worst first, capped. */
export function mergeDropouts(partitions: readonly { region: string; dropouts: readonly Dropout[] }[], cap = 200): (Dropout & { region: string })[] {
  return partitions
    .flatMap((p) => p.dropouts.map((d) => ({ ...d, region: p.region })))
    .sort(compareDropouts)
    .slice(0, cap);
}

function severity(d: Dropout): number {
  return d.kind === 'quiet' ? d.silent_s / Math.max(d.interval_s, 0.1) : d.missing;
}

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}
