/**
 * The canonical event: what both schema versions normalise to, what the gateway appends to
 * the bus, and what actors consume. A v1 event has exactly one reading; a v2 event has 1–64.
 * Each reading becomes one row keyed by (event_id, reading_index).
 *
 * A reading's `weight` is how many readings it stands for: 1, except where the gateway sampled
 * a sensor type under backpressure and kept one reading in k, which then carries weight k, so
 * rollups (count = Σ weight, sum = Σ value × weight) stay unbiased estimates.
 */

export interface Reading {
  sensorType: string;
  value: number;
  unit: string;
  /** Readings this one stands for: an integer ≥ 1; 1 unless the gateway sampled it. */
  weight: number;
}

export interface CanonicalEvent {
  eventId: string;
  deviceId: string;
  region: string;
  /** Event time, epoch milliseconds UTC. */
  eventTime: number;
  /** Gateway receipt time, epoch milliseconds UTC. */
  ingestTime: number;
  firmwareVersion: string;
  schemaVersion: 1 | 2;
  /** v2's optional per-device monotonic sequence number. */
  seq: number | null;
  readings: Reading[];
  /**
   * Correlation id of the frame the gateway accepted the event in: logged by the gateway and
   * by the shard that applies and flushes the event. Absent on events from older entries.
   */
  cid?: string;
}

/** One row of the ClickHouse `events` table and of the raw archive. */
export interface ReadingRow {
  eventId: string;
  readingIndex: number;
  deviceId: string;
  region: string;
  eventTime: number;
  ingestTime: number;
  sensorType: string;
  value: number;
  unit: string;
  /** Readings this row stands for (see Reading.weight). */
  weight: number;
  firmwareVersion: string;
  schemaVersion: 1 | 2;
  seq: number | null;
  /** Bus offset (Redis stream entry id) the event was read from. */
  streamId: string;
  partition: number;
}

/** The reading rows of events, each with the stream id of the entry it came from. */
export function expandReadingRows(events: readonly CanonicalEvent[], streamIds: readonly string[], partition: number): ReadingRow[] {
  const rows: ReadingRow[] = [];
  for (let i = 0; i < events.length; i++) for (const row of toReadingRows(events[i] as CanonicalEvent, streamIds[i] as string, partition)) rows.push(row);
  return rows;
}

/** Expand a canonical event into its reading rows. */
export function toReadingRows(event: CanonicalEvent, streamId: string, partition: number): ReadingRow[] {
  return event.readings.map((r, readingIndex) => ({
    eventId: event.eventId,
    readingIndex,
    deviceId: event.deviceId,
    region: event.region,
    eventTime: event.eventTime,
    ingestTime: event.ingestTime,
    sensorType: r.sensorType,
    value: r.value,
    unit: r.unit,
    weight: r.weight,
    firmwareVersion: event.firmwareVersion,
    schemaVersion: event.schemaVersion,
    seq: event.seq,
    streamId,
    partition,
  }));
}
