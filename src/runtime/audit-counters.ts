/**
 * Counters the audit compares, kept in Redis beside each partition's stream (same hash tag):
 *
 *   accepted:<hour>   written by the gateway with each bus entry (append.lua)
 *   dupes:<hour>      written by the shard with each checkpoint commit (commit.lua)
 *
 * One hash per partition and event hour; fields `<device_id>|e` (events) and `<device_id>|r`
 * (readings). Both are exact: each is written atomically with the fact it counts.
 */
import type { CanonicalEvent } from '../contracts/canonical-event.js';

export const HOUR_MS = 3_600_000;
/** Counters outlive the oldest accepted event time (7 days) with a margin. */
export const COUNTER_TTL_S = 9 * 24 * 3600;

export interface HourCounts {
  /** Hour start, epoch ms. */
  hour: number;
  /** field → increment */
  fields: Map<string, number>;
}

/** Count events and readings per (event hour, device). */
export function countByHour(events: Iterable<{ deviceId: string; eventTime: number; readings: number }>): HourCounts[] {
  const hours = new Map<number, Map<string, number>>();
  for (const e of events) {
    const hour = Math.floor(e.eventTime / HOUR_MS) * HOUR_MS;
    let fields = hours.get(hour);
    if (!fields) hours.set(hour, (fields = new Map<string, number>()));
    fields.set(`${e.deviceId}|e`, (fields.get(`${e.deviceId}|e`) ?? 0) + 1);
    fields.set(`${e.deviceId}|r`, (fields.get(`${e.deviceId}|r`) ?? 0) + e.readings);
  }
  return [...hours].map(([hour, fields]) => ({ hour, fields }));
}

export function countEvents(events: readonly CanonicalEvent[]): HourCounts[] {
  return countByHour(events.map((e) => ({ deviceId: e.deviceId, eventTime: e.eventTime, readings: e.readings.length })));
}

/** Script arguments for a list of counter hashes: keys, then ARGV (n, field, incr, ...). */
export function counterArgs(counts: readonly HourCounts[], keyOf: (hour: number) => string): { keys: string[]; argv: (string | number)[] } {
  const keys: string[] = [];
  const argv: (string | number)[] = [];
  for (const { hour, fields } of counts) {
    keys.push(keyOf(hour));
    argv.push(fields.size);
    for (const [field, n] of fields) argv.push(field, n);
  }
  return { keys, argv };
}

/** Parse a counter hash into device → {events, readings}. */
export function parseCounterHash(hash: Record<string, string>): Map<string, { events: number; readings: number }> {
  const out = new Map<string, { events: number; readings: number }>();
  for (const [field, value] of Object.entries(hash)) {
    const bar = field.lastIndexOf('|');
    const device = field.slice(0, bar);
    const entry = out.get(device) ?? { events: 0, readings: 0 };
    if (field.endsWith('|e')) entry.events += Number(value);
    else entry.readings += Number(value);
    out.set(device, entry);
  }
  return out;
}
