/**
 * Types of the functional core. Actors are pure: given state and a batch of events they
 * return new state and the rows to flush. No I/O, no clocks: time is the bus time carried
 * by the stream entries, so a replay of the same entries yields the same output.
 */
import type { CanonicalEvent, ReadingRow } from '../contracts/canonical-event.js';
import type { AcceptedIds } from './accepted-ids.js';

/** One centroid of a quantile sketch: mean of `weight` values. */
export type Centroid = [mean: number, weight: number];

/** Mergeable partial aggregate of one (device, sensor, window). */
export interface WindowPartial {
  deviceId: string;
  sensorType: string;
  /** Window start, epoch ms UTC. */
  windowStart: number;
  /** Readings stored for this partial (each once, whatever its weight). */
  readings: number;
  /** Readings represented: Σ weight (equal to `readings` unless the gateway sampled). */
  count: number;
  /** Σ value × weight. */
  sum: number;
  min: number;
  max: number;
  /** Quantile sketch: at most `digestSize` centroids, sorted by mean; exact values when few;
   *  its total weight is `count`. */
  digest: Centroid[];
}

/** An event id the actor accepted, with the bus time of the entry it came from. */
export interface DedupRecord {
  deviceId: string;
  eventId: string;
  busTime: number;
}

/** An event dropped as a duplicate: who, when, how many readings. */
export interface DroppedDuplicate {
  deviceId: string;
  eventTime: number;
  readings: number;
}

/**
 * The events a batch accepted, in acceptance order, each with the stream entry it came from:
 * its reading rows, not expanded. Kept only where no AcceptedEventWriter takes the events as
 * they are accepted (with chDB the shard's EventsBodyWriter does, and these stay empty).
 */
export interface AcceptedEvents {
  readonly events: readonly CanonicalEvent[];
  readonly streamIds: readonly string[];
  readonly partition: number;
}

/**
 * Where a partition's accepted events go as they are accepted, when the batch does not keep
 * them until its flush: the shard's EventsBodyWriter writes their rows into the `events`
 * insert, and the event objects are garbage at once instead of surviving to the flush.
 */
export interface AcceptedEventWriter {
  write(event: CanonicalEvent, streamId: string, partition: number): void;
}

/** Everything one flush writes, in a deterministic order. */
export interface FlushBatch {
  /**
   * The accepted events whose reading rows this flush writes; empty lists when they went to
   * an AcceptedEventWriter as they were accepted.
   */
  events: AcceptedEvents;
  /** Reading rows of those events (Σ readings). */
  rowCount: number;
  /**
   * The reading rows themselves, expanded from `events` when first read (and kept). Throws
   * when the events went to a writer (their rows are in its insert, not here).
   */
  readonly rows: ReadingRow[];
  /** Ingest time of each accepted event, in acceptance order (visibility at the commit). */
  ingestTimes: number[];
  /** Reading rows per UTC day of event time, days ascending (the archive's objects). */
  rowsPerDay: [day: number, rows: number][];
  /** Minute partials; ClickHouse also rolls them into their hours (clickhouse-schema.ts). */
  rollup1m: WindowPartial[];
  /** Ids accepted since the previous drain, in acceptance order (for the dedup log). */
  accepted: AcceptedIds;
  /**
   * The dedup index's restore floor at the drain (DedupIndex.restoreFloor): ids accepted
   * before this bus time are no longer needed to rebuild it, so the dedup log is trimmed
   * below it and a restore skips them.
   */
  dedupFloor: number;
  /** Events dropped as duplicates since the previous drain. */
  duplicates: number;
  /** Those duplicates, for the audit's per device and hour counters. */
  dropped: DroppedDuplicate[];
  /** Events older than their window's... nothing: late events always merge. Count of events
   *  whose event time was more than one minute behind the device's newest event time. */
  late: number;
}

export interface ActorOptions {
  /** How long an event id is remembered, ms of bus time. */
  dedupHorizonMs: number;
  /**
   * Most event ids the partition's dedup index remembers (the oldest bus time's ids are
   * evicted first when full); ~20 B each. Default DEFAULT_DEDUP_MAX_IDS_PER_PARTITION
   * (the config gives 2,000,000: its default 8,000,000 per process over 2 regions × 2 partitions).
   */
  dedupMaxIds?: number;
  /** Actors idle this long (bus time) are passivated. */
  idleMs: number;
  /** Most centroids per window digest. */
  digestSize?: number;
}
