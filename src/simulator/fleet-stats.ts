/**
 * Counters shared by every simulated device of a fleet, and the ack-latency histograms
 * (whole run, and since the last progress line). Accounting identity, once a run has
 * drained: sent = acked + Σ rejected + unacked — OVERLOADED rejections are not final,
 * the device resends those events, so they are counted apart in `overloaded`.
 */
import { LatencyHistogram, type LatencySummary } from './latency-histogram.js';

export interface FleetCounters {
  /** Events sent for the first time (deliberate duplicates included). */
  sent: number;
  sentFrames: number;
  /** Events the gateway acked as accepted. */
  acked: number;
  /** Final rejections by error code (OVERLOADED excluded: those are retried). */
  rejected: Record<string, number>;
  /** Events rejected with OVERLOADED and queued for resending. */
  overloaded: number;
  /** Event transmissions that were resends (after a reconnect or an OVERLOADED reply). */
  resent: number;
  resentFrames: number;
  /** Deliberate exact repeats of earlier events. */
  duplicates: number;
  /** Events with an event time minutes to hours in the past. */
  late: number;
  /** Throttle messages honoured. */
  throttles: number;
  connects: number;
  disconnects: number;
  connectErrors: number;
  lastError: string | null;
}

export class FleetStats {
  readonly counters: FleetCounters = {
    sent: 0,
    sentFrames: 0,
    acked: 0,
    rejected: {},
    overloaded: 0,
    resent: 0,
    resentFrames: 0,
    duplicates: 0,
    late: 0,
    throttles: 0,
    connects: 0,
    disconnects: 0,
    connectErrors: 0,
    lastError: null,
  };
  private readonly total = new LatencyHistogram();
  private readonly interval = new LatencyHistogram();

  reject(code: string, events: number): void {
    if (events <= 0) return;
    this.counters.rejected[code] = (this.counters.rejected[code] ?? 0) + events;
  }

  get rejectedTotal(): number {
    let n = 0;
    for (const v of Object.values(this.counters.rejected)) n += v;
    return n;
  }

  recordAckLatency(ms: number): void {
    this.total.record(ms);
    this.interval.record(ms);
  }

  ackLatency(): LatencySummary {
    return this.total.summary();
  }

  /** Latency since the previous call (for per-second progress lines). */
  takeIntervalLatency(): LatencySummary {
    const s = this.interval.summary();
    this.interval.reset();
    return s;
  }

  /** A copy of the counters, safe to keep. */
  snapshot(): FleetCounters {
    return { ...this.counters, rejected: { ...this.counters.rejected } };
  }
}
