/**
 * Appends accepted events to the bus (Redis Streams) and rejected ones to the DLQ.
 *
 * Everything appended for one stream key within `lingerMs` is coalesced into ONE stream
 * entry (`XADD key * d <msgpack batch>`), and all keys of that tick go in one pipeline: one
 * entry per ~100 events is what lets the bus carry 200k events/s (DESIGN §2). Each caller's
 * promise settles when its events are in Redis, or rejects with a RetryableError.
 * Readings the gateway sampled away travel with the same script call as audit counters only
 * (a batch of nothing but sampled-out readings writes counters and no entry).
 */
import type { Cluster, Redis } from 'ioredis';
import type { CanonicalEvent } from '../contracts/canonical-event.js';
import { EntryEncoder, MAX_EVENTS_PER_ENTRY } from '../contracts/bus-codec.js';
import type { Rejection } from '../contracts/frame.js';
import { RetryableError, errorMessage } from '../errors.js';
import { COUNTER_TTL_S, HourTally, counterArgs, type CountedReadings } from '../runtime/audit-counters.js';
import type { Keys } from '../runtime/keys.js';
import { defineScripts } from '../runtime/script-loader.js';
import type { GatewayMetrics } from './gateway-metrics.js';

export interface BusAppenderOptions {
  redis: Redis | Cluster;
  keys: Keys;
  /** Configured regions; the first one receives DLQ entries of unknown origin. */
  regions: readonly string[];
  /** How long appends are coalesced, ms; 0 = until the next setImmediate. */
  lingerMs: number;
  /** A stream entry holds at most this many events. Default MAX_EVENTS_PER_ENTRY (2000). */
  maxEventsPerEntry?: number;
  /** A pipeline that has not answered after this long fails its callers, ms. Default 5000. */
  timeoutMs?: number;
  /** Approximate cap of each region's DLQ stream (XADD MAXLEN ~). Default 100000. */
  dlqMaxLen?: number;
  clock?: () => number;
  /** Counts the DLQ entries written (shoal_dlq_entries_total); absent = not counted. */
  metrics?: GatewayMetrics;
}

export interface DlqMeta {
  source: 'ws' | 'http';
  remote?: string;
  /** Correlation id of the frame the rejections come from (the gateway's log lines name it). */
  cid?: string;
}

/** One future stream entry and the callers waiting for it. */
interface Chunk {
  key: string;
  region: string;
  partition: number;
  /**
   * The entry, its events encoded as they are appended: a frame's events then die with its
   * processing, where waiting as objects for the write (milliseconds, or a whole event-loop
   * turn of frames under load) they outlived young collections and were promoted.
   */
  entry: EntryEncoder;
  count: number;
  /** The audit's accepted counters of the entry's events and of readings sampled away with it. */
  tally: HourTally;
  resolve: () => void;
  reject: (err: Error) => void;
  done: Promise<void>;
}

const RAW_LIMIT = 16 * 1024;

export class BusAppender {
  private readonly maxPerEntry: number;
  private readonly timeoutMs: number;
  private readonly dlqMaxLen: number;
  private readonly clock: () => number;
  private readonly regionSet: ReadonlySet<string>;
  /** Chunks of the current tick, per stream key, in arrival order. */
  private tick = new Map<string, Chunk[]>();
  private scheduled = false;
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Entries and events written, and writes that failed, since start. */
  readonly counters = { entries: 0, events: 0, failures: 0, dlqEntries: 0, dlqFailures: 0 };

  constructor(private readonly options: BusAppenderOptions) {
    defineScripts(options.redis);
    this.maxPerEntry = Math.min(options.maxEventsPerEntry ?? MAX_EVENTS_PER_ENTRY, MAX_EVENTS_PER_ENTRY);
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.dlqMaxLen = options.dlqMaxLen ?? 100_000;
    this.clock = options.clock ?? Date.now;
    this.regionSet = new Set(options.regions);
  }

