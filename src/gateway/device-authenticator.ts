/**
 * Who is sending: the device token from `Authorization: Bearer <t>` or `?token=<t>`,
 * verified against the deployment's secret. With auth mode `none` every caller is anonymous
 * (identity null) and the events' own device_id and region are trusted.
 */
import { verifyDeviceToken } from '../contracts/device-token.js';
import type { DeviceIdentity } from '../contracts/frame.js';
import { ConfigError, ContractError, RejectCode } from '../errors.js';

export class DeviceAuthenticator {
  constructor(
    private readonly mode: 'token' | 'none',
    private readonly secret: string | null,
  ) {
    if (mode === 'token' && !secret) throw new ConfigError(['auth.secret: required when auth.mode is token']);
  }

  /** The presented token: the Authorization header wins over the query parameter. */
  static tokenFrom(authorization: string, queryToken: string): string | null {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (bearer?.[1]) return bearer[1];
    return queryToken === '' ? null : queryToken;
  }

  /** The device the token names; null in auth mode `none`. Throws ContractError UNAUTHORIZED. */
  authenticate(token: string | null): Promise<DeviceIdentity | null> {
    if (this.mode === 'none') return Promise.resolve(null);
    if (token === null)
      return Promise.reject(new ContractError(RejectCode.UNAUTHORIZED, 'a device token is required (Authorization: Bearer <token> or ?token=)'));
    return verifyDeviceToken(this.secret ?? '', token);
  }
}
