import { SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { issueDeviceToken, verifyDeviceToken } from '../../../src/contracts/device-token.js';
import { ContractError, RejectCode } from '../../../src/errors.js';

const SECRET = 'kJ3n_0Qm8vV2xLr9TtY6bW4pZs1aHc7e';

async function unauthorized(secret: string, token: string): Promise<ContractError> {
  const err = await verifyDeviceToken(secret, token).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ContractError);
  const contractError = err as ContractError;
  expect(contractError.code).toBe(RejectCode.UNAUTHORIZED);
  expect(contractError.message).not.toContain(secret === '' ? SECRET : secret);
  return contractError;
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('device tokens', () => {
  it('round-trips the device id and region', async () => {
    const token = await issueDeviceToken(SECRET, 'thermo-0042', 'eu-west');
    await expect(verifyDeviceToken(SECRET, token)).resolves.toEqual({ deviceId: 'thermo-0042', region: 'eu-west' });
  });

  it('does not expire unless asked to, and honours an expiry when asked', async () => {
    const forever = await issueDeviceToken(SECRET, 'thermo-0042', 'us-east');
    const payload = JSON.parse(Buffer.from(forever.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
    expect(payload['exp']).toBeUndefined();
    expect(typeof payload['iat']).toBe('number');
    const longLived = await issueDeviceToken(SECRET, 'thermo-0042', 'us-east', '30d');
    await expect(verifyDeviceToken(SECRET, longLived)).resolves.toEqual({ deviceId: 'thermo-0042', region: 'us-east' });
    const expired = await issueDeviceToken(SECRET, 'thermo-0042', 'us-east', -60);
    expect((await unauthorized(SECRET, expired)).message).toContain('expired');
  });

  it('rejects a token signed with another secret', async () => {
    const token = await issueDeviceToken('another-secret-of-enough-length', 'thermo-0042', 'us-east');
    expect((await unauthorized(SECRET, token)).message).toContain('signature');
  });

  it('rejects a tampered token that claims another region or device', async () => {
    const [header, , signature] = (await issueDeviceToken(SECRET, 'thermo-0042', 'us-east')).split('.');
    const iat = Math.floor(Date.now() / 1000);
    for (const claims of [{ sub: 'thermo-0042', region: 'eu-west', iat }, { sub: 'thermo-0001', region: 'us-east', iat }]) {
      await unauthorized(SECRET, `${header}.${base64url(claims)}.${signature}`);
    }
  });

  it('rejects unsigned tokens, other algorithms and garbage', async () => {
    const key = new TextEncoder().encode(SECRET);
    const unsigned = new UnsecuredJWT({ region: 'us-east' }).setSubject('thermo-0042').encode();
    const hs512 = await new SignJWT({ region: 'us-east' }).setProtectedHeader({ alg: 'HS512' }).setSubject('thermo-0042').sign(key);
    for (const token of [unsigned, hs512, '', 'not.a.token', 'Bearer abc']) await unauthorized(SECRET, token);
  });

  it('rejects a correctly signed token without a device id or region', async () => {
    const key = new TextEncoder().encode(SECRET);
    const noRegion = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('thermo-0042').sign(key);
    const noSubject = await new SignJWT({ region: 'us-east' }).setProtectedHeader({ alg: 'HS256' }).sign(key);
    const badSubject = await new SignJWT({ region: 'us-east' }).setProtectedHeader({ alg: 'HS256' }).setSubject('thermo 42').sign(key);
    expect((await unauthorized(SECRET, noRegion)).message).toContain('region');
    expect((await unauthorized(SECRET, noSubject)).message).toContain('sub');
    await unauthorized(SECRET, badSubject);
  });

  it('rejects every token when no secret is configured', async () => {
    const token = await issueDeviceToken(SECRET, 'thermo-0042', 'us-east');
    await unauthorized('', token);
  });

  it('refuses to issue a token for an id or region devices could not use', async () => {
    await expect(issueDeviceToken(SECRET, 'thermo 42', 'us-east')).rejects.toMatchObject({ code: RejectCode.FIELD_INVALID });
    await expect(issueDeviceToken(SECRET, 'thermo-42', '')).rejects.toMatchObject({ code: RejectCode.FIELD_INVALID });
  });
});
