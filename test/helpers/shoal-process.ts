/**
 * Runs the built `shoal` CLI as a child process for end-to-end and fault tests: a temp data
 * dir, free ports (0), and the URLs it prints once ready.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';

export const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;

const execFileAsync = promisify(execFile);

/** Run the built `shoal` CLI to its end: exit code and output, never a throw on exit ≠ 0. */
export async function runCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [CLI, ...args], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

export interface ShoalProcess {
  child: ChildProcess;
  ingestUrl: string;
  opsUrl: string;
  dataDir: string;
  /** Everything the process wrote to stderr (logs). */
  logs(): string;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait until it is gone (the embedded redis-server it spawned survives). */
  kill9(): Promise<void>;
  /** Stop whatever is left: the process (SIGKILL) and an embedded redis-server it left behind. */
  cleanup(): Promise<void>;
}

/** Kill the embedded redis-server recorded in a data dir, if it is still running. */
export function killOrphanRedis(dataDir: string): void {
  const file = join(dataDir, 'redis', 'shoal-redis.json');
  if (!existsSync(file)) return;
  try {
    const { pid } = JSON.parse(readFileSync(file, 'utf8')) as { pid?: number };
    if (pid) process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export function tempDataDir(prefix = 'shoal-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface StartOptions {
  dataDir?: string;
  config?: Record<string, unknown>;
  shards?: number;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export async function startShoal(options: StartOptions = {}): Promise<ShoalProcess> {
  const dataDir = options.dataDir ?? tempDataDir();
  const configFile = join(dataDir, 'shoal.config.yaml');
  writeFileSync(configFile, stringify(options.config ?? {}));
  const args = [CLI, 'start', '--config', configFile, '--data-dir', dataDir, '--ingest-port', '0', '--ops-port', '0'];
  if (options.shards) args.push('--shards', String(options.shards));
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SHOAL_LOG_LEVEL: 'info', ...options.env },
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const urls = await new Promise<{ ingest: string; ops: string }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`shoal did not become ready in time; stderr:\n${stderr.slice(-4000)}`)),
      options.timeoutMs ?? 60_000,
    );
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const ingest = /shoal ingest (\S+)/.exec(stdout)?.[1];
      const ops = /shoal ops (\S+)/.exec(stdout)?.[1];
      if (ingest && ops) {
        clearTimeout(timer);
        resolve({ ingest, ops });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`shoal exited with ${code} before ready; stderr:\n${stderr.slice(-4000)}`));
    });
  });
  const kill9 = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  return {
    child,
    ingestUrl: urls.ingest,
    opsUrl: urls.ops,
    dataDir,
    logs: () => stderr,
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return exited;
    },
    kill9,
    cleanup: async () => {
      await kill9();
      killOrphanRedis(dataDir);
    },
  };
}

/** Poll `check` until it returns a value that is not undefined, or fail after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError instanceof Error ? `: ${lastError.message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}
