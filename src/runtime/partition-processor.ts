/**
 * One partition's consumer and flush protocol, inside a shard thread.
 *
 *  acquire ─► restore dedup memory from the dedup log ─► re-run an unfinished flush intent
 *     │
 *     ▼
 *  poll: fenced XREADGROUP ─► decode ─► PartitionActors.apply        (entries > checkpoint)
 *     │
 *     ▼ every flush.intervalMs, or when flush.maxEvents are held
 *  flush: drain ─► intent(from,to) ─► archive objects + ClickHouse inserts ─► commit
 *
 * The batch of a range (from, to] is a pure function of the entries in it and the dedup
 * memory at `from`, which the dedup log restores exactly. So a flush re-run after a crash
 * writes byte-identical payloads under the same insert tokens and object names: ClickHouse
 * drops the repeats, the object store overwrites with the same bytes. See
 * docs/ARCHITECTURE.md, "Flush protocol".
 */
import type { Logger } from 'pino';
import { DropoutTracker, type Dropout } from '../actors/dropout-tracker.js';
import { PartitionActors } from '../actors/partition-actors.js';
import type { ActorOptions, FlushBatch, WindowPartial } from '../actors/types.js';
import { MAX_EVENTS_PER_ENTRY, decodeEvents, encodeEvents } from '../contracts/bus-codec.js';
import type { CanonicalEvent } from '../contracts/canonical-event.js';
import { CheckpointMovedError, FencedError, UnrecoverableError, errorMessage } from '../errors.js';
import { cidsOf, deviceField, pseudonymizerOf, type DevicePseudonymizer } from '../logging.js';
import type { AnalyticsStore, EncodedInsert } from '../sinks/analytics-store.js';
import { EventsBodyWriter, encodeBatch, encodePartials } from '../sinks/batch-encoder.js';
import { windowReadings, type WindowSource } from '../sinks/queries.js';
import type { ObjectStore } from '../sinks/object-store.js';
import { archiveObjects, archiveObjectsEncodedBy, type ArchiveObject } from '../sinks/raw-archive.js';
import type { Redis } from 'ioredis';
import { HOUR_MS, countByHour } from './audit-counters.js';
import { CheckpointStore, type StreamEntry } from './checkpoint-store.js';
import { decodeDedupRecords, encodeDedupRecords } from './dedup-log-codec.js';
import type { Keys } from './keys.js';
import type { PartitionStatus } from './messages.js';
import type { ShardMetrics } from './shard-metrics.js';
import { busTimeOf, compareStreamIds } from './stream-id.js';

export interface PoisonEntry {
  region: string;
  entryId: string;
  fields: Buffer[];
  error: UnrecoverableError;
  attempts: number;
  /** Devices whose events the entry holds (empty when it could not be decoded). */
  devices: string[];
}

/** Attempts at applying one bus entry before it goes to the DLQ. */
export const MAX_APPLY_ATTEMPTS = 3;

export interface FlushHooks {
  /** Called before an entry's events reach the actors; may throw (fault tests). */
  beforeApply?: (events: readonly CanonicalEvent[]) => void;
  /** Called after every sink write of a flush succeeded and before its commit (fault tests). */
  afterSinks?: (region: string, partition: number, to: string) => void | Promise<void>;
}

export interface PartitionProcessorDeps {
  region: string;
  partition: number;
  redis: Redis;
  keys: Keys;
  epoch: number;
  consumer: string;
  analytics: AnalyticsStore;
  /** The region's ClickHouse database (regionDatabase()): a re-run flush reads its windows. */
  database: string;
  objects: ObjectStore;
  actorOptions: ActorOptions;
  flushIntervalMs: number;
  maxEvents: number;
  logger: Logger;
  metrics: ShardMetrics;
  clock?: () => number;
  hooks?: FlushHooks;
  /** Called with an entry that cannot be applied (poison), before it is skipped. */
  onPoison?: (poison: PoisonEntry) => Promise<void>;
}