  /**
   * Append events of one (region, partition); resolves once they are in the stream. Readings
   * sampled away from this partition's events are counted with the first entry they touch.
   */
  append(region: string, partition: number, events: readonly CanonicalEvent[], sampledOut: readonly CountedReadings[] = []): Promise<void> {
    if (events.length === 0 && sampledOut.length === 0) return Promise.resolve();
    const key = this.options.keys.partition(region, partition).stream;
    let chunks = this.tick.get(key);
    if (!chunks) this.tick.set(key, (chunks = []));
    const touched: Promise<void>[] = [];
    let offset = 0;
    do {
      let chunk = chunks[chunks.length - 1];
      if (!chunk || chunk.count >= this.maxPerEntry) chunks.push((chunk = newChunk(key, region, partition)));
      const take = Math.min(this.maxPerEntry - chunk.count, events.length - offset);
      for (let i = offset; i < offset + take; i++) {
        const e = events[i] as CanonicalEvent;
        try {
          chunk.entry.add(e);
        } catch (err) {
          // A validated event always encodes: this is a bug, answered like a failed write
          // (the events of this call already in the entry are written, and come back as
          // duplicates when the device resends them).
          this.counters.failures += events.length - i;
          this.schedule();
          return Promise.reject(asRetryable(err, 'bus entry encoding failed'));
        }
        chunk.tally.event(e.deviceId, e.eventTime, e.readings.length);
        chunk.count++;
      }
      if (offset === 0) for (const s of sampledOut) chunk.tally.sampled(s);
      offset += take;
      touched.push(chunk.done);
    } while (offset < events.length);
    this.schedule();
    return touched.length === 1 ? (touched[0] as Promise<void>) : Promise.all(touched).then(() => undefined);
  }

  /**
   * One DLQ entry per rejection. Its region: the rejection's own if configured, else
   * `deviceRegion` (the authenticated device's), else the first configured region.
   * The entries are built before this returns, so the rejections' `raw` may be reused after.
   */
  appendDlq(deviceRegion: string | null, rejections: readonly Rejection[], meta: DlqMeta): Promise<void> {
    if (rejections.length === 0) return Promise.resolve();
    const ingestTime = String(this.clock());
    const fallback = deviceRegion !== null && this.regionSet.has(deviceRegion) ? deviceRegion : this.options.regions[0];
    const byKey = new Map<string, (string | number)[][]>();
    const rejectionsByKey = new Map<string, { region: string; rejections: Rejection[] }>();
    for (const r of rejections) {
      const region = r.region !== null && this.regionSet.has(r.region) ? r.region : (fallback ?? 'unknown');
      const key = this.options.keys.dlq(region);
      const fields = [
        'code', r.code, 'message', r.message, 'event_id', r.eventId ?? '', 'device_id', r.deviceId ?? '',
        'region', r.region ?? '', 'index', r.index === null ? '' : String(r.index), 'source', meta.source,
        'remote', meta.remote ?? '', 'ingest_time', ingestTime, 'raw', rawJson(r.raw), 'cid', meta.cid ?? '',
      ];
      let list = byKey.get(key);
      if (!list) byKey.set(key, (list = []));
      list.push(fields);
      if (this.options.metrics) {
        let counted = rejectionsByKey.get(key);
        if (!counted) rejectionsByKey.set(key, (counted = { region, rejections: [] }));
        counted.rejections.push(r);
      }
    }
    const writes = [...byKey].map(async ([key, entries]) => {
      const pipeline = this.options.redis.pipeline();
      for (const fields of entries) pipeline.xadd(key, 'MAXLEN', '~', this.dlqMaxLen, '*', ...fields);
      try {
        this.checkConnected();
        failed(await this.withTimeout(pipeline.exec()));
        this.counters.dlqEntries += entries.length;
        const counted = rejectionsByKey.get(key);
        if (counted) this.options.metrics?.recordDlq(counted.region, counted.rejections);
      } catch (err) {
        this.counters.dlqFailures += entries.length;
        throw asRetryable(err, 'DLQ append failed');
      }
    });
    return this.track(Promise.all(writes).then(() => undefined));
  }

