/**
 * Parsing and validation of the query API's parameters. Every failure is an ApiError 400
 * whose message starts with the parameter's name, e.g. `from: must be an RFC 3339 time`.
 */
import { isRfc3339DateTime } from '../contracts/rfc3339.js';
import { ApiError } from './api-error.js';

/** device_id as the contract defines it (DESIGN §3; src/contracts/schemas). */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
/** sensor_type as the contract bounds it. */
const SENSOR_MAX_CHARS = 64;

export type Step = '1m' | '1h';

export interface TimeRange {
  /** Inclusive, epoch ms. */
  from: number;
  /** Exclusive, epoch ms. */
  to: number;
}

function single(params: URLSearchParams, name: string): string | undefined {
  const all = params.getAll(name);
  if (all.length > 1) throw ApiError.badRequest(`${name}: give it once, got ${all.length} values`);
  return all[0];
}

export function parseDeviceId(segment: string): string {
  let id: string;
  try {
    id = decodeURIComponent(segment);
  } catch {
    throw ApiError.badRequest('device id: not a valid URL-encoded string');
  }
  if (!DEVICE_ID_PATTERN.test(id)) throw ApiError.badRequest('device id: must be 1–128 characters of A-Za-z0-9._:-');
  return id;
}

function parseTime(params: URLSearchParams, name: string): number | undefined {
  const raw = single(params, name);
  if (raw === undefined) return undefined;
  // An unencoded '+' of an offset arrives as a space (form encoding): read it back as '+'.
  const text = raw.replace(/:\d{2}(\.\d+)? (\d{2}:\d{2})$/, (m) => m.replace(' ', '+'));
  const ms = isRfc3339DateTime(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms)) throw ApiError.badRequest(`${name}: must be an RFC 3339 time such as 2026-01-31T12:00:00Z, got "${raw}"`);
  return ms;
}

/** from/to with defaults: to = now, from = to − defaultSpanMs; from must not be after to. */
export function parseTimeRange(params: URLSearchParams, defaultSpanMs: number, nowMs: number): TimeRange {
  const to = parseTime(params, 'to') ?? nowMs;
  const from = parseTime(params, 'from') ?? to - defaultSpanMs;
  if (from > to) throw ApiError.badRequest('from: must not be later than to');
  return { from, to };
}

/** An integer in [min, max], or `fallback` when absent. */
export function parseLimit(params: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = single(params, name);
  if (raw === undefined) return fallback;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(Number.isSafeInteger(n) && n >= min && n <= max))
    throw ApiError.badRequest(`${name}: must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

export function parseStep(params: URLSearchParams): Step {
  const raw = single(params, 'step') ?? '1m';
  if (raw !== '1m' && raw !== '1h') throw ApiError.badRequest(`step: must be 1m or 1h, got "${raw}"`);
  return raw;
}

export function parseSensor(params: URLSearchParams, required: true): string;
export function parseSensor(params: URLSearchParams, required: false): string | undefined;
export function parseSensor(params: URLSearchParams, required: boolean): string | undefined {
  const raw = single(params, 'sensor');
  if (raw === undefined || raw === '') {
    if (required) throw ApiError.badRequest('sensor: is required (a sensor_type such as temperature)');
    return undefined;
  }
  if ([...raw].length > SENSOR_MAX_CHARS) throw ApiError.badRequest(`sensor: at most ${SENSOR_MAX_CHARS} characters`);
  return raw;
}

/** One of the configured regions. */
export function parseRegion(params: URLSearchParams, regions: readonly string[]): string {
  const raw = single(params, 'region');
  if (raw === undefined || raw === '') throw ApiError.badRequest(`region: is required (one of ${regions.join(', ')})`);
  if (!regions.includes(raw)) throw ApiError.badRequest(`region: must be one of ${regions.join(', ')}, got "${raw}"`);
  return raw;
}