const MAX_BACKOFF_MS = 10_000;
/**
 * A read applies its entries in one go unless this much time passes first, ms: then it lets
 * the thread's event loop run (the replies a running flush waits for: its store calls, the
 * object store, Redis) before going on. A read of up to flush.maxEvents events took 150–300
 * ms of a busy core, and a flush waits for a reply three times over.
 */
const APPLY_SLICE_MS = 10;
/** Dropouts a partition lists in its status (the worst ones). */
const MAX_STATUS_DROPOUTS = 100;

export class PartitionProcessor {
  readonly region: string;
  readonly partition: number;
  private readonly checkpoint: CheckpointStore;
  private readonly actors: PartitionActors;
  private readonly tracker = new DropoutTracker();
  private readonly clock: () => number;
  private readonly log: Logger;
  /** How log lines name devices (the logger's pseudonymizer). */
  private readonly pseudonyms: DevicePseudonymizer;
  /** Correlation ids of the events applied since the last drain (capped; logged at its commit). */
  private unflushedCids = new Set<string>();
  /** Dedup evictions already counted in shoal_dedup_evicted_total. */
  private evictedReported = 0;
  /** Last committed stream id: everything ≤ it is in the sinks. */
  private committed = '0-0';
  private flushSeq = 0;
  /** Last entry id read from the bus. */
  private lastRead = '0-0';
  /** Ids read since the last drain (to XACK at its commit). */
  private unflushedIds: string[] = [];
  private unflushedTo: string | null = null;
  private lastFlushAt = 0;
  private flushing: Promise<void> | null = null;
  private fenced = false;
  /** The checkpoint moved under us: the shard replaces this processor with a fresh one. */
  private moved = false;
  private lastError: string | null = null;
  private stopping = false;
  /** Failed apply attempts per entry id (bounded retries before the DLQ). */
  private readonly attempts = new Map<string, number>();
  /** Devices of a retried entry whose events were already applied. */
  private readonly applied = new Map<string, Set<string>>();
  /** No reading before this time (backoff after a failed entry). */
  private retryAt = 0;
  /**
   * Events per bus entry, as read lately: sizes each read so that what is held stays near
   * flush.maxEvents. Starts at the most an entry can hold; rises at once to a bigger read,
   * decays towards smaller ones.
   */
  private eventsPerEntry = MAX_EVENTS_PER_ENTRY;
  /** Events decoded from bus entries since start (for eventsPerEntry). */
  private decodedEvents = 0;
  /**
   * The batch's RowBinary events insert, written as events are accepted (null: the store takes
   * another format or does not encode the archive, and the insert is encoded at the flush).
   */
  private readonly eventsBody: EventsBodyWriter | null;

  constructor(private readonly deps: PartitionProcessorDeps) {
    this.region = deps.region;
    this.partition = deps.partition;
    this.clock = deps.clock ?? Date.now;
    this.log = deps.logger.child({ region: deps.region, partition: deps.partition });
    this.pseudonyms = pseudonymizerOf(deps.logger);
    this.checkpoint = new CheckpointStore(deps.redis, deps.keys.partition(deps.region, deps.partition), deps.epoch, deps.consumer, (hour) =>
      deps.keys.duplicateCounts(deps.region, deps.partition, hour),
    );
    // The events go straight into the insert where the store also encodes the archive from it;
    // a store that leaves the archive to JavaScript needs the batch to keep them (its rows).
    this.eventsBody = deps.analytics.insertFormat === 'RowBinary' && deps.analytics.archiveParquet !== undefined ? new EventsBodyWriter() : null;
    this.actors = new PartitionActors(deps.partition, deps.actorOptions, this.eventsBody ?? undefined);
  }

  get streamKey(): string {
    return this.deps.keys.partition(this.region, this.partition).stream;
  }

  /** The id to block on for new entries (XREAD ... <id>). */
  get readPosition(): string {
    return compareStreamIds(this.lastRead, this.committed) > 0 ? this.lastRead : this.committed;
  }

  get isFenced(): boolean {
    return this.fenced;
  }

