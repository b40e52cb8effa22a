/**
 * EventValidator: checks one decoded event against the published JSON Schemas (schemas/v1 and
 * v2, compiled once with Ajv) and the per-frame rules (event time window, regions, the
 * authenticated identity), and normalises it to a CanonicalEvent — or returns a Rejection
 * whose message names the field. Hot path: no closures or throws per event.
 *
 * Identity rules: a device token binds one device_id and its region (DEVICE_MISMATCH,
 * REGION_MISMATCH). A fleet token (identity.fleet) sends for any device_id, but still only of
 * its own region (REGION_MISMATCH).
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { RejectCode } from '../errors.js';
import type { CanonicalEvent, Reading } from './canonical-event.js';
import { DEVICE_ID_RULE, LABEL_RULE, MAX_READINGS_PER_EVENT, isDeviceId } from './limits.js';
import { rejection } from './rejection.js';
import { isRfc3339DateTime } from './rfc3339.js';
import type { Rejection, ValidationContext } from './types.js';
import { isPlainObject } from './untrusted-values.js';

/** Read a published schema; the build copies src/contracts/schemas next to this module. */
function readSchema(version: 1 | 2): Record<string, unknown> {
  const url = new URL(`./schemas/v${version}.schema.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>;
}

const LABEL = `must be ${LABEL_RULE}`;

/** The tail of each FIELD_INVALID message, by field name; mirrors the schemas' limits. */
const FIELD_RULES: Readonly<Record<string, string>> = {
  event_id: 'must be a UUID (8-4-4-4-12 hex digits)',
  device_id: `must be ${DEVICE_ID_RULE}`,
  event_time: 'must be an RFC 3339 date-time with a time zone',
  sensor_type: LABEL,
  unit: LABEL,
  firmware_version: LABEL,
  region: LABEL,
  value: 'must be a finite number',
  seq: 'must be a non-negative integer or null',
  readings: `must be an array of 1–${MAX_READINGS_PER_EVENT} readings`,
};
const READING_RULE = 'must be an object {sensor_type, value, unit}';

/**
 * rejection(), except under a fleet token: the fleet id names the sender, not a device, so the
 * rejection (and its DLQ entry) carries the event's own device_id when it is a valid one. The
 * DLQ replay then checks a repaired event against that device and the token's region.
 */
function reject(raw: unknown, index: number, ctx: ValidationContext, code: RejectCode, detail: string): Rejection {
  const out = rejection(raw, index, ctx, code, detail);
  if (ctx.identity?.fleet === true && isPlainObject(raw)) {
    const deviceId = raw['device_id'];
    if (isDeviceId(deviceId)) out.deviceId = deviceId;
  }
  return out;
}

/** "/readings/3/value" → "readings[3].value" */
function fieldPath(instancePath: string): string {
  let out = '';
  for (const part of instancePath.split('/')) {
    if (part === '') continue;
    if (/^\d+$/.test(part)) out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 32 ? `${value.slice(0, 32)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return `of type ${typeof value}`;
}

function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000} d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${ms} ms`;
}

function schemaRejection(raw: Record<string, unknown>, index: number, ctx: ValidationContext, error: ErrorObject | undefined): Rejection {
  if (error === undefined) return reject(raw, index, ctx, RejectCode.FIELD_INVALID, 'the event does not match its schema');
  const path = fieldPath(error.instancePath);
  if (error.keyword === 'required') {
    const missing = (error.params as { missingProperty: string }).missingProperty;
    return reject(raw, index, ctx, RejectCode.FIELD_MISSING, `${path === '' ? missing : `${path}.${missing}`} is required`);
  }
  const last = error.instancePath.slice(error.instancePath.lastIndexOf('/') + 1);
  const rule = /^\d+$/.test(last) ? READING_RULE : (FIELD_RULES[last] ?? 'is invalid');
  return reject(raw, index, ctx, RejectCode.FIELD_INVALID, `${path} ${rule}`);
}

/** Readings of a v2 event, or of a v1 event read as its own single reading. */
function toReadings(raw: readonly Record<string, unknown>[]): Reading[] {
  const out = new Array<Reading>(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const r = raw[i] as Record<string, unknown>;
    // `+ 0` turns -0 into 0: the canonical form has one zero (and the bus codec keeps it exact).
    out[i] = { sensorType: r['sensor_type'] as string, value: (r['value'] as number) + 0, unit: r['unit'] as string, weight: 1 };
  }
  return out;
}

interface Violation {
  code: RejectCode;
  detail: string;
}

/** The rules beyond the schema: event-time window, served regions, the token's identity. */
function ruleViolation(eventTime: number, eventTimeText: string, deviceId: string, region: string, ctx: ValidationContext): Violation | null {
  if (Number.isNaN(eventTime)) return { code: RejectCode.FIELD_INVALID, detail: `event_time ${FIELD_RULES['event_time']}` };
  if (eventTime < ctx.now - ctx.maxEventAgeMs) {
    const detail = `event_time ${eventTimeText} is more than ${formatDuration(ctx.maxEventAgeMs)} old`;
    return { code: RejectCode.EVENT_TIME_OUT_OF_RANGE, detail };
  }
  if (eventTime > ctx.now + ctx.maxEventAheadMs) {
    const detail = `event_time ${eventTimeText} is more than ${formatDuration(ctx.maxEventAheadMs)} ahead of the gateway clock`;
    return { code: RejectCode.EVENT_TIME_OUT_OF_RANGE, detail };
  }
  if (!ctx.regions.includes(region)) {
    const detail = `region ${JSON.stringify(region)} is not served here (${ctx.regions.join(', ')})`;
    return { code: RejectCode.REGION_UNKNOWN, detail };
  }
  const identity = ctx.identity;
  if (identity === null) return null;
  if (identity.fleet === true) {
    if (region === identity.region) return null;
    const detail = `region ${JSON.stringify(region)} is not the fleet token's region ${JSON.stringify(identity.region)}`;
    return { code: RejectCode.REGION_MISMATCH, detail };
  }
  if (deviceId !== identity.deviceId) {
    const detail = `device_id ${JSON.stringify(deviceId)} is not the authenticated device ${JSON.stringify(identity.deviceId)}`;
    return { code: RejectCode.DEVICE_MISMATCH, detail };
  }
  if (region !== identity.region) {
    const detail = `region ${JSON.stringify(region)} is not the authenticated device's region ${JSON.stringify(identity.region)}`;
    return { code: RejectCode.REGION_MISMATCH, detail };
  }
  return null;
}

