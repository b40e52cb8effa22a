/**
 * The `shoal` CLI as a user runs it (the built bin): `token` prints only the token, and bad
 * input or config fails with a clear message and exit code 1.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOrCreateSecret } from '../../src/contracts/auth-secret.js';
import { verifyDeviceToken } from '../../src/contracts/device-token.js';
import { runCli, tempDataDir } from '../helpers/shoal-process.js';

const shoal = runCli;

describe('shoal CLI', () => {
  it('token prints one token, and nothing else, bound to the device and region', async () => {
    const dataDir = tempDataDir();
    const { code, stdout } = await shoal('token', 'pump-7', '--region', 'eu-west', '--data-dir', dataDir);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const identity = await verifyDeviceToken(loadOrCreateSecret(dataDir), stdout.trim());
    expect(identity).toEqual({ deviceId: 'pump-7', region: 'eu-west' });
  });

  it('token refuses an unknown region and a bad device id', async () => {
    const dataDir = tempDataDir();
    const region = await shoal('token', 'pump-7', '--region', 'mars', '--data-dir', dataDir);
    expect(region.code).toBe(1);
    expect(region.stdout).toBe('');
    expect(region.stderr).toMatch(/REGION_UNKNOWN.*mars/);
    const device = await shoal('token', 'bad id!', '--region', 'us-east', '--data-dir', dataDir);
    expect(device.code).toBe(1);
    expect(device.stderr).toMatch(/device_id/);
  });

  it('start names every wrong config key and exits 1 without starting anything', async () => {
    const dataDir = tempDataDir();
    const file = join(dataDir, 'bad.yaml');
    writeFileSync(file, 'partitions: 0\ningest:\n  prot: 1\nredis:\n  appendfsync: sometimes\n');
    const { code, stderr } = await shoal('start', '--config', file, '--data-dir', dataDir);
    expect(code).toBe(1);
    expect(stderr).toMatch(/partitions:/);
    expect(stderr).toMatch(/ingest\.prot: unknown key/);
    expect(stderr).toMatch(/redis\.appendfsync:/);
  });

  it('start refuses a bad flag value with a message naming it', async () => {
    const { code, stderr } = await shoal('start', '--shards', 'zero');
    expect(code).toBe(1);
    expect(stderr).toMatch(/--shards/);
  });
});