  /** True when this processor must be replaced by a fresh one that re-acquires the partition. */
  get needsReacquire(): boolean {
    return this.moved;
  }

  /**
   * Whether a poll now would ask Redis for entries. Not when the partition is fenced, moved or
   * stopping, backs off after a failed entry, or holds flush.maxEvents (it reads again once its
   * flush has made room): then its stream may well hold entries it will not read yet.
   */
  get canRead(): boolean {
    return !this.fenced && !this.moved && !this.stopping && this.clock() >= this.retryAt && !this.isFull;
  }

  /**
   * Settles when a partition that cannot read now may read again: when its running flush ends
   * or its backoff passes, whichever comes first (at once when neither is pending).
   */
  whenReadable(): Promise<void> {
    const waits: Promise<void>[] = [];
    if (this.flushing) waits.push(this.flushing);
    const backoff = this.retryAt - this.clock();
    if (backoff > 0) waits.push(new Promise((resolve) => setTimeout(resolve, backoff)));
    return waits.length > 0 ? Promise.race(waits) : Promise.resolve();
  }

  /** Take the partition, rebuild dedup memory, finish a flush a previous owner left open. */
  async start(): Promise<void> {
    const acquired = await this.checkpoint.acquire();
    this.committed = acquired.offset;
    this.lastRead = acquired.offset;
    this.flushSeq = acquired.flushSeq;
    // From the last commit's trim point (its restore floor, or the horizon's start if later).
    const floor = Math.max(busTimeOf(acquired.offset) - this.deps.actorOptions.dedupHorizonMs, busTimeOf(acquired.dedupMinId), 0);
    let restored = 0;
    for (const payload of await this.checkpoint.dedupLog(`${floor}-0`)) {
      const records = decodeDedupRecords(payload);
      restored += records.length;
      this.actors.restore(records, floor);
    }
    this.log.info({ offset: acquired.offset, flushSeq: acquired.flushSeq, restoredIds: restored, intent: acquired.intent }, 'partition acquired');
    if (acquired.intent) {
      const { from, to } = acquired.intent;
      const entries = await this.checkpoint.range(from, to);
      const ids: string[] = [];
      for (const entry of entries) {
        // The range was fully processed before the crash: finish each entry the same way
        // (applied, or to the DLQ after its attempts), never leave one out of the batch.
        while (!(await this.applyEntry(entry)));
        ids.push(entry[0]);
      }
      this.log.warn({ from, to, entries: entries.length }, 're-running unfinished flush');
      const cids = this.unflushedCids;
      this.unflushedCids = new Set();
      const { batch, events } = this.drainBatch();
      await this.writeWithRetry(from, to, batch, events, ids, cids, true);
      this.lastRead = to;
    }
    this.lastFlushAt = this.clock();
  }

