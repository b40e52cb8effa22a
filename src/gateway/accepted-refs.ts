/**
 * What a frame in flight keeps of its accepted events once they are handed to the appender
 * (FrameHandler.start → finish): what its ack, its counters and an OVERLOADED answer need of
 * each (id, device, region, schema version), as bytes in one buffer.
 *
 * A frame waits for Redis's answer for milliseconds, and under load for a second or more:
 * longer than the main thread's young generation lives. Kept as an object per event, with its
 * id and device strings (slices that keep a larger run of the decoded MessagePack frame
 * alive), every one of them was copied by two scavenges and promoted: with this, the main
 * thread's scavenges promoted half as much at 50k events/s (--trace-gc-nvp, see
 * docs/ARCHITECTURE.md). Reading one back builds its strings again; that happens only for
 * the refused events of a failed append, the first device of a frame's log line, and the
 * ids of refused events for their schema version label.
 *
 * Layout, for n events: 16 bytes of id each (zero for an id that is not a lower-case
 * canonical UUID, whose text is kept on the side), then a schema version byte each, a region
 * index byte each, n + 1 u32 offsets of the device ids, and the device ids' UTF-8 bytes.
 */
import type { CanonicalEvent } from '../contracts/canonical-event.js';
import type { AcceptedRef } from '../contracts/types.js';
import { UUID_BYTES, uuidText, writeUuidBytes } from '../contracts/uuid-bytes.js';

/** The most regions a frame's refs tell apart by index (a byte): the config allows no more. */
const MAX_REGIONS = 255;

export class AcceptedRefs {
  static readonly empty = new AcceptedRefs(0, Buffer.alloc(0), [], null);

  private constructor(
    readonly length: number,
    private readonly bytes: Buffer,
    /** Region names by index, in order of first appearance. */
    private readonly regions: readonly string[],
    /** Ids kept as text, by position. */
    private readonly oddIds: ReadonlyMap<number, string> | null,
  ) {}

  /** The refs of `events` (CanonicalEvents, or refs read back), in their order. */
  static of(events: readonly Pick<CanonicalEvent, 'eventId' | 'deviceId' | 'region' | 'schemaVersion'>[]): AcceptedRefs {
    const n = events.length;
    if (n === 0) return AcceptedRefs.empty;
    let deviceBytes = 0;
    for (let i = 0; i < n; i++) deviceBytes += Buffer.byteLength((events[i] as AcceptedRef).deviceId, 'utf8');
    const versionsAt = UUID_BYTES * n;
    const regionsAt = versionsAt + n;
    const offsetsAt = regionsAt + n;
    const devicesAt = offsetsAt + 4 * (n + 1);
    const bytes = Buffer.allocUnsafeSlow(devicesAt + deviceBytes);
    const regions: string[] = [];
    let oddIds: Map<number, string> | null = null;
    let region = '';
    let regionIndex = -1;
    let at = devicesAt;
    for (let i = 0; i < n; i++) {
      const e = events[i] as AcceptedRef;
      if (!writeUuidBytes(bytes, UUID_BYTES * i, e.eventId, undefined, true)) {
        bytes.fill(0, UUID_BYTES * i, UUID_BYTES * (i + 1));
        (oddIds ??= new Map()).set(i, e.eventId);
      }
      bytes[versionsAt + i] = e.schemaVersion;
      if (e.region !== region || regionIndex < 0) {
        region = e.region;
        regionIndex = regions.indexOf(region);
        if (regionIndex < 0) {
          if (regions.length === MAX_REGIONS) throw new RangeError(`a frame's accepted events span more than ${MAX_REGIONS} regions`);
          regionIndex = regions.push(region) - 1;
        }
      }
      bytes[regionsAt + i] = regionIndex;
      bytes.writeUInt32LE(at, offsetsAt + 4 * i);
      at += bytes.write(e.deviceId, at, 'utf8');
    }
    bytes.writeUInt32LE(at, offsetsAt + 4 * n);
    return new AcceptedRefs(n, bytes, regions, oddIds);
  }

  eventIdAt(i: number): string {
    this.check(i);
    return this.oddIds?.get(i) ?? uuidText(this.bytes, UUID_BYTES * i);
  }

  deviceIdAt(i: number): string {
    this.check(i);
    const offsetsAt = (UUID_BYTES + 2) * this.length;
    return this.bytes.toString('utf8', this.bytes.readUInt32LE(offsetsAt + 4 * i), this.bytes.readUInt32LE(offsetsAt + 4 * (i + 1)));
  }

  regionAt(i: number): string {
    this.check(i);
    return this.regions[this.bytes[(UUID_BYTES + 1) * this.length + i] as number] as string;
  }

  schemaVersionAt(i: number): 1 | 2 {
    this.check(i);
    return this.bytes[UUID_BYTES * this.length + i] === 2 ? 2 : 1;
  }

  /** The ref at position `i`, as an object. */
  at(i: number): AcceptedRef {
    return { eventId: this.eventIdAt(i), deviceId: this.deviceIdAt(i), region: this.regionAt(i), schemaVersion: this.schemaVersionAt(i) };
  }

  /** The refs at the positions `keep` accepts, in order. */
  filter(keep: (position: number) => boolean): AcceptedRefs {
    const kept: AcceptedRef[] = [];
    for (let i = 0; i < this.length; i++) if (keep(i)) kept.push(this.at(i));
    return kept.length === this.length ? this : AcceptedRefs.of(kept);
  }

  toArray(): AcceptedRef[] {
    return Array.from({ length: this.length }, (_, i) => this.at(i));
  }

  private check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`no accepted event at ${i} of ${this.length}`);
  }
}
