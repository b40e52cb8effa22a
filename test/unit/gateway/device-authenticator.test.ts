/**
 * DeviceAuthenticator: where the token is taken from, what a good one yields, and that every
 * missing or bad token is UNAUTHORIZED.
 */
import { describe, expect, it } from 'vitest';
import { issueDeviceToken } from '../../../src/contracts/device-token.js';
import { ConfigError, ContractError } from '../../../src/errors.js';
import { DeviceAuthenticator } from '../../../src/gateway/device-authenticator.js';

const SECRET = 'unit-secret-abcdefghijklmnop';

describe('DeviceAuthenticator', () => {
  it('takes the bearer token from the Authorization header before ?token=', () => {
    expect(DeviceAuthenticator.tokenFrom('Bearer abc.def.ghi', 'other')).toBe('abc.def.ghi');
    expect(DeviceAuthenticator.tokenFrom('bearer   abc ', '')).toBe('abc');
    expect(DeviceAuthenticator.tokenFrom('', 'from-query')).toBe('from-query');
    expect(DeviceAuthenticator.tokenFrom('Basic dXNlcjpw', '')).toBeNull();
    expect(DeviceAuthenticator.tokenFrom('', '')).toBeNull();
  });

  it('yields the device a good token names', async () => {
    const auth = new DeviceAuthenticator('token', SECRET);
    const t = await issueDeviceToken(SECRET, 'meter-42', 'eu-west');
    expect(await auth.authenticate(t)).toEqual({ deviceId: 'meter-42', region: 'eu-west' });
  });

  it('rejects a missing, forged or foreign token as UNAUTHORIZED', async () => {
    const auth = new DeviceAuthenticator('token', SECRET);
    const foreign = await issueDeviceToken('another-secret-0123456789', 'meter-42', 'eu-west');
    for (const t of [null, 'garbage', foreign]) {
      const err = await auth.authenticate(t).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ContractError);
      expect((err as ContractError).code).toBe('UNAUTHORIZED');
    }
  });

  it('treats everyone as anonymous with auth none, and needs a secret with auth token', async () => {
    expect(await new DeviceAuthenticator('none', null).authenticate('whatever')).toBeNull();
    expect(() => new DeviceAuthenticator('token', null)).toThrow(ConfigError);
  });
});
