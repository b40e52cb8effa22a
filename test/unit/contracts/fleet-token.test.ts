/**
 * Fleet tokens (`scope: "fleet"`): issued and verified like device tokens, marked `fleet` on
 * the identity, and never obtainable without the secret (a device token or a forged claim
 * never verifies as a fleet).
 */
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { FLEET_SCOPE, issueDeviceToken, issueFleetToken, verifyDeviceToken } from '../../../src/contracts/device-token.js';
import { ContractError, RejectCode } from '../../../src/errors.js';

const SECRET = 'fleet-secret_9Lq2Wz7Xv4Bn1Mk8Rt5Yp3';

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

async function refused(token: string, secret = SECRET): Promise<ContractError> {
  const err = await verifyDeviceToken(secret, token).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ContractError);
  expect((err as ContractError).code).toBe(RejectCode.UNAUTHORIZED);
  return err as ContractError;
}

describe('fleet tokens', () => {
  it('carry sub = fleet id, region and scope "fleet", and verify as a fleet identity', async () => {
    const token = await issueFleetToken(SECRET, 'edge-7', 'eu-west');
    expect(FLEET_SCOPE).toBe('fleet');
    expect(claimsOf(token)).toMatchObject({ sub: 'edge-7', region: 'eu-west', scope: 'fleet' });
    expect(claimsOf(token)['exp']).toBeUndefined();
    await expect(verifyDeviceToken(SECRET, token)).resolves.toEqual({ deviceId: 'edge-7', region: 'eu-west', fleet: true });
  });

  it('honour an expiry when asked to', async () => {
    const dayLong = await issueFleetToken(SECRET, 'edge-7', 'us-east', '1d');
    expect(typeof claimsOf(dayLong)['exp']).toBe('number');
    await expect(verifyDeviceToken(SECRET, dayLong)).resolves.toMatchObject({ fleet: true });
    const expired = await issueFleetToken(SECRET, 'edge-7', 'us-east', -60);
    expect((await refused(expired)).message).toContain('expired');
  });

  it('a device token never verifies as a fleet: no scope claim, no fleet field', async () => {
    const token = await issueDeviceToken(SECRET, 'edge-7', 'eu-west');
    expect(claimsOf(token)['scope']).toBeUndefined();
    const identity = await verifyDeviceToken(SECRET, token);
    expect(identity).toEqual({ deviceId: 'edge-7', region: 'eu-west' });
    expect('fleet' in identity).toBe(false);
  });

  it('a device token with scope "fleet" added without the secret fails', async () => {
    const [header, payload, signature] = (await issueDeviceToken(SECRET, 'thermo-0042', 'eu-west')).split('.');
    const forged = { ...JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()), scope: 'fleet' } as Record<string, unknown>;
    expect((await refused(`${header}.${base64url(forged)}.${signature}`)).message).toContain('signature');
  });

  it('a fleet token signed with another secret fails', async () => {
    const token = await issueFleetToken('some-other-secret-of-enough-length', 'edge-7', 'eu-west');
    expect((await refused(token)).message).toContain('signature');
    expect((await refused(token)).message).not.toContain(SECRET);
  });

  it('refuses a correctly signed token whose scope is anything but "fleet"', async () => {
    const key = new TextEncoder().encode(SECRET);
    for (const scope of ['device', 'FLEET', 'admin', true, 1, ['fleet'], null]) {
      const token = await new SignJWT({ region: 'eu-west', scope }).setProtectedHeader({ alg: 'HS256' }).setSubject('edge-7').sign(key);
      expect((await refused(token)).message).toContain('scope');
    }
  });

  it('still needs a valid sub and region', async () => {
    const key = new TextEncoder().encode(SECRET);
    const noRegion = await new SignJWT({ scope: 'fleet' }).setProtectedHeader({ alg: 'HS256' }).setSubject('edge-7').sign(key);
    const noSubject = await new SignJWT({ scope: 'fleet', region: 'eu-west' }).setProtectedHeader({ alg: 'HS256' }).sign(key);
    expect((await refused(noRegion)).message).toContain('region');
    expect((await refused(noSubject)).message).toContain('sub');
  });

  it('refuses to issue for a bad fleet id or region, or without a secret', async () => {
    await expect(issueFleetToken(SECRET, 'edge 7', 'eu-west')).rejects.toMatchObject({ code: RejectCode.FIELD_INVALID });
    await expect(issueFleetToken(SECRET, 'edge-7', '')).rejects.toMatchObject({ code: RejectCode.FIELD_INVALID });
    await expect(issueFleetToken('', 'edge-7', 'eu-west')).rejects.toMatchObject({ code: RejectCode.UNAUTHORIZED });
  });
});
