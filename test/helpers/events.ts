/**
 * Builders of device events for tests, and the expected rollups of a set of accepted events,
 * computed the plain way (the model the pipeline must agree with).
 */
import { randomUUID } from 'node:crypto';
import type { CanonicalEvent } from '../../src/contracts/canonical-event.js';

export interface Reading {
  sensor_type: string;
  value: number;
  unit: string;
}

export type DeviceEvent = Record<string, unknown> & { event_id: string; device_id: string; event_time: string };

export function v1Event(deviceId: string, region: string, time: number, sensor: string, value: number): DeviceEvent {
  return {
    event_id: randomUUID(),
    device_id: deviceId,
    event_time: new Date(time).toISOString(),
    sensor_type: sensor,
    value,
    unit: sensor === 'temperature' ? 'C' : '%',
    firmware_version: '1.2.3',
    region,
  };
}

export function v2Event(deviceId: string, region: string, time: number, seq: number, readings: Reading[]): DeviceEvent {
  return {
    schema_version: 2,
    event_id: randomUUID(),
    device_id: deviceId,
    event_time: new Date(time).toISOString(),
    firmware_version: '2.0.1',
    region,
    seq,
    readings,
  };
}

/** The readings of an event, as (event_id, index, sensor, value, time). */
export function readingsOf(e: DeviceEvent): { eventId: string; index: number; sensor: string; value: number; time: number }[] {
  const time = Date.parse(e.event_time);
  if (Array.isArray(e['readings']))
    return (e['readings'] as Reading[]).map((r, index) => ({ eventId: e.event_id, index, sensor: r.sensor_type, value: r.value, time }));
  return [{ eventId: e.event_id, index: 0, sensor: String(e['sensor_type']), value: Number(e['value']), time }];
}

export interface ExpectedWindow {
  count: number;
  sum: number;
  min: number;
  max: number;
}

/**
 * Start of the UTC hour holding `ms`. The rollups API returns the windows that *start* in
 * [from, to), so an hourly query must reach back to the hour of its oldest event: `now - 1h`
 * misses the hour before it whenever an event falls there.
 */
export function hourStart(ms: number): number {
  return Math.floor(ms / 3_600_000) * 3_600_000;
}

/** Expected rollups keyed by `${device}|${sensor}|${windowStartMs}` for a window width. */
export function expectedRollups(events: Iterable<DeviceEvent>, widthMs: number): Map<string, ExpectedWindow> {
  const out = new Map<string, ExpectedWindow>();
  const seen = new Set<string>();
  for (const e of events) {
    if (seen.has(e.event_id)) continue;
    seen.add(e.event_id);
    for (const r of readingsOf(e)) {
      const start = Math.floor(r.time / widthMs) * widthMs;
      const key = `${e.device_id}|${r.sensor}|${start}`;
      const w = out.get(key);
      if (!w) out.set(key, { count: 1, sum: r.value, min: r.value, max: r.value });
      else {
        w.count++;
        w.sum += r.value;
        w.min = Math.min(w.min, r.value);
        w.max = Math.max(w.max, r.value);
      }
    }
  }
  return out;
}

/** A v4-shaped UUID from a seeded generator (uniform in [0, 1)), so a run can be reproduced. */
export function seededUuid(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16));
  hex[12] = '4';
  hex[16] = (8 + Math.floor(random() * 4)).toString(16);
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/**
 * Events as the gateway puts them on the bus, numbered `first` to `first + count - 1`: event id
 * `<idPrefix>-0000-4000-8000-<n in hex>`, device `<devicePrefix>-<n mod devices>`, event times
 * one second apart from five whole minutes ago, v2 with a temperature (20 + n) and a humidity
 * (40 + n) reading.
 */
export function busEvents(first: number, count: number, o: { idPrefix: string; devicePrefix: string; devices: number; region: string }): CanonicalEvent[] {
  const start = Math.floor(Date.now() / 60_000) * 60_000 - 5 * 60_000;
  return Array.from({ length: count }, (_, k) => {
    const n = first + k;
    return {
      eventId: `${o.idPrefix}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`,
      deviceId: `${o.devicePrefix}-${n % o.devices}`,
      region: o.region,
      eventTime: start + n * 1000,
      ingestTime: Date.now(),
      firmwareVersion: '1.0.0',
      schemaVersion: 2,
      seq: n,
      readings: [
        { sensorType: 'temperature', value: 20 + n, unit: 'C', weight: 1 },
        { sensorType: 'humidity', value: 40 + n, unit: '%', weight: 1 },
      ],
    };
  });
}
