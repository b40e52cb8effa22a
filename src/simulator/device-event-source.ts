/**
 * The events one simulated device emits, in the wire shapes of DESIGN §3: schema v1 (one
 * reading per event, sensors taken in turn) or v2 (every sensor in one event, `seq`
 * increasing by one per event). A share of events can be exact repeats of recent ones
 * (duplicates the pipeline must drop) or carry an event time minutes to hours in the past
 * (late events the rollups must still merge).
 */
import { randomUUID } from 'node:crypto';
import { isoTime } from './iso-time.js';
import type { Prng } from './prng.js';
import { SensorModel, type WireReading } from './sensor-model.js';

export interface WireEventV1 {
  event_id: string;
  device_id: string;
  event_time: string;
  sensor_type: string;
  value: number;
  unit: string;
  firmware_version: string;
  region: string;
}

export interface WireEventV2 {
  schema_version: 2;
  event_id: string;
  device_id: string;
  event_time: string;
  firmware_version: string;
  region: string;
  seq: number;
  readings: WireReading[];
}

export type WireEvent = WireEventV1 | WireEventV2;

export interface DeviceProfile {
  deviceId: string;
  region: string;
  schemaVersion: 1 | 2;
  /** Frames as MessagePack (binary) rather than JSON (text). */
  binary: boolean;
  firmwareVersion: string;
  sensors: readonly string[];
}

export interface EventMix {
  /** Fraction of events that repeat a recently sent event exactly (0..1). */
  duplicateShare: number;
  /** Fraction of events whose event time lies 2 minutes to 2 hours in the past (0..1). */
  lateShare: number;
}

export interface GeneratedBatch {
  events: WireEvent[];
  duplicates: number;
  late: number;
}

/**
 * Fresh events a device keeps for its duplicates (exact repeats of one of them). Few: each
 * one held is a whole wire event, and a simulated fleet of 100,000 devices keeping 32 each
 * held 3.2 M events (~1 GB of heap in the perf harness's generators, with GC pauses of
 * seconds); four still spread the repeats over the last few seconds of a device.
 */
export const RECENT_EVENTS = 4;
const LATE_MIN_MS = 2 * 60_000;
const LATE_MAX_MS = 2 * 3_600_000;

export class DeviceEventSource {
  private readonly sensors: SensorModel;
  private readonly recent: WireEvent[] = [];
  private recentNext = 0;
  private nextSeq = 1;
  private sensorCursor = 0;

  constructor(
    readonly profile: DeviceProfile,
    private readonly rng: Prng,
    private readonly mix: EventMix,
    startMs: number,
  ) {
    this.sensors = new SensorModel(rng, profile.sensors, startMs);
  }

  /** The v2 `seq` the next fresh event will carry. */
  get seq(): number {
    return this.nextSeq;
  }

  /**
   * `count` events ending at `nowMs`, spaced `spacingMs` apart (the device's sampling
   * interval), oldest first.
   */
  next(count: number, nowMs: number, spacingMs: number): GeneratedBatch {
    const events: WireEvent[] = [];
    let duplicates = 0;
    let late = 0;
    for (let i = 0; i < count; i++) {
      if (this.recent.length > 0 && this.rng.chance(this.mix.duplicateShare)) {
        const copy = this.recent[this.rng.int(this.recent.length)];
        if (copy) {
          events.push(copy);
          duplicates++;
          continue;
        }
      }
      let t = nowMs - (count - 1 - i) * spacingMs;
      if (this.rng.chance(this.mix.lateShare)) {
        t -= this.rng.range(LATE_MIN_MS, LATE_MAX_MS);
        late++;
      }
      const event = this.fresh(Math.round(t));
      this.remember(event);
      events.push(event);
    }
    return { events, duplicates, late };
  }

  private fresh(timeMs: number): WireEvent {
    const p = this.profile;
    const eventTime = isoTime(timeMs);
    if (p.schemaVersion === 2) {
      return {
        schema_version: 2,
        event_id: randomUUID(),
        device_id: p.deviceId,
        event_time: eventTime,
        firmware_version: p.firmwareVersion,
        region: p.region,
        seq: this.nextSeq++,
        readings: this.sensors.readAll(timeMs),
      };
    }
    const r = this.sensors.read(this.sensorCursor++, timeMs);
    return {
      event_id: randomUUID(),
      device_id: p.deviceId,
      event_time: eventTime,
      sensor_type: r.sensor_type,
      value: r.value,
      unit: r.unit,
      firmware_version: p.firmwareVersion,
      region: p.region,
    };
  }

  private remember(event: WireEvent): void {
    if (this.recent.length < RECENT_EVENTS) this.recent.push(event);
    else this.recent[this.recentNext] = event;
    this.recentNext = (this.recentNext + 1) % RECENT_EVENTS;
  }
}
