/**
 * The ops HTTP API against an in-memory store: exact JSON shapes of DESIGN §6, parameter
 * validation, readiness, metrics, the status page, and errors that never take the server down.
 * (The DLQ route runs against a real Redis in test/integration/ops.)
 */
import { Redis } from 'ioredis';
import pino from 'pino';
import { Counter, Registry } from 'prom-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { regionDatabase, resolveConfig, validateUserConfig, type Config } from '../../../src/config.js';
import type { HealthReport } from '../../../src/ops/health.js';
import { OpsServer } from '../../../src/ops/ops-server.js';
import { Keys } from '../../../src/runtime/keys.js';
import { FakeAnalyticsStore, type StoredReading } from './fake-analytics-store.js';

const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const HOUR = 3_600_000;
const EU_DEVICE = 'dev-eu.1';
const US_DEVICE = 'dev-us:7';
const EVENT_KEYS = [
  'event_id', 'reading_index', 'event_time', 'ingest_time', 'sensor_type', 'value', 'unit', 'firmware_version', 'region', 'schema_version',
].sort();
const ROLLUP_KEYS = ['window_start', 'count', 'sum', 'min', 'max', 'avg', 'p50', 'p95', 'p99'].sort();

/** A v2 device reporting temperature and humidity every 30 s for the 3 hours before NOW. */
function deviceReadings(deviceId: string, region: string): StoredReading[] {
  const rows: StoredReading[] = [];
  for (let t = NOW - 3 * HOUR, i = 0; t < NOW; t += 30_000, i++) {
    const eventId = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const common = { eventId, deviceId, eventTime: t, ingestTime: t + 40, firmwareVersion: '2.1.0', region, schemaVersion: 2 };
    rows.push({ ...common, readingIndex: 0, sensorType: 'temperature', value: 20 + Math.sin(i / 10), unit: '°C' });
    rows.push({ ...common, readingIndex: 1, sensorType: 'humidity', value: 40 + (i % 7), unit: '%' });
  }
  return rows;
}

let config: Config;
let store: FakeAnalyticsStore;
let server: OpsServer;
let base: string;
let redis: Redis;
let health: () => Promise<HealthReport>;
let stats: () => Promise<Record<string, unknown>>;
const registry = new Registry();
const counter = new Counter({ name: 'shoal_test_frames_total', help: 'frames seen by the test', registers: [registry] });
const euData = deviceReadings(EU_DEVICE, 'eu-west');

const allUp = (): Promise<HealthReport> =>
  Promise.resolve({ checks: { ingest: { up: true }, bus: { up: true }, sinks: { up: true }, workers: { up: true } } });

beforeAll(async () => {
  config = resolveConfig(validateUserConfig({ ops: { port: 0 } }));
  store = new FakeAnalyticsStore();
  store.add(regionDatabase(config, 'eu-west'), euData);
  store.add(regionDatabase(config, 'us-east'), deviceReadings(US_DEVICE, 'us-east'));
  redis = new Redis({ lazyConnect: true });
  server = new OpsServer({
    config,
    store,
    redis,
    keys: new Keys('shoal-test'),
    logger: pino({ level: 'silent' }),
    health: () => health(),
    stats: () => stats(),
    metrics: registry,
    clock: () => NOW,
  });
  base = `http://127.0.0.1:${await server.listen()}`;
});

afterAll(async () => {
  await server.close();
  redis.disconnect();
});

beforeEach(() => {
  store.failing = null;
  store.queried.length = 0;
  health = allUp;
  stats = () => Promise.resolve({ regions: config.regions, gateway: { accepted: 12 } });
});

async function get(path: string, init?: RequestInit): Promise<{ status: number; type: string; body: unknown; text: string; headers: Headers }> {
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, type, text, headers: res.headers, body: type.startsWith('application/json') ? (JSON.parse(text) as unknown) : null };
}