  /**
   * Read and apply new entries, at most `count`; returns how many were read.
   *
   * What a partition holds is bounded by events, not entries: an entry carries 1 to
   * MAX_EVENTS_PER_ENTRY events (the gateway coalesces more per entry the busier it is), so
   * under a backlog `count` entries could be hundreds of thousands of events. A read asks for
   * as many entries as the room left below flush.maxEvents takes at the recent events per
   * entry (at least one), and none once the batch is full: it is flushed first, or waits
   * behind the flush that runs. A batch thus overshoots maxEvents by less than one read's
   * misjudgement, and a partition holds about two batches at most (the one flushing and the next).
   */
  async poll(count: number): Promise<number> {
    if (!this.canRead) return 0;
    const room = this.deps.maxEvents - this.actors.pendingEvents();
    const budget = Math.max(1, Math.min(count, Math.ceil(room / this.eventsPerEntry)));
    const decodedBefore = this.decodedEvents;
    let entries: StreamEntry[];
    try {
      entries = await this.checkpoint.read(budget, this.readPosition);
    } catch (err) {
      this.onError(err, 'read');
      return 0;
    }
    const stale: string[] = [];
    let sliceStart = performance.now();
    for (const entry of entries) {
      const id = entry[0];
      // Entries at or below the checkpoint are redelivered after an acquire; they are
      // already in the sinks, only their acknowledgement is left.
      if (compareStreamIds(id, this.committed) <= 0) {
        stale.push(id);
        if (compareStreamIds(id, this.lastRead) > 0) this.lastRead = id;
        continue;
      }
      // Already applied by this owner and waiting for its flush: after an acquire rewound the
      // group, `>` hands out again entries the history read already returned.
      if (compareStreamIds(id, this.lastRead) <= 0) continue;
      // A failed entry stops this read: it is delivered again (after lastRead) next time.
      if (!(await this.applyEntry(entry))) break;
      this.lastRead = id;
      this.unflushedIds.push(id);
      this.unflushedTo = id;
      if (performance.now() - sliceStart >= APPLY_SLICE_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
    }
    if (stale.length) await this.checkpoint.ack(stale).catch((err) => this.onError(err, 'ack'));
    if (entries.length > 0) {
      const perEntry = Math.max(1, (this.decodedEvents - decodedBefore) / entries.length);
      this.eventsPerEntry = perEntry >= this.eventsPerEntry ? perEntry : 0.8 * this.eventsPerEntry + 0.2 * perEntry;
    }
    return entries.length;
  }

  /**
   * Apply one entry, device by device. Returns false when a device's events failed and the
   * entry should be retried (only the devices not yet applied are applied again). An entry
   * that cannot be decoded, or a device whose events failed MAX_APPLY_ATTEMPTS times, goes to
   * the DLQ with its payload and counts as done: one bad input never stalls the partition,
   * and other devices in the same entry are not held back by it.
   */
  private async applyEntry([id, fields]: StreamEntry): Promise<boolean> {
    const payload = fields[1];
    let events: CanonicalEvent[];
    try {
      if (!payload) throw new UnrecoverableError('ENTRY_UNDECODABLE', `entry ${id} has no payload field`);
      events = decodeEvents(payload);
      this.decodedEvents += events.length;
    } catch (err) {
      if (!(err instanceof UnrecoverableError)) throw err;
      await this.deadLetter({ region: this.region, entryId: id, fields, error: err, attempts: 1, devices: [] });
      return true;
    }
    const done = this.applied.get(id) ?? new Set<string>();
    const failed = new Map<string, { events: CanonicalEvent[]; error: unknown }>();
    for (const [device, group] of byDevice(events)) {
      if (done.has(device)) continue;
      try {
        this.deps.hooks?.beforeApply?.(group);
        this.actors.apply(id, busTimeOf(id), group);
        cidsOf(group, this.unflushedCids);
        this.logApplied(id, device, group);
        for (const e of group) this.tracker.observe(e.deviceId, e.eventTime, e.seq, busTimeOf(id));
        this.deps.metrics.eventsProcessed.inc({ region: this.region }, group.length);
        done.add(device);
      } catch (error) {
        failed.set(device, { events: group, error });
      }
    }
    const attempts = (this.attempts.get(id) ?? 0) + 1;
    if (failed.size > 0 && attempts < MAX_APPLY_ATTEMPTS) {
      this.attempts.set(id, attempts);
      this.applied.set(id, done);
      this.retryAt = this.clock() + 100 * 2 ** attempts;
      const cids = [...cidsOf([...failed.values()].flatMap((f) => f.events))];
      this.log.warn({ entry: id, attempts, devices: [...failed.keys()].map((d) => deviceField(this.pseudonyms, d)), cids }, 'applying a bus entry failed; will retry');
      return false;
    }
    this.attempts.delete(id);
    this.applied.delete(id);
    for (const [device, f] of failed) {
      const error = new UnrecoverableError('ACTOR_FAILED', `applying the events failed ${attempts} times: ${errorMessage(f.error)}`, { cause: f.error });
      await this.deadLetter({ region: this.region, entryId: id, fields: [Buffer.from('d'), encodeEvents(f.events)], error, attempts, devices: [device] }, [...cidsOf(f.events)]);
    }
    return true;
  }

  /** One debug line per (device, cid) of an applied group: how a frame is followed into the shard. */
  private logApplied(entry: string, deviceId: string, group: readonly CanonicalEvent[]): void {
    if (!this.log.isLevelEnabled('debug')) return;
    const perCid = new Map<string | undefined, number>();
    for (const e of group) perCid.set(e.cid, (perCid.get(e.cid) ?? 0) + 1);
    const device = deviceField(this.pseudonyms, deviceId);
    for (const [cid, events] of perCid) this.log.debug({ cid, device, entry, events }, 'events applied');
  }

  /** `cids`: correlation ids of the events, for the log line (empty when undecodable). */
  private async deadLetter(poison: PoisonEntry, cids: string[] = []): Promise<void> {
    this.deps.metrics.poisonEntries.inc({ region: this.region });
    this.deps.metrics.dlqEntries.inc({ region: this.region, reason: poison.error.code.toLowerCase() });
    const devices = poison.devices.map((d) => deviceField(this.pseudonyms, d));
    this.log.error({ entry: poison.entryId, attempts: poison.attempts, devices, cids, err: poison.error.message }, 'bus input moved to the DLQ');
    await this.deps.onPoison?.(poison);
  }

  /** The batch holds flush.maxEvents events: reading waits until it is flushed (false once fenced). */
  get isFull(): boolean {
    return !this.fenced && !this.moved && this.actors.pendingEvents() >= this.deps.maxEvents;
  }

  shouldFlush(now: number): boolean {
    if (this.fenced || this.moved || this.flushing || this.unflushedTo === null) return false;
    return this.isFull || now - this.lastFlushAt >= this.deps.flushIntervalMs;
  }

  /** Start a flush of everything read so far (no-op while one runs); resolves when done. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.fenced || this.moved || this.unflushedTo === null) return Promise.resolve();
    const from = this.committed;
    const to = this.unflushedTo;
    const ids = this.unflushedIds;
    this.unflushedIds = [];
    const cids = this.unflushedCids;
    this.unflushedCids = new Set();
    this.unflushedTo = null;
    this.lastFlushAt = this.clock();
    const { batch, events } = this.drainBatch();
    this.flushing = this.writeWithRetry(from, to, batch, events, ids, cids)
      .catch((err) => this.onError(err, 'flush'))
      .finally(() => {
        this.flushing = null;
      });
    return this.flushing;
  }

  /** Drain the actors, with the batch's events insert if it was written as the events came. */
  private drainBatch(): { batch: FlushBatch; events: EncodedInsert | null } {
    const batch = this.actors.drain();
    return { batch, events: this.eventsBody?.take() ?? null };
  }

  /**
   * Write a batch until it lands (capped exponential backoff with jitter), then commit.
   * `cids` (capped) are the correlation ids of its events, for the retry and commit log lines.
   *
   * `rerun`: the batch is a previous owner's unfinished flush. Its owner may have died inside
   * a ClickHouse insert after the table recorded the insert's dedup token but before the part
   * holding the rows was committed (MergeTreeSink writes the dedup log record first): the same
   * token would then be dropped as a duplicate and the rows lost. So a re-run inserts `events`
   * under a token of its own; `events` is a ReplacingMergeTree read with FINAL, so rows that
   * did land before collapse with their copies. Rollup partials keep the flush's token (a
   * second copy would count twice) and are checked after: repairTornRollups.
   */
  private async writeWithRetry(
    from: string,
    to: string,
    batch: FlushBatch,
    events: EncodedInsert | null,
    ids: string[],
    cids: ReadonlySet<string>,
    rerun = false,
  ): Promise<void> {
    const inserts = batch.rowCount > 0 ? encodeBatch(batch, this.deps.analytics.insertFormat, events) : [];
    // The commit's dedup log entry, encoded while the sinks write (once: a retry commits the same).
    let dedupPayload: Buffer | null | undefined;
    const dedupEntry = (): Buffer | null => (dedupPayload === undefined ? (dedupPayload = encodeDedupRecords(batch.accepted)) : dedupPayload);
    // Encoded once, on the first attempt that gets that far (a failed encoding is tried again).
    let objects: Promise<ArchiveObject[]> | null = null;
    const archive = (): Promise<ArchiveObject[]> =>
      (objects ??= this.archive(from, to, batch, inserts).catch((err: unknown) => {
        objects = null;
        throw err;
      }));
    const tokenBase = `${this.region}/${this.partition}/${from}/${to}`;
    const tokenOf = (table: string): string => (rerun && table === 'events' ? `${tokenBase}/events/rerun-${this.deps.epoch}` : `${tokenBase}/${table}`);
    for (let attempt = 1; ; attempt++) {
      try {
        if (inserts.length > 0 || batch.rowCount > 0) {
          await this.checkpoint.intent(from, to);
          // Both sinks at once: the commit waits for both, and each write is idempotent (same
          // object names and bytes, same insert tokens), so their order does not matter. Both
          // settle before a failure is thrown, so a retry never overlaps a write still running.
          const writing = Promise.allSettled([
            this.timed('object-store', archive().then((list) => Promise.all(list.map((o) => this.deps.objects.put(o.key, o.body))))),
            this.timed('clickhouse', Promise.all(inserts.map((ins) => this.deps.analytics.insert(this.region, ins, tokenOf(ins.table))))),
          ]);
          // Encoding cannot leave the sinks running unawaited: a retry must never overlap them.
          let encodeFailure: Error | null = null;
          try {
            dedupEntry();
          } catch (err) {
            encodeFailure = err instanceof Error ? err : new Error(errorMessage(err));
          }
          const written = await writing;
          if (encodeFailure !== null) throw encodeFailure;
          for (const w of written) if (w.status === 'rejected') throw w.reason;
          if (rerun) await this.repairTornRollups(batch.rollup1m, tokenBase);
          await this.deps.hooks?.afterSinks?.(this.region, this.partition, to);
        }
        // The log keeps what a restore at `to` replays: neither ids past the horizon nor ids
        // the index had already evicted to stay within its capacity.
        const dedupMinId = `${Math.max(0, busTimeOf(to) - this.deps.actorOptions.dedupHorizonMs, batch.dedupFloor)}-0`;
        this.flushSeq = await this.checkpoint.commit({
          from,
          to,
          dedupPayload: dedupEntry(),
          dedupMinId,
          ackIds: ids,
          duplicates: countByHour(batch.dropped),
        });
        this.committed = to;
        this.lastError = null;
        this.recordCommit(batch, to);
        this.log.debug({ from, to, cids: [...cids] }, 'flush committed');
        return;
      } catch (err) {
        if (err instanceof FencedError || err instanceof CheckpointMovedError) throw err;
        this.deps.metrics.flushes.inc({ region: this.region, outcome: 'retry' });
        this.lastError = errorMessage(err);
        if (this.stopping && attempt >= 3) throw err;
        const backoff = Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(attempt, 10)) * (0.5 + Math.random() / 2);
        this.log.warn({ attempt, backoffMs: Math.round(backoff), err: this.lastError, cids: [...cids] }, 'flush failed, retrying');
        await new Promise((r) => setTimeout(r, backoff));
      }
    }
  }

