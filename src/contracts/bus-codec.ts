/**
 * The payload of one Redis stream entry: a MessagePack batch of canonical events.
 *
 *   [FORMAT_VERSION, event, event, ...]
 *   event    = [eventId, deviceId, region, eventTime, ingestTime, firmwareVersion,
 *               schemaVersion, seq, readings, weights?, cid?]
 *   readings = [sensorType, value, unit, sensorType, value, unit, ...]   (flat triples)
 *   weights  = [weight, weight, ...]   one per reading; present only when the gateway sampled
 *              the event (some reading stands for more than one), absent = every weight 1;
 *              nil when the event has a cid but was not sampled
 *   cid      = the correlation id of the gateway frame (1–64 characters), or nil for none;
 *              written only where it changes: an event without the field has the cid of the
 *              event before it in the entry (none for the first)
 *
 * Positional arrays keep entries small and decoding cheap. A frame's events are contiguous in
 * an entry, so its cid costs a few bytes per frame, not per event; an entry without cids is
 * byte for byte what it was before cids existed. The leading version lets the format evolve while old
 * entries are still in the stream: version 1 (before sampling, never a weights field) still
 * decodes. Decoding checks every field: an entry that does not decode is poison
 * (UnrecoverableError ENTRY_UNDECODABLE → DLQ). Numbers are float64 or ints, so values
 * round-trip exactly; -0 decodes as 0 (the validator never produces -0).
 */
import { Packr, Unpackr } from 'msgpackr';
import { UnrecoverableError } from '../errors.js';
import type { CanonicalEvent, Reading } from './canonical-event.js';

export const BUS_FORMAT_VERSION = 2;
/** The most events the gateway puts in one stream entry (readers size their reads by it). */
export const MAX_EVENTS_PER_ENTRY = 2000;
/** The format before readings carried weights: always 9 fields an event. */
const UNWEIGHTED_FORMAT_VERSION = 1;
const EVENT_FIELDS = 9;
/** Largest reading weight: ClickHouse stores it as UInt16 (sampling uses at most 1000). */
const MAX_WEIGHT = 65_535;
/** Longest correlation id an entry may carry. */
const MAX_CID_LENGTH = 64;

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, structuredClone: false, int64AsType: 'number' });

/** Encode a batch of events as one stream entry payload. */
export function encodeEvents(events: readonly CanonicalEvent[]): Buffer {
  const out = new Array<unknown>(events.length + 1);
  out[0] = BUS_FORMAT_VERSION;
  /** The cid in force: written only where it changes (a frame's events are contiguous). */
  let cid: string | undefined;
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as CanonicalEvent;
    const readings = new Array<string | number>(e.readings.length * 3);
    let weighted = false;
    for (let j = 0; j < e.readings.length; j++) {
      const r = e.readings[j] as Reading;
      readings[j * 3] = r.sensorType;
      readings[j * 3 + 1] = r.value;
      readings[j * 3 + 2] = r.unit;
      if (r.weight > 1) weighted = true;
    }
    const fields: unknown[] = [e.eventId, e.deviceId, e.region, e.eventTime, e.ingestTime, e.firmwareVersion, e.schemaVersion, e.seq, readings];
    const cidChanged = e.cid !== cid;
    if (weighted || cidChanged) fields.push(weighted ? e.readings.map((r) => r.weight) : null);
    if (cidChanged) {
      fields.push(e.cid ?? null);
      cid = e.cid;
    }
    out[i + 1] = fields;
  }
  return packr.pack(out);
}

function undecodable(detail: string, cause?: unknown): UnrecoverableError {
  return new UnrecoverableError('ENTRY_UNDECODABLE', `bus entry is not decodable: ${detail}`, cause === undefined ? {} : { cause });
}

