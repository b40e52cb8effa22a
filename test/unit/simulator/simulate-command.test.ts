/**
 * `shoal simulate`'s runner: progress lines every second and a final summary, tokens minted
 * from the data dir's secret (or SHOAL_AUTH_SECRET), so a gateway holding that secret
 * accepts every device.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { loadOrCreateSecret } from '../../../src/contracts/auth-secret.js';
import { defaultEventsPerFrame, runSimulate } from '../../../src/simulator/simulate-command.js';
import { startAckServer, type AckServer } from './ack-server.js';

const REGIONS = ['us-east', 'eu-west'];
let server: AckServer | null = null;
const dirs: string[] = [];

afterEach(async () => {
  await server?.close();
  server = null;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function capture(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  return { out, text: () => Buffer.concat(chunks).toString('utf8') };
}

describe('runSimulate', () => {
  it('mints tokens from the data dir secret, prints progress each second and a summary', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shoal-sim-'));
    dirs.push(dataDir);
    server = await startAckServer({ regions: REGIONS, secret: loadOrCreateSecret(dataDir) });
    const { out, text } = capture();
    const summary = await runSimulate({
      url: server.url,
      devices: 4,
      ratePerSec: 200,
      durationSec: 2.5,
      dataDir,
      regions: REGIONS,
      env: {},
      out,
    });
    expect(summary.sent).toBeGreaterThan(0);
    expect(summary.acked).toBe(summary.sent);
    expect(server.unauthorized).toBe(0);
    const lines = text().split('\n');
    const progress = lines.filter((l) => /^\[\s*\d+s\] sent \d+\/s\s+acked \d+\/s\s+rejected \d+\/s/.test(l));
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.every((l) => /ack p50 [\d.]+ ms p99 [\d.]+ ms/.test(l))).toBe(true);
    expect(text()).toContain('simulation finished: 4 devices');
    expect(text()).toContain(`acked     ${summary.acked} accepted`);
  });

  it('prefers SHOAL_AUTH_SECRET over the data dir', async () => {
    const secret = 'env-secret-0123456789abcdef';
    server = await startAckServer({ regions: REGIONS, secret });
    const { out } = capture();
    const summary = await runSimulate({
      url: server.url,
      devices: 2,
      ratePerSec: 50,
      durationSec: 0.5,
      dataDir: '/nonexistent/never-created',
      regions: REGIONS,
      env: { SHOAL_AUTH_SECRET: secret },
      out,
    });
    expect(summary.acked).toBe(summary.sent);
    expect(server.unauthorized).toBe(0);
  });

  it('stops producing early when its signal aborts, still draining and summarising', async () => {
    server = await startAckServer({ regions: REGIONS, secret: null });
    const { out, text } = capture();
    const ac = new AbortController();
    const started = Date.now();
    const run = runSimulate({ url: server.url, devices: 2, ratePerSec: 100, durationSec: 60, secret: null, regions: REGIONS, signal: ac.signal, out });
    const deadline = Date.now() + 20_000;
    while (server.received.size === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    const summary = await run;
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(summary.sent).toBeGreaterThan(0);
    expect(summary.acked).toBe(summary.sent);
    expect(text()).toContain('simulation finished');
  });

  it('picks at most about four frames per device per second, within the contract limits', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 1, max: 100_000 }), (rate, devices) => {
        const n = defaultEventsPerFrame(rate, devices);
        expect(Number.isInteger(n) && n >= 1 && n <= 500).toBe(true);
        const framesPerDevicePerSec = rate / devices / n;
        if (n < 500) expect(framesPerDevicePerSec).toBeLessThanOrEqual(4);
        if (n > 1) expect(framesPerDevicePerSec).toBeGreaterThan(2);
      }),
    );
  });
});
