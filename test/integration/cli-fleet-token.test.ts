/** `shoal token ID --region R --fleet` as a user runs it (the built bin): one fleet token on stdout. */
import { describe, expect, it } from 'vitest';
import { loadOrCreateSecret } from '../../src/contracts/auth-secret.js';
import { verifyDeviceToken } from '../../src/contracts/device-token.js';
import { runCli, tempDataDir } from '../helpers/shoal-process.js';

const shoal = runCli;

describe('shoal token --fleet', () => {
  it('prints one fleet token bound to the fleet id and region; without --fleet a device token', async () => {
    const dataDir = tempDataDir();
    const fleet = await shoal('token', 'edge-7', '--region', 'eu-west', '--fleet', '--data-dir', dataDir);
    expect(fleet.code).toBe(0);
    expect(fleet.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const secret = loadOrCreateSecret(dataDir);
    expect(await verifyDeviceToken(secret, fleet.stdout.trim())).toEqual({ deviceId: 'edge-7', region: 'eu-west', fleet: true });
    const device = await shoal('token', 'edge-7', '--region', 'eu-west', '--data-dir', dataDir);
    expect(await verifyDeviceToken(secret, device.stdout.trim())).toEqual({ deviceId: 'edge-7', region: 'eu-west' });
  });

  it('refuses an unknown region and a bad fleet id', async () => {
    const dataDir = tempDataDir();
    const region = await shoal('token', 'edge-7', '--region', 'mars', '--fleet', '--data-dir', dataDir);
    expect(region.code).toBe(1);
    expect(region.stdout).toBe('');
    expect(region.stderr).toMatch(/REGION_UNKNOWN.*mars/);
    const id = await shoal('token', 'edge 7', '--region', 'eu-west', '--fleet', '--data-dir', dataDir);
    expect(id.code).toBe(1);
    expect(id.stderr).toMatch(/fleet id/);
  });
});