  /**
   * The flush's archive objects. The embedded store encodes them from the events insert with
   * ClickHouse's Parquet writer (in the main thread's chDB, off this thread); other stores
   * leave it to hyparquet-writer here. Same keys, rows and schema either way (raw-archive.ts).
   */
  private async archive(from: string, to: string, batch: FlushBatch, inserts: readonly EncodedInsert[]): Promise<ArchiveObject[]> {
    if (batch.rowCount === 0) return [];
    const { analytics } = this.deps;
    const events = inserts.find((ins) => ins.table === 'events');
    if (analytics.archiveParquet && events?.format === 'RowBinary') {
      // Only the rows per day are needed here: the store encodes the objects from the insert.
      return archiveObjectsEncodedBy(this.region, this.partition, from, to, batch.rowsPerDay, (days) => analytics.archiveParquet!(events, days));
    }
    return archiveObjects(this.region, this.partition, from, to, batch.rows);
  }

  /**
   * After a re-run flush's inserts: put back rollup partials a torn insert lost (see
   * writeWithRetry). The re-run inserted them under the flush's token, which lands them unless
   * an earlier attempt left the token recorded without its rows, in either table (each view's
   * part is committed on its own). `events` is complete for these windows by now, so per table
   * and window: rolled up = stored means the partials are in, rolled up = stored − this flush's
   * partials means they were lost. Lost in every window of a table, they are inserted into that
   * table alone under a token of their own; a late duplicate a zombie writer might still send
   * carries the flush's token, which stays dropped. Anything else (a duplicate that came back
   * after the dedup horizon counts twice in rollups) is left as it is, logged, for the audit.
   */
  private async repairTornRollups(minutes: readonly WindowPartial[], tokenBase: string): Promise<void> {
    if (minutes.length === 0) return;
    const { analytics, database } = this.deps;
    const hours = minutes.map((p) => ({ ...p, windowStart: Math.floor(p.windowStart / HOUR_MS) * HOUR_MS }));
    const devices = [...new Set(minutes.map((p) => p.deviceId))];
    // A loop, not Math.min(...): a large re-run holds more partials than a call takes arguments.
    let from = Number.POSITIVE_INFINITY;
    let to = Number.NEGATIVE_INFINITY;
    for (const p of hours) {
      from = Math.min(from, p.windowStart);
      to = Math.max(to, p.windowStart + HOUR_MS);
    }
    const read = (source: WindowSource): Promise<Map<string, number>> => windowReadings(analytics, database, source, devices, from, to);
    const [stored1m, stored1h, rolled1m, rolled1h] = await Promise.all([read('events_1m'), read('events_1h'), read('rollup_1m'), read('rollup_1h')]);
    const minute = tornState(minutes, stored1m, rolled1m);
    const hour = tornState(hours, stored1h, rolled1h);
    if (minute === 'in' && hour === 'in') return;
    const epoch = this.deps.epoch;
    const format = analytics.insertFormat;
    let inserts;
    if (minute === 'lost' && hour === 'lost') inserts = encodePartials('rollup_1m', minutes, format);
    else if (minute === 'lost' && hour === 'in') inserts = encodePartials('rollup_1m_repair', minutes, format);
    else if (minute === 'in' && hour === 'lost') inserts = encodePartials('rollup_1h', hours, format);
    else {
      this.log.warn({ minute, hour, partials: minutes.length }, 're-run flush: rollups neither hold nor miss its partials exactly; left for the audit');
      return;
    }
    this.log.warn({ minute, hour, partials: minutes.length }, 're-run flush: rollup partials lost by a torn insert, inserting them again');
    for (const ins of inserts) await analytics.insert(this.region, ins, `${tokenBase}/${ins.table}/repair-${epoch}`);
  }

