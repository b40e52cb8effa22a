/**
 * Shoal's one typed configuration.
 *
 *   UserConfig  — what people write in shoal.config.yaml (every key optional)
 *   Config      — the filled, validated result every component receives
 *   loadConfig  — file + environment + CLI overrides → Config, or a ConfigError naming
 *                 every wrong or unknown key.
 *
 * Precedence, lowest first: built-in defaults, the YAML file, environment variables, CLI flags.
 */
import { readFileSync, existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors.js';

const REGION = /^[a-z][a-z0-9-]{0,31}$/;
const port = z.number().int().min(0).max(65535);
const positiveInt = z.number().int().positive();
const ms = z.number().int().nonnegative();
/** A sensor_type as the contract allows it: 1–64 code points, no control characters (C0, DEL, C1). */
function isSensorType(s: string): boolean {
  const points = [...s].map((c) => c.codePointAt(0) ?? 0);
  return points.length >= 1 && points.length <= 64 && points.every((p) => p > 0x1f && (p < 0x7f || p > 0x9f));
}

const schema = z.strictObject({
  /** Regions served; each gets its own streams, DLQ, ClickHouse database and archive prefix. */
  // At most 255: the gateway tells a frame's regions apart by a byte (AcceptedRefs).
  regions: z.array(z.string().regex(REGION, 'a region is lower-case letters, digits and dashes')).min(1).max(255).optional(),
  /**
   * Partitions per region (fixed for the life of the data: the first start records it in
   * Redis and later starts must match). Default 2: each partition flushes its own inserts
   * every flush interval (two per region's database), and every insert makes parts that
   * background merges rewrite, so fewer, larger flushes cost less (measured at 20k events/s:
   * 55.9 instead of 64.1 µs CPU per event with 4, p99 visibility 1.49 instead of 1.78 s; at
   * 50k/s offered 39.8k instead of 35.5k acked/s). It caps useful shards at regions ×
   * partitions (4 with the default regions): choose more at first start to run more shards.
   */
  partitions: z.number().int().min(1).max(1024).optional(),
  /** Worker threads running actor shards: the scaling knob. Default: one per core. */
  shards: z.number().int().min(1).max(256).optional(),
  /**
   * Old-generation heap limit of each shard thread, MB. Default DEFAULT_SHARD_HEAP_MB. With
   * heapGrowthPercent 0, V8 grows a heap by a factor it derives from this limit (up to 4× the
   * live objects with a large one, 1.3× with 256 MB), so it bounds the garbage a shard keeps
   * between collections as well as its live objects; otherwise heapGrowthPercent bounds the
   * garbage and this the whole. A shard that outgrows it is restarted (shoal_shard_restarts_total).
   */
  shardHeapMb: z.number().int().min(64).max(16384).optional(),
  /**
   * How far, in percent, a heap may grow past what survived its last full garbage collection
   * before V8 collects again, for the main thread and every shard thread (V8's
   * --heap-growing-percent). Default DEFAULT_HEAP_GROWTH_PERCENT; 0 leaves V8's own factor
   * (1.3–4×, by heap limit). Lower keeps less garbage for more GC CPU; see
   * docs/ARCHITECTURE.md, "Deduplication and memory bounds". Applied by `shoal start`/`demo`.
   */
  heapGrowthPercent: z.number().int().min(0).max(400).optional(),
  /**
   * V8's semi-space, MB, of each shard thread (V8's --max-semi-space-size; the young
   * generation is 3× it: two semi-spaces and the large-object space). Default 0: V8's own
   * (16 MB). Larger lets the objects of an event die young instead of being copied and
   * promoted while they wait for their bus append or flush, for up to 3× it more memory a
   * thread. The main thread's is fixed when Node starts (`node --max-semi-space-size=N`):
   * `shoal start` warns when it differs. See docs/ARCHITECTURE.md, "Deduplication and
   * memory bounds", for what it did and did not buy.
   */
  semiSpaceMb: z.number().int().min(0).max(256).optional(),
  /** Directory for embedded services' data (Redis AOF, chDB, objects, secret). Default ./data */
  dataDir: z.string().min(1).optional(),
  ingest: z
    .strictObject({
      host: z.string().min(1).optional(),
      /** WebSocket and HTTP ingest port. Default 8080; 0 picks a free port. */
      port: port.optional(),
      /** Largest frame accepted, bytes. Default 1 MiB. */
      maxFrameBytes: positiveInt.optional(),
      /** Most events in one frame. Default 1000. */
      maxEventsPerFrame: positiveInt.optional(),
      /** Oldest event_time accepted, ms before receipt. Default 7 days. */
      maxEventAgeMs: ms.optional(),
      /** Furthest future event_time accepted, ms after receipt. Default 5 minutes. */
      maxEventAheadMs: ms.optional(),
      /** Longest the gateway coalesces appends before writing to Redis, ms. Default 2. */
      appendLingerMs: ms.optional(),
    })
    .optional(),
  auth: z
    .strictObject({
      /** `token` (default): devices present a signed token. `none` must be chosen explicitly. */
      mode: z.enum(['token', 'none']).optional(),
      /** HMAC secret for device tokens; default: SHOAL_AUTH_SECRET or a generated one in dataDir. */
      secret: z.string().min(16, 'the secret must be at least 16 characters').optional(),
    })
    .optional(),
  ops: z
    .strictObject({
      host: z.string().min(1).optional(),
      /** Ops HTTP port (dashboard, metrics, query API). Default 8081; 0 picks a free port. */
      port: port.optional(),
    })
    .optional(),
  redis: z
    .strictObject({
      /** Use this Redis instead of spawning one. Env REDIS_URL. */
      url: z.string().url().optional(),
      /** Embedded Redis fsync policy. Env SHOAL_REDIS_APPENDFSYNC. Default everysec. */
      appendfsync: z.enum(['everysec', 'always', 'no']).optional(),
      /**
       * Embedded Redis: rewrite the AOF when it has grown by this percentage of the dataset
       * since the last rewrite (Redis's auto-aof-rewrite-percentage). Default 400, not Redis's
       * 100: each rewrite forks Redis and writes the whole dataset (the dedup log makes that
       * hundreds of MB under load), and at 100 they came every 4–15 s at 50k events/s. At 50k
       * events/s for 60 s, alternating runs: 49.8k and 49.6k acked/s at p99 visibility 3.4
       * and 3.9 s with 400, against 39.9k and 39.5k at 19.7 and 19.8 s with 100. The price:
       * the AOF on disk grows to 5× the dataset, and a restart replays up to 4× the dataset
       * of commands.
       */
      aofRewritePercentage: z.number().int().min(0).max(10_000).optional(),
      /** Prefix of every key Shoal writes. Default `shoal`. */
      keyPrefix: z.string().regex(/^[A-Za-z0-9_.-]+$/).optional(),
      /** redis-server binary for the embedded Redis. Default: from PATH. */
      serverBinary: z.string().min(1).optional(),
    })
    .optional(),
  clickhouse: z
    .strictObject({
      /** ClickHouse server HTTP URL; unset = embedded chDB in dataDir. Env CLICKHOUSE_URL. */
      url: z.string().url().optional(),
      username: z.string().optional(),
      password: z.string().optional(),
      /** Database name prefix; each region gets `<prefix>_<region>`. Default `shoal`. */
      databasePrefix: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional(),
      /** TTL of raw rows, days. Default 30. */
      eventsTtlDays: positiveInt.optional(),
      /** TTL of 1-minute rollups, days. Default 30. */
      rollup1mTtlDays: positiveInt.optional(),
      /** TTL of 1-hour rollups, days. Default 730. */
      rollup1hTtlDays: positiveInt.optional(),
    })
    .optional(),
  objectStore: z
    .strictObject({
      /** `dir` (default) or `s3`. S3 is chosen automatically when S3_BUCKET is set. */
      kind: z.enum(['dir', 's3']).optional(),
      /** Directory store root. Default <dataDir>/objects. */
      dir: z.string().min(1).optional(),
      s3: z
        .strictObject({
          endpoint: z.string().url().optional(),
          bucket: z.string().min(3).optional(),
          prefix: z.string().optional(),
          region: z.string().optional(),
          forcePathStyle: z.boolean().optional(),
          serverSideEncryption: z.enum(['AES256', 'aws:kms']).optional(),
        })
        .optional(),
      /** Raw archive lifecycle, days. Default 30. */
      retentionDays: positiveInt.optional(),
    })
    .optional(),
  flush: z
    .strictObject({
      /** How often a shard flushes to the sinks and checkpoints, ms. Default 1000. */
      intervalMs: z.number().int().min(10).optional(),
      /** Flush early once a partition holds this many unflushed events. Default 20000. */
      maxEvents: positiveInt.optional(),
      /** Entries read per XREADGROUP call. Default 256. */
      readCount: positiveInt.optional(),
    })
    .optional(),
  backpressure: z
    .strictObject({
      /** Checkpoint lag (age of the oldest unflushed entry) past which devices are throttled, ms. Default 10000. */
      softLagMs: positiveInt.optional(),
      /** Checkpoint lag past which new events are refused as OVERLOADED, ms. Default 60000. */
      hardLagMs: positiveInt.optional(),
      /**
       * Past softLagMs, new events are also refused as OVERLOADED when one accepted now would
       * wait longer than this for its flush (lag ÷ drain speed), ms. Default 20000 (or
       * hardLagMs when lower; hardLagMs when softLagMs is 20000 or more).
       */
      maxWaitMs: positiveInt.optional(),
      /** How often lag is measured, ms. Default 500. */
      checkIntervalMs: z.number().int().min(50).optional(),
    })
    .optional(),
  sampling: z
    .strictObject({
      /**
       * Sensor types the gateway may sample while their partition is throttled (soft
       * backpressure): it keeps one reading in `keepOneIn` (an integer 2–1000), which then
       * carries weight `keepOneIn` so rollups stay unbiased. Default: none (nothing is sampled).
       */
      sensors: z
        .record(
          z.string().refine(isSensorType, 'a sensor type is 1–64 characters without control characters'),
          z.strictObject({ keepOneIn: z.number().int().min(2).max(1000) }),
        )
        .optional(),
    })
    .optional(),
  dedup: z
    .strictObject({
      /** How long an event_id is remembered, ms of bus time. Default 10 minutes. */
      horizonMs: z.number().int().min(1000).optional(),
      /**
       * Most event ids remembered per process, all devices together. Default 8,000,000. Each
       * costs ~20 bytes (a 12-byte fingerprint and 8 bytes of hash table; bus times are kept
       * once per bus entry, not per id), so the default is ~165 MB. Split evenly over every partition of every region (each
       * partition remembers ceil(maxIds / (regions × partitions)) ids), so a process owning
       * all partitions stays within it. When a partition is full its oldest ids are evicted
       * before the horizon: the horizon actually kept is the shorter of horizonMs and
       * maxIds / event rate (160 s at 50k events/s with the default), so raise this to keep
       * the whole horizon at high rates (10 min at 50k/s: 30,000,000, ~600 MB).
       */
      maxIds: z.number().int().min(1).max(250_000_000).optional(),
      /** Replaced by maxIds (v0.1 counted ids per device); refused with a message saying so. */
      maxIdsPerDevice: z
        .never({
          error:
            'replaced by dedup.maxIds, the event ids remembered per process for all devices together (default 8000000, ~20 B each); remove maxIdsPerDevice',
        })
        .optional(),
    })
    .optional(),
  actors: z
    .strictObject({
      /** An actor idle this long (bus time) is passivated, ms. Default: the dedup horizon. */
      idleMs: positiveInt.optional(),
    })
    .optional(),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
      /**
       * How log lines name devices: `pseudonymised` (default: a keyed hash, `d_` + 16 hex
       * digits, stable per key) or `plain` (the device ids themselves; for local debugging).
       */
      deviceIds: z.enum(['pseudonymised', 'plain']).optional(),
    })
    .optional(),
});

