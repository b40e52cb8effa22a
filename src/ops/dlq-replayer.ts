/**
 * Replays one DLQ entry into the pipeline: the stored event (or a repaired one the operator
 * sends) is validated with the device contract exactly as the gateway would — identity = the
 * entry's device and region, now = the server clock — then appended to its partition's stream
 * and only then deleted from the DLQ.
 *
 *   entry ──(repaired event?)──▶ EventValidator ──valid──▶ append(region, partition) ──▶ XDEL
 *                                      └──invalid──▶ 422 {code, message}, entry kept
 */
import type { Config } from '../config.js';
import type { CanonicalEvent } from '../contracts/canonical-event.js';
import { EventValidator } from '../contracts/event-validator.js';
import { isRejection } from '../contracts/rejection.js';
import type { DeviceIdentity, ValidationContext } from '../contracts/types.js';
import { isPlainObject } from '../contracts/untrusted-values.js';
import { errorMessage, RejectCode, ShoalError } from '../errors.js';
import { partitionOf } from '../runtime/partitioning.js';
import { ApiError } from './api-error.js';
import type { DlqPurger } from './dlq-purger.js';
import { ENTRY_UNDECODABLE, type DlqEntry, type DlqReader } from './dlq-reader.js';

/** Appends events of one (region, partition) to the bus: the gateway's BusAppender.append. */
export type DlqAppend = (region: string, partition: number, events: readonly CanonicalEvent[]) => Promise<void>;

export interface ReplayAnswer {
  replayed: true;
  event_id: string;
  region: string;
  partition: number;
}

export interface DlqReplayerDeps {
  config: Config;
  reader: DlqReader;
  purger: DlqPurger;
  append: DlqAppend;
  clock: () => number;
}

export class DlqReplayer {
  private readonly validator = new EventValidator();
  /** Replays in progress per entry, so concurrent replays of one entry run one after the other. */
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(private readonly deps: DlqReplayerDeps) {}

  /**
   * Replay entry `id` of `region`, with `repaired` (`{event}` from the request body) or the
   * stored event when null. A second replay of the same entry finds it gone: 404.
   */
  replay(region: string, id: string, repaired: { event: unknown } | null): Promise<ReplayAnswer> {
    const key = `${region}\u0000${id}`;
    const previous = this.inFlight.get(key) ?? Promise.resolve();
    const run = previous.then(() => this.replayOnce(region, id, repaired));
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.set(key, settled);
    void settled.then(() => {
      if (this.inFlight.get(key) === settled) this.inFlight.delete(key);
    });
    return run;
  }

  private async replayOnce(region: string, id: string, repaired: { event: unknown } | null): Promise<ReplayAnswer> {
    const { config, reader, purger } = this.deps;
    const entry = await reader.entry(region, id);
    if (!entry) throw new ApiError(404, 'NOT_FOUND', `no DLQ entry ${id} in region ${region} (already replayed or purged?)`);
    const raw = repaired ? repaired.event : storedEvent(entry);
    const now = this.deps.clock();
    const ctx: ValidationContext = {
      now,
      regions: config.regions,
      identity: this.identityOf(entry, raw, region),
      maxFrameBytes: config.ingest.maxFrameBytes,
      maxEventsPerFrame: config.ingest.maxEventsPerFrame,
      maxEventAgeMs: config.ingest.maxEventAgeMs,
      maxEventAheadMs: config.ingest.maxEventAheadMs,
    };
    const result = this.validator.validate(raw, 0, ctx);
    if (isRejection(result)) throw new ApiError(422, result.code, result.message);

    const partition = partitionOf(result.deviceId, config.partitions);
    try {
      await this.deps.append(result.region, partition, [result]);
    } catch (err) {
      const code = err instanceof ShoalError ? err.code : 'BUS_UNAVAILABLE';
      throw new ApiError(503, code, `the event could not be appended to the bus: ${errorMessage(err)}; the DLQ entry is kept`, { cause: err });
    }
    // Append first, delete after: a crash (or a Redis failure) between the two leaves the entry
    // in the DLQ, so it can be replayed a second time. That is harmless: the event keeps its
    // event_id and the pipeline deduplicates by event_id. Deleting first could lose the event.
    try {
      await purger.deleteOne(region, id);
    } catch (err) {
      throw new ApiError(
        503,
        'BUS_UNAVAILABLE',
        `the event ${result.eventId} was appended, but the DLQ entry could not be deleted (${errorMessage(err)}); replaying it again is harmless (deduplicated by event_id)`,
        { cause: err },
      );
    }
    return { replayed: true, event_id: result.eventId, region: result.region, partition };
  }

  /**
   * The identity the gateway would have checked the event against. An undecodable bus entry
   * held a batch from devices of its stream's region: the repaired event is bound to that
   * region and names its own device. A gateway entry without device and region had no
   * authenticated device: replayable only when auth is `none`, as the gateway would accept it.
   */
  private identityOf(entry: DlqEntry, raw: unknown, region: string): DeviceIdentity | null {
    if (entry.code === ENTRY_UNDECODABLE) {
      const claimed = isPlainObject(raw) ? raw['device_id'] : undefined;
      return { deviceId: typeof claimed === 'string' ? claimed : '', region: entry.region ?? region };
    }
    if (entry.device_id !== null && entry.region !== null) return { deviceId: entry.device_id, region: entry.region };
    if (this.deps.config.auth.mode === 'none') return null;
    throw new ApiError(
      422,
      RejectCode.UNAUTHORIZED,
      `${RejectCode.UNAUTHORIZED}: DLQ entry ${entry.id} names no authenticated device and region; it cannot be replayed while auth mode is token`,
    );
  }
}

/** The event stored in an entry; refused when there is none to replay (a repaired one is needed). */
function storedEvent(entry: DlqEntry): unknown {
  if (entry.code === ENTRY_UNDECODABLE)
    throw ApiError.badRequest(`event: entry ${entry.id} is ${ENTRY_UNDECODABLE} (a bus entry that could not be decoded); replay it with a repaired event`);
  if (entry.raw === null) throw ApiError.badRequest(`event: entry ${entry.id} holds no stored event; replay it with a repaired event`);
  return entry.raw;
}
