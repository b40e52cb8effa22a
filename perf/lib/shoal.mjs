// Shoal under test: `shoal start` as its own process on a fresh data dir, with the harness's
// config, and the tokens the generators and the probe present.
//
// Auth: the intended path is one fleet token per region and generator (issueFleetToken from
// dist/contracts/device-token.js: a connection may carry any device of the token's region).
// While that export does not exist yet (`--auth auto`), Shoal is started with `auth: none`
// and the connections send no token.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dist = new URL('../../dist/', import.meta.url);
const CLI = new URL('cli/main.js', dist).pathname;

/** The semi-space, MB, `configFile` asks of Shoal's heaps (its semiSpaceMb; 0: V8's own). */
async function configuredSemiSpaceMb(configFile) {
  const { loadConfig } = await import(new URL('config.js', dist).href);
  const { V8_DEFAULT_SEMI_SPACE_MB } = await import(new URL('runtime/young-generation.js', dist).href);
  const { semiSpaceMb } = loadConfig({ file: configFile });
  return semiSpaceMb === 0 ? V8_DEFAULT_SEMI_SPACE_MB : semiSpaceMb;
}

/** Which auth to run with: 'fleet' when asked or available, else 'none'. */
export async function resolveAuth(requested) {
  const tokens = await import(new URL('contracts/device-token.js', dist).href);
  const hasFleet = typeof tokens.issueFleetToken === 'function';
  if (requested === 'fleet' && !hasFleet) throw new Error('--auth fleet: dist/contracts/device-token.js has no issueFleetToken (build the fleet-token change first)');
  if (requested === 'none') return { mode: 'none', reason: 'asked for with --auth none' };
  if (hasFleet) return { mode: 'fleet', reason: 'issueFleetToken available' };
  return { mode: 'none', reason: 'issueFleetToken not exported by dist/contracts/device-token.js yet: fallback to auth none' };
}

/** The shoal.config.yaml the harness runs with (YAML written by hand: a few flat keys). */
export function writeConfig(dataDir, { authMode, logLevel = 'warn', extraFile = null }) {
  const lines = ['log:', `  level: ${logLevel}`];
  if (authMode === 'none') lines.push('auth:', '  mode: none');
  // --shoal-config: the engineer's own settings (partitions, flush, ...), appended as they are.
  if (extraFile) lines.push(readFileSync(extraFile, 'utf8').trimEnd());
  const file = join(dataDir, 'shoal.config.yaml');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/**
 * Start Shoal; resolves once it printed its URLs. `cpuProfDir`: run it under `node --cpu-prof`.
 * `extraNodeArgs`: more Node/V8 options (what they print on stdout, e.g. --trace-gc, is
 * forwarded to stderr).
 * @returns {Promise<{ proc, pid, redisPid, urls: {ingest, ops}, stop: () => Promise<number|null> }>}
 */
export async function startShoal({ dataDir, configFile, shards, log, cpuProfDir = null, nodeArgs: extraNodeArgs = [] }) {
  // --cpu-prof profiles every thread (main and shard workers), each to its own file.
  const nodeArgs = cpuProfDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`];
  // The main thread's semi-space is fixed at launch: start it with the size the config asks
  // of every thread (semiSpaceMb; src/runtime/young-generation.ts).
  nodeArgs.push(`--max-semi-space-size=${await configuredSemiSpaceMb(configFile)}`);
  nodeArgs.push(...extraNodeArgs);
  const proc = spawn(
    process.execPath,
    [...nodeArgs, CLI, 'start', '--config', configFile, '--data-dir', dataDir, '--ingest-port', '0', '--ops-port', '0', '--shards', String(shards)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderrTail = '';
  proc.stderr.on('data', (d) => {
    stderrTail = (stderrTail + d).slice(-8000);
    process.stderr.write(d);
  });
  const urls = await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      if (extraNodeArgs.length > 0) process.stderr.write(d);
      if (out === null) return;
      out += d;
      const ingest = /shoal ingest (\S+)/.exec(out)?.[1];
      const ops = /shoal ops (\S+)/.exec(out)?.[1];
      if (ingest && ops) {
        out = null;
        resolve({ ingest, ops });
      }
    });
    proc.once('exit', (code) => reject(new Error(`shoal exited ${code} before it was ready:\n${stderrTail}`)));
  });
  proc.stdout.resume();
  const redisFile = join(dataDir, 'redis', 'shoal-redis.json');
  const redisPid = existsSync(redisFile) ? JSON.parse(readFileSync(redisFile, 'utf8')).pid : null;
  log(`shoal pid ${proc.pid} (redis pid ${redisPid ?? 'n/a'}) ingest ${urls.ingest} ops ${urls.ops}`);
  let exited = null;
  const exit = new Promise((r) => proc.once('exit', (code, signal) => r((exited = { code, signal }))));
  return {
    proc,
    pid: proc.pid,
    redisPid,
    urls,
    get exited() {
      return exited;
    },
    /** SIGTERM and wait (SIGKILL after timeoutMs); the exit code, or null when it had to be killed. */
    async stop(timeoutMs = 60_000) {
      if (exited) return exited.code;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const { code } = await exit;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Fleet tokens per region for generator `index`, and the probe's device token; null with auth none. */
export async function issueTokens({ authMode, dataDir, regions, generators, probe }) {
  if (authMode !== 'fleet') return { generatorTokens: Array.from({ length: generators }, () => null), probeToken: null };
  const { issueFleetToken, issueDeviceToken } = await import(new URL('contracts/device-token.js', dist).href);
  const { loadOrCreateSecret } = await import(new URL('contracts/auth-secret.js', dist).href);
  const secret = process.env.SHOAL_AUTH_SECRET || loadOrCreateSecret(dataDir);
  const generatorTokens = [];
  for (let g = 0; g < generators; g++) {
    const tokens = {};
    for (const region of regions) tokens[region] = await issueFleetToken(secret, `perf-gen-${g}`, region, '2d');
    generatorTokens.push(tokens);
  }
  return { generatorTokens, probeToken: await issueDeviceToken(secret, probe.deviceId, probe.region, '2d') };
}
