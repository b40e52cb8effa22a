/**
 * Encoding of one dedup log entry: the event ids a committed flush accepted, grouped by device
 * so a device id is written once per flush. On restart the log within the dedup horizon
 * rebuilds every actor's dedup memory exactly as it was at the checkpoint.
 *
 * Format 2 (written now), MessagePack:
 *
 *   [2, base, device, device, ...]
 *   device = [deviceId, ids, deltas]  or  [deviceId, ids, deltas, odd]
 *   ids    = bin of 16 bytes an event: its id as a UUID in big-endian byte order
 *   deltas = [busTime − base, ...], one per event (small integers)
 *   odd    = [index, eventId, index, eventId, ...]: ids that are not lowercase canonical
 *            UUIDs, kept as text (their 16 bytes in `ids` are zero)
 *
 * The gateway lowercases every event id it accepts (event-validator.ts), so `odd` stays
 * empty in practice; it keeps the log exact for anything else. About 24 bytes an event
 * against 52 for format 1 (10,000 ids of 2,500 devices: 16 for the id, 1–3 for the bus time,
 * the device ids): the dedup log is most of what Redis holds under load (10 min of ids at
 * 50k events/s), and packing the 36-character strings was 7 % of a shard thread.
 *
 * Format 1 (written before; still read): [[deviceId, [eventId, busTime, ...]], ...].
 */
import { Packr } from 'msgpackr';
import type { AcceptedIds } from '../actors/accepted-ids.js';
import type { DedupRecord } from '../actors/types.js';
import { UUID_BYTES, uuidText } from '../contracts/uuid-bytes.js';
import { UnrecoverableError } from '../errors.js';

const packr = new Packr({ useRecords: false });

const FORMAT = 2;

/** Format 1: [deviceId, [eventId, busTime, eventId, busTime, ...]][] */
type WireV1 = [string, (string | number)[]][];

/**
 * The dedup log entry of a flush's accepted ids (null for none). The ids are already bytes
 * (AcceptedIds); they are regrouped by device with a counting sort, which keeps each device's
 * acceptance order and the devices' order of first acceptance.
 */
export function encodeDedupRecords(accepted: AcceptedIds): Buffer | null {
  const n = accepted.length;
  if (n === 0) return null;
  const devices = accepted.devicesInOrder();
  // starts[d]: where device d's ids begin in the regrouped order.
  const starts = new Uint32Array(devices.length + 1);
  let base = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    (starts[accepted.deviceIndexAt(i) + 1] as number)++;
    const busTime = accepted.busTimeAt(i);
    if (busTime < base) base = busTime;
  }
  for (let d = 0; d < devices.length; d++) (starts[d + 1] as number) += starts[d] as number;
  const next = starts.slice(0, devices.length);
  // One buffer for every id, in device order; each device's ids are a view of it.
  const source = accepted.bytes();
  const all = Buffer.alloc(n * UUID_BYTES);
  const deltas = devices.map((_, d) => new Array<number>((starts[d + 1] as number) - (starts[d] as number)));
  const odd: ((number | string)[] | null)[] = devices.map(() => null);
  for (let i = 0; i < n; i++) {
    const d = accepted.deviceIndexAt(i);
    const slot = next[d] as number;
    next[d] = slot + 1;
    const k = slot - (starts[d] as number);
    for (let b = 0, from = i * UUID_BYTES, to = slot * UUID_BYTES; b < UUID_BYTES; b++) all[to + b] = source[from + b] as number;
    (deltas[d] as number[])[k] = accepted.busTimeAt(i) - base;
    const text = accepted.oddIdAt(i);
    if (text !== undefined) (odd[d] ??= []).push(k, text);
  }
  const out: unknown[] = [FORMAT, base];
  devices.forEach((deviceId, d) => {
    const ids = all.subarray((starts[d] as number) * UUID_BYTES, (starts[d + 1] as number) * UUID_BYTES);
    const oddIds = odd[d];
    out.push(oddIds ? [deviceId, ids, deltas[d], oddIds] : [deviceId, ids, deltas[d]]);
  });
  return packr.pack(out);
}

function corrupt(detail: string, cause?: unknown): UnrecoverableError {
  return new UnrecoverableError('DEDUP_LOG_CORRUPT', `dedup log entry ${detail}`, cause === undefined ? {} : { cause });
}

export function decodeDedupRecords(payload: Buffer): DedupRecord[] {
  let wire: unknown;
  try {
    wire = packr.unpack(payload);
  } catch (err) {
    throw corrupt('is not MessagePack', err);
  }
  if (!Array.isArray(wire)) throw corrupt('is not a list');
  // Grouping by device keeps each device's acceptance order, the only order its dedup
  // memory (and so its eviction) depends on.
  return wire[0] === FORMAT ? decodeV2(wire) : decodeV1(wire as WireV1);
}

function decodeV2(wire: unknown[]): DedupRecord[] {
  const base: unknown = wire[1];
  if (typeof base !== 'number' || !Number.isFinite(base)) throw corrupt('has no base bus time');
  const out: DedupRecord[] = [];
  for (let d = 2; d < wire.length; d++) {
    const item: unknown = wire[d];
    if (!Array.isArray(item) || item.length < 3) throw corrupt(`device ${d - 2} is not [deviceId, ids, deltas]`);
    const [deviceId, ids, deltas, odd] = item as unknown[];
    if (typeof deviceId !== 'string' || !(ids instanceof Uint8Array) || !Array.isArray(deltas) || ids.length !== deltas.length * UUID_BYTES)
      throw corrupt(`device ${d - 2} has malformed ids`);
    const oddIds = new Map<number, string>();
    if (odd !== undefined) {
      if (!Array.isArray(odd)) throw corrupt(`device ${d - 2} has malformed odd ids`);
      for (let i = 0; i + 1 < odd.length; i += 2) oddIds.set(Number(odd[i]), String(odd[i + 1]));
    }
    for (let i = 0; i < deltas.length; i++) {
      const delta: unknown = deltas[i];
      if (typeof delta !== 'number') throw corrupt(`device ${d - 2} has a malformed bus time`);
      out.push({ deviceId, eventId: oddIds.get(i) ?? uuidText(ids, i * UUID_BYTES), busTime: base + delta });
    }
  }
  return out;
}

function decodeV1(wire: WireV1): DedupRecord[] {
  const out: DedupRecord[] = [];
  for (const item of wire) {
    const [deviceId, flat] = item;
    for (let i = 0; i + 1 < flat.length; i += 2) {
      out.push({ deviceId, eventId: String(flat[i]), busTime: Number(flat[i + 1]) });
    }
  }
  return out;
}
