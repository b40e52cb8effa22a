/**
 * The event ids a partition accepted since its last drain, kept for the dedup log entry of
 * the flush that commits them: per id its 16 bytes, its device and the bus time of its entry.
 *
 * They wait from acceptance until the flush (one to a few seconds; longer in a lag spell), so
 * they outlive the young generation. Kept as objects (a `DedupRecord` and its id string
 * each, ~140 B) every one of them was copied by two scavenges, promoted, then marked and
 * swept by a full collection: about 50,000 of them, ~10 MB, were live in a shard's heap at
 * 50k events/s (heap snapshot). Here they are three typed arrays that grow by doubling,
 * 28 B an id outside the JavaScript heap, and one string per device.
 *
 * An id that is not a lower-case canonical UUID (the gateway lowercases ids, so only ids
 * written by something else) keeps its text on the side; its 16 bytes are zero.
 */
import { UUID_BYTES, uuidText, writeUuidBytes } from '../contracts/uuid-bytes.js';
import type { DedupRecord } from './types.js';

const INITIAL_CAPACITY = 256;

export class AcceptedIds {
  private count = 0;
  private capacity = 0;
  private idBytes = new Uint8Array(0);
  private devices = new Uint32Array(0);
  private busTimes = new Float64Array(0);
  /** Device ids in order of first acceptance; `devices` holds indexes into it. */
  private readonly deviceIds: string[] = [];
  private readonly deviceIndex = new Map<string, number>();
  /** Ids kept as text, by position. */
  private odd: Map<number, string> | null = null;

  /** The ids of `records`, in their order. */
  static of(records: Iterable<DedupRecord>): AcceptedIds {
    const ids = new AcceptedIds();
    for (const r of records) ids.push(r.deviceId, r.eventId, r.busTime);
    return ids;
  }

  get length(): number {
    return this.count;
  }

  push(deviceId: string, eventId: string, busTime: number): void {
    if (this.count === this.capacity) this.grow();
    const at = this.count;
    let device = this.deviceIndex.get(deviceId);
    if (device === undefined) {
      device = this.deviceIds.length;
      this.deviceIds.push(deviceId);
      this.deviceIndex.set(deviceId, device);
    }
    this.devices[at] = device;
    this.busTimes[at] = busTime;
    if (!writeUuidBytes(this.idBytes, at * UUID_BYTES, eventId, undefined, true)) {
      this.idBytes.fill(0, at * UUID_BYTES, (at + 1) * UUID_BYTES);
      (this.odd ??= new Map()).set(at, eventId);
    }
    this.count++;
  }

  busTimeAt(i: number): number {
    return this.busTimes[i] as number;
  }

  /** The distinct devices, in order of first acceptance. */
  devicesInOrder(): readonly string[] {
    return this.deviceIds;
  }

  /** Index in devicesInOrder() of the device of id `i`. */
  deviceIndexAt(i: number): number {
    return this.devices[i] as number;
  }

  /** Id `i` as text, when it is not a lower-case canonical UUID (its bytes are zero then). */
  oddIdAt(i: number): string | undefined {
    return this.odd?.get(i);
  }

  /** The 16 bytes of every id, id `i` at `i × 16` (a view: valid until the next push). */
  bytes(): Uint8Array {
    return this.idBytes.subarray(0, this.count * UUID_BYTES);
  }

  /** Every id as a record, in acceptance order (allocates: for restores and tests). */
  records(): DedupRecord[] {
    const out = new Array<DedupRecord>(this.count);
    for (let i = 0; i < this.count; i++) {
      const eventId = this.odd?.get(i) ?? uuidText(this.idBytes, i * UUID_BYTES);
      out[i] = { deviceId: this.deviceIds[this.devices[i] as number] as string, eventId, busTime: this.busTimes[i] as number };
    }
    return out;
  }

  /** JSON (logs, snapshots of a batch): the records. */
  toJSON(): DedupRecord[] {
    return this.records();
  }

  private grow(): void {
    const capacity = Math.max(INITIAL_CAPACITY, this.capacity * 2);
    const idBytes = new Uint8Array(capacity * UUID_BYTES);
    idBytes.set(this.idBytes);
    const devices = new Uint32Array(capacity);
    devices.set(this.devices);
    const busTimes = new Float64Array(capacity);
    busTimes.set(this.busTimes);
    this.idBytes = idBytes;
    this.devices = devices;
    this.busTimes = busTimes;
    this.capacity = capacity;
  }
}
