import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HEAP_GROWTH_PERCENT, DEFAULT_SHARD_HEAP_MB, loadConfig, regionDatabase, validateUserConfig, type Config } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error('expected a ConfigError');
}

function withFile(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-config-'));
  const file = join(dir, 'shoal.config.yaml');
  writeFileSync(file, yaml);
  return file;
}

describe('config', () => {
  it('fills the embedded defaults: two regions, ./data, ports 8080/8081, token auth', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'shoal-cwd-'));
    const c = loadConfig({ env: {}, cwd });
    expect(c.regions).toEqual(['us-east', 'eu-west']);
    expect(c.dataDir).toBe(join(cwd, 'data'));
    expect(c.ingest.port).toBe(8080);
    expect(c.ops.port).toBe(8081);
    expect(c.auth.mode).toBe('token');
    expect(c.redis.appendfsync).toBe('everysec');
    expect(c.objectStore.kind).toBe('dir');
    expect(c.objectStore.dir).toBe(join(cwd, 'data', 'objects'));
    expect(c.shards).toBeGreaterThanOrEqual(1);
    expect(c.shardHeapMb).toBe(DEFAULT_SHARD_HEAP_MB);
    expect(c.heapGrowthPercent).toBe(DEFAULT_HEAP_GROWTH_PERCENT);
    expect(c.heapGrowthPercent).toBeGreaterThan(0);
    expect(c.semiSpaceMb).toBe(0);
    expect(c.clickhouse.rollup1hTtlDays).toBe(730);
  });

  it('reports every unknown key by its path, at once', () => {
    const found = problems(() => validateUserConfig({ shardz: 2, ingest: { prot: 1 }, flush: { intervalMs: 5 } }));
    expect(found).toEqual(
      expect.arrayContaining([expect.stringMatching(/^shardz: unknown key/), expect.stringMatching(/^ingest\.prot: unknown key/), expect.stringMatching(/^flush\.intervalMs:/)]),
    );
    expect(found).toHaveLength(3);
  });

  it.each([
    [{ regions: ['US East'] }, /^regions\.0:/],
    [{ regions: [] }, /^regions:/],
    [{ regions: Array.from({ length: 256 }, (_, i) => `r-${i}`) }, /^regions:/],
    [{ partitions: 0 }, /^partitions:/],
    [{ shards: 1.5 }, /^shards:/],
    [{ shardHeapMb: 32 }, /^shardHeapMb:/],
    [{ shardHeapMb: 256.5 }, /^shardHeapMb:/],
    [{ heapGrowthPercent: -1 }, /^heapGrowthPercent:/],
    [{ heapGrowthPercent: 12.5 }, /^heapGrowthPercent:/],
    [{ semiSpaceMb: -1 }, /^semiSpaceMb:/],
    [{ semiSpaceMb: 257 }, /^semiSpaceMb:/],
    [{ semiSpaceMb: 24.5 }, /^semiSpaceMb:/],
    [{ ingest: { port: 70000 } }, /^ingest\.port:/],
    [{ auth: { mode: 'open' } }, /^auth\.mode:/],
    [{ auth: { secret: 'short' } }, /^auth\.secret: the secret must be at least 16/],
    [{ redis: { appendfsync: 'sometimes' } }, /^redis\.appendfsync:/],
    [{ redis: { url: 'not a url' } }, /^redis\.url:/],
    [{ dedup: { horizonMs: 10 } }, /^dedup\.horizonMs:/],
    [{ dedup: { maxIds: 0 } }, /^dedup\.maxIds:/],
    [{ dedup: { maxIds: 250_000_001 } }, /^dedup\.maxIds:/],
    [{ dedup: { maxIdsPerDevice: 4096 } }, /^dedup\.maxIdsPerDevice: replaced by dedup\.maxIds, the event ids remembered per process/],
    [{ objectStore: { kind: 'tape' } }, /^objectStore\.kind:/],
  ])('rejects %j naming the field', (raw, pattern) => {
    expect(problems(() => validateUserConfig(raw))).toEqual([expect.stringMatching(pattern)]);
  });

  it('requires the hard lag limit above the soft one', () => {
    expect(problems(() => loadConfig({ file: withFile('backpressure:\n  softLagMs: 5000\n  hardLagMs: 5000\n'), env: {} }))).toEqual([
      expect.stringMatching(/^backpressure\.hardLagMs: must be above softLagMs/),
    ]);
  });

  it('keeps the predicted-wait limit between the soft and hard lag limits', () => {
    expect(problems(() => loadConfig({ file: withFile('backpressure:\n  softLagMs: 5000\n  maxWaitMs: 5000\n'), env: {} }))).toEqual([
      expect.stringMatching(/^backpressure\.maxWaitMs: must be above softLagMs \(5000\) and at most hardLagMs \(60000\), got 5000/),
    ]);
    expect(problems(() => loadConfig({ file: withFile('backpressure:\n  hardLagMs: 15000\n  maxWaitMs: 16000\n'), env: {} }))).toEqual([
      expect.stringMatching(/^backpressure\.maxWaitMs: must be above/),
    ]);
    const bp = (yaml: string): Config['backpressure'] => loadConfig({ file: withFile(yaml), env: {} }).backpressure;
    expect(bp('backpressure:\n  softLagMs: 2000\n  hardLagMs: 8000\n').maxWaitMs).toBe(8000);
    expect(bp('backpressure:\n  softLagMs: 30000\n').maxWaitMs).toBe(60_000);
    expect(bp('backpressure:\n  maxWaitMs: 45000\n').maxWaitMs).toBe(45_000);
  });

  it('requires a bucket for the S3 store', () => {
    expect(problems(() => loadConfig({ file: withFile('objectStore:\n  kind: s3\n'), env: {} }))).toEqual([
      expect.stringMatching(/^objectStore\.s3\.bucket: required/),
    ]);
  });

  it('lets environment variables win over the file, and flags over both', () => {
    const file = withFile('shards: 3\nredis:\n  appendfsync: everysec\ningest:\n  port: 9000\n');
    const c = loadConfig({
      file,
      env: { SHOAL_SHARDS: '5', SHOAL_REDIS_APPENDFSYNC: 'always', REDIS_URL: 'redis://10.0.0.1:6380', S3_BUCKET: 'telemetry' },
      overrides: { ingestPort: 0 },
    });
    expect(c.shards).toBe(5);
    expect(c.redis.appendfsync).toBe('always');
    expect(c.redis.url).toBe('redis://10.0.0.1:6380');
    expect(c.objectStore.kind).toBe('s3');
    expect(c.objectStore.s3?.bucket).toBe('telemetry');
    expect(c.ingest.port).toBe(0);
  });

  it('names a wrong environment variable and a wrong flag', () => {
    expect(problems(() => loadConfig({ env: { SHOAL_SHARDS: 'many' }, cwd: tmpdir() }))).toEqual([expect.stringMatching(/^SHOAL_SHARDS:/)]);
    expect(problems(() => loadConfig({ env: { SHOAL_REDIS_APPENDFSYNC: 'rarely' }, cwd: tmpdir() }))).toEqual([
      expect.stringMatching(/^redis\.appendfsync:/),
    ]);
    expect(problems(() => loadConfig({ env: {}, cwd: tmpdir(), overrides: { shards: 0 } }))).toEqual([expect.stringMatching(/^--shards:/)]);
  });

  it('refuses a missing config file and invalid YAML', () => {
    expect(problems(() => loadConfig({ file: '/nonexistent/shoal.yaml', env: {} }))).toEqual([expect.stringMatching(/file not found/)]);
    expect(problems(() => loadConfig({ file: withFile('regions: [unclosed\n'), env: {} }))).toEqual([expect.stringMatching(/not valid YAML/)]);
  });

  it('samples nothing by default and keeps the configured sensor types as written', () => {
    expect(loadConfig({ env: {}, cwd: tmpdir() }).sampling.sensors).toEqual({});
    const file = withFile('sampling:\n  sensors:\n    temperature:\n      keepOneIn: 4\n    vibration.rms:\n      keepOneIn: 1000\n');
    expect(loadConfig({ file, env: {} }).sampling.sensors).toEqual({ temperature: { keepOneIn: 4 }, 'vibration.rms': { keepOneIn: 1000 } });
  });

  it.each([
    [{ sampling: { sensors: { temperature: { keepOneIn: 1 } } } }, /^sampling\.sensors\.temperature\.keepOneIn:/],
    [{ sampling: { sensors: { temperature: { keepOneIn: 1001 } } } }, /^sampling\.sensors\.temperature\.keepOneIn:/],
    [{ sampling: { sensors: { temperature: { keepOneIn: 2.5 } } } }, /^sampling\.sensors\.temperature\.keepOneIn:/],
    [{ sampling: { sensors: { temperature: {} } } }, /^sampling\.sensors\.temperature\.keepOneIn:/],
    [{ sampling: { sensors: { temperature: { keepOneIn: 4, rate: 0.5 } } } }, /^sampling\.sensors\.temperature\.rate: unknown key/],
    [{ sampling: { sensors: { 'temp\u0007': { keepOneIn: 4 } } } }, /^sampling\.sensors\.temp.: a sensor type is 1–64 characters/],
    [{ sampling: { sensors: { ['t'.repeat(65)]: { keepOneIn: 4 } } } }, /^sampling\.sensors\.t{65}: a sensor type/],
    [{ sampling: { sensors: ['temperature'] } }, /^sampling\.sensors:/],
    [{ sampling: { rate: 4 } }, /^sampling\.rate: unknown key/],
  ])('rejects the sampling setting %j naming the field', (raw, pattern) => {
    expect(problems(() => validateUserConfig(raw))).toEqual([expect.stringMatching(pattern)]);
  });

  it('remembers 8M event ids per process by default, split evenly over every partition of every region', () => {
    // Defaults: 2 regions × 2 partitions.
    expect(loadConfig({ env: {}, cwd: tmpdir() }).dedup).toEqual({ horizonMs: 600_000, maxIds: 8_000_000, maxIdsPerPartition: 2_000_000 });
    const file = withFile('regions: [a, b, c]\npartitions: 4\ndedup:\n  maxIds: 1000\n');
    expect(loadConfig({ file, env: {} }).dedup).toEqual({ horizonMs: 600_000, maxIds: 1000, maxIdsPerPartition: 84 });
  });

  it('names one database per region', () => {
    const c = loadConfig({ env: {}, cwd: tmpdir() });
    expect(c.regions.map((r) => regionDatabase(c, r))).toEqual(['shoal_us_east', 'shoal_eu_west']);
  });
});
