/**
 * Adaptive sampling under backpressure (config `sampling.sensors`): while an event's partition
 * is throttled (`soft` pressure), each reading of a configured sensor type is kept iff
 *
 *   fnv1a32(event_id + ':' + reading_index) % keepOneIn === 0
 *
 * and a kept reading carries weight keepOneIn, so rollups (count = Σ weight, sum =
 * Σ value × weight) stay unbiased. The decision is a function of the event alone, so a resend
 * of the same event is sampled the same way and deduplication stays consistent. Readings of
 * other sensor types are never sampled. Nothing is silent: every reading sampled away is
 * reported (ack `sampled_out`, gateway counters, the audit's `|s` counters).
 */
import type { CanonicalEvent, Reading } from '../contracts/canonical-event.js';
import type { Config } from '../config.js';
import { fnv1a32 } from '../runtime/partitioning.js';

/** Readings of one sensor type sampled away from one event. */
export interface SampledOut {
  deviceId: string;
  eventTime: number;
  sensorType: string;
  readings: number;
}

export interface SampledEvent {
  /** What to append: the kept readings (sampled ones weighted), or null when none was kept. */
  event: CanonicalEvent | null;
  /** Readings sampled away, one record per sensor type; empty when nothing was. */
  sampledOut: SampledOut[];
}

/** True when reading `readingIndex` of event `eventId` is kept at one in `keepOneIn`. */
export function keepsReading(eventId: string, readingIndex: number, keepOneIn: number): boolean {
  return fnv1a32(`${eventId}:${readingIndex}`) % keepOneIn === 0;
}

export class ReadingSampler {
  /** sensor_type → keepOneIn, own keys only (a sensor named `constructor` is just a name). */
  private readonly keepOneIn: ReadonlyMap<string, number>;

  constructor(sensors: Config['sampling']['sensors']) {
    this.keepOneIn = new Map(Object.entries(sensors).map(([sensorType, s]) => [sensorType, s.keepOneIn]));
  }

  /** False when no sensor type is configured: sample() would never change anything. */
  get enabled(): boolean {
    return this.keepOneIn.size > 0;
  }

  /**
   * Sample one accepted event. An event without configured sensor types comes back as is.
   * Kept readings keep their order; their reading_index is their position among the kept.
   */
  sample(event: CanonicalEvent): SampledEvent {
    const { readings } = event;
    let kept: Reading[] | null = null;
    let sampledOut: SampledOut[] | null = null;
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i] as Reading;
      const k = this.keepOneIn.get(r.sensorType);
      if (k === undefined) {
        kept?.push(r);
        continue;
      }
      kept ??= readings.slice(0, i);
      sampledOut ??= [];
      if (keepsReading(event.eventId, i, k)) {
        kept.push({ ...r, weight: k });
        continue;
      }
      const counted = sampledOut.find((s) => s.sensorType === r.sensorType);
      if (counted) counted.readings++;
      else sampledOut.push({ deviceId: event.deviceId, eventTime: event.eventTime, sensorType: r.sensorType, readings: 1 });
    }
    if (kept === null) return { event, sampledOut: [] };
    return { event: kept.length > 0 ? { ...event, readings: kept } : null, sampledOut: sampledOut ?? [] };
  }
}