/** Readings from flat triples, with their weights (undefined: every weight 1). */
function decodeReadings(raw: unknown, weights: unknown, at: number): Reading[] {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length % 3 !== 0) throw undecodable(`event ${at}: readings must be non-empty triples`);
  const n = raw.length / 3;
  if (weights !== undefined && !(Array.isArray(weights) && weights.length === n)) throw undecodable(`event ${at}: weights must be an array of one weight per reading`);
  const out = new Array<Reading>(n);
  for (let j = 0; j < raw.length; j += 3) {
    const sensorType: unknown = raw[j];
    const value: unknown = raw[j + 1];
    const unit: unknown = raw[j + 2];
    if (typeof sensorType !== 'string' || typeof value !== 'number' || !Number.isFinite(value) || typeof unit !== 'string')
      throw undecodable(`event ${at}: reading ${j / 3} must be [string, finite number, string]`);
    const weight: unknown = weights === undefined ? 1 : (weights as unknown[])[j / 3];
    if (!(Number.isInteger(weight) && (weight as number) >= 1 && (weight as number) <= MAX_WEIGHT))
      throw undecodable(`event ${at}: reading ${j / 3} weight must be an integer from 1 to ${MAX_WEIGHT}`);
    out[j / 3] = { sensorType, value, unit, weight: weight as number };
  }
  return out;
}

/**
 * One event: 9 fields, or 10 (with weights) or 11 (weights or nil, cid or nil) from format 2
 * on. `inherited`: the cid in force from the events before it.
 */
function decodeEvent(raw: unknown, at: number, maxFields: number, inherited: string | undefined): CanonicalEvent {
  if (!Array.isArray(raw) || raw.length < EVENT_FIELDS || raw.length > maxFields)
    throw undecodable(`event ${at} must be an array of ${maxFields === EVENT_FIELDS ? EVENT_FIELDS : `${EVENT_FIELDS} to ${maxFields}`} fields`);
  const [eventId, deviceId, region, eventTime, ingestTime, firmwareVersion, schemaVersion, seq, readings, weights, cid] = raw as unknown[];
  if (typeof eventId !== 'string' || typeof deviceId !== 'string' || typeof region !== 'string' || typeof firmwareVersion !== 'string')
    throw undecodable(`event ${at}: ids, region and firmware version must be strings`);
  if (typeof eventTime !== 'number' || !Number.isFinite(eventTime) || typeof ingestTime !== 'number' || !Number.isFinite(ingestTime))
    throw undecodable(`event ${at}: event and ingest times must be finite numbers`);
  if (schemaVersion !== 1 && schemaVersion !== 2) throw undecodable(`event ${at}: schema version must be 1 or 2`);
  if (seq !== null && !(Number.isSafeInteger(seq) && (seq as number) >= 0)) throw undecodable(`event ${at}: seq must be null or a non-negative integer`);
  const hasCid = raw.length > EVENT_FIELDS + 1;
  if (hasCid && cid !== null && !(typeof cid === 'string' && cid.length >= 1 && cid.length <= MAX_CID_LENGTH))
    throw undecodable(`event ${at}: cid must be nil or a string of 1 to ${MAX_CID_LENGTH} characters`);
  if (weights === null && !hasCid) throw undecodable(`event ${at}: weights may be nil only before a cid`);
  const event: CanonicalEvent = {
    eventId,
    deviceId,
    region,
    eventTime,
    ingestTime,
    firmwareVersion,
    schemaVersion,
    seq: seq as number | null,
    readings: decodeReadings(readings, weights ?? undefined, at),
  };
  const own = hasCid ? ((cid as string | null) ?? undefined) : inherited;
  if (own !== undefined) event.cid = own;
  return event;
}

/** Decode a stream entry payload; throws UnrecoverableError ENTRY_UNDECODABLE on anything else. */
export function decodeEvents(buf: Uint8Array): CanonicalEvent[] {
  let root: unknown;
  try {
    root = unpackr.unpack(buf);
  } catch (err) {
    throw undecodable('not one MessagePack value', err);
  }
  if (!Array.isArray(root) || root.length === 0) throw undecodable('the payload must be a non-empty array');
  const version: unknown = root[0];
  if (version !== BUS_FORMAT_VERSION && version !== UNWEIGHTED_FORMAT_VERSION)
    throw undecodable(`unknown format version ${typeof version === 'number' ? version : typeof version}`);
  const maxFields = version === BUS_FORMAT_VERSION ? EVENT_FIELDS + 2 : EVENT_FIELDS;
  const events = new Array<CanonicalEvent>(root.length - 1);
  let cid: string | undefined;
  for (let i = 1; i < root.length; i++) {
    const event = decodeEvent(root[i], i - 1, maxFields, cid);
    cid = event.cid;
    events[i - 1] = event;
  }
  return events;
}
