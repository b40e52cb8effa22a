/**
 * All device actors of one (region, partition) plus the partition's pending output: reading
 * rows, 1-minute and 1-hour partials, the ids accepted (for the dedup log) and counters.
 *
 *   entries (streamId, busTime, events) ──apply──▶ DeviceActor.offer ──new──▶ rows, windows
 *                                                                   └─dup──▶ duplicates++
 *   drain() ──▶ FlushBatch (deterministic order), then empty
 *
 * Determinism: drain() depends only on the dedup memory before the first apply() and the
 * entries applied since; restore() from the `accepted` records of earlier drains rebuilds
 * the dedup memory, so a retried flush yields the same rows and partials. `late` is a metric:
 * it also depends on the newest event time seen, which the dedup log does not carry.
 */
import { toReadingRows, type CanonicalEvent, type ReadingRow } from '../contracts/canonical-event.js';
import { DeviceActor } from './device-actor.js';
import { DEFAULT_DIGEST_SIZE } from './quantile-digest.js';
import type { ActorOptions, DedupRecord, DroppedDuplicate, FlushBatch } from './types.js';
import { HOUR_MS, MINUTE_MS, WindowAggregator } from './window-aggregator.js';

export class PartitionActors {
  private readonly actors = new Map<string, DeviceActor>();
  private readonly minutes: WindowAggregator;
  private readonly hours: WindowAggregator;
  private rows: ReadingRow[] = [];
  private accepted: DedupRecord[] = [];
  private duplicates = 0;
  private dropped: DroppedDuplicate[] = [];
  private late = 0;

  constructor(
    readonly partition: number,
    private readonly options: ActorOptions,
  ) {
    const digestSize = options.digestSize ?? DEFAULT_DIGEST_SIZE;
    this.minutes = new WindowAggregator(MINUTE_MS, digestSize);
    this.hours = new WindowAggregator(HOUR_MS, digestSize);
  }

  /** Apply one bus entry: `busTime` is the ms part of `streamId`. */
  apply(streamId: string, busTime: number, events: readonly CanonicalEvent[]): void {
    for (const event of events) {
      const actor = this.actor(event.deviceId);
      const late = actor.isLate(event.eventTime);
      if (!actor.offer(event, busTime)) {
        this.duplicates++;
        this.dropped.push({ deviceId: event.deviceId, eventTime: event.eventTime, readings: event.readings.length });
        continue;
      }
      if (late) this.late++;
      this.accepted.push({ deviceId: event.deviceId, eventId: event.eventId, busTime });
      for (const row of toReadingRows(event, streamId, this.partition)) this.rows.push(row);
      for (const r of event.readings) {
        this.minutes.add(event.deviceId, r.sensorType, event.eventTime, r.value, r.weight);
        this.hours.add(event.deviceId, r.sensorType, event.eventTime, r.value, r.weight);
      }
    }
  }

  /** Everything since the previous drain, in a deterministic order; the output starts empty. */
  drain(): FlushBatch {
    const batch: FlushBatch = {
      rows: this.rows,
      rollup1m: this.minutes.drain(),
      rollup1h: this.hours.drain(),
      accepted: this.accepted,
      duplicates: this.duplicates,
      dropped: this.dropped,
      late: this.late,
    };
    this.dropped = [];
    this.rows = [];
    this.accepted = [];
    this.duplicates = 0;
    this.late = 0;
    return batch;
  }

  /** Accepted events not yet drained (the runtime flushes early past a threshold). */
  pendingEvents(): number {
    return this.accepted.length;
  }

  /** Rebuild dedup memory from the dedup log, records in log order. Emits nothing. */
  restore(records: readonly DedupRecord[]): void {
    for (const r of records) this.actor(r.deviceId).remember(r.eventId, r.busTime);
  }

  /**
   * Drop actors idle for at least `idleMs` whose dedup memory has fully expired at
   * `nowBusTime` (no later entry may carry an older bus time). Returns their device ids.
   */
  passivate(nowBusTime: number): string[] {
    const dropped: string[] = [];
    for (const [deviceId, actor] of this.actors) {
      if (actor.canPassivate(nowBusTime, this.options.idleMs)) {
        this.actors.delete(deviceId);
        dropped.push(deviceId);
      }
    }
    return dropped;
  }

  activeActors(): number {
    return this.actors.size;
  }

  private actor(deviceId: string): DeviceActor {
    let actor = this.actors.get(deviceId);
    if (actor === undefined) {
      actor = new DeviceActor(deviceId, this.options);
      this.actors.set(deviceId, actor);
    }
    return actor;
  }
}
