/**
 * Reads a region's dead-letter stream (Keys.dlq(region)) and turns each entry's fields into
 * the API's JSON. Two writers fill it: the gateway's BusAppender (rejected events: code,
 * message, event_id, device_id, region, index, source, remote, ingest_time, raw = JSON) and a
 * shard's dead-lettering of bus entries it cannot decode (code ENTRY_UNDECODABLE, entry_id,
 * source `bus`, raw = base64 of the MessagePack payload). Empty strings become null,
 * ingest_time becomes RFC 3339, a JSON raw is parsed back when it is whole (a truncated one
 * stays a string), a base64 raw stays a string.
 */
import type { Redis } from 'ioredis';
import { Unpackr } from 'msgpackr';
import { toJsonSafe } from '../contracts/untrusted-values.js';
import type { Keys } from '../runtime/keys.js';
import { busCall } from './dlq-bus.js';

/** The code a shard gives bus entries it could not decode (src/runtime/shard.ts). */
export const ENTRY_UNDECODABLE = 'ENTRY_UNDECODABLE';

export interface DlqEntry {
  id: string;
  code: string | null;
  message: string | null;
  event_id: string | null;
  device_id: string | null;
  region: string | null;
  /** Position of the event in its frame; null for a whole-frame rejection. */
  index: number | null;
  /** `ws` or `http` (gateway rejections) or `bus` (undecodable bus entries). */
  source: string | null;
  /** The device's address, when the gateway knew it. */
  remote: string | null;
  /** The bus entry id an ENTRY_UNDECODABLE entry came from; null otherwise. */
  entry_id: string | null;
  ingest_time: string | null;
  raw: unknown;
}

export interface DlqPage {
  region: string;
  /** Entries in the stream (all of them, not only this page or this code). */
  length: number;
  entries: DlqEntry[];
}

/** A stream entry as ioredis returns it: id and flat [field, value, …]. */
export type RawStreamEntry = [id: string, fields: string[]];

/** Entries read per round trip while scanning for a code. */
const SCAN_BATCH = 500;
const unpackr = new Unpackr({ useRecords: false, structuredClone: false, int64AsType: 'string' });

function fieldMap(flat: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(flat[i] as string, flat[i + 1] as string);
  return m;
}

/** One field of a flat field list, without building the whole map. */
export function fieldOf(flat: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i] === name) return flat[i + 1];
  return undefined;
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
  const code = orNull(f.get('code'));
  return {
    id,
    code,
    message: orNull(f.get('message')),
    event_id: orNull(f.get('event_id')),
    device_id: orNull(f.get('device_id')),
    region: orNull(f.get('region')),
    index: index !== null && /^\d+$/.test(index) ? Number(index) : null,
    source: orNull(f.get('source')),
    remote: orNull(f.get('remote')),
    entry_id: orNull(f.get('entry_id')),
    ingest_time: isoOrNull(f.get('ingest_time')),
    raw: code === ENTRY_UNDECODABLE ? orNull(f.get('raw')) : parseRaw(f.get('raw')),
  };
}

/**
 * What an ENTRY_UNDECODABLE entry's payload holds, as JSON (MessagePack decoded, bytes as
 * base64), to help write a repaired event; null for other entries or a payload that does not
 * unpack (the DLQ keeps only its first 16 KiB).
 */
export function undecodablePayload(entry: DlqEntry): unknown {
  if (entry.code !== ENTRY_UNDECODABLE || typeof entry.raw !== 'string') return null;
  try {
    return toJsonSafe(unpackr.unpack(Buffer.from(entry.raw, 'base64')));
  } catch {
    return null;
  }
}

export class DlqReader {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /** The newest `limit` entries of a region, only those of `code` when given. */
  async newest(region: string, limit: number, code?: string): Promise<DlqPage> {
    const key = this.keys.dlq(region);
    const length = await busCall(() => this.redis.xlen(key));
    if (code === undefined) {
      const entries = await busCall(() => this.redis.xrevrange(key, '+', '-', 'COUNT', limit));
      return { region, length, entries: entries.map(([id, flat]) => toDlqEntry(id, flat)) };
    }
    const entries: DlqEntry[] = [];
    for await (const batch of this.scanNewest(region)) {
      for (const [id, flat] of batch) {
        if (fieldOf(flat, 'code') !== code) continue;
        entries.push(toDlqEntry(id, flat));
        if (entries.length >= limit) return { region, length, entries };
      }
    }
    return { region, length, entries };
  }

  /** One entry by its stream id, or null when there is none. */
  async entry(region: string, id: string): Promise<DlqEntry | null> {
    const found = await busCall(() => this.redis.xrange(this.keys.dlq(region), id, id));
    const first = found[0];
    return first ? toDlqEntry(first[0], first[1]) : null;
  }

  /**
   * The region's entries in batches, newest first, starting at `end` (a stream id, `(id` to
   * exclude it, or `+`). Each batch is one bounded round trip.
   */
  async *scanNewest(region: string, end = '+'): AsyncGenerator<RawStreamEntry[]> {
    const key = this.keys.dlq(region);
    let from = end;
    for (;;) {
      const batch = await busCall(() => this.redis.xrevrange(key, from, '-', 'COUNT', SCAN_BATCH));
      if (batch.length > 0) yield batch;
      const last = batch[batch.length - 1];
      if (batch.length < SCAN_BATCH || !last) return;
      from = `(${last[0]}`;
    }
  }
}
