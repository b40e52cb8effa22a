/**
 * `shoal token ID --region R [--fleet]`: print a token, and nothing else, on stdout. Without
 * `--fleet` ID is a device id and the token binds that one device; with it ID names a fleet
 * (an edge gateway, an aggregator, a load generator) whose one connection may send events of
 * any device of region R.
 */
import { loadConfig } from '../config.js';
import { loadOrCreateSecret } from '../contracts/auth-secret.js';
import { issueDeviceToken, issueFleetToken } from '../contracts/device-token.js';
import { ContractError, RejectCode } from '../errors.js';

const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export interface TokenFlags {
  region: string;
  fleet?: boolean;
  config?: string;
  dataDir?: string;
}

export async function runToken(id: string, flags: TokenFlags): Promise<void> {
  const config = loadConfig({ file: flags.config, overrides: { dataDir: flags.dataDir } });
  const fleet = flags.fleet === true;
  if (!ID_PATTERN.test(id))
    throw new ContractError(RejectCode.FIELD_INVALID, `${fleet ? 'fleet id' : 'device_id'} must be 1–128 characters of A-Za-z0-9._:-`);
  if (!config.regions.includes(flags.region))
    throw new ContractError(RejectCode.REGION_UNKNOWN, `region ${flags.region} is not one of ${config.regions.join(', ')}`);
  const secret = config.auth.secret ?? loadOrCreateSecret(config.dataDir);
  const token = fleet ? await issueFleetToken(secret, id, flags.region) : await issueDeviceToken(secret, id, flags.region);
  process.stdout.write(`${token}\n`);
}