export type UserConfig = z.infer<typeof schema>;

export interface S3Config {
  endpoint: string | undefined;
  bucket: string;
  prefix: string;
  region: string;
  forcePathStyle: boolean;
  serverSideEncryption: 'AES256' | 'aws:kms' | undefined;
}

export interface Config {
  regions: string[];
  partitions: number;
  shards: number;
  shardHeapMb: number;
  heapGrowthPercent: number;
  semiSpaceMb: number;
  dataDir: string;
  ingest: {
    host: string;
    port: number;
    maxFrameBytes: number;
    maxEventsPerFrame: number;
    maxEventAgeMs: number;
    maxEventAheadMs: number;
    appendLingerMs: number;
  };
  auth: { mode: 'token' | 'none'; secret: string | undefined };
  ops: { host: string; port: number };
  redis: {
    url: string | undefined;
    appendfsync: 'everysec' | 'always' | 'no';
    aofRewritePercentage: number;
    keyPrefix: string;
    serverBinary: string;
  };
  clickhouse: {
    url: string | undefined;
    username: string;
    password: string;
    databasePrefix: string;
    eventsTtlDays: number;
    rollup1mTtlDays: number;
    rollup1hTtlDays: number;
  };
  objectStore: {
    kind: 'dir' | 's3';
    dir: string;
    s3: S3Config | undefined;
    retentionDays: number;
  };
  flush: { intervalMs: number; maxEvents: number; readCount: number };
  backpressure: { softLagMs: number; hardLagMs: number; maxWaitMs: number; checkIntervalMs: number };
  /** sensor_type → keep one reading in `keepOneIn` under soft backpressure (empty: never sample). */
  sampling: { sensors: Record<string, { keepOneIn: number }> };
  /**
   * `maxIds`: ids remembered per process; `maxIdsPerPartition` = ceil(maxIds / (regions ×
   * partitions)), the capacity of each partition's dedup index.
   */
  dedup: { horizonMs: number; maxIds: number; maxIdsPerPartition: number };
  actors: { idleMs: number };
  log: { level: string; deviceIds: 'pseudonymised' | 'plain' };
}

