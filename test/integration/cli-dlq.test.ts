/**
 * `shoal dlq list|show|replay|purge` as a user runs it: the built CLI (dist/cli/main.js, from
 * `npm run build`) in a child process, against an OpsServer started here on a free port with
 * a real redis-server and the gateway's real BusAppender as its bus appender.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig, validateUserConfig, type Config } from '../../src/config.js';
import type { CanonicalEvent } from '../../src/contracts/canonical-event.js';
import { EventValidator } from '../../src/contracts/event-validator.js';
import { processFrame } from '../../src/contracts/frame.js';
import { BusAppender } from '../../src/gateway/bus-appender.js';
import { OpsServer } from '../../src/ops/ops-server.js';
import { Keys } from '../../src/runtime/keys.js';
import { partitionOf } from '../../src/runtime/partitioning.js';
import { v1Event, type DeviceEvent } from '../helpers/events.js';
import { opsServerDeps } from '../helpers/ops-fixture.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { CLI } from '../helpers/shoal-process.js';
import { streamEvents } from './gateway/fixtures.js';

const DEVICE = { deviceId: 'boiler-3', region: 'us-east' };

let testRedis: TestRedis;
let config: Config;
let keys: Keys;
let appender: BusAppender;
let server: OpsServer;
let ops: string;
let workDir: string;
const validator = new EventValidator();

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `shoal ...args` (asynchronously: the ops server answers from this process). */
function shoal(args: string[], stdin?: string): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

function dlq(...args: string[]): Promise<Run> {
  return shoal(['dlq', ...args, '--ops', ops]);
}

/** Reject `events` of DEVICE the way the gateway does; the DLQ ids, in the same order. */
async function reject(events: DeviceEvent[]): Promise<string[]> {
  const ctx = {
    now: Date.now(),
    regions: config.regions,
    identity: DEVICE,
    maxFrameBytes: config.ingest.maxFrameBytes,
    maxEventsPerFrame: config.ingest.maxEventsPerFrame,
    maxEventAgeMs: config.ingest.maxEventAgeMs,
    maxEventAheadMs: config.ingest.maxEventAheadMs,
  };
  const result = processFrame(Buffer.from(JSON.stringify(events)), false, ctx, validator);
  await appender.appendDlq(DEVICE.region, result.rejected, { source: 'ws' });
  const all = await testRedis.redis.xrange(keys.dlq(DEVICE.region), '-', '+');
  return events.map((e) => all.find(([, flat]) => flat.includes(e.event_id))?.[0] ?? '');
}

function hotEvent(): DeviceEvent {
  const e = v1Event(DEVICE.deviceId, DEVICE.region, Date.now(), 'temperature', 0);
  e['value'] = 'hot';
  return e;
}

async function onBus(eventId: string): Promise<CanonicalEvent[]> {
  const stream = keys.partition(DEVICE.region, partitionOf(DEVICE.deviceId, config.partitions)).stream;
  return (await streamEvents(testRedis.redis, stream)).flatMap((e) => e.events).filter((e) => e.eventId === eventId);
}

async function dlqIds(region: string): Promise<string[]> {
  return (await testRedis.redis.xrange(keys.dlq(region), '-', '+')).map(([id]) => id);
}

async function dlqCodes(region: string): Promise<string[]> {
  return (await testRedis.redis.xrange(keys.dlq(region), '-', '+')).map(([, flat]) => flat[flat.indexOf('code') + 1] ?? '');
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
  const { port } = probe.address() as AddressInfo;
  await new Promise((done) => probe.close(done));
  return port;
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  testRedis = await startTestRedis();
  config = resolveConfig(validateUserConfig({ ops: { port: 0 }, partitions: 4 }));
  keys = new Keys(`clidlq${process.pid}`);
  appender = new BusAppender({ redis: testRedis.client(), keys, regions: config.regions, lingerMs: 0 });
  server = new OpsServer(opsServerDeps(testRedis, config, keys, { append: (region, partition, events) => appender.append(region, partition, events) }));
  ops = `http://127.0.0.1:${await server.listen()}`;
  workDir = mkdtempSync(join(tmpdir(), 'shoal-cli-dlq-'));
});