interface EventsBody {
  device_id: string;
  rows: Record<string, unknown>[];
}
interface RollupsBody extends EventsBody {
  sensor_type: string;
  step: string;
}

describe('liveness and readiness', () => {
  it('GET /healthz answers ok', async () => {
    const r = await get('/healthz');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ok' });
  });

  it('GET /readyz is 200 when every check is up', async () => {
    const r = await get('/readyz');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'ready', down: [] });
  });

  it('GET /readyz is 503 naming the checks that are down', async () => {
    health = () =>
      Promise.resolve({ checks: { ingest: { up: true }, bus: { up: false, detail: 'ECONNREFUSED' }, sinks: { up: true }, workers: { up: false } } });
    const r = await get('/readyz');
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ status: 'not_ready', down: ['bus', 'workers'], checks: { bus: { up: false, detail: 'ECONNREFUSED' } } });
  });

  it('GET /readyz is 503 when the health probe itself fails', async () => {
    health = () => Promise.reject(new Error('probe exploded'));
    const r = await get('/readyz');
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ status: 'not_ready' });
  });
});

describe('GET /api/v1/devices/{id}/events', () => {
  it('answers the last hour by default, exactly the documented fields, oldest first', async () => {
    const r = await get(`/api/v1/devices/${EU_DEVICE}/events`);
    expect(r.status).toBe(200);
    const body = r.body as EventsBody;
    expect(Object.keys(body).sort()).toEqual(['device_id', 'rows']);
    expect(body.device_id).toBe(EU_DEVICE);
    const expected = euData.filter((d) => d.eventTime >= NOW - HOUR && d.eventTime < NOW);
    expect(body.rows.length).toBe(expected.length);
    for (const row of body.rows) {
      expect(Object.keys(row).sort()).toEqual(EVENT_KEYS);
      expect(row['event_time']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(row['region']).toBe('eu-west');
    }
    const times = body.rows.map((row) => Date.parse(row['event_time'] as string));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // The device's region is unknown from its id: every region's database is asked.
    expect(new Set(store.queried)).toEqual(new Set(config.regions.map((reg) => regionDatabase(config, reg))));
  });

  it('filters by sensor and time range and honours limit', async () => {
    const from = new Date(NOW - 2 * HOUR).toISOString();
    const to = new Date(NOW - HOUR).toISOString();
    const all = await get(`/api/v1/devices/${EU_DEVICE}/events?from=${from}&to=${to}&sensor=humidity&limit=10000`);
    const rows = (all.body as EventsBody).rows;
    const expected = euData.filter((d) => d.sensorType === 'humidity' && d.eventTime >= NOW - 2 * HOUR && d.eventTime < NOW - HOUR);
    expect(rows.map((row) => row['value'])).toEqual(expected.map((d) => d.value));
    expect(rows.every((row) => row['sensor_type'] === 'humidity' && row['unit'] === '%')).toBe(true);

    const limited = await get(`/api/v1/devices/${EU_DEVICE}/events?from=${from}&to=${to}&sensor=humidity&limit=7`);
    expect((limited.body as EventsBody).rows).toEqual(rows.slice(0, 7));
  });

  it('accepts RFC 3339 times with an offset and a URL-encoded device id', async () => {
    const r = await get(`/api/v1/devices/${encodeURIComponent(US_DEVICE)}/events?from=2026-03-01T11:00:00%2B01:00&to=2026-03-01T10:10:00Z`);
    expect(r.status).toBe(200);
    const body = r.body as EventsBody;
    expect(body.device_id).toBe(US_DEVICE);
    expect(body.rows.length).toBe(40); // 10 minutes × 2 readings/30 s × 2 sensors
  });

  it('reads an unencoded + offset (decoded as a space) as +', async () => {
    const encoded = await get(`/api/v1/devices/${EU_DEVICE}/events?from=2026-03-01T12:30:00%2B01:00&to=2026-03-01T11:40:00Z`);
    const plain = await get(`/api/v1/devices/${EU_DEVICE}/events?from=2026-03-01T12:30:00+01:00&to=2026-03-01T11:40:00Z`);
    expect(plain.status).toBe(200);
    expect((plain.body as EventsBody).rows.length).toBe(40);
    expect(plain.body).toEqual(encoded.body);
  });

  it('answers an empty list for a device nobody has heard of', async () => {
    const r = await get('/api/v1/devices/nobody/events');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ device_id: 'nobody', rows: [] });
  });
});

