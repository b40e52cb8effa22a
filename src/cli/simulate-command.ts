/**
 * `shoal simulate --devices N --rate R --duration S [--url URL] [--data-dir DIR]`: drive a
 * running pipeline with simulated devices whose tokens are minted from the data dir's secret.
 */
import { loadConfig } from '../config.js';
import { loadOrCreateSecret } from '../contracts/auth-secret.js';
import { runSimulate } from '../simulator/simulate-command.js';

export interface SimulateFlags {
  devices: number;
  rate: number;
  duration: number;
  url: string;
  config?: string;
  dataDir?: string;
}

export async function runSimulateCommand(flags: SimulateFlags): Promise<void> {
  const config = loadConfig({ file: flags.config, overrides: { dataDir: flags.dataDir } });
  const secret = config.auth.mode === 'none' ? null : (config.auth.secret ?? loadOrCreateSecret(config.dataDir));
  const summary = await runSimulate({
    url: flags.url,
    devices: flags.devices,
    ratePerSec: flags.rate,
    durationSec: flags.duration,
    regions: config.regions,
    secret,
  });
  if (summary.acked === 0 && summary.sent > 0) process.exitCode = 1;
}
