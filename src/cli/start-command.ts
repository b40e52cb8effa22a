/**
 * `shoal start`: load the config, run the pipeline, print the URLs once it is ready, and on
 * SIGINT/SIGTERM stop intake, flush, checkpoint and exit 0.
 */
import { loadConfig } from '../config.js';
import { applyHeapGrowthPercent } from '../runtime/heap-growth.js';
import { Pipeline } from '../runtime/pipeline.js';
import { launchSemiSpaceMb, mainSemiSpaceMismatch } from '../runtime/young-generation.js';

export interface StartFlags {
  config?: string;
  dataDir?: string;
  ingestPort?: number;
  opsPort?: number;
  shards?: number;
}

export async function startPipeline(flags: StartFlags): Promise<Pipeline> {
  const config = loadConfig({
    file: flags.config,
    overrides: { dataDir: flags.dataDir, ingestPort: flags.ingestPort, opsPort: flags.opsPort, shards: flags.shards },
  });
  // The CLI owns this process, so it sets the process-wide V8 flag before any shard starts.
  applyHeapGrowthPercent(config.heapGrowthPercent);
  const pipeline = new Pipeline({ config });
  const mismatch = mainSemiSpaceMismatch(config.semiSpaceMb, launchSemiSpaceMb(process.execArgv, process.env['NODE_OPTIONS']));
  if (mismatch !== null) pipeline.logger.warn(mismatch);
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) return;
    signalled = true;
    pipeline.logger.info({ signal }, 'signal received');
    pipeline.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        pipeline.logger.error({ err: String(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const urls = await pipeline.start();
    process.stdout.write(`shoal ingest ${urls.ingest}\nshoal ops ${urls.ops}\n`);
  } catch (err) {
    await pipeline.stop().catch(() => undefined);
    throw err;
  }
  return pipeline;
}

export async function runStart(flags: StartFlags): Promise<void> {
  await startPipeline(flags);
}
