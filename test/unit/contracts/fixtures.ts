/**
 * Shared builders for the contract tests: a validation context with the default limits,
 * realistic v1/v2 device events, frame encoders (JSON text, MessagePack binary) and
 * fast-check generators of valid events together with the canonical event each must become.
 */
import fc from 'fast-check';
import { pack } from 'msgpackr';
import type { CanonicalEvent, Reading } from '../../../src/contracts/canonical-event.js';
import type { ValidationContext } from '../../../src/contracts/types.js';

export const NOW = Date.UTC(2024, 4, 1, 12, 0, 0);
export const DAY = 86_400_000;
export const REGIONS = ['us-east', 'eu-west'] as const;

export function context(overrides: Partial<ValidationContext> = {}): ValidationContext {
  return {
    now: NOW,
    regions: REGIONS,
    identity: null,
    maxFrameBytes: 1024 * 1024,
    maxEventsPerFrame: 1000,
    maxEventAgeMs: 7 * DAY,
    maxEventAheadMs: 5 * 60_000,
    ...overrides,
  };
}

export type RawEvent = Record<string, unknown>;

let counter = 0;
/** A fresh, valid, lower-case UUID (deterministic per test run). */
export function uuid(): string {
  counter++;
  return `3f2b8c1e-7a4d-4c2b-9e1f-${counter.toString(16).padStart(12, '0')}`;
}

export function v1(overrides: RawEvent = {}): RawEvent {
  return {
    event_id: uuid(),
    device_id: 'thermo-0042',
    event_time: new Date(NOW - 30_000).toISOString(),
    sensor_type: 'temperature',
    value: 21.5,
    unit: 'C',
    firmware_version: '1.4.2',
    region: 'us-east',
    ...overrides,
  };
}

export function v2(overrides: RawEvent = {}): RawEvent {
  return {
    schema_version: 2,
    event_id: uuid(),
    device_id: 'weather-7',
    event_time: new Date(NOW - 30_000).toISOString(),
    firmware_version: '2.0.1',
    region: 'eu-west',
    seq: 17,
    readings: [
      { sensor_type: 'temperature', value: 18.25, unit: 'C' },
      { sensor_type: 'humidity', value: 64, unit: '%' },
      { sensor_type: 'pressure', value: 1013.2, unit: 'hPa' },
    ],
    ...overrides,
  };
}

export function jsonFrame(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

export function msgpackFrame(value: unknown): Uint8Array {
  return pack(value);
}

/** RFC 3339 text of `ms` written in the time zone `offsetMin` minutes east of UTC. */
export function rfc3339(ms: number, offsetMin: number, fractionDigits: 0 | 3): string {
  const local = new Date(ms + offsetMin * 60_000).toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const base = fractionDigits === 3 ? local.slice(0, 23) : local.slice(0, 19);
  if (offsetMin === 0) return `${base}Z`;
  const sign = offsetMin > 0 ? '+' : '-';
  const abs = Math.abs(offsetMin);
  return `${base}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** Printable labels of 1–64 code points (any script, no control characters). */
export const labelArb = fc
  .string({ unit: 'binary', minLength: 1, maxLength: 64 })
  .map((s) => s.replace(/[\p{Cc}\p{Cs}]/gu, '_'));

export const deviceIdArb = fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/);

/** A device's UUID in any letter case, with the lower-case form the pipeline keys on. */
export const eventIdArb = fc.tuple(fc.uuid(), fc.boolean()).map(([id, upper]) => ({ sent: upper ? id.toUpperCase() : id, canonical: id }));

export const valueArb = fc.double({ noNaN: true, noDefaultInfinity: true });

/** An event time inside the accepted window, written in some time zone. */
export const eventTimeArb = fc
  .record({
    ms: fc.integer({ min: NOW - 7 * DAY + 60_000, max: NOW + 4 * 60_000 }),
    offsetMin: fc.integer({ min: -12 * 60, max: 14 * 60 }),
    fraction: fc.constantFrom(0 as const, 3 as const),
  })
  .map(({ ms, offsetMin, fraction }) => {
    const exact = fraction === 3 ? ms : ms - (((ms % 1000) + 1000) % 1000);
    return { text: rfc3339(exact, offsetMin, fraction), ms: exact };
  });

const KNOWN_FIELDS = new Set(['schema_version', 'event_id', 'device_id', 'event_time', 'sensor_type', 'value', 'unit', 'firmware_version', 'region', 'seq', 'readings', 'events']);
/** Fields a newer device might send that this contract does not know (must be ignored). */
export const extraFieldsArb = fc.dictionary(
  fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !KNOWN_FIELDS.has(k) && k !== '__proto__'),
  fc.jsonValue({ maxDepth: 2 }),
  { maxKeys: 3 },
);

const readingArb = fc.record({ sensor_type: labelArb, value: valueArb, unit: labelArb });

export interface ValidCase {
  raw: RawEvent;
  expected: CanonicalEvent;
}

function toReading(r: { sensor_type: string; value: number; unit: string }): Reading {
  return { sensorType: r.sensor_type, value: r.value + 0, unit: r.unit, weight: 1 };
}

/** Any valid v1 or v2 event, plus the canonical event it must normalise to at NOW. */
export const validCaseArb: fc.Arbitrary<ValidCase> = fc
  .record({
    v2: fc.boolean(),
    explicitV1: fc.boolean(),
    id: eventIdArb,
    deviceId: deviceIdArb,
    time: eventTimeArb,
    firmware: labelArb,
    region: fc.constantFrom(...REGIONS),
    reading: readingArb,
    readings: fc.array(readingArb, { minLength: 1, maxLength: 64 }),
    seq: fc.option(fc.maxSafeNat(), { nil: undefined }),
    nullSeq: fc.boolean(),
    extra: extraFieldsArb,
  })
  .map((c) => {
    const common = { ...c.extra, event_id: c.id.sent, device_id: c.deviceId, event_time: c.time.text, firmware_version: c.firmware, region: c.region };
    const raw: RawEvent = c.v2
      ? { ...common, schema_version: 2, readings: c.readings, ...(c.seq !== undefined ? { seq: c.seq } : c.nullSeq ? { seq: null } : {}) }
      : { ...common, ...(c.explicitV1 ? { schema_version: 1 } : {}), ...c.reading };
    const expected: CanonicalEvent = {
      eventId: c.id.canonical,
      deviceId: c.deviceId,
      region: c.region,
      eventTime: c.time.ms,
      ingestTime: NOW,
      firmwareVersion: c.firmware,
      schemaVersion: c.v2 ? 2 : 1,
      seq: c.v2 ? (c.seq ?? null) : null,
      readings: c.v2 ? c.readings.map(toReading) : [toReading(c.reading)],
    };
    return { raw, expected };
  });