describe('GET /api/v1/devices/{id}/rollups', () => {
  it('answers minute windows with count, sum, min, max, avg and percentiles', async () => {
    const from = new Date(NOW - 30 * 60_000).toISOString();
    const r = await get(`/api/v1/devices/${EU_DEVICE}/rollups?sensor=temperature&step=1m&from=${from}`);
    expect(r.status).toBe(200);
    const body = r.body as RollupsBody;
    expect(Object.keys(body).sort()).toEqual(['device_id', 'rows', 'sensor_type', 'step']);
    expect(body).toMatchObject({ device_id: EU_DEVICE, sensor_type: 'temperature', step: '1m' });
    expect(body.rows.length).toBe(30);
    for (const row of body.rows) {
      expect(Object.keys(row).sort()).toEqual(ROLLUP_KEYS);
      const start = Date.parse(row['window_start'] as string);
      const inWindow = euData.filter((d) => d.sensorType === 'temperature' && d.eventTime >= start && d.eventTime < start + 60_000);
      expect(row['count']).toBe(inWindow.length);
      expect(row['sum']).toBeCloseTo(inWindow.reduce((a, d) => a + d.value, 0), 9);
      expect(row['avg']).toBeCloseTo((row['sum'] as number) / (row['count'] as number), 9);
      expect(row['min']).toBeLessThanOrEqual(row['p50'] as number);
      expect(row['p99']).toBeLessThanOrEqual(row['max'] as number);
    }
  });

  it('defaults to the last 24 hours and step 1m; step=1h gives hour windows', async () => {
    const minutes = await get(`/api/v1/devices/${EU_DEVICE}/rollups?sensor=humidity`);
    expect((minutes.body as RollupsBody).step).toBe('1m');
    expect((minutes.body as RollupsBody).rows.length).toBe(180);
    const hours = await get(`/api/v1/devices/${EU_DEVICE}/rollups?sensor=humidity&step=1h`);
    const rows = (hours.body as RollupsBody).rows;
    expect(rows.length).toBe(3);
    expect(rows.reduce((a, row) => a + (row['count'] as number), 0)).toBe(euData.filter((d) => d.sensorType === 'humidity').length);
  });
});

describe('parameter validation', () => {
  const cases: [string, string][] = [
    ['/api/v1/devices/d1/events?from=yesterday', 'from'],
    ['/api/v1/devices/d1/events?to=2026-13-45T00:00:00Z', 'to'],
    ['/api/v1/devices/d1/events?to=2026-03-01', 'to'],
    ['/api/v1/devices/d1/events?to=2026-02-30T00:00:00Z', 'to'],
    ['/api/v1/devices/d1/events?from=2026-03-01T12:00:00Z&to=2026-03-01T11:00:00Z', 'from'],
    ['/api/v1/devices/d1/events?limit=0', 'limit'],
    ['/api/v1/devices/d1/events?limit=10001', 'limit'],
    ['/api/v1/devices/d1/events?limit=ten', 'limit'],
    ['/api/v1/devices/d1/events?limit=1&limit=2', 'limit'],
    ['/api/v1/devices/bad%20id/events', 'device id'],
    [`/api/v1/devices/${'x'.repeat(129)}/events`, 'device id'],
    ['/api/v1/devices/%E0%A4%A/events', 'device id'],
    ['/api/v1/devices/d1/rollups', 'sensor'],
    ['/api/v1/devices/d1/rollups?sensor=temperature&step=5m', 'step'],
    ['/api/v1/devices/d1/rollups?sensor=temperature&from=2026-03-01T25:00:00Z', 'from'],
    ['/api/v1/dlq', 'region'],
    ['/api/v1/dlq?region=mars', 'region'],
    ['/api/v1/dlq?region=us-east&limit=100000', 'limit'],
  ];
  it.each(cases)('%s → 400 naming %s', async (path, param) => {
    const r = await get(path);
    expect(r.status).toBe(400);
    const body = r.body as { code: string; message: string };
    expect(Object.keys(body).sort()).toEqual(['code', 'message']);
    expect(body.code).toBe('BAD_REQUEST');
    expect(body.message.startsWith(`${param}:`)).toBe(true);
  });
});