  /** `write`, its duration observed for `sink` when it succeeds. */
  private async timed(sink: 'object-store' | 'clickhouse', write: Promise<unknown>): Promise<void> {
    const start = this.clock();
    await write;
    this.deps.metrics.flushDuration.observe({ sink }, (this.clock() - start) / 1000);
  }

  private recordCommit(batch: FlushBatch, to: string): void {
    const m = this.deps.metrics;
    const labels = { region: this.region };
    const now = this.clock();
    m.flushes.inc({ region: this.region, outcome: 'ok' });
    m.rowsFlushed.inc(labels, batch.rowCount);
    m.duplicates.inc(labels, batch.duplicates);
    m.lateEvents.inc(labels, batch.late);
    // lastFlushAt is when this batch was drained; 0 for the re-run of a previous owner's intent.
    const oldest = batch.accepted.length > 0 ? batch.accepted.busTimeAt(0) : null;
    if (oldest !== null && this.lastFlushAt >= oldest) m.aggregationLatency.observe(labels, (this.lastFlushAt - oldest) / 1000);
    for (const ingestTime of batch.ingestTimes) m.visibility.observe(labels, (now - ingestTime) / 1000);
    const dropped = this.actors.passivate(busTimeOf(to));
    if (dropped.length) m.passivated.inc(labels, dropped.length);
    const partitionLabels = { region: this.region, partition: String(this.partition) };
    m.activeActors.set(partitionLabels, this.actors.activeActors());
    const dedup = this.actors.dedupStats();
    m.dedupIds.set(partitionLabels, dedup.ids);
    m.dedupBytes.set(partitionLabels, dedup.bytes);
    if (dedup.evicted > this.evictedReported) m.dedupEvicted.inc(labels, dedup.evicted - this.evictedReported);
    this.evictedReported = dedup.evicted;
  }