afterAll(async () => {
  await server?.close();
  await testRedis?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('shoal dlq', () => {
  it('list prints a table of the newest entries, or JSON lines, optionally of one code', async () => {
    const hot = hotEvent();
    const late = v1Event(DEVICE.deviceId, DEVICE.region, Date.now() - 30 * 86_400_000, 'humidity', 40);
    const [hotId, lateId] = await reject([hot, late]);

    const table = await dlq('list', '--region', 'us-east');
    expect(table.code).toBe(0);
    const lines = table.stdout.split('\n');
    expect(lines[0]).toMatch(/^ID\s+TIME\s+CODE\s+DEVICE\s+EVENT_ID\s+MESSAGE$/);
    const hotLine = lines.find((l) => l.startsWith(hotId ?? '?'));
    expect(hotLine).toContain('FIELD_INVALID');
    expect(hotLine).toContain(hot.event_id);
    expect(hotLine).toContain(DEVICE.deviceId);
    expect(lines.find((l) => l.startsWith(lateId ?? '?'))).toContain('EVENT_TIME_OUT_OF_RANGE');

    const json = await dlq('list', '--region', 'us-east', '--code', 'EVENT_TIME_OUT_OF_RANGE', '--json');
    expect(json.code).toBe(0);
    const entries = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.map((e) => e['id'])).toContain(lateId);
    expect(entries.every((e) => e['code'] === 'EVENT_TIME_OUT_OF_RANGE')).toBe(true);
  });

  it('show prints the entry as pretty JSON with its raw event', async () => {
    const hot = hotEvent();
    const [id = ''] = await reject([hot]);
    const shown = await dlq('show', '--region', 'us-east', id);
    expect(shown.code).toBe(0);
    expect(shown.stdout.split('\n').length).toBeGreaterThan(5);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id, code: 'FIELD_INVALID', event_id: hot.event_id, raw: hot });

    const missing = await dlq('show', '--region', 'us-east', '1-1');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no DLQ entry 1-1/);
  });

  it('replay appends a repaired event from a file, then the entry is gone', async () => {
    const hot = hotEvent();
    const [id = ''] = await reject([hot]);
    const file = join(workDir, 'repaired.json');
    writeFileSync(file, JSON.stringify({ ...hot, value: 88.5 }));

    const replayed = await dlq('replay', '--region', 'us-east', id, '--event', file);
    expect(replayed.code).toBe(0);
    expect(replayed.stdout).toContain(hot.event_id);
    const copies = await onBus(hot.event_id);
    expect(copies.map((e) => e.readings[0]?.value)).toEqual([88.5]);
    expect(await dlqIds('us-east')).not.toContain(id);

    const again = await dlq('replay', '--region', 'us-east', id, '--event', file);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no DLQ entry/);
    expect(await onBus(hot.event_id)).toHaveLength(1);
  });

  it('replay reads the repaired event from stdin with --event -', async () => {
    const hot = hotEvent();
    const [id = ''] = await reject([hot]);
    const replayed = await shoal(['dlq', 'replay', '--region', 'us-east', id, '--event', '-', '--ops', ops], JSON.stringify({ ...hot, value: -4 }));
    expect(replayed.code).toBe(0);
    expect((await onBus(hot.event_id)).map((e) => e.readings[0]?.value)).toEqual([-4]);
  });

  it('replay of a still-invalid event exits 1 with the reason and keeps the entry', async () => {
    const hot = hotEvent();
    const [id = ''] = await reject([hot]);
    const stored = await dlq('replay', '--region', 'us-east', id);
    expect(stored.code).toBe(1);
    expect(stored.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^shoal: FIELD_INVALID: value must be a finite number/)]);

    const file = join(workDir, 'not-json.json');
    writeFileSync(file, '{"value": ');
    const notJson = await dlq('replay', '--region', 'us-east', id, '--event', file);
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/--event: .* is not valid JSON/);
    expect(await dlqIds('us-east')).toContain(id);
    expect(await onBus(hot.event_id)).toEqual([]);
  });

  it('purge refuses without --yes, then deletes only what the filters match', async () => {
    await reject([hotEvent(), hotEvent()]);
    const late = v1Event(DEVICE.deviceId, DEVICE.region, Date.now() - 30 * 86_400_000, 'humidity', 40);
    const [lateId = ''] = await reject([late]);
    const before = await dlqIds('us-east');

    const refused = await dlq('purge', '--region', 'us-east', '--code', 'FIELD_INVALID');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--yes/);
    expect(await dlqIds('us-east')).toEqual(before);

    const purged = await dlq('purge', '--region', 'us-east', '--code', 'FIELD_INVALID', '--before', new Date(Date.now() + 60_000).toISOString(), '--yes');
    expect(purged.code).toBe(0);
    const left = await dlqIds('us-east');
    expect(purged.stdout).toContain(`deleted ${before.length - left.length} DLQ entries`);
    expect(left).toContain(lateId);
    expect(await dlqCodes('us-east')).not.toContain('FIELD_INVALID');

    const all = await dlq('purge', '--region', 'us-east', '--yes');
    expect(all.code).toBe(0);
    expect(await dlqIds('us-east')).toEqual([]);
  });

  it('says so when the ops API is unreachable or refuses the request', async () => {
    const port = await closedPort();
    const unreachable = await shoal(['dlq', 'list', '--region', 'us-east', '--ops', `http://127.0.0.1:${port}`]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr.trim()).toBe(
      `shoal: cannot reach the ops API at http://127.0.0.1:${port} (ECONNREFUSED); is shoal running there? (set it with --ops URL)`,
    );

    const badRegion = await dlq('list', '--region', 'mars');
    expect(badRegion.code).toBe(1);
    expect(badRegion.stderr.trim()).toMatch(/^shoal: BAD_REQUEST: region: must be one of us-east, eu-west/);

    const noRegion = await dlq('list');
    expect(noRegion.code).toBe(1);
    expect(noRegion.stderr).toMatch(/--region/);
  });
});
