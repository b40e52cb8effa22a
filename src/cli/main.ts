#!/usr/bin/env node
/**
 * The `shoal` command line (DESIGN §6): start, token, simulate, demo, audit, status, replay, dlq.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { ConfigError, errorMessage, ShoalError } from '../errors.js';
import { runStart } from './start-command.js';
import { runToken } from './token-command.js';
import { runSimulateCommand } from './simulate-command.js';
import { runDemo } from './demo-command.js';
import { runAudit } from './audit-command.js';
import { runStatus } from './status-command.js';
import { runReplay, type ReplayFlags } from './replay-command.js';
import { DEFAULT_OPS_URL, runDlqList, runDlqPurge, runDlqReplay, runDlqShow } from './dlq-command.js';

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
  .description('print a device token bound to a device id and region, or with --fleet a fleet token for many devices of a region')
  .argument('<device_id>', 'device id (with --fleet: fleet id, e.g. the edge gateway)')
  .requiredOption('--region <region>', 'region the device belongs to (with --fleet: the only region its events may have)')
  .option('--fleet', 'issue a fleet token: one connection sends events of any device of the region')
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
  .command('audit')
  .description('compare accepted vs archived vs stored vs rolled-up events per device and hour')
  .option('--ops <url>', 'ops API of the running pipeline', 'http://127.0.0.1:8081')
  .option('--from <time>', 'RFC 3339 start (default: 24 h before --to)')
  .option('--to <time>', 'RFC 3339 end (default: now)')
  .option('--json', 'print the whole report as JSON')
  .action(runAudit);

program
  .command('status')
  .description('per region: events stored, raw archive and ClickHouse bytes, bytes per event, partition lag')
  .option('--ops <url>', 'ops API of the running pipeline', DEFAULT_OPS_URL)
  .option('--json', 'print the whole report as JSON')
  .action(runStatus);

program
  .command('replay')
  .description('rebuild ClickHouse events and rollups of a region from the raw archive, for a range of UTC event dates')
  .requiredOption('--region <region>', 'region to replay')
  .requiredOption('--from <date>', 'first UTC event date, YYYY-MM-DD')
  .requiredOption('--to <date>', 'last UTC event date (inclusive), YYYY-MM-DD')
  .addOption(
    new Option(
      '--into <mode>',
      'rebuild: delete the dates\' ClickHouse rows and rollups, then insert them again from the archive (idempotent); ' +
        'live: insert without deleting, adding to what is stored: only for dates missing from ClickHouse',
    )
      .choices(['rebuild', 'live'])
      .default('rebuild'),
  )
  .option('--ops <url>', 'ops API of the running pipeline', DEFAULT_OPS_URL)
  .action((flags: ReplayFlags) => runReplay(flags));

program
  .command('demo')
  .description('start the pipeline and a simulated fleet, so data flows at once')
  .option('--data-dir <dir>', 'data directory (default ./data)')
  .option('--devices <n>', 'number of devices', intArg('--devices', 1), 50)
  .option('--rate <events_per_s>', 'total events per second', intArg('--rate', 1), 500)
  .option('--duration <s>', 'seconds the fleet runs (the pipeline keeps running after)', intArg('--duration', 1), 60)
  .action(runDemo);

const dlq = program.command('dlq').description('triage the dead-letter queue of a running pipeline (through its ops API)');
const opsOption = ['--ops <url>', 'ops API of the running pipeline', DEFAULT_OPS_URL] as const;

dlq
  .command('list')
  .description('newest DLQ entries of a region, as a table or JSON lines')
  .requiredOption('--region <region>', 'region whose DLQ to read')
  .option('--code <code>', 'only entries with this error code (e.g. FIELD_INVALID)')
  .option('--limit <n>', 'most entries shown (default 100, at most 1000)', intArg('--limit', 1))
  .option('--json', 'one JSON object per line instead of a table')
  .option(...opsOption)
  .action(runDlqList);

dlq
  .command('show')
  .description('one DLQ entry as pretty JSON')
  .argument('<id>', 'entry id (as dlq list shows it)')
  .requiredOption('--region <region>', 'region of the entry')
  .option(...opsOption)
  .action(runDlqShow);

dlq
  .command('replay')
  .description('validate an entry\'s event again and append it to the bus; the entry is deleted once it is')
  .argument('<id>', 'entry id (as dlq list shows it)')
  .requiredOption('--region <region>', 'region of the entry')
  .option('--event <file>', 'a repaired event: JSON file, or - for stdin (default: the stored event)')
  .option(...opsOption)
  .action(runDlqReplay);

dlq
  .command('purge')
  .description('delete the DLQ entries of a region, all of them or those matching the filters')
  .requiredOption('--region <region>', 'region whose DLQ to purge')
  .option('--code <code>', 'only entries with this error code')
  .option('--before <time>', 'only entries written before this RFC 3339 time')
  .option('--yes', 'confirm: the entries are deleted for good')
  .option(...opsOption)
  .action(runDlqPurge);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(err.message);
  else if (err instanceof ShoalError) console.error(`shoal: ${err.code}: ${err.message}`);
  else console.error(`shoal: ${errorMessage(err)}`);
  process.exit(1);
});
