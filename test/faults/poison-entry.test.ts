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
import { v1Event } from '../helpers/events.js';
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

    const from = new Date(now - 3_600_000).toISOString();
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
});
