/**
 * The state of one device: a few watermarks. Pure: time is the bus time passed in (the ms
 * part of the stream entry id), never a clock.
 *
 * It holds no event ids: the partition's DedupIndex remembers them (compactly, for every
 * device of the partition), so dropping an idle actor (passivation) forgets nothing that a
 * dedup decision needs. What it forgets — the newest event time and the last `seq` — only
 * feeds the `late` metric.
 */
import type { CanonicalEvent } from '../contracts/canonical-event.js';

/** An event more than this far behind the device's newest event time counts as late. */
export const LATE_AFTER_MS = 60_000;

export class DeviceActor {
  private newestBusTimeSeen = Number.NEGATIVE_INFINITY;
  private newestEventTimeSeen = Number.NEGATIVE_INFINITY;
  private lastSeqSeen: number | null = null;

  constructor(readonly deviceId: string) {}

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

  /** True when an event with this time would be late (> 1 min behind the newest event time). */
  isLate(eventTime: number): boolean {
    return eventTime < this.newestEventTimeSeen - LATE_AFTER_MS;
  }

  /** An entry carrying an event of this device (new or duplicate) arrived at `busTime`. */
  touch(busTime: number): void {
    if (busTime > this.newestBusTimeSeen) this.newestBusTimeSeen = busTime;
  }

  /** Record an accepted (not duplicate) event. */
  accept(event: CanonicalEvent): void {
    if (event.eventTime > this.newestEventTimeSeen) this.newestEventTimeSeen = event.eventTime;
    if (event.seq !== null) this.lastSeqSeen = event.seq;
  }

  /**
   * True when this actor may be dropped at `nowBusTime`: idle at least `idleMs`. No dedup
   * decision depends on it (the partition's index keeps the ids).
   */
  canPassivate(nowBusTime: number, idleMs: number): boolean {
    return nowBusTime - this.newestBusTimeSeen >= idleMs;
  }
}
