/**
 * One (region, partition) of the flush runtime driven in-process, for the model-based test:
 * a real redis-server, the real embedded ClickHouse (one chDB store per test process) and a
 * directory object store, with PartitionProcessors the test starts, crashes at chosen points
 * of a flush and abandons. Each rig has its own region (so its own ClickHouse database, archive
 * prefix and insert tokens) and its own Redis key prefix.
 *
 * An abandoned processor is a zombie: nothing drives it any more, and a crashed flush hangs at
 * its crash point. The test may wake zombies later; a zombie whose epoch was superseded must
 * then be fenced (it never moves the checkpoint).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { regionDatabase, type Config } from '../../src/config.js';
import type { ActorOptions, WindowPartial } from '../../src/actors/types.js';
import type { CanonicalEvent, ReadingRow } from '../../src/contracts/canonical-event.js';
import { encodeEvents } from '../../src/contracts/bus-codec.js';
import { FencedError } from '../../src/errors.js';
import { Keys } from '../../src/runtime/keys.js';
import { PartitionProcessor } from '../../src/runtime/partition-processor.js';
import { ShardMetrics } from '../../src/runtime/shard-metrics.js';
import type { AnalyticsStore, EncodedInsert, InsertFormat } from '../../src/sinks/analytics-store.js';
import { encodeBatch } from '../../src/sinks/batch-encoder.js';
import { ChdbStore } from '../../src/sinks/chdb-store.js';
import { DirObjectStore } from '../../src/sinks/dir-object-store.js';
import { archivePrefix } from '../../src/sinks/raw-archive.js';
import type { ObjectStore } from '../../src/sinks/object-store.js';
import { CrashGate, type CrashPoint } from './crash-gate.js';
import { analyticsSnapshot, archivedReadings, type SinkSnapshot } from './sink-snapshot.js';
import { startTestRedis, type TestRedis } from './redis.js';

/** The services every rig of a test file shares. */
export interface RuntimeServices {
  redis: TestRedis;
  store: ChdbStore;
  objects: DirObjectStore;
  config: Pick<Config, 'clickhouse'>;
  stop(): Promise<void>;
}

