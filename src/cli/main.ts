#!/usr/bin/env node
/**
 * The `shoal` command line (DESIGN §6): start, token, simulate, demo.
 */
import { Command, InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import { ConfigError, errorMessage, ShoalError } from '../errors.js';
import { runStart } from './start-command.js';
import { runToken } from './token-command.js';
import { runSimulateCommand } from './simulate-command.js';
import { runDemo } from './demo-command.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

function intArg(name: string, min = 0) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return n;
  };
}

const program = new Command()
  .name('shoal')
  .description('IoT telemetry pipeline: WebSocket gateway → Redis Streams → device actors → ClickHouse + raw archive')
  .version(pkg.version);

program
  .command('start')
  .description('run the whole pipeline in one process on embedded defaults')
  .option('--config <file>', 'YAML config file (default ./shoal.config.yaml if present)')
  .option('--data-dir <dir>', 'data directory (default ./data)')
  .option('--ingest-port <n>', 'WebSocket/HTTP ingest port (default 8080)', intArg('--ingest-port'))
  .option('--ops-port <n>', 'ops HTTP port (default 8081)', intArg('--ops-port'))
  .option('--shards <n>', 'worker threads (default: one per core)', intArg('--shards', 1))
  .action(runStart);

program
  .command('token')
  .description('print a device token bound to a device id and region')
  .argument('<device_id>', 'device id')
  .requiredOption('--region <region>', 'region the device belongs to')
  .option('--config <file>', 'YAML config file')
  .option('--data-dir <dir>', 'data directory holding the auth secret (default ./data)')
  .action(runToken);

program
  .command('simulate')
  .description('drive a running pipeline with a fleet of simulated devices')
  .requiredOption('--devices <n>', 'number of devices', intArg('--devices', 1))
  .requiredOption('--rate <events_per_s>', 'total events per second', intArg('--rate', 1))
  .requiredOption('--duration <s>', 'seconds to run', intArg('--duration', 1))
  .option('--url <url>', 'ingest URL', 'ws://127.0.0.1:8080/v1/stream')
  .option('--config <file>', 'YAML config file')
  .option('--data-dir <dir>', 'data directory holding the auth secret (default ./data)')
  .action(runSimulateCommand);

program
  .command('demo')
  .description('start the pipeline and a simulated fleet, so data flows at once')
  .option('--data-dir <dir>', 'data directory (default ./data)')
  .option('--devices <n>', 'number of devices', intArg('--devices', 1), 50)
  .option('--rate <events_per_s>', 'total events per second', intArg('--rate', 1), 500)
  .option('--duration <s>', 'seconds the fleet runs (the pipeline keeps running after)', intArg('--duration', 1), 60)
  .action(runDemo);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(err.message);
  else if (err instanceof ShoalError) console.error(`shoal: ${err.code}: ${err.message}`);
  else console.error(`shoal: ${errorMessage(err)}`);
  process.exit(1);
});