describe('failures', () => {
  it('a store that throws gives 503 STORE_UNAVAILABLE and the server keeps serving', async () => {
    store.failing = new Error('connection refused');
    for (const path of [`/api/v1/devices/${EU_DEVICE}/events`, `/api/v1/devices/${EU_DEVICE}/rollups?sensor=temperature`]) {
      const r = await get(path);
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ code: 'STORE_UNAVAILABLE' });
      expect((r.body as { message: string }).message).toMatch(/connection refused/);
    }
    expect((await get('/healthz')).status).toBe(200);
  });

  it('a stats provider that throws gives 500 JSON, never a crash', async () => {
    stats = () => Promise.reject(new TypeError('boom'));
    const r = await get('/api/v1/stats');
    expect(r.status).toBe(500);
    expect(r.body).toMatchObject({ code: 'INTERNAL' });
    stats = () => Promise.resolve({ ok: true });
    expect((await get('/api/v1/stats')).body).toEqual({ ok: true });
  });

  it('unknown routes are 404 JSON and other methods 405', async () => {
    const r = await get('/api/v1/nope');
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ code: 'NOT_FOUND' });
    expect((await get('/favicon.ico')).status).toBe(404);
    const post = await get('/api/v1/stats', { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.body).toMatchObject({ code: 'METHOD_NOT_ALLOWED' });
  });
});

describe('stats, metrics and the status page', () => {
  it('GET /api/v1/stats answers stats()', async () => {
    const r = await get('/api/v1/stats');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ regions: config.regions, gateway: { accepted: 12 } });
  });

  it('GET /metrics renders the registry in Prometheus text format', async () => {
    counter.inc(3);
    const r = await get('/metrics');
    expect(r.status).toBe(200);
    expect(r.type).toBe(registry.contentType);
    expect(r.text).toMatch(/^shoal_test_frames_total 3$/m);
  });

  it('GET / is a self-contained dashboard whose own script polls /api/v1/stats every 2 s', async () => {
    const r = await get('/');
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/html/);
    // No inline script and nothing from another origin: the CSP allows only this server.
    expect(r.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
    expect(r.text).not.toMatch(/(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(r.text).not.toMatch(/https?:\/\//);
    const csp = r.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/script-src 'self'/);
    const script = await get('/static/dashboard.js');
    expect(script.status).toBe(200);
    expect(script.text).toContain('/api/v1/stats');
    expect(script.text).toMatch(/REFRESH_MS\s*=\s*2000/);
  });
});

describe('metrics as a function', () => {
  it('serves the text the function renders', async () => {
    const s = new OpsServer({
      config,
      store,
      redis,
      keys: new Keys('shoal-test'),
      logger: pino({ level: 'silent' }),
      health: allUp,
      stats: () => Promise.resolve({}),
      metrics: () => Promise.resolve('# HELP x_total x\n# TYPE x_total counter\nx_total 1\n'),
    });
    const port = await s.listen();
    try {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(await res.text()).toMatch(/^x_total 1$/m);
    } finally {
      await s.close();
    }
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });
});
