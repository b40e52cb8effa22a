/**
 * The audit (`shoal audit`, GET /api/v1/audit): per region, device and event hour, compares
 *
 *   expected   = accepted onto the bus (gateway counters, written with each entry)
 *              − dropped as duplicates (shard counters, written with each checkpoint)
 *   archived   = rows in the raw archive (Parquet objects of those dates)
 *   stored     = distinct events and readings in ClickHouse `events`
 *   rolled up  = readings stored into `rollup_1h` (its `readings`, not the weighted `count`)
 *
 * and reports every (region, device, hour) where they differ. Readings the gateway sampled
 * away under backpressure never reach the bus, so they are in none of these; they are reported
 * beside them (`sampled_out_readings`, from the gateway's `|s` counters) and are no difference.
 * Each side is exact: the
 * counters are written atomically with what they count, so a difference is a real loss or a
 * double count (or a duplicate that came back after the dedup horizon).
 */
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { regionDatabase } from '../config.js';
import { HOUR_MS, parseCounterHash } from '../runtime/audit-counters.js';
import type { Keys } from '../runtime/keys.js';
import type { AnalyticsStore } from '../sinks/analytics-store.js';
import type { ObjectStore } from '../sinks/object-store.js';
import { tallyRolledUp, tallyStoredEvents } from '../sinks/queries.js';
import { archivePrefix, eventDate, readArchiveObject } from '../sinks/raw-archive.js';

export interface AuditRow {
  region: string;
  device_id: string;
  /** Hour start, RFC 3339. */
  hour: string;
  accepted_events: number;
  duplicate_events: number;
  expected_events: number;
  expected_readings: number;
  archived_events: number;
  archived_readings: number;
  stored_events: number;
  stored_readings: number;
  rolled_up_readings: number;
  /** Readings acked but sampled away by the gateway (represented by the kept ones' weights). */
  sampled_out_readings: number;
  ok: boolean;
}

export interface AuditReport {
  from: string;
  to: string;
  checked: number;
  differences: AuditRow[];
  totals: {
    expected_events: number;
    archived_events: number;
    stored_events: number;
    expected_readings: number;
    rolled_up_readings: number;
    sampled_out_readings: number;
  };
}

export interface AuditorDeps {
  config: Config;
  redis: Redis;
  keys: Keys;
  store: AnalyticsStore;
  objects: ObjectStore;
}

type Tally = Omit<AuditRow, 'region' | 'device_id' | 'hour' | 'ok' | 'expected_events' | 'expected_readings'> & {
  accepted_readings: number;
  duplicate_readings: number;
};

function blank(): Tally {
  return {
    accepted_events: 0,
    accepted_readings: 0,
    duplicate_events: 0,
    duplicate_readings: 0,
    archived_events: 0,
    archived_readings: 0,
    stored_events: 0,
    stored_readings: 0,
    rolled_up_readings: 0,
    sampled_out_readings: 0,
  };
}

export class Auditor {
  constructor(private readonly deps: AuditorDeps) {}

  async run(from: number, to: number): Promise<AuditReport> {
    const tallies = new Map<string, Tally>();
    const at = (region: string, device: string, hour: number): Tally => {
      const key = `${region}\u0000${device}\u0000${hour}`;
      let t = tallies.get(key);
      if (!t) tallies.set(key, (t = blank()));
      return t;
    };
    const hours: number[] = [];
    for (let h = Math.floor(from / HOUR_MS) * HOUR_MS; h < to; h += HOUR_MS) hours.push(h);

    for (const region of this.deps.config.regions) {
      await this.countBus(region, hours, at);
      await this.countArchive(region, from, to, at);
      const db = regionDatabase(this.deps.config, region);
      for (const t of await tallyStoredEvents(this.deps.store, db, from, to)) {
        const x = at(region, t.deviceId, t.hour);
        x.stored_events += t.events;
        x.stored_readings += t.readings;
      }
      for (const t of await tallyRolledUp(this.deps.store, db, from, to)) at(region, t.deviceId, t.hour).rolled_up_readings += t.readings;
    }

    const report: AuditReport = {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      checked: tallies.size,
      differences: [],
      totals: { expected_events: 0, archived_events: 0, stored_events: 0, expected_readings: 0, rolled_up_readings: 0, sampled_out_readings: 0 },
    };
    const keys = [...tallies.keys()].sort();
    for (const key of keys) {
      const t = tallies.get(key)!;
      const [region = '', device = '', hour = '0'] = key.split('\u0000');
      const expected_events = t.accepted_events - t.duplicate_events;
      const expected_readings = t.accepted_readings - t.duplicate_readings;
      const ok =
        t.archived_events === expected_events &&
        t.archived_readings === expected_readings &&
        t.stored_events === expected_events &&
        t.stored_readings === expected_readings &&
        t.rolled_up_readings === expected_readings;
      report.totals.expected_events += expected_events;
      report.totals.archived_events += t.archived_events;
      report.totals.stored_events += t.stored_events;
      report.totals.expected_readings += expected_readings;
      report.totals.rolled_up_readings += t.rolled_up_readings;
      report.totals.sampled_out_readings += t.sampled_out_readings;
      if (!ok) {
        report.differences.push({
          region,
          device_id: device,
          hour: new Date(Number(hour)).toISOString(),
          accepted_events: t.accepted_events,
          duplicate_events: t.duplicate_events,
          expected_events,
          expected_readings,
          archived_events: t.archived_events,
          archived_readings: t.archived_readings,
          stored_events: t.stored_events,
          stored_readings: t.stored_readings,
          rolled_up_readings: t.rolled_up_readings,
          sampled_out_readings: t.sampled_out_readings,
          ok,
        });
      }
    }
    return report;
  }

  /** Gateway accepted (and sampled-out) counters and shard duplicate counters, every partition and hour. */
  private async countBus(region: string, hours: readonly number[], at: (r: string, d: string, h: number) => Tally): Promise<void> {
    const { keys, redis, config } = this.deps;
    const jobs: Promise<void>[] = [];
    for (let p = 0; p < config.partitions; p++) {
      for (const hour of hours) {
        jobs.push(
          Promise.all([redis.hgetall(keys.acceptedCounts(region, p, hour)), redis.hgetall(keys.duplicateCounts(region, p, hour))]).then(([acc, dup]) => {
            for (const [device, c] of parseCounterHash(acc)) {
              const t = at(region, device, hour);
              t.accepted_events += c.events;
              t.accepted_readings += c.readings;
              t.sampled_out_readings += c.sampledOut;
            }
            for (const [device, c] of parseCounterHash(dup)) {
              const t = at(region, device, hour);
              t.duplicate_events += c.events;
              t.duplicate_readings += c.readings;
            }
          }),
        );
      }
    }
    await Promise.all(jobs);
  }

  /** Rows of the raw archive whose event time falls in [from, to). */
  private async countArchive(region: string, from: number, to: number, at: (r: string, d: string, h: number) => Tally): Promise<void> {
    const dates = new Set<string>();
    for (let d = Math.floor(from / 86_400_000) * 86_400_000; d < to; d += 86_400_000) dates.add(eventDate(d));
    for (const date of dates) {
      for (const object of await this.deps.objects.list(archivePrefix(region, date))) {
        const body = await this.deps.objects.get(object.key);
        if (!body) continue;
        for (const row of await readArchiveObject(body)) {
          if (row.eventTime < from || row.eventTime >= to) continue;
          const t = at(region, row.deviceId, Math.floor(row.eventTime / HOUR_MS) * HOUR_MS);
          t.archived_readings++;
          if (row.readingIndex === 0) t.archived_events++;
        }
      }
    }
  }
}
