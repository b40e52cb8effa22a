/**
 * `shoal demo` (npm run demo): the pipeline on embedded defaults plus a simulated fleet, so a
 * newcomer sees data flow: the dashboard URL is printed, the fleet runs for --duration seconds,
 * and the pipeline keeps running until Ctrl-C.
 */
import { loadOrCreateSecret } from '../contracts/auth-secret.js';
import { simulatedDeviceId } from '../simulator/device-profiles.js';
import { runSimulate } from '../simulator/simulate-command.js';
import { startPipeline } from './start-command.js';

export interface DemoFlags {
  dataDir?: string;
  devices: number;
  rate: number;
  duration: number;
}

export async function runDemo(flags: DemoFlags): Promise<void> {
  const pipeline = await startPipeline({ dataDir: flags.dataDir });
  const { config } = pipeline;
  const urls = pipeline.urls!;
  process.stdout.write(`dashboard: ${urls.ops}/   (Ctrl-C to stop)\n`);
  const secret = config.auth.mode === 'none' ? null : (config.auth.secret ?? loadOrCreateSecret(config.dataDir));
  await runSimulate({
    url: urls.ingest,
    devices: flags.devices,
    ratePerSec: flags.rate,
    durationSec: flags.duration,
    regions: config.regions,
    secret,
  });
  const sample = simulatedDeviceId(config.regions[0] ?? 'us-east', 0);
  process.stdout.write(
    `fleet finished; try: curl '${urls.ops}/api/v1/devices/${sample}/rollups?sensor=temperature&step=1m'\n`,
  );
}
