/** `shoal token DEVICE_ID --region R`: print a device token, and nothing else, on stdout. */
import { loadConfig } from '../config.js';
import { loadOrCreateSecret } from '../contracts/auth-secret.js';
import { issueDeviceToken } from '../contracts/device-token.js';
import { ContractError, RejectCode } from '../errors.js';

const DEVICE_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export interface TokenFlags {
  region: string;
  config?: string;
  dataDir?: string;
}

export async function runToken(deviceId: string, flags: TokenFlags): Promise<void> {
  const config = loadConfig({ file: flags.config, overrides: { dataDir: flags.dataDir } });
  if (!DEVICE_ID_PATTERN.test(deviceId))
    throw new ContractError(RejectCode.FIELD_INVALID, 'device_id must be 1–128 characters of A-Za-z0-9._:-');
  if (!config.regions.includes(flags.region))
    throw new ContractError(RejectCode.REGION_UNKNOWN, `region ${flags.region} is not one of ${config.regions.join(', ')}`);
  const secret = config.auth.secret ?? loadOrCreateSecret(config.dataDir);
  process.stdout.write(`${await issueDeviceToken(secret, deviceId, flags.region)}\n`);
}
