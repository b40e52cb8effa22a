/**
 * The payload of one Redis stream entry: a MessagePack batch of canonical events.
 *
 *   [FORMAT_VERSION, event, event, ...]
 *   event    = [eventId, deviceId, region, eventTime, ingestTime, firmwareVersion,
 *               schemaVersion, seq, readings]
 *   readings = [sensorType, value, unit, sensorType, value, unit, ...]   (flat triples)
 *
 * Positional arrays keep entries small and decoding cheap; the leading version lets the
 * format evolve while old entries are still in the stream. Decoding checks every field: an
 * entry that does not decode is poison (UnrecoverableError ENTRY_UNDECODABLE → DLQ).
 * Numbers are float64 or ints, so values round-trip exactly; -0 decodes as 0 (the validator
 * never produces -0).
 */
import { Packr, Unpackr } from 'msgpackr';
import { UnrecoverableError } from '../errors.js';
import type { CanonicalEvent, Reading } from './canonical-event.js';

export const BUS_FORMAT_VERSION = 1;
const EVENT_FIELDS = 9;

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, structuredClone: false, int64AsType: 'number' });

/** Encode a batch of events as one stream entry payload. */
export function encodeEvents(events: readonly CanonicalEvent[]): Buffer {
  const out = new Array<unknown>(events.length + 1);
  out[0] = BUS_FORMAT_VERSION;
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as CanonicalEvent;
    const readings = new Array<string | number>(e.readings.length * 3);
    for (let j = 0; j < e.readings.length; j++) {
      const r = e.readings[j] as Reading;
      readings[j * 3] = r.sensorType;
      readings[j * 3 + 1] = r.value;
      readings[j * 3 + 2] = r.unit;
    }
    out[i + 1] = [e.eventId, e.deviceId, e.region, e.eventTime, e.ingestTime, e.firmwareVersion, e.schemaVersion, e.seq, readings];
  }
  return packr.pack(out);
}

function undecodable(detail: string, cause?: unknown): UnrecoverableError {
  return new UnrecoverableError('ENTRY_UNDECODABLE', `bus entry is not decodable: ${detail}`, cause === undefined ? {} : { cause });
}

function decodeReadings(raw: unknown, at: number): Reading[] {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length % 3 !== 0) throw undecodable(`event ${at}: readings must be non-empty triples`);
  const out = new Array<Reading>(raw.length / 3);
  for (let j = 0; j < raw.length; j += 3) {
    const sensorType: unknown = raw[j];
    const value: unknown = raw[j + 1];
    const unit: unknown = raw[j + 2];
    if (typeof sensorType !== 'string' || typeof value !== 'number' || !Number.isFinite(value) || typeof unit !== 'string')
      throw undecodable(`event ${at}: reading ${j / 3} must be [string, finite number, string]`);
    out[j / 3] = { sensorType, value, unit };
  }
  return out;
}

function decodeEvent(raw: unknown, at: number): CanonicalEvent {
  if (!Array.isArray(raw) || raw.length !== EVENT_FIELDS) throw undecodable(`event ${at} must be an array of ${EVENT_FIELDS} fields`);
  const [eventId, deviceId, region, eventTime, ingestTime, firmwareVersion, schemaVersion, seq, readings] = raw as unknown[];
  if (typeof eventId !== 'string' || typeof deviceId !== 'string' || typeof region !== 'string' || typeof firmwareVersion !== 'string')
    throw undecodable(`event ${at}: ids, region and firmware version must be strings`);
  if (typeof eventTime !== 'number' || !Number.isFinite(eventTime) || typeof ingestTime !== 'number' || !Number.isFinite(ingestTime))
    throw undecodable(`event ${at}: event and ingest times must be finite numbers`);
  if (schemaVersion !== 1 && schemaVersion !== 2) throw undecodable(`event ${at}: schema version must be 1 or 2`);
  if (seq !== null && !(Number.isSafeInteger(seq) && (seq as number) >= 0)) throw undecodable(`event ${at}: seq must be null or a non-negative integer`);
  return {
    eventId,
    deviceId,
    region,
    eventTime,
    ingestTime,
    firmwareVersion,
    schemaVersion,
    seq: seq as number | null,
    readings: decodeReadings(readings, at),
  };
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
  if (root[0] !== BUS_FORMAT_VERSION) throw undecodable(`unknown format version ${typeof root[0] === 'number' ? root[0] : typeof root[0]}`);
  const events = new Array<CanonicalEvent>(root.length - 1);
  for (let i = 1; i < root.length; i++) events[i - 1] = decodeEvent(root[i], i - 1);
  return events;
}
