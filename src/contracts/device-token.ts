/**
 * Device tokens (DESIGN §3, Authentication): an HS256 JWT whose `sub` is the device id and
 * whose `region` claim is the device's region, signed with the deployment's secret
 * (SHOAL_AUTH_SECRET or the generated one in the data dir, see auth-secret.ts).
 * No expiry unless asked for. Verification failures are ContractError UNAUTHORIZED with a
 * message that says what was wrong with the token, never anything about the secret.
 *
 * Fleet tokens: the same JWT with `sub` = a fleet id (an edge gateway, an aggregator, a load
 * generator) and the claim `scope: "fleet"`. One connection holding one may carry events of
 * any device, but only of the token's region (see event-validator.ts). A token without a
 * `scope` claim is a device token; any other `scope` value is refused.
 */
import { webcrypto } from 'node:crypto';
import { SignJWT, errors, jwtVerify, type JWTPayload } from 'jose';
import { ContractError, RejectCode } from '../errors.js';
import { DEVICE_ID_RULE, LABEL_RULE, isDeviceId, isLabel } from './limits.js';
import type { DeviceIdentity } from './types.js';

const ALG = 'HS256';
/** The `scope` claim's value in a fleet token; device tokens carry no `scope`. */
export const FLEET_SCOPE = 'fleet';

/** The last secret's imported key: importing costs more than verifying a token. */
let cachedKey: { secret: string; key: Promise<webcrypto.CryptoKey> } | null = null;

function hmacKey(secret: string): Promise<webcrypto.CryptoKey> {
  if (cachedKey?.secret !== secret) {
    const bytes = new TextEncoder().encode(secret);
    cachedKey = { secret, key: webcrypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']) };
  }
  return cachedKey.key;
}

/** An HS256 JWT for `subject` with `claims`, issued now; `expiresIn` as for issueDeviceToken. */
async function signToken(secret: string, subject: string, claims: JWTPayload, expiresIn: number | string | undefined): Promise<string> {
  const iat = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: ALG, typ: 'JWT' }).setSubject(subject).setIssuedAt(iat);
  if (expiresIn !== undefined) jwt.setExpirationTime(typeof expiresIn === 'number' ? iat + expiresIn : expiresIn);
  return jwt.sign(await hmacKey(secret));
}

/**
 * Issue a token for a device. `expiresIn`: seconds from now, or a span jose understands
 * ('30d', '12h'); omitted = never expires.
 */
export async function issueDeviceToken(secret: string, deviceId: string, region: string, expiresIn?: number | string): Promise<string> {
  if (!isDeviceId(deviceId)) throw new ContractError(RejectCode.FIELD_INVALID, `device_id must be ${DEVICE_ID_RULE}`);
  if (!isLabel(region)) throw new ContractError(RejectCode.FIELD_INVALID, `region must be ${LABEL_RULE}`);
  if (secret.length === 0) throw new ContractError(RejectCode.UNAUTHORIZED, 'cannot issue a device token without a secret');
  return signToken(secret, deviceId, { region }, expiresIn);
}

/**
 * Issue a fleet token: one connection may send events of any device of `region`. The fleet
 * id follows the device id rules. `expiresIn` as for issueDeviceToken.
 */
export async function issueFleetToken(secret: string, fleetId: string, region: string, expiresIn?: number | string): Promise<string> {
  if (!isDeviceId(fleetId)) throw new ContractError(RejectCode.FIELD_INVALID, `fleet id must be ${DEVICE_ID_RULE}`);
  if (!isLabel(region)) throw new ContractError(RejectCode.FIELD_INVALID, `region must be ${LABEL_RULE}`);
  if (secret.length === 0) throw new ContractError(RejectCode.UNAUTHORIZED, 'cannot issue a fleet token without a secret');
  return signToken(secret, fleetId, { region, scope: FLEET_SCOPE }, expiresIn);
}

function failureReason(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'the device token has expired';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'the device token signature does not verify';
  if (err instanceof errors.JOSEAlgNotAllowed) return `the device token must be signed with ${ALG}`;
  if (err instanceof errors.JWTClaimValidationFailed) return `the device token's "${err.claim}" claim is invalid`;
  return 'the device token is malformed';
}

function unauthorized(message: string, cause?: unknown): ContractError {
  return new ContractError(RejectCode.UNAUTHORIZED, message, cause === undefined ? {} : { cause });
}

/**
 * The identity a token binds; ContractError UNAUTHORIZED for any bad, forged or expired token.
 * A fleet token gives `{ deviceId: <fleet id>, region, fleet: true }`; a device token has no
 * `fleet` field at all.
 */
export async function verifyDeviceToken(secret: string, token: string): Promise<DeviceIdentity> {
  if (secret.length === 0) throw unauthorized('device tokens cannot be verified: no secret is configured');
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, await hmacKey(secret), { algorithms: [ALG] }));
  } catch (err) {
    throw unauthorized(failureReason(err), err);
  }
  const deviceId = payload.sub;
  const region = payload['region'];
  if (!isDeviceId(deviceId)) throw unauthorized('the device token has no valid "sub" (device id) claim');
  if (!isLabel(region)) throw unauthorized('the device token has no valid "region" claim');
  const scope = payload['scope'];
  if (scope === undefined) return { deviceId, region };
  if (scope === FLEET_SCOPE) return { deviceId, region, fleet: true };
  throw unauthorized(`the device token's "scope" claim must be absent or "${FLEET_SCOPE}"`);
}