export async function startRuntimeServices(): Promise<RuntimeServices> {
  const redis = await startTestRedis();
  const dir = mkdtempSync(join(tmpdir(), 'shoal-runtime-'));
  const config: Pick<Config, 'clickhouse'> = {
    clickhouse: {
      url: undefined,
      username: 'default',
      password: '',
      databasePrefix: `mbt${process.pid}`,
      eventsTtlDays: 30,
      rollup1mTtlDays: 30,
      rollup1hTtlDays: 730,
    },
  };
  const store = new ChdbStore(join(dir, 'clickhouse'), config);
  const objects = new DirObjectStore(join(dir, 'objects'));
  return {
    redis,
    store,
    objects,
    config,
    async stop() {
      await store.close();
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Checkpoint {
  offset: string;
  flushSeq: number;
  epoch: number;
  /** The open flush intent's end, or null. */
  intentTo: string | null;
}

interface Owner {
  processor: PartitionProcessor;
  gate: CrashGate;
  epoch: number;
  /** The start or flush that hangs at a crash point, when the owner died in one. */
  hanging: Promise<'done' | 'fenced'> | null;
}

/** What a zombie did once woken, with the checkpoint around it. */
export interface ZombieOutcome {
  epoch: number;
  /** A newer owner had acquired the partition before the zombie woke. */
  superseded: boolean;
  fenced: boolean;
  before: Checkpoint;
  after: Checkpoint;
}

const logger = pino({ level: 'silent' });

/** The device of the one row a torn `events` insert leaves behind. */
export const TORN_DEVICE = 'torn-insert-row';

function tornInsert(table: 'events' | 'rollup_1m', format: InsertFormat | undefined): EncodedInsert {
  const time = Date.now();
  const row: ReadingRow = {
    eventId: '00000000-0000-4000-8000-000000000000',
    readingIndex: 0,
    deviceId: TORN_DEVICE,
    region: 'torn',
    eventTime: time,
    ingestTime: time,
    sensorType: 'temperature',
    value: 0,
    unit: 'C',
    weight: 1,
    firmwareVersion: '0',
    schemaVersion: 1,
    seq: null,
    streamId: '0-1',
    partition: 0,
  };
  const partial: WindowPartial = { deviceId: TORN_DEVICE, sensorType: 'temperature', windowStart: time - (time % 60_000), readings: 1, count: 1, sum: 0, min: 0, max: 0, digest: [[0, 1]] };
  const batch = { rows: table === 'events' ? [row] : [], rollup1m: table === 'rollup_1m' ? [partial] : [] };
  const [insert] = encodeBatch(batch, format);
  if (!insert) throw new Error('a torn insert needs a row');
  return insert;
}
const ACTOR_OPTIONS: ActorOptions = { dedupHorizonMs: 10 * 60_000, dedupMaxIds: 500_000, idleMs: 10 * 60_000 };

export class PartitionRig {
  readonly region: string;
  readonly partition = 0;
  readonly keys: Keys;
  private epoch = 0;
  private owner: Owner | null = null;
  private zombies: Owner[] = [];

  constructor(
    private readonly services: RuntimeServices,
    run: number,
    /** flush.maxEvents of every owner. */
    private readonly maxEvents = 20_000,
    /** Dedup horizon, capacity and passivation of every owner. */
    private readonly actorOptions: ActorOptions = ACTOR_OPTIONS,
    /** The store encodes the archive from the events insert (chDB); false: JavaScript encodes it from the rows. */
    private readonly storeEncodesArchive = true,
  ) {
    this.region = `run-${run}`;
    this.keys = new Keys(`mbt-${process.pid}-${run}`);
  }

  get database(): string {
    return regionDatabase(this.services.config, this.region);
  }

  get isUp(): boolean {
    return this.owner !== null;
  }

  get zombieCount(): number {
    return this.zombies.length;
  }

  async init(): Promise<void> {
    await this.services.store.init([this.region]);
  }

  /** XADD one bus entry holding `events`, as the gateway does; returns its stream id. */
  async append(events: readonly CanonicalEvent[]): Promise<string> {
    return this.appendPayload(encodeEvents(events));
  }

  /** XADD one bus entry with this payload (e.g. one of an older format). */
  async appendPayload(payload: Buffer): Promise<string> {
    const stream = this.keys.partition(this.region, this.partition).stream;
    const id = await this.services.redis.redis.xadd(stream, '*', 'd', payload);
    if (id === null) throw new Error('XADD returned no id');
    return id;
  }

  /**
   * A new owner with a higher epoch takes the partition (the current one, if any, is abandoned
   * as it is). With `crash`, the owner dies at that point if its start re-runs a flush.
   * Returns true when the new owner is up, false when it died during its start.
   */
  async restart(crash: CrashPoint | null): Promise<boolean> {
    if (this.owner) this.zombies.push(this.owner);
    this.owner = null;
    const owner = this.build(++this.epoch);
    owner.gate.arm(crash);
    const started = owner.processor.start().then(
      () => 'done' as const,
      (err: unknown) => {
        if (err instanceof FencedError) return 'fenced' as const;
        throw err;
      },
    );
    if ((await Promise.race([started, owner.gate.reached.then(() => 'hung' as const)])) === 'hung') {
      owner.hanging = started;
      this.zombies.push(owner);
      return false;
    }
    owner.gate.arm(null);
    this.owner = owner;
    return true;
  }

  async poll(count: number): Promise<number> {
    return this.current().processor.poll(count);
  }

  async flush(): Promise<void> {
    await this.current().processor.flush();
  }

  /** Flush with the owner dying at `point`; returns true when it died (the flush had rows to write). */
  async crashInFlush(point: CrashPoint): Promise<boolean> {
    const owner = this.current();
    owner.gate.arm(point);
    const flushing = owner.processor.flush().then(() => (owner.processor.isFenced ? ('fenced' as const) : ('done' as const)));
    if ((await Promise.race([flushing, owner.gate.reached.then(() => 'hung' as const)])) === 'hung') {
      owner.hanging = flushing;
      this.zombies.push(owner);
      this.owner = null;
      return true;
    }
    owner.gate.arm(null);
    return false;
  }

  /** The owner dies between flushes: whatever it read and did not flush is lost with it. */
  crash(): void {
    this.zombies.push(this.current());
    this.owner = null;
  }

  /** Wake every zombie, oldest first: a hung one resumes its start or flush, an idle one polls and flushes. */
  async wakeZombies(): Promise<ZombieOutcome[]> {
    const out: ZombieOutcome[] = [];
    for (const z of this.zombies.splice(0)) {
      const before = await this.checkpoint();
      let fenced: boolean;
      if (z.hanging) {
        z.gate.wake();
        fenced = (await z.hanging) === 'fenced' || z.processor.isFenced;
      } else {
        await z.processor.poll(1000);
        await z.processor.flush();
        fenced = z.processor.isFenced;
      }
      out.push({ epoch: z.epoch, superseded: before.epoch > z.epoch, fenced, before, after: await this.checkpoint() });
    }
    return out;
  }

  /** Bring the partition up (re-running any open flush) and flush everything in the stream. */
  async settle(): Promise<void> {
    if (!(await this.restart(null))) throw new Error('a restart without a crash point must come up');
    const { processor } = this.current();
    for (;;) {
      const read = await processor.poll(1000);
      await processor.flush();
      if (read === 0) return;
    }
  }

  /** Events the current owner has read and not yet handed to a flush. */
  pendingEvents(): number {
    return this.current().processor.status().pendingEvents;
  }

  async checkpoint(): Promise<Checkpoint> {
    const h = await this.services.redis.redis.hgetall(this.keys.partition(this.region, this.partition).checkpoint);
    return {
      offset: h['offset'] ?? '0-0',
      flushSeq: Number(h['flush_seq'] ?? 0),
      epoch: Number(h['epoch'] ?? 0),
      intentTo: h['intent_to'] ?? null,
    };
  }

  /** What ClickHouse holds for this rig's region. */
  snapshot(): Promise<SinkSnapshot> {
    return analyticsSnapshot(this.services.store, this.database);
  }

  /** How often the raw archive holds each reading of this rig's region. */
  archive(): Promise<Map<string, number>> {
    return archivedReadings(this.services.objects, archivePrefix(this.region));
  }

  private current(): Owner {
    if (!this.owner) throw new Error('the partition has no live owner');
    return this.owner;
  }

  private build(epoch: number): Owner {
    const gate = new CrashGate();
    const { store, objects } = this.services;
    // As the shards' store proxy: RowBinary inserts, the archive encoded by chDB from them.
    const analytics: AnalyticsStore = {
      kind: store.kind,
      insertFormat: store.insertFormat,
      ...(this.storeEncodesArchive ? { archiveParquet: (insert: EncodedInsert, days: readonly number[]) => store.archiveParquet(insert, days) } : {}),
      init: (regions) => store.init(regions),
      insert: async (region, insert, token) => {
        // Torn: the token recorded, but with a part that is not the batch's rows (one stray row).
        if (insert.table === 'events' && gate.isArmed('torn-insert-events')) {
          await store.insert(region, tornInsert('events', store.insertFormat), token);
          await gate.at('torn-insert-events');
        }
        if (insert.table === 'rollup_1m' && gate.isArmed('torn-insert-rollup_1m')) {
          await store.insert(region, tornInsert('rollup_1m', store.insertFormat), token);
          await gate.at('torn-insert-rollup_1m');
        }
        await gate.at(`insert-${insert.table}` as CrashPoint);
        await store.insert(region, insert, token);
      },
      query: <T>(sql: string, params?: Record<string, unknown>) => store.query<T>(sql, params),
      ping: () => store.ping(),
      close: () => Promise.resolve(),
    };
    const archive: ObjectStore = {
      kind: objects.kind,
      put: async (key, body) => {
        await gate.at('archive');
        await objects.put(key, body);
      },
      get: (key) => objects.get(key),
      list: (prefix) => objects.list(prefix),
      delete: (key) => objects.delete(key),
      ping: () => objects.ping(),
      close: () => Promise.resolve(),
    };
    const processor = new PartitionProcessor({
      region: this.region,
      partition: this.partition,
      redis: this.services.redis.redis,
      keys: this.keys,
      epoch,
      consumer: `owner-${epoch}`,
      analytics,
      database: this.database,
      objects: archive,
      actorOptions: this.actorOptions,
      flushIntervalMs: 100,
      maxEvents: this.maxEvents,
      logger,
      metrics: new ShardMetrics(),
      hooks: { afterSinks: () => gate.at('after-sinks') },
    });
    return { processor, gate, epoch, hanging: null };
  }
}
