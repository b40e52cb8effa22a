/**
 * The MessagePack bus entry formats Shoal wrote before format 3 (bus-codec.ts), still read:
 * entries written by an older gateway may wait in a stream or a dead-letter entry.
 *
 *   [version, event, event, ...]
 *   event    = [eventId, deviceId, region, eventTime, ingestTime, firmwareVersion,
 *               schemaVersion, seq, readings, weights?, cid?]
 *   readings = [sensorType, value, unit, sensorType, value, unit, ...]   (flat triples)
 *   weights  = [weight, ...] one per reading, present only when some weight is above 1;
 *              nil when the event has a cid but no weights
 *   cid      = the frame's correlation id or nil; written only where it changes: an event
 *              without the field has the cid of the event before it
 *
 * Version 1 (before sampling) has exactly the 9 first fields; version 2 up to 11.
 */
import { Unpackr } from 'msgpackr';
import { UnrecoverableError } from '../errors.js';
import type { CanonicalEvent, Reading } from './canonical-event.js';
import { DEVICE_ID_RULE, LABEL_RULE, MAX_READINGS_PER_EVENT, isDeviceId, isLabel } from './limits.js';

/** The format before readings carried weights: always 9 fields an event. */
export const UNWEIGHTED_FORMAT_VERSION = 1;
/** The MessagePack format with weights and cids. */
export const MSGPACK_FORMAT_VERSION = 2;
const EVENT_FIELDS = 9;
/** Largest reading weight: ClickHouse stores it as UInt16 (sampling uses at most 1000). */
export const MAX_WEIGHT = 65_535;
/** Longest correlation id an entry may carry. */
export const MAX_CID_LENGTH = 64;

const unpackr = new Unpackr({ useRecords: false, structuredClone: false, int64AsType: 'number' });

export function undecodable(detail: string, cause?: unknown): UnrecoverableError {
  return new UnrecoverableError('ENTRY_UNDECODABLE', `bus entry is not decodable: ${detail}`, cause === undefined ? {} : { cause });
}

export function isWeight(weight: unknown): weight is number {
  return Number.isInteger(weight) && (weight as number) >= 1 && (weight as number) <= MAX_WEIGHT;
}

export function isCid(cid: unknown): cid is string {
  return typeof cid === 'string' && cid.length >= 1 && cid.length <= MAX_CID_LENGTH;
}

/** Readings from flat triples, with their weights (undefined: every weight 1). */
function decodeReadings(raw: unknown, weights: unknown, at: number): Reading[] {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length % 3 !== 0) throw undecodable(`event ${at}: readings must be non-empty triples`);
  const n = raw.length / 3;
  if (n > MAX_READINGS_PER_EVENT) throw undecodable(`event ${at}: ${n} readings, over the limit of ${MAX_READINGS_PER_EVENT}`);
  if (weights !== undefined && !(Array.isArray(weights) && weights.length === n)) throw undecodable(`event ${at}: weights must be an array of one weight per reading`);
  const out = new Array<Reading>(n);
  for (let j = 0; j < raw.length; j += 3) {
    const sensorType: unknown = raw[j];
    const value: unknown = raw[j + 1];
    const unit: unknown = raw[j + 2];
    if (!isLabel(sensorType) || typeof value !== 'number' || !Number.isFinite(value) || !isLabel(unit))
      throw undecodable(`event ${at}: reading ${j / 3} must be [label, finite number, label], a label ${LABEL_RULE}`);
    const weight: unknown = weights === undefined ? 1 : (weights as unknown[])[j / 3];
    if (!isWeight(weight)) throw undecodable(`event ${at}: reading ${j / 3} weight must be an integer from 1 to ${MAX_WEIGHT}`);
    out[j / 3] = { sensorType, value, unit, weight };
  }
  return out;
}

/** One event: 9 fields, or 10 (with weights) or 11 (weights or nil, cid or nil) in format 2. */
function decodeEvent(raw: unknown, at: number, maxFields: number, inherited: string | undefined): CanonicalEvent {
  if (!Array.isArray(raw) || raw.length < EVENT_FIELDS || raw.length > maxFields)
    throw undecodable(`event ${at} must be an array of ${maxFields === EVENT_FIELDS ? EVENT_FIELDS : `${EVENT_FIELDS} to ${maxFields}`} fields`);
  const [eventId, deviceId, region, eventTime, ingestTime, firmwareVersion, schemaVersion, seq, readings, weights, cid] = raw as unknown[];
  if (typeof eventId !== 'string') throw undecodable(`event ${at}: the event id must be a string`);
  if (!isDeviceId(deviceId)) throw undecodable(`event ${at}: the device id must be ${DEVICE_ID_RULE}`);
  if (!isLabel(region) || !isLabel(firmwareVersion)) throw undecodable(`event ${at}: region and firmware version must be ${LABEL_RULE}`);
  if (typeof eventTime !== 'number' || !Number.isFinite(eventTime) || typeof ingestTime !== 'number' || !Number.isFinite(ingestTime))
    throw undecodable(`event ${at}: event and ingest times must be finite numbers`);
  if (schemaVersion !== 1 && schemaVersion !== 2) throw undecodable(`event ${at}: schema version must be 1 or 2`);
  if (seq !== null && !(Number.isSafeInteger(seq) && (seq as number) >= 0)) throw undecodable(`event ${at}: seq must be null or a non-negative integer`);
  const hasCid = raw.length > EVENT_FIELDS + 1;
  if (hasCid && cid !== null && !isCid(cid)) throw undecodable(`event ${at}: cid must be nil or a string of 1 to ${MAX_CID_LENGTH} characters`);
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

/**
 * Decode a format 1 or 2 payload of at most `maxEvents` events; throws UnrecoverableError
 * ENTRY_UNDECODABLE on anything else.
 */
export function decodeMsgpackEntry(buf: Uint8Array, maxEvents: number): CanonicalEvent[] {
  let root: unknown;
  try {
    root = unpackr.unpack(buf);
  } catch (err) {
    throw undecodable('not one MessagePack value', err);
  }
  if (!Array.isArray(root) || root.length === 0) throw undecodable('the payload must be a non-empty array');
  const version: unknown = root[0];
  if (version !== MSGPACK_FORMAT_VERSION && version !== UNWEIGHTED_FORMAT_VERSION)
    throw undecodable(`unknown format version ${typeof version === 'number' ? version : typeof version}`);
  if (root.length - 1 > maxEvents) throw undecodable(`${root.length - 1} events, over the limit of ${maxEvents}`);
  const maxFields = version === MSGPACK_FORMAT_VERSION ? EVENT_FIELDS + 2 : EVENT_FIELDS;
  const events = new Array<CanonicalEvent>(root.length - 1);
  let cid: string | undefined;
  for (let i = 1; i < root.length; i++) {
    const event = decodeEvent(root[i], i - 1, maxFields, cid);
    cid = event.cid;
    events[i - 1] = event;
  }
  return events;
}
