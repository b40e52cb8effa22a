/**
 * Encoding of one dedup log entry: the event ids a committed flush accepted, grouped by device
 * so a device id is written once per flush. On restart the log within the dedup horizon
 * rebuilds every actor's dedup memory exactly as it was at the checkpoint.
 */
import { Packr } from 'msgpackr';
import type { DedupRecord } from '../actors/types.js';
import { UnrecoverableError } from '../errors.js';

const packr = new Packr({ useRecords: false });

/** [deviceId, [eventId, busTime, eventId, busTime, ...]][] */
type Wire = [string, (string | number)[]][];

export function encodeDedupRecords(records: readonly DedupRecord[]): Buffer | null {
  if (records.length === 0) return null;
  const byDevice = new Map<string, (string | number)[]>();
  for (const r of records) {
    let list = byDevice.get(r.deviceId);
    if (!list) byDevice.set(r.deviceId, (list = []));
    list.push(r.eventId, r.busTime);
  }
  return packr.pack([...byDevice] satisfies Wire);
}

export function decodeDedupRecords(payload: Buffer): DedupRecord[] {
  let wire: unknown;
  try {
    wire = packr.unpack(payload);
  } catch (err) {
    throw new UnrecoverableError('DEDUP_LOG_CORRUPT', 'dedup log entry is not MessagePack', { cause: err });
  }
  if (!Array.isArray(wire)) throw new UnrecoverableError('DEDUP_LOG_CORRUPT', 'dedup log entry is not a list');
  const out: DedupRecord[] = [];
  for (const item of wire as Wire) {
    const [deviceId, flat] = item;
    for (let i = 0; i + 1 < flat.length; i += 2) {
      out.push({ deviceId, eventId: String(flat[i]), busTime: Number(flat[i + 1]) });
    }
  }
  // Grouping by device keeps each device's acceptance order, the only order its dedup
  // memory (and so its eviction) depends on.
  return out;
}
