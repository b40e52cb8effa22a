/**
 * DeviceFleet against a stand-in gateway (ack-server.ts) that checks tokens and validates
 * frames with the real contract: every event sent is acked, each device uses one socket with
 * its own token, unacked frames are resent after a dropped connection, OVERLOADED events are
 * resent, final rejections are counted by code, and throttles pause the device.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceFleet, type FleetOptions } from '../../../src/simulator/device-fleet.js';
import { startAckServer, type AckServer, type AckServerOptions } from './ack-server.js';

const REGIONS = ['us-east', 'eu-west'];
const SECRET = 'test-secret-0123456789abcdef';

let server: AckServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

async function start(policy?: AckServerOptions['policy'], secret: string | null = SECRET): Promise<AckServer> {
  server = await startAckServer({ regions: REGIONS, secret, ...(policy ? { policy } : {}) });
  return server;
}

function fleetOptions(url: string, overrides: Partial<FleetOptions> = {}): FleetOptions {
  return {
    url,
    devices: 6,
    ratePerSec: 300,
    durationSec: 1.5,
    regions: REGIONS,
    secret: SECRET,
    v2Share: 0.5,
    msgpackShare: 0.5,
    eventsPerFrame: 10,
    seed: 42,
    drainTimeoutSec: 10,
    ...overrides,
  };
}

function totalReceived(s: AckServer): number {
  let n = 0;
  for (const c of s.received.values()) n += c;
  return n;
}

describe('DeviceFleet', () => {
  it('sends about the target rate, every event valid and acked, one socket per device', async () => {
    const s = await start();
    const o = fleetOptions(s.url);
    const summary = await new DeviceFleet(o).run();

    expect(summary.sent).toBeGreaterThan(o.ratePerSec * o.durationSec * 0.8);
    // Random start phases give each device at most one frame of head start.
    expect(summary.sent).toBeLessThanOrEqual(o.ratePerSec * o.durationSec + o.devices * o.eventsPerFrame);
    expect(s.rejectedFrames).toBe(0);
    expect(summary.rejected).toEqual({});
    expect(summary.acked).toBe(summary.sent);
    expect(summary.unacked).toBe(0);
    expect(summary.drained).toBe(true);
    expect(s.received.size).toBe(summary.sent);
    expect(totalReceived(s)).toBe(summary.sent);
    expect(s.connections.size).toBe(o.devices);
    for (const n of s.connections.values()) expect(n).toBe(1);
    expect([...s.connections.keys()].every((id) => /^sim-(us-east|eu-west)-\d{6}$/.test(id))).toBe(true);
    expect(summary.ackLatencyMs.count).toBe(summary.sentFrames);
    expect(summary.ackLatencyMs.p99).toBeGreaterThan(0);
    expect(summary.ackLatencyMs.p50).toBeLessThanOrEqual(summary.ackLatencyMs.p99);
  });

  it('works without tokens when auth is none', async () => {
    const s = await start(undefined, null);
    const summary = await new DeviceFleet(fleetOptions(s.url, { secret: null, devices: 3, ratePerSec: 100, durationSec: 1 })).run();
    expect(summary.sent).toBeGreaterThan(0);
    expect(summary.acked).toBe(summary.sent);
    expect(s.connections.size).toBe(3);
  });

  it('resends unacked frames after the connection drops (at-least-once)', async () => {
    // The first connection of every device dies on its second frame, unanswered.
    const s = await start((f) => (f.connection === 1 && f.frameOnConnection === 2 ? { kind: 'drop' } : { kind: 'ack' }));
    const o = fleetOptions(s.url, { devices: 4, ratePerSec: 200, durationSec: 1.5 });
    const summary = await new DeviceFleet(o).run();

    expect(summary.disconnects).toBeGreaterThanOrEqual(o.devices);
    expect(summary.connects).toBeGreaterThanOrEqual(2 * o.devices);
    expect(summary.resentFrames).toBeGreaterThanOrEqual(o.devices);
    expect(summary.acked).toBe(summary.sent);
    expect(summary.unacked).toBe(0);
    expect(s.received.size).toBe(summary.sent);
  });

  it('resends events rejected as OVERLOADED and counts them apart from final rejections', async () => {
    const s = await start((f) => (f.connection === 1 && f.frameOnConnection === 1 ? { kind: 'overloaded' } : { kind: 'ack' }));
    const o = fleetOptions(s.url, { devices: 3, ratePerSec: 150, durationSec: 1.5 });
    const summary = await new DeviceFleet(o).run();

    expect(summary.overloaded).toBeGreaterThanOrEqual(o.devices);
    expect(summary.resent).toBeGreaterThanOrEqual(summary.overloaded);
    expect(summary.rejected).toEqual({});
    expect(summary.acked).toBe(summary.sent);
    expect(s.received.size).toBe(summary.sent);
  });

  it('counts final rejections by code and does not resend them', async () => {
    const s = await start(() => ({ kind: 'reject-first', code: 'FIELD_INVALID' }));
    const summary = await new DeviceFleet(fleetOptions(s.url, { devices: 2, ratePerSec: 100, durationSec: 1 })).run();

    expect(summary.rejected).toEqual({ FIELD_INVALID: summary.sentFrames });
    expect(summary.acked).toBe(summary.sent - summary.sentFrames);
    expect(summary.resent).toBe(0);
    expect(summary.unacked).toBe(0);
  });

  it('honours a throttle: the device goes quiet for retry_after_ms', async () => {
    const retryAfterMs = 1000;
    const s = await start((f) =>
      f.connection === 1 && f.frameOnConnection === 2 ? { kind: 'throttle', sampleRate: 1, retryAfterMs } : { kind: 'ack' },
    );
    // 40 events/s in frames of 2: normally a frame every 50 ms.
    const o = fleetOptions(s.url, { devices: 1, ratePerSec: 40, durationSec: 2.5, eventsPerFrame: 2 });
    const summary = await new DeviceFleet(o).run();

    expect(summary.throttles).toBe(1);
    const [deviceId, throttledAt] = [...s.throttledAt.entries()][0] ?? ['', 0];
    const times = s.frameTimes.get(deviceId) ?? [];
    const firstAfter = times.findIndex((t) => t > throttledAt);
    expect(firstAfter).toBeGreaterThan(0);
    // From the frame that drew the throttle on, the longest silence is the pause.
    const after = times.slice(firstAfter - 1);
    const longestGap = Math.max(...after.slice(1).map((t, i) => t - (after[i] ?? t)));
    expect(longestGap).toBeGreaterThanOrEqual(retryAfterMs - 200);
    expect(summary.acked).toBe(summary.sent);
  });

  it('honours a throttle: sample_rate scales the device down', async () => {
    const s = await start((f) =>
      f.connection === 1 && f.frameOnConnection === 1 ? { kind: 'throttle', sampleRate: 0.25, retryAfterMs: 0 } : { kind: 'ack' },
    );
    const o = fleetOptions(s.url, { devices: 1, ratePerSec: 200, durationSec: 2, eventsPerFrame: 5 });
    const summary = await new DeviceFleet(o).run();
    expect(summary.throttles).toBe(1);
    // A quarter of the rate after the first frame, well under half of the unthrottled total.
    expect(summary.sent).toBeLessThan(0.5 * o.ratePerSec * o.durationSec);
    expect(summary.sent).toBeGreaterThan(0.1 * o.ratePerSec * o.durationSec);
    expect(summary.acked).toBe(summary.sent);
  });

  it('reports a refused token instead of hanging', async () => {
    const s = await start();
    const summary = await new DeviceFleet(
      fleetOptions(s.url, { secret: 'another-secret-0123456789', devices: 2, ratePerSec: 50, durationSec: 0.5 }),
    ).run();
    expect(summary.acked).toBe(0);
    expect(summary.connectErrors).toBeGreaterThan(0);
    expect(summary.lastError).toMatch(/401/);
    expect(s.unauthorized).toBeGreaterThan(0);
  });

  it('rejects invalid options naming each one', () => {
    expect(() => new DeviceFleet(fleetOptions('http://x', { devices: 0, v2Share: 2, eventsPerFrame: 5000 }))).toThrow(
      /url[\s\S]*devices[\s\S]*eventsPerFrame[\s\S]*v2Share/,
    );
  });
});
