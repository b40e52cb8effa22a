/**
 * Poison input on the bus (invariant 3): an entry nobody can decode is moved to its region's
 * DLQ with its raw payload while other devices' data keeps flowing; `shoal dlq replay` with a
 * repaired event lands that event exactly once, and a second replay finds nothing to replay.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateSecret } from '../../src/contracts/auth-secret.js';
import { issueDeviceToken } from '../../src/contracts/device-token.js';
import { Keys } from '../../src/runtime/keys.js';
import { partitionOf } from '../../src/runtime/partitioning.js';
import { DeviceClient } from '../helpers/device-client.js';
import { hourStart, v1Event } from '../helpers/events.js';
import { CLI, getJson, startShoal, waitFor, type ShoalProcess } from '../helpers/shoal-process.js';

const run = promisify(execFile);
let shoal: ShoalProcess | undefined;

describe('poison bus entry', () => {
  afterAll(async () => {
    await shoal?.cleanup();
  });

  it('goes to the DLQ without stalling others, and a repaired replay lands once', async () => {
    shoal = await startShoal({ shards: 2, config: { partitions: 2, flush: { intervalMs: 150 } } });
    const s = shoal;
    const { port } = JSON.parse((await import('node:fs')).readFileSync(join(s.dataDir, 'redis', 'shoal-redis.json'), 'utf8')) as { port: number };
    const redis = new Redis(port, '127.0.0.1');
    const secret = loadOrCreateSecret(s.dataDir);
    const now = Date.now();
    const good = 'poison-neighbour';
    const client = await DeviceClient.connect(s.ingestUrl, await issueDeviceToken(secret, good, 'us-east'));
    const partition = partitionOf(good, 2);
    // A corrupted entry in the same partition as a healthy device, between its frames.
    expect((await client.send([v1Event(good, 'us-east', now - 2000, 'temperature', 1)])).accepted).toBe(1);
    await redis.xadd(new Keys().partition('us-east', partition).stream, '*', 'd', Buffer.from([0xc1, 0xff, 0x00, 0x13]));
    expect((await client.send([v1Event(good, 'us-east', now - 1000, 'temperature', 2)])).accepted).toBe(1);

    const from = new Date(hourStart(now - 3_600_000)).toISOString();
    const to = new Date(now + 60_000).toISOString();
    const eventsOf = async (device: string): Promise<{ event_id: string }[]> =>
      (await getJson<{ rows: { event_id: string }[] }>(`${s.opsUrl}/api/v1/devices/${device}/events?from=${from}&to=${to}`)).rows;
    await waitFor('the healthy device flows past the poison entry', async () => ((await eventsOf(good)).length === 2 ? true : undefined));

    const dlq = await waitFor('the poison entry in the DLQ', async () => {
      const b = await getJson<{ entries: { id: string; code: string }[] }>(`${s.opsUrl}/api/v1/dlq?region=us-east&code=ENTRY_UNDECODABLE`);
      return b.entries[0];
    });
    expect(dlq.code).toBe('ENTRY_UNDECODABLE');

    // The operator repairs the event and replays it with the CLI.
    const repaired = v1Event('poison-victim', 'us-east', now - 500, 'temperature', 42);
    const file = join(s.dataDir, 'repaired.json');
    writeFileSync(file, JSON.stringify(repaired));
    const replay = await run(process.execPath, [CLI, 'dlq', 'replay', '--ops', s.opsUrl, '--region', 'us-east', dlq.id, '--event', file]);
    expect(replay.stdout).toContain(repaired.event_id);
    await waitFor('the replayed event visible', async () => ((await eventsOf('poison-victim')).length === 1 ? true : undefined));
    const again = await run(process.execPath, [CLI, 'dlq', 'replay', '--ops', s.opsUrl, '--region', 'us-east', dlq.id, '--event', file]).catch((e: { code: number; stderr: string }) => e);
    expect((again as { code: number }).code).toBe(1);
    await new Promise((r) => setTimeout(r, 500));
    expect(await eventsOf('poison-victim')).toHaveLength(1);
    const rollups = await getJson<{ rows: { count: number; sum: number }[] }>(
      `${s.opsUrl}/api/v1/devices/poison-victim/rollups?sensor=temperature&from=${from}&to=${to}&step=1h`,
    );
    expect(rollups.rows).toEqual([expect.objectContaining({ count: 1, sum: 42 })]);
    redis.disconnect();
    await client.close();
    expect(await s.stop()).toBe(0);
  }, 120_000);

  it('moves a device whose events keep failing in the actors to the DLQ after 3 attempts', async () => {
    await shoal?.cleanup();
    shoal = await startShoal({
      shards: 1,
      config: { partitions: 1, flush: { intervalMs: 150 } },
      env: { SHOAL_FAULT_ACTOR_THROW_DEVICE: 'actor-poison' },
    });
    const s = shoal;
    const secret = loadOrCreateSecret(s.dataDir);
    const now = Date.now();
    const bad = await DeviceClient.connect(s.ingestUrl, await issueDeviceToken(secret, 'actor-poison', 'eu-west'));
    const good = await DeviceClient.connect(s.ingestUrl, await issueDeviceToken(secret, 'actor-healthy', 'eu-west'));
    // Sent together, so the gateway likely coalesces both devices into one bus entry.
    const acks = await Promise.all([
      bad.send([v1Event('actor-poison', 'eu-west', now - 1000, 'temperature', 5)]),
      good.send(Array.from({ length: 5 }, (_, i) => v1Event('actor-healthy', 'eu-west', now - i * 1000, 'temperature', i))),
    ]);
    expect(acks.map((a) => a.accepted)).toEqual([1, 5]);
    const from = new Date(hourStart(now - 3_600_000)).toISOString();
    const to = new Date(now + 60_000).toISOString();
    await waitFor('the healthy device flows', async () => {
      const b = await getJson<{ rows: unknown[] }>(`${s.opsUrl}/api/v1/devices/actor-healthy/events?from=${from}&to=${to}`);
      return b.rows.length === 5 ? true : undefined;
    });
    const entry = await waitFor('the failing device in the DLQ', async () => {
      const b = await getJson<{ entries: { code: string; device_id: string; message: string }[] }>(`${s.opsUrl}/api/v1/dlq?region=eu-west&code=ACTOR_FAILED`);
      return b.entries[0];
    });
    expect(entry.device_id).toBe('actor-poison');
    expect(entry.message).toMatch(/failed 3 times/);
    expect(s.logs().match(/applying a bus entry failed; will retry/g)?.length).toBe(2);
    const poisoned = await getJson<{ rows: unknown[] }>(`${s.opsUrl}/api/v1/devices/actor-poison/events?from=${from}&to=${to}`);
    expect(poisoned.rows).toHaveLength(0);
    await Promise.all([bad.close(), good.close()]);
    expect(await s.stop()).toBe(0);
  }, 120_000);
});
