/**
 * Parsing of the DLQ endpoints' path segments and query parameters. Every failure is an
 * ApiError 400 whose message starts with the parameter's name.
 */
import { isRfc3339DateTime } from '../contracts/rfc3339.js';
import { ApiError } from './api-error.js';

/** A Redis stream id as Redis writes them: `<ms>-<seq>`. */
const STREAM_ID = /^\d{1,20}-\d{1,20}$/;
/** An error code: upper-case words joined by underscores (FIELD_INVALID, ENTRY_UNDECODABLE). */
const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

function decoded(segment: string, name: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw ApiError.badRequest(`${name}: not a valid URL-encoded string`);
  }
}

function single(params: URLSearchParams, name: string): string | undefined {
  const all = params.getAll(name);
  if (all.length > 1) throw ApiError.badRequest(`${name}: give it once, got ${all.length} values`);
  return all[0];
}

/** The `{region}` path segment: one of the configured regions. */
export function parseRegionSegment(segment: string, regions: readonly string[]): string {
  const region = decoded(segment, 'region');
  if (!regions.includes(region)) throw ApiError.badRequest(`region: must be one of ${regions.join(', ')}, got "${region}"`);
  return region;
}

/** The `{id}` path segment: a DLQ entry's stream id. */
export function parseEntryId(segment: string): string {
  const id = decoded(segment, 'id');
  if (!STREAM_ID.test(id)) throw ApiError.badRequest(`id: must be a DLQ entry id such as 1767225600000-0, got "${id}"`);
  return id;
}

/** The optional `code` filter. */
export function parseCode(params: URLSearchParams): string | undefined {
  const raw = single(params, 'code');
  if (raw === undefined || raw === '') return undefined;
  if (!CODE.test(raw)) throw ApiError.badRequest(`code: must be an error code such as FIELD_INVALID, got "${raw}"`);
  return raw;
}

/** The optional `before` filter: an RFC 3339 time, as epoch ms. */
export function parseBefore(params: URLSearchParams): number | undefined {
  const raw = single(params, 'before');
  if (raw === undefined || raw === '') return undefined;
  // An unencoded '+' of an offset arrives as a space (form encoding): read it back as '+'.
  const text = raw.replace(/:\d{2}(\.\d+)? (\d{2}:\d{2})$/, (m) => m.replace(' ', '+'));
  const ms = isRfc3339DateTime(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms)) throw ApiError.badRequest(`before: must be an RFC 3339 time such as 2026-01-31T12:00:00Z, got "${raw}"`);
  return ms;
}
