/**
 * Correlated, pseudonymised logs, end to end with the built CLI: one frame's cid is on the
 * gateway's line and on the shard's apply and flush lines, and the device appears in the
 * logs only as its pseudonym, unless `log.deviceIds: plain` asks for the ids themselves.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { loadOrCreateSecret } from '../../src/contracts/auth-secret.js';
import { issueDeviceToken } from '../../src/contracts/device-token.js';
import { DevicePseudonymizer } from '../../src/logging.js';
import { DeviceClient } from '../helpers/device-client.js';
import { v1Event } from '../helpers/events.js';
import { startShoal, waitFor, type ShoalProcess } from '../helpers/shoal-process.js';

type Line = Record<string, unknown>;

function lines(shoal: ShoalProcess): Line[] {
  return shoal
    .logs()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
}

/** Start Shoal at debug level, send one frame of two events from `deviceId`; returns the process. */
async function sendOneFrame(deviceId: string, config: Record<string, unknown>): Promise<ShoalProcess> {
  const shoal = await startShoal({ shards: 1, config: { partitions: 2, flush: { intervalMs: 200 }, ...config }, env: { SHOAL_LOG_LEVEL: 'debug' } });
  const token = await issueDeviceToken(loadOrCreateSecret(shoal.dataDir), deviceId, 'us-east');
  const client = await DeviceClient.connect(shoal.ingestUrl, token);
  const now = Date.now();
  const ack = await client.sendOrFail([v1Event(deviceId, 'us-east', now, 'temperature', 21.5), v1Event(deviceId, 'us-east', now + 1, 'temperature', 22)]);
  expect(ack.accepted).toBe(2);
  await client.close();
  return shoal;
}

/** Wait until the frame's cid is on the gateway line and on the shard's apply and commit lines. */
async function followFrame(shoal: ShoalProcess): Promise<{ frame: Line; applied: Line; flushed: Line }> {
  return waitFor('the frame to be followed through the logs', () => {
    const all = lines(shoal);
    const frame = all.find((l) => l['msg'] === 'frame handled');
    const cid = frame?.['cid'];
    if (!frame || typeof cid !== 'string') return Promise.resolve(undefined);
    const applied = all.find((l) => l['msg'] === 'events applied' && l['cid'] === cid);
    const flushed = all.find((l) => l['msg'] === 'flush committed' && Array.isArray(l['cids']) && (l['cids'] as unknown[]).includes(cid));
    return Promise.resolve(applied && flushed ? { frame, applied, flushed } : undefined);
  });
}

let shoal: ShoalProcess | null = null;
afterEach(async () => {
  await shoal?.cleanup();
  shoal = null;
});

describe('correlated logs', () => {
  it('follows one frame from the gateway through the shard by its cid, naming the device only by its pseudonym', async () => {
    const deviceId = `logdev-${randomUUID()}`;
    shoal = await sendOneFrame(deviceId, {});
    const { frame, applied, flushed } = await followFrame(shoal);
    const pseudonym = new DevicePseudonymizer(loadOrCreateSecret(shoal.dataDir)).pseudonym(deviceId);
    expect(frame).toMatchObject({ device: pseudonym, accepted: 2, rejected: 0 });
    expect(applied).toMatchObject({ device: pseudonym, region: 'us-east', events: 2 });
    expect(typeof flushed['from']).toBe('string');
    expect(typeof flushed['to']).toBe('string');
    expect(shoal.logs()).not.toContain(deviceId);
    expect(shoal.logs()).toContain(pseudonym);
  }, 90_000);

  it('names devices by their ids with log.deviceIds: plain', async () => {
    const deviceId = `logdev-${randomUUID()}`;
    shoal = await sendOneFrame(deviceId, { log: { deviceIds: 'plain' } });
    const { frame, applied } = await followFrame(shoal);
    expect(frame['device']).toBe(deviceId);
    expect(applied['device']).toBe(deviceId);
  }, 90_000);
});