  private onError(err: unknown, during: string): void {
    if (err instanceof CheckpointMovedError) {
      this.moved = true;
      this.log.warn({ err: err.message }, `checkpoint moved during ${during}: re-acquiring the partition`);
      return;
    }
    if (err instanceof FencedError) {
      this.fenced = true;
      this.log.error({ err: err.message }, `partition fenced during ${during}: another owner took it over`);
      return;
    }
    this.lastError = errorMessage(err);
    this.log.error({ err: this.lastError }, `${during} failed`);
  }

  /** Stop reading; flush and checkpoint what is held when `flush` is true. */
  async stop(flush: boolean): Promise<void> {
    if (this.flushing) await this.flushing;
    if (flush) await this.flush();
    this.stopping = true;
  }

  status(): PartitionStatus {
    return {
      region: this.region,
      partition: this.partition,
      committed: this.committed,
      flushSeq: this.flushSeq,
      pendingEvents: this.actors.pendingEvents(),
      activeActors: this.actors.activeActors(),
      fenced: this.fenced,
      lastError: this.lastError,
      dropouts: this.dropouts(),
    };
  }

  /**
   * Devices flagged now, worst first, capped; also sets the shoal_dropouts gauge. Runs with
   * every status report (each second), not only at commits: a partition whose devices all
   * went quiet has nothing left to commit. Bus time is Redis time: compare with the wall clock.
   */
  private dropouts(): Dropout[] {
    const flagged = this.tracker.dropouts(Date.now());
    for (const kind of ['quiet', 'seq_gap'] as const) {
      const labels = { region: this.region, partition: String(this.partition), kind };
      this.deps.metrics.dropouts.set(labels, flagged.filter((d) => d.kind === kind).length);
    }
    return flagged.slice(0, MAX_STATUS_DROPOUTS);
  }
}

