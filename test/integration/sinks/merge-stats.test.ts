/**
 * ClickHouse's merges and memory on /metrics, from the real chDB: a merge shows while it runs
 * (as of the previous scrape) and is gone once it finished; the memory chDB tracks shows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../src/config.js';
import { ChdbStore } from '../../../src/sinks/chdb-store.js';
import { MergeStats } from '../../../src/sinks/merge-stats.js';

let dir: string;
let store: ChdbStore;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'shoal-merge-stats-'));
  store = new ChdbStore(join(dir, 'clickhouse'), resolveConfig({}, {}, dir));
});
afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Scrape {
  merges: number;
  bytes: number;
  memory: number;
}

async function scrape(registry: Registry): Promise<Scrape> {
  const text = await registry.metrics();
  const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  return { merges: value('shoal_clickhouse_merges_running'), bytes: value('shoal_clickhouse_merge_bytes'), memory: value('shoal_clickhouse_memory_bytes') };
}

async function scrapeUntil(registry: Registry, what: string, ok: (s: Scrape) => boolean): Promise<Scrape> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const s = await scrape(registry);
    if (ok(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 10));
  }
}

describe('merges on /metrics', () => {
  it('shows a running merge with the bytes it merges, and none once it finished', async () => {
    const registry = new Registry();
    new MergeStats(store, registry);
    const first = await scrapeUntil(registry, 'the first reading', () => true);
    expect({ merges: first.merges, bytes: first.bytes }).toEqual({ merges: 0, bytes: 0 });

    await store.command('CREATE DATABASE IF NOT EXISTS merge_stats');
    await store.command('CREATE TABLE merge_stats.t (a UInt64, b String) ENGINE = MergeTree ORDER BY a');
    await store.command('SYSTEM STOP MERGES merge_stats.t');
    for (let part = 0; part < 4; part++) {
      await store.command(`INSERT INTO merge_stats.t SELECT number, toString(cityHash64(number)) FROM numbers(${part * 1_500_000}, 1500000)`);
    }
    await store.command('SYSTEM START MERGES merge_stats.t');
    const merging = store.command('OPTIMIZE TABLE merge_stats.t FINAL');

    const seen = await scrapeUntil(registry, 'the merge to show', (s) => s.merges >= 1);
    expect(seen.bytes).toBeGreaterThan(10_000_000);
    await merging;
    await scrapeUntil(registry, 'the merge to be gone', (s) => s.merges === 0 && s.bytes === 0);
  });

  it("shows the memory chDB tracks, as ClickHouse's own system.metrics reports it", async () => {
    const registry = new Registry();
    new MergeStats(store, registry);
    // Six million rows in memory at once: ClickHouse tracks them while the part is written.
    await store.command('CREATE DATABASE IF NOT EXISTS merge_stats');
    await store.command('CREATE TABLE IF NOT EXISTS merge_stats.m (a UInt64, b String) ENGINE = Memory');
    await store.command('INSERT INTO merge_stats.m SELECT number, toString(cityHash64(number)) FROM numbers(6000000)');
    const seen = await scrapeUntil(registry, 'a memory reading', (s) => s.memory > 0);
    const [row] = await store.query<{ tracked: string }>("SELECT toString(value) AS tracked FROM system.metrics WHERE metric = 'MemoryTracking'");
    // A Memory table of six million rows holds well over 100 MB; both readings see it.
    expect(seen.memory).toBeGreaterThan(100_000_000);
    expect(Number(row?.tracked)).toBeGreaterThan(100_000_000);
    await store.command('DROP TABLE merge_stats.m');
  });
});
