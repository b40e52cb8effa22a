/**
 * Reads a region's dead-letter stream, newest first (XREVRANGE on Keys.dlq(region)), and
 * turns each entry's fields (written by the gateway's BusAppender) into the API's JSON:
 * empty strings become null, ingest_time becomes RFC 3339, raw is parsed back when it is
 * whole JSON (a truncated one stays a string).
 */
import type { Redis } from 'ioredis';
import { errorMessage } from '../errors.js';
import type { Keys } from '../runtime/keys.js';
import { ApiError } from './api-error.js';

export interface DlqEntry {
  id: string;
  code: string | null;
  message: string | null;
  event_id: string | null;
  device_id: string | null;
  region: string | null;
  /** Position of the event in its frame; null for a whole-frame rejection. */
  index: number | null;
  /** `ws` or `http`. */
  source: string | null;
  ingest_time: string | null;
  raw: unknown;
}

export interface DlqPage {
  region: string;
  /** Entries in the stream (all of them, not only this page). */
  length: number;
  entries: DlqEntry[];
}

const REDIS_TIMEOUT_MS = 5_000;

function fieldMap(flat: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(flat[i] as string, flat[i + 1] as string);
  return m;
}

function orNull(v: string | undefined): string | null {
  return v === undefined || v === '' ? null : v;
}

function parseRaw(v: string | undefined): unknown {
  if (v === undefined || v === '') return null;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return v;
  }
}

function isoOrNull(v: string | undefined): string | null {
  const ms = v === undefined || v === '' ? NaN : Number(v);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

export function toDlqEntry(id: string, flat: readonly string[]): DlqEntry {
  const f = fieldMap(flat);
  const index = orNull(f.get('index'));
  return {
    id,
    code: orNull(f.get('code')),
    message: orNull(f.get('message')),
    event_id: orNull(f.get('event_id')),
    device_id: orNull(f.get('device_id')),
    region: orNull(f.get('region')),
    index: index !== null && /^\d+$/.test(index) ? Number(index) : null,
    source: orNull(f.get('source')),
    ingest_time: isoOrNull(f.get('ingest_time')),
    raw: parseRaw(f.get('raw')),
  };
}

export class DlqReader {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async newest(region: string, limit: number): Promise<DlqPage> {
    const key = this.keys.dlq(region);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${REDIS_TIMEOUT_MS} ms`)), REDIS_TIMEOUT_MS);
    });
    try {
      const [entries, length] = await Promise.race([
        Promise.all([this.redis.xrevrange(key, '+', '-', 'COUNT', limit), this.redis.xlen(key)]),
        timeout,
      ]);
      return { region, length, entries: entries.map(([id, flat]) => toDlqEntry(id, flat)) };
    } catch (err) {
      throw new ApiError(503, 'BUS_UNAVAILABLE', `redis: ${errorMessage(err)}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }
}
