import { describe, expect, it } from 'vitest';
import { resolveConfig, validateUserConfig } from '../../../src/config.js';
import { ChdbStore } from '../../../src/sinks/chdb-store.js';
import { schemaStatements } from '../../../src/sinks/clickhouse-schema.js';
import { ClickHouseServerStore } from '../../../src/sinks/clickhouse-server-store.js';
import { DirObjectStore } from '../../../src/sinks/dir-object-store.js';
import { S3ObjectStore } from '../../../src/sinks/s3-object-store.js';
import { createAnalyticsStore, createObjectStore } from '../../../src/sinks/sink-factory.js';

const configOf = (user: unknown) => resolveConfig(validateUserConfig(user), {}, '/srv/shoal');

describe('createAnalyticsStore', () => {
  it('embeds chDB under <dataDir>/clickhouse by default, without opening it', async () => {
    const store = createAnalyticsStore(configOf({}));
    expect(store).toBeInstanceOf(ChdbStore);
    expect((store as ChdbStore).dir).toBe('/srv/shoal/data/clickhouse');
    await store.close();
  });

  it('uses the ClickHouse server when clickhouse.url is set', async () => {
    const store = createAnalyticsStore(configOf({ clickhouse: { url: 'http://ch.internal:8123' } }));
    expect(store).toBeInstanceOf(ClickHouseServerStore);
    expect(store.kind).toBe('server');
    await store.close();
  });
});

describe('createObjectStore', () => {
  it('stores objects under <dataDir>/objects by default', () => {
    const store = createObjectStore(configOf({}));
    expect(store).toBeInstanceOf(DirObjectStore);
    expect((store as DirObjectStore).root).toBe('/srv/shoal/data/objects');
  });

  it('uses S3 when objectStore.kind is s3', async () => {
    const store = createObjectStore(configOf({ objectStore: { kind: 's3', s3: { bucket: 'archive', endpoint: 'http://127.0.0.1:9' } } }));
    expect(store).toBeInstanceOf(S3ObjectStore);
    await store.close();
  });
});

describe('schemaStatements', () => {
  it('puts the configured retention into each table and refuses unsafe names', () => {
    const sql = schemaStatements('shoal_us_east', { eventsTtlDays: 7, rollup1mTtlDays: 14, rollup1hTtlDays: 365 }).join('\n');
    expect(sql).toMatch(/events[\s\S]*INTERVAL 7 DAY/);
    expect(sql).toMatch(/rollup_1m \([\s\S]*INTERVAL 14 DAY/);
    expect(sql).toMatch(/rollup_1h \([\s\S]*INTERVAL 365 DAY/);
    expect(() => schemaStatements('x; DROP TABLE y', { eventsTtlDays: 1, rollup1mTtlDays: 1, rollup1hTtlDays: 1 })).toThrow(TypeError);
    expect(() => schemaStatements('ok', { eventsTtlDays: 0, rollup1mTtlDays: 1, rollup1hTtlDays: 1 })).toThrow(TypeError);
  });
});
