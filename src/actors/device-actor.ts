/**
 * The state of one device: its dedup memory and a few watermarks. Pure: time is the bus time
 * passed in (the ms part of the stream entry id), never a clock.
 *
 * Dedup memory is a Map eventId → bus time of acceptance, in insertion order, bounded two
 * ways, both functions of the accepted ids and the newest bus time only:
 *  - horizon: ids accepted more than `dedupHorizonMs` before the newest bus time this actor has
 *    seen are forgotten;
 *  - cap: at most `maxIdsPerDevice` ids are kept, oldest evicted first.
 * So an actor rebuilt with remember() from the accepted ids (the dedup log) decides
 * duplicates exactly like the live one from the next entry on.
 */
import type { CanonicalEvent } from '../contracts/canonical-event.js';

/** An event more than this far behind the device's newest event time counts as late. */
export const LATE_AFTER_MS = 60_000;

export interface DeviceActorOptions {
  dedupHorizonMs: number;
  maxIdsPerDevice: number;
}

export class DeviceActor {
  private readonly ids = new Map<string, number>();
  /** Bus time of the first (oldest inserted) id; skips the expiry scan while nothing is due. */
  private oldestBusTime = Number.POSITIVE_INFINITY;
  /** Largest bus time among remembered ids (passivation needs them all expired). */
  private newestRememberedBusTime = Number.NEGATIVE_INFINITY;
  private newestBusTimeSeen = Number.NEGATIVE_INFINITY;
  private newestEventTimeSeen = Number.NEGATIVE_INFINITY;
  private lastSeqSeen: number | null = null;

  constructor(
    readonly deviceId: string,
    private readonly options: DeviceActorOptions,
  ) {}

  /** Bus time of the latest entry that reached this actor (for passivation). */
  get lastBusTime(): number {
    return this.newestBusTimeSeen;
  }

  /** Newest event time among accepted events, epoch ms (-Infinity before the first). */
  get newestEventTime(): number {
    return this.newestEventTimeSeen;
  }

  /** Last v2 `seq` among accepted events, or null. */
  get lastSeq(): number | null {
    return this.lastSeqSeen;
  }

  /** Event ids currently remembered. */
  rememberedIds(): number {
    return this.ids.size;
  }

  /** True when an event with this time would be late (> 1 min behind the newest event time). */
  isLate(eventTime: number): boolean {
    return eventTime < this.newestEventTimeSeen - LATE_AFTER_MS;
  }

  /** Accept a new event (true, and remember it) or recognise a duplicate (false). */
  offer(event: CanonicalEvent, busTime: number): boolean {
    this.advance(busTime);
    const seenAt = this.ids.get(event.eventId);
    if (seenAt !== undefined && seenAt >= this.cutoff()) return false;
    this.insert(event.eventId, busTime, seenAt !== undefined);
    if (event.eventTime > this.newestEventTimeSeen) this.newestEventTimeSeen = event.eventTime;
    if (event.seq !== null) this.lastSeqSeen = event.seq;
    return true;
  }

  /** Rebuild memory from the dedup log: remember an id accepted at `busTime`, emit nothing. */
  remember(eventId: string, busTime: number): void {
    this.advance(busTime);
    if (busTime < this.cutoff()) return;
    this.insert(eventId, busTime, this.ids.has(eventId));
  }

  /**
   * True when this actor may be dropped at `nowBusTime` without changing any future dedup
   * decision: idle at least `idleMs` and every remembered id past the horizon.
   */
  canPassivate(nowBusTime: number, idleMs: number): boolean {
    return (
      nowBusTime - this.newestBusTimeSeen >= idleMs &&
      this.newestRememberedBusTime < nowBusTime - this.options.dedupHorizonMs
    );
  }

  private cutoff(): number {
    return this.newestBusTimeSeen - this.options.dedupHorizonMs;
  }

  private advance(busTime: number): void {
    if (busTime > this.newestBusTimeSeen) this.newestBusTimeSeen = busTime;
    if (this.oldestBusTime < this.cutoff()) this.expire();
  }

  /** Forget ids from the front while they are past the horizon. */
  private expire(): void {
    const cutoff = this.cutoff();
    this.oldestBusTime = Number.POSITIVE_INFINITY;
    for (const [id, at] of this.ids) {
      if (at >= cutoff) {
        this.oldestBusTime = at;
        return;
      }
      this.ids.delete(id);
    }
  }

  private insert(eventId: string, busTime: number, present: boolean): void {
    // A re-accepted id moves to the end, as its new acceptance is the newest.
    if (present) this.ids.delete(eventId);
    this.ids.set(eventId, busTime);
    if (busTime > this.newestRememberedBusTime) this.newestRememberedBusTime = busTime;
    if (this.ids.size === 1 || present) this.oldestBusTime = this.firstBusTime();
    if (this.ids.size > this.options.maxIdsPerDevice) {
      for (const id of this.ids.keys()) {
        this.ids.delete(id);
        break;
      }
      this.oldestBusTime = this.firstBusTime();
    }
  }

  private firstBusTime(): number {
    for (const at of this.ids.values()) return at;
    return Number.POSITIVE_INFINITY;
  }
}