/** Flags the CLI passes; they win over file and environment. */
export interface ConfigOverrides {
  dataDir?: string;
  ingestPort?: number;
  opsPort?: number;
  shards?: number;
}

export interface LoadConfigOptions {
  /** Path of a YAML file; when absent, ./shoal.config.yaml is used if it exists. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  overrides?: ConfigOverrides;
  cwd?: string;
}

function describeIssue(issue: z.core.$ZodIssue): string[] {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${path ? `${path}.` : ''}${k}: unknown key`);
  }
  // A record key that fails its own rule (e.g. a sampling sensor type): give that rule.
  if (issue.code === 'invalid_key') return [`${path}: ${issue.issues[0]?.message ?? issue.message}`];
  return [`${path || '(root)'}: ${issue.message}`];
}

/** Validate a parsed user config; every problem is reported, not only the first. */
export function validateUserConfig(raw: unknown): UserConfig {
  const result = schema.safeParse(raw ?? {});
  if (!result.success) throw new ConfigError(result.error.issues.flatMap(describeIssue));
  return result.data;
}

function envNumber(env: NodeJS.ProcessEnv, name: string, problems: string[]): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) {
    problems.push(`${name}: must be an integer, got "${v}"`);
    return undefined;
  }
  return n;
}

/** Fold environment variables into the user config (they win over the file). */
function applyEnv(user: UserConfig, env: NodeJS.ProcessEnv): UserConfig {
  const problems: string[] = [];
  const merged: Record<string, unknown> = structuredClone(user);
  const section = (name: string): Record<string, unknown> => {
    const cur = merged[name];
    if (cur && typeof cur === 'object') return cur as Record<string, unknown>;
    const fresh: Record<string, unknown> = {};
    merged[name] = fresh;
    return fresh;
  };
  if (env['REDIS_URL']) section('redis')['url'] = env['REDIS_URL'];
  if (env['SHOAL_REDIS_APPENDFSYNC']) section('redis')['appendfsync'] = env['SHOAL_REDIS_APPENDFSYNC'];
  if (env['CLICKHOUSE_URL']) section('clickhouse')['url'] = env['CLICKHOUSE_URL'];
  if (env['CLICKHOUSE_USER']) section('clickhouse')['username'] = env['CLICKHOUSE_USER'];
  if (env['CLICKHOUSE_PASSWORD']) section('clickhouse')['password'] = env['CLICKHOUSE_PASSWORD'];
  if (env['SHOAL_AUTH_SECRET']) section('auth')['secret'] = env['SHOAL_AUTH_SECRET'];
  if (env['SHOAL_LOG_LEVEL']) section('log')['level'] = env['SHOAL_LOG_LEVEL'];
  if (env['S3_BUCKET'] || env['S3_ENDPOINT']) {
    const os = section('objectStore');
    const s3 = (os['s3'] as Record<string, unknown> | undefined) ?? {};
    if (env['S3_BUCKET']) s3['bucket'] = env['S3_BUCKET'];
    if (env['S3_ENDPOINT']) s3['endpoint'] = env['S3_ENDPOINT'];
    if (env['S3_PREFIX']) s3['prefix'] = env['S3_PREFIX'];
    if (env['AWS_REGION']) s3['region'] = env['AWS_REGION'];
    os['s3'] = s3;
    if (os['kind'] === undefined && env['S3_BUCKET']) os['kind'] = 's3';
  }
  const shards = envNumber(env, 'SHOAL_SHARDS', problems);
  if (shards !== undefined) merged['shards'] = shards;
  if (problems.length) throw new ConfigError(problems);
  return validateUserConfig(merged);
}

