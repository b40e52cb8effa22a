/**
 * The dependencies of an OpsServer under test: a real redis-server client, the given config
 * and keys, a silent logger, an in-memory analytics store (these tests exercise the DLQ and
 * routing, not ClickHouse), and no-op health/stats/metrics. Pass overrides for the rest.
 */
import pino from 'pino';
import { Registry } from 'prom-client';
import type { Config } from '../../src/config.js';
import type { OpsServerDeps } from '../../src/ops/ops-server.js';
import type { Keys } from '../../src/runtime/keys.js';
import { FakeAnalyticsStore } from '../unit/ops/fake-analytics-store.js';
import type { TestRedis } from './redis.js';

export function opsServerDeps(testRedis: TestRedis, config: Config, keys: Keys, overrides: Partial<OpsServerDeps> = {}): OpsServerDeps {
  return {
    config,
    store: new FakeAnalyticsStore(),
    redis: testRedis.client(),
    keys,
    logger: pino({ level: 'silent' }),
    health: () => Promise.resolve({ checks: {} }),
    stats: () => Promise.resolve({}),
    metrics: new Registry(),
    ...overrides,
  };
}