  /** Write whatever is pending now, then wait (bounded) for every write in flight. */
  async drain(timeoutMs = 5000): Promise<void> {
    this.flush();
    const all = Promise.allSettled([...this.inFlight]).then(() => undefined);
    await Promise.race([all, new Promise((done) => setTimeout(done, timeoutMs).unref())]);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    if (this.options.lingerMs > 0) setTimeout(() => this.flush(), this.options.lingerMs);
    else setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.tick.size === 0) return;
    const tick = this.tick;
    this.tick = new Map();
    const chunks = [...tick.values()].flat();
    // A Redis Cluster pipeline must stay within one node: there, one pipeline per stream key.
    const groups = this.options.redis.isCluster ? [...tick.values()] : [chunks];
    for (const group of groups) void this.track(this.write(group));
  }

  private async write(chunks: Chunk[]): Promise<void> {
    try {
      this.checkConnected();
      const pipeline = this.options.redis.pipeline() as ReturnType<Redis['pipeline']> & { shoalAppend: (...args: (string | number | Buffer)[]) => unknown };
      for (const chunk of chunks) {
        // The entry and the audit's accepted counters in one script: both or neither.
        const { keys, argv } = counterArgs(chunk.tally.counts(true), (hour) => this.options.keys.acceptedCounts(chunk.region, chunk.partition, hour));
        const payload = chunk.count > 0 ? chunk.entry.finish() : '';
        pipeline.shoalAppend(1 + keys.length, chunk.key, ...keys, payload, COUNTER_TTL_S, ...argv);
      }
      const results = await this.withTimeout(pipeline.exec());
      chunks.forEach((chunk, i) => {
        const err = results?.[i]?.[0] ?? (results ? null : new Error('pipeline discarded'));
        if (err) {
          this.counters.failures += chunk.count;
          chunk.reject(asRetryable(err, 'bus append failed'));
        } else {
          if (chunk.count > 0) this.counters.entries++;
          this.counters.events += chunk.count;
          chunk.resolve();
        }
      });
    } catch (err) {
      const failure = asRetryable(err, 'bus append failed');
      for (const chunk of chunks) {
        this.counters.failures += chunk.count;
        chunk.reject(failure);
      }
    }
  }

  /** Fail fast while the client is reconnecting instead of queueing behind the outage. */
  private checkConnected(): void {
    const status = this.options.redis.status;
    if (status === 'reconnecting' || status === 'close' || status === 'end')
      throw new RetryableError('BUS_UNAVAILABLE', `redis is ${status}`);
  }

  private withTimeout<T>(promise: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new RetryableError('BUS_TIMEOUT', `redis did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    const settled = promise.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
    return promise;
  }
}

function newChunk(key: string, region: string, partition: number): Chunk {
  let resolve: () => void = () => undefined;
  let reject: (err: Error) => void = () => undefined;
  const done = new Promise<void>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { key, region, partition, entry: new EntryEncoder(), count: 0, tally: new HourTally(), resolve, reject, done };
}

/** Throw the first error of a pipeline's results. */
function failed(results: [Error | null, unknown][] | null): void {
  if (!results) throw new Error('pipeline discarded');
  for (const [err] of results) if (err) throw err;
}

function asRetryable(err: unknown, what: string): RetryableError {
  return err instanceof RetryableError ? err : new RetryableError('BUS_UNAVAILABLE', `${what}: ${errorMessage(err)}`, { cause: err });
}

/** The offending input as JSON, cut at 16 KiB. */
function rawJson(raw: unknown): string {
  let json: string;
  try {
    json = JSON.stringify(raw) ?? 'null';
  } catch {
    json = JSON.stringify(String(raw));
  }
  return json.length * 3 <= RAW_LIMIT ? json : Buffer.from(json).subarray(0, RAW_LIMIT).toString();
}