export const DEFAULT_REGIONS = ['us-east', 'eu-west'];
/** Shard threads' old-generation heap limit by default (shardHeapMb); see docs/ARCHITECTURE.md, "Deduplication and memory bounds". */
export const DEFAULT_SHARD_HEAP_MB = 1024;
/** Heap growth past the live objects by default (heapGrowthPercent); measured in docs/ARCHITECTURE.md, "Deduplication and memory bounds". */
export const DEFAULT_HEAP_GROWTH_PERCENT = 30;
/** Event ids remembered per process by default (dedup.maxIds): ~165 MB at ~20 B each. */
export const DEFAULT_DEDUP_MAX_IDS = 8_000_000;
/**
 * Longest predicted wait of a newly accepted event before its partition refuses new ones
 * (backpressure.maxWaitMs): below the 30 s visibility target of a 200k/s burst (DESIGN §1),
 * with room for the flush itself.
 */
export const DEFAULT_MAX_WAIT_MS = 20_000;

/** Fill defaults into a validated user config. */
export function resolveConfig(user: UserConfig, overrides: ConfigOverrides = {}, cwd = process.cwd()): Config {
  const problems: string[] = [];
  const dataDir = resolve(cwd, overrides.dataDir ?? user.dataDir ?? './data');
  const regions = user.regions ?? DEFAULT_REGIONS;
  if (new Set(regions).size !== regions.length) problems.push('regions: each region may appear once');
  const horizonMs = user.dedup?.horizonMs ?? 10 * 60_000;
  const partitions = user.partitions ?? 2;
  const dedupMaxIds = user.dedup?.maxIds ?? DEFAULT_DEDUP_MAX_IDS;
  const kind = user.objectStore?.kind ?? 'dir';
  const s3User = user.objectStore?.s3;
  let s3: S3Config | undefined;
  if (kind === 's3') {
    if (!s3User?.bucket) problems.push('objectStore.s3.bucket: required when objectStore.kind is s3 (or set S3_BUCKET)');
    else
      s3 = {
        endpoint: s3User.endpoint,
        bucket: s3User.bucket,
        prefix: s3User.prefix ?? '',
        region: s3User.region ?? 'us-east-1',
        forcePathStyle: s3User.forcePathStyle ?? s3User.endpoint !== undefined,
        serverSideEncryption: s3User.serverSideEncryption,
      };
  }
  for (const [flag, value] of [
    ['--ingest-port', overrides.ingestPort],
    ['--ops-port', overrides.opsPort],
  ] as const) {
    if (value !== undefined && !(Number.isInteger(value) && value >= 0 && value <= 65535))
      problems.push(`${flag}: must be a port number 0–65535, got ${value}`);
  }
  const softLagMs = user.backpressure?.softLagMs ?? 10_000;
  const hardLagMs = user.backpressure?.hardLagMs ?? 60_000;
  if (hardLagMs <= softLagMs) problems.push(`backpressure.hardLagMs: must be above softLagMs (${softLagMs}), got ${hardLagMs}`);
  const givenMaxWaitMs = user.backpressure?.maxWaitMs;
  const maxWaitMs = givenMaxWaitMs ?? (softLagMs < DEFAULT_MAX_WAIT_MS ? Math.min(DEFAULT_MAX_WAIT_MS, hardLagMs) : hardLagMs);
  if (givenMaxWaitMs !== undefined && (givenMaxWaitMs <= softLagMs || givenMaxWaitMs > hardLagMs))
    problems.push(`backpressure.maxWaitMs: must be above softLagMs (${softLagMs}) and at most hardLagMs (${hardLagMs}), got ${givenMaxWaitMs}`);
  if (overrides.shards !== undefined && !(Number.isInteger(overrides.shards) && overrides.shards >= 1))
    problems.push(`--shards: must be a positive integer, got ${overrides.shards}`);
  if (problems.length) throw new ConfigError(problems);

  return {
    regions,
    partitions,
    shards: overrides.shards ?? user.shards ?? availableParallelism(),
    shardHeapMb: user.shardHeapMb ?? DEFAULT_SHARD_HEAP_MB,
    heapGrowthPercent: user.heapGrowthPercent ?? DEFAULT_HEAP_GROWTH_PERCENT,
    semiSpaceMb: user.semiSpaceMb ?? 0,
    dataDir,
    ingest: {
      host: user.ingest?.host ?? '127.0.0.1',
      port: overrides.ingestPort ?? user.ingest?.port ?? 8080,
      maxFrameBytes: user.ingest?.maxFrameBytes ?? 1024 * 1024,
      maxEventsPerFrame: user.ingest?.maxEventsPerFrame ?? 1000,
      maxEventAgeMs: user.ingest?.maxEventAgeMs ?? 7 * 24 * 3600_000,
      maxEventAheadMs: user.ingest?.maxEventAheadMs ?? 5 * 60_000,
      appendLingerMs: user.ingest?.appendLingerMs ?? 2,
    },
    auth: { mode: user.auth?.mode ?? 'token', secret: user.auth?.secret },
    ops: { host: user.ops?.host ?? '127.0.0.1', port: overrides.opsPort ?? user.ops?.port ?? 8081 },
    redis: {
      url: user.redis?.url,
      appendfsync: user.redis?.appendfsync ?? 'everysec',
      aofRewritePercentage: user.redis?.aofRewritePercentage ?? 400,
      keyPrefix: user.redis?.keyPrefix ?? 'shoal',
      serverBinary: user.redis?.serverBinary ?? 'redis-server',
    },
    clickhouse: {
      url: user.clickhouse?.url,
      username: user.clickhouse?.username ?? 'default',
      password: user.clickhouse?.password ?? '',
      databasePrefix: user.clickhouse?.databasePrefix ?? 'shoal',
      eventsTtlDays: user.clickhouse?.eventsTtlDays ?? 30,
      rollup1mTtlDays: user.clickhouse?.rollup1mTtlDays ?? 30,
      rollup1hTtlDays: user.clickhouse?.rollup1hTtlDays ?? 730,
    },
    objectStore: {
      kind,
      dir: resolve(dataDir, user.objectStore?.dir ?? 'objects'),
      s3,
      retentionDays: user.objectStore?.retentionDays ?? 30,
    },
    flush: {
      intervalMs: user.flush?.intervalMs ?? 1000,
      maxEvents: user.flush?.maxEvents ?? 20_000,
      readCount: user.flush?.readCount ?? 256,
    },
    backpressure: { softLagMs, hardLagMs, maxWaitMs, checkIntervalMs: user.backpressure?.checkIntervalMs ?? 500 },
    sampling: { sensors: { ...user.sampling?.sensors } },
    dedup: { horizonMs, maxIds: dedupMaxIds, maxIdsPerPartition: Math.ceil(dedupMaxIds / (regions.length * partitions)) },
    actors: { idleMs: user.actors?.idleMs ?? horizonMs },
    log: { level: user.log?.level ?? 'info', deviceIds: user.log?.deviceIds ?? 'pseudonymised' },
  };
}

/** Read the YAML file (if any), apply environment and flags, validate, fill defaults. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  let raw: unknown = {};
  const file = options.file ? resolve(cwd, options.file) : resolve(cwd, 'shoal.config.yaml');
  if (options.file && !existsSync(file)) throw new ConfigError([`--config: file not found: ${file}`]);
  if (existsSync(file)) {
    try {
      raw = parseYaml(readFileSync(file, 'utf8')) ?? {};
    } catch (err) {
      throw new ConfigError([`${file}: not valid YAML: ${(err as Error).message}`]);
    }
  }
  const user = applyEnv(validateUserConfig(raw), env);
  return resolveConfig(user, options.overrides, cwd);
}

/** ClickHouse database of a region. */
export function regionDatabase(config: Pick<Config, 'clickhouse'>, region: string): string {
  return `${config.clickhouse.databasePrefix}_${region.replace(/-/g, '_')}`;
}