export class EventValidator {
  private readonly v1: ValidateFunction;
  private readonly v2: ValidateFunction;

  constructor() {
    // allErrors: false stops at the first error (fast); messages: false skips Ajv's texts,
    // we write our own that name the field.
    const ajv = new Ajv2020({ allErrors: false, messages: false, strict: true, allowUnionTypes: true });
    ajv.addFormat('date-time', { type: 'string', validate: isRfc3339DateTime });
    this.v1 = ajv.compile(readSchema(1));
    this.v2 = ajv.compile(readSchema(2));
  }

  /** Validate the event at `index` of a frame: a CanonicalEvent, or a Rejection saying why not. */
  validate(raw: unknown, index: number, ctx: ValidationContext): CanonicalEvent | Rejection {
    if (!isPlainObject(raw)) return reject(raw, index, ctx, RejectCode.MALFORMED, 'an event must be a JSON object');
    const version = raw['schema_version'];
    let check: ValidateFunction;
    if (version === undefined || version === 1) check = this.v1;
    else if (version === 2) check = this.v2;
    else {
      const detail = `schema_version ${describeValue(version)} is not supported; use 1 or 2`;
      return reject(raw, index, ctx, RejectCode.SCHEMA_VERSION_UNSUPPORTED, detail);
    }
    if (!check(raw)) return schemaRejection(raw, index, ctx, check.errors?.[0]);

    const eventTimeText = raw['event_time'] as string;
    const eventTime = Date.parse(eventTimeText);
    const deviceId = raw['device_id'] as string;
    const region = raw['region'] as string;
    const violation = ruleViolation(eventTime, eventTimeText, deviceId, region, ctx);
    if (violation !== null) return reject(raw, index, ctx, violation.code, violation.detail);

    const v2 = version === 2;
    return {
      eventId: (raw['event_id'] as string).toLowerCase(),
      deviceId,
      region,
      eventTime,
      ingestTime: ctx.now,
      firmwareVersion: raw['firmware_version'] as string,
      schemaVersion: v2 ? 2 : 1,
      seq: v2 ? ((raw['seq'] as number | null | undefined) ?? null) : null,
      readings: v2 ? toReadings(raw['readings'] as Record<string, unknown>[]) : toReadings([raw]),
    };
  }
}
