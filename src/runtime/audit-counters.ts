/**
 * Counters the audit compares, kept in Redis beside each partition's stream (same hash tag):
 *
 *   accepted:<hour>   written by the gateway with each bus entry (append.lua)
 *   dupes:<hour>      written by the shard with each checkpoint commit (commit.lua)
 *
 * One hash per partition and event hour. Fields of `dupes`: `<device_id>|e` (events) and
 * `<device_id>|r` (readings). Fields of `accepted`: `<device_id>|a`, events × 2^32 + readings
 * in one integer (one field and one HINCRBY a device per bus entry instead of two: the gateway
 * writes these with every entry), and
 * `<device_id>|s` (readings the gateway sampled away under backpressure, acked but never on the
 * bus). Hashes written before `|a` existed hold `|e` and `|r` there too; both read the same.
 * Readings of one device in one hour stay far below 2^32 (64 a event, 67 M events), so the
 * sum never carries into the events. All are exact: each is written atomically with the fact
 * it counts (a fully sampled-out event still goes through append.lua, without entry).
 */

export const HOUR_MS = 3_600_000;
/** Counters outlive the oldest accepted event time (7 days) with a margin. */
export const COUNTER_TTL_S = 9 * 24 * 3600;
/** Readings take the low 32 bits of an `|a` counter, events the bits above. */
const PACK = 2 ** 32;
const PACK_BIG = BigInt(PACK);

export interface HourCounts {
  /** Hour start, epoch ms. */
  hour: number;
  /** field → increment */
  fields: Map<string, number>;
}

/** Something to count: a device's event (or its sampled-out readings) at an event time. */
export interface CountedReadings {
  deviceId: string;
  eventTime: number;
  readings: number;
}

/** Per (hour, device): events, readings, readings sampled out. */
type Tally = [events: number, readings: number, sampled: number];

/**
 * Count events and readings per (event hour, device) as `|e` and `|r` fields, and readings
 * sampled out (`|s`): the shard's duplicate counters.
 */
export function countByHour(events: Iterable<CountedReadings>, sampledOut: Iterable<CountedReadings> = []): HourCounts[] {
  const tally = new HourTally();
  for (const e of events) tally.event(e.deviceId, e.eventTime, e.readings);
  for (const s of sampledOut) tally.sampled(s);
  return tally.counts(false);
}

/**
 * Events, readings and readings sampled out per (event hour, device), counted one at a time
 * (the gateway counts each event as it encodes it into its entry). Hot path (every bus
 * append): a field name is built once per (hour, device) by counts(), not once per event.
 */
export class HourTally {
  private readonly hours = new Map<number, Map<string, Tally>>();
  // Events of one entry nearly all share an hour: look its map up only when the hour changes.
  private lastHour = Number.NaN;
  private devices = new Map<string, Tally>();

  /** Count one event of `readings` readings. */
  event(deviceId: string, eventTime: number, readings: number): void {
    const t = this.at(deviceId, eventTime);
    t[0] += 1;
    t[1] += readings;
  }

  /** Count readings sampled away. */
  sampled(s: CountedReadings): void {
    this.at(s.deviceId, s.eventTime)[2] += s.readings;
  }

  /** The counter fields by hour: `|a` packed (accepted counters) or `|e` and `|r`, and `|s`. */
  counts(packed: boolean): HourCounts[] {
    const out: HourCounts[] = [];
    for (const [hour, devices] of this.hours) {
      const fields = new Map<string, number>();
      for (const [device, [e, r]] of devices) {
        if (e === 0) continue;
        if (packed) {
          fields.set(`${device}|a`, e * PACK + r);
        } else {
          fields.set(`${device}|e`, e);
          fields.set(`${device}|r`, r);
        }
      }
      for (const [device, [, , sampled]] of devices) if (sampled > 0) fields.set(`${device}|s`, sampled);
      out.push({ hour, fields });
    }
    return out;
  }

  private at(deviceId: string, eventTime: number): Tally {
    const hour = Math.floor(eventTime / HOUR_MS) * HOUR_MS;
    if (hour !== this.lastHour) {
      this.lastHour = hour;
      const known = this.hours.get(hour);
      if (known) this.devices = known;
      else this.hours.set(hour, (this.devices = new Map<string, Tally>()));
    }
    let t = this.devices.get(deviceId);
    if (!t) this.devices.set(deviceId, (t = [0, 0, 0]));
    return t;
  }
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

export interface DeviceCounts {
  events: number;
  readings: number;
  /** Readings sampled away by the gateway (accepted counters only). */
  sampledOut: number;
}

/** Parse a counter hash into device → counts. */
export function parseCounterHash(hash: Record<string, string>): Map<string, DeviceCounts> {
  const out = new Map<string, DeviceCounts>();
  for (const [field, value] of Object.entries(hash)) {
    const bar = field.lastIndexOf('|');
    const device = field.slice(0, bar);
    const entry = out.get(device) ?? { events: 0, readings: 0, sampledOut: 0 };
    const kind = field.slice(bar + 1);
    if (kind === 'a') {
      // Past 2^53 (8 M events of one device in one hour) a Number would round: split exactly.
      const packed = BigInt(value);
      entry.events += Number(packed / PACK_BIG);
      entry.readings += Number(packed % PACK_BIG);
    } else if (kind === 'e') entry.events += Number(value);
    else if (kind === 's') entry.sampledOut += Number(value);
    else entry.readings += Number(value);
    out.set(device, entry);
  }
  return out;
}