/** An entry's events grouped by device, devices in order of first appearance. */
function byDevice(events: readonly CanonicalEvent[]): Map<string, CanonicalEvent[]> {
  const groups = new Map<string, CanonicalEvent[]>();
  for (const e of events) {
    const g = groups.get(e.deviceId);
    if (g) g.push(e);
    else groups.set(e.deviceId, [e]);
  }
  return groups;
}

/**
 * Whether a table holds a flush's partials, judged per window against the readings stored:
 * 'in' (rolled up = stored in every window), 'lost' (rolled up = stored − the partials in
 * every window), 'unclear' otherwise.
 */
export function tornState(partials: readonly WindowPartial[], stored: ReadonlyMap<string, number>, rolled: ReadonlyMap<string, number>): 'in' | 'lost' | 'unclear' {
  const own = new Map<string, number>();
  for (const p of partials) {
    const key = `${p.deviceId}|${p.sensorType}|${p.windowStart}`;
    own.set(key, (own.get(key) ?? 0) + p.readings);
  }
  let inCount = 0;
  let lostCount = 0;
  for (const [key, readings] of own) {
    const s = stored.get(key) ?? 0;
    const r = rolled.get(key) ?? 0;
    if (r === s) inCount++;
    else if (r === s - readings) lostCount++;
  }
  if (inCount === own.size) return 'in';
  if (lostCount === own.size) return 'lost';
  return 'unclear';
}
