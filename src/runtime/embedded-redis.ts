/**
 * The embedded event bus: a `redis-server` child process that `shoal start` owns.
 *
 * It listens on a free loopback port, keeps its AOF under `<dataDir>/redis`, and records its
 * pid and port in `<dataDir>/redis/shoal-redis.json`. A server left running by an earlier
 * `shoal` that crashed is found through that file and shut down cleanly (SHUTDOWN flushes the
 * AOF) before a new one starts, so one data directory is never served by two servers.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { ServiceStartError, errorMessage } from '../errors.js';

export interface EmbeddedRedisOptions {
  /** Shoal's data directory; Redis keeps its files in `<dataDir>/redis`. */
  dataDir: string;
  appendfsync: 'everysec' | 'always' | 'no';
  /** auto-aof-rewrite-percentage (see config.ts, redis.aofRewritePercentage). Default 400. */
  aofRewritePercentage?: number;
  /** redis-server binary: a name looked up on PATH, or a path. */
  binary: string;
  logger?: Logger;
  /** Longest wait for the server to answer PING (AOF loading included), ms. Default 60000. */
  startTimeoutMs?: number;
}

interface StateFile {
  pid: number;
  port: number;
}

const HOST = '127.0.0.1';
const STATE_FILE = 'shoal-redis.json';
const LOG_FILE = 'redis.log';
const PORT_ATTEMPTS = 5;

export class EmbeddedRedis {
  private readonly dir: string;
  private readonly startTimeoutMs: number;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private currentPort = 0;
  private running = false;
  private readonly onProcessExit = (): void => {
    // Last resort when the owner exits without stop(): SIGTERM makes redis flush its AOF.
    if (this.running) this.child?.kill('SIGTERM');
  };

  constructor(private readonly options: EmbeddedRedisOptions) {
    this.dir = resolve(options.dataDir, 'redis');
    this.startTimeoutMs = options.startTimeoutMs ?? 60_000;
  }

  get url(): string {
    if (!this.currentPort) throw new ServiceStartError('embedded redis is not started');
    return `redis://${HOST}:${this.currentPort}`;
  }

  get port(): number {
    return this.currentPort;
  }

  /** Resolves when the current server process exits, for whatever reason. */
  get whenExited(): Promise<void> {
    return this.exited;
  }

  get pid(): number | null {
    return this.running ? (this.child?.pid ?? null) : null;
  }

  /** Start the server (again, after stop() or kill9(), preferring the same port). */
  async start(): Promise<void> {
    if (this.pid !== null) return;
    mkdirSync(this.dir, { recursive: true });
    const binary = this.resolveBinary();
    await this.retireLeftover();
    let lastError: unknown;
    for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
      const port = attempt === 0 && this.currentPort ? this.currentPort : await freePort();
      try {
        await this.spawnOn(binary, port);
        return;
      } catch (err) {
        lastError = err;
        if (!(err instanceof PortClashError)) throw err;
        this.options.logger?.warn({ port }, 'redis port taken, picking another');
      }
    }
    throw new ServiceStartError(`redis-server could not bind a port after ${PORT_ATTEMPTS} attempts`, { cause: lastError });
  }

  /** SHUTDOWN (AOF flushed), then SIGTERM, then SIGKILL, each bounded. */
  async stop(timeoutMs = 10_000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    await command(this.currentPort, ['SHUTDOWN'], 2000).catch(() => undefined);
    if (!(await within(this.exited, timeoutMs))) {
      child.kill('SIGTERM');
      if (!(await within(this.exited, 5000))) child.kill('SIGKILL');
    }
    await this.exited;
    rmSync(join(this.dir, STATE_FILE), { force: true });
  }

  /** Kill the server with SIGKILL (fault tests) and wait until it is gone. */
  async kill9(): Promise<void> {
    if (!this.running) return;
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  private resolveBinary(): string {
    const found = findExecutable(this.options.binary);
    if (found) return found;
    const installable = this.options.binary === 'redis-server' && process.getuid?.() === 0 && existsSync('/usr/bin/apt-get');
    const how = process.platform === 'darwin' ? 'brew install redis' : 'sudo apt-get install -y redis-server';
    if (!installable) throw new ServiceStartError(`${this.options.binary} not found on PATH; install it with \`${how}\` (or set REDIS_URL)`);
    this.options.logger?.warn('redis-server not found on PATH: running `apt-get install -y redis-server`');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let install = spawnSync('apt-get', ['install', '-y', 'redis-server'], { env, stdio: 'ignore' });
    if (install.status !== 0) {
      spawnSync('apt-get', ['update'], { env, stdio: 'ignore' });
      install = spawnSync('apt-get', ['install', '-y', 'redis-server'], { env, stdio: 'ignore' });
    }
    const installed = findExecutable(this.options.binary);
    if (install.status !== 0 || !installed)
      throw new ServiceStartError('`apt-get install -y redis-server` failed; install Redis yourself or set REDIS_URL');
    return installed;
  }

  /** Shut down a server an earlier, crashed shoal left serving this directory. */
  private async retireLeftover(): Promise<void> {
    const state = readState(join(this.dir, STATE_FILE));
    if (!state || !isAlive(state.pid)) return;
    const answers = await servedBy(state.port, state.pid);
    const cwd = cwdOf(state.pid);
    // On Linux the process's working directory (redis chdirs into --dir) proves it is ours even
    // when it does not answer; elsewhere an answer from that pid on that port has to do.
    if (cwd === null ? !answers : cwd !== realpathSync(this.dir)) return;
    this.options.logger?.warn({ pid: state.pid, port: state.port }, 'shutting down redis-server left by an earlier run');
    if (answers) await command(state.port, ['SHUTDOWN'], 2000).catch(() => undefined);
    const deadline = Date.now() + 15_000;
    let termAt = Date.now() + (answers ? 5000 : 0);
    while (isAlive(state.pid)) {
      if (Date.now() > termAt) {
        process.kill(state.pid, 'SIGTERM');
        termAt = Infinity;
      }
      if (Date.now() > deadline)
        throw new ServiceStartError(`redis-server pid ${state.pid} from an earlier run still serves ${this.dir}; stop it first`);
      await delay(50);
    }
  }

  private async spawnOn(binary: string, port: number): Promise<void> {
    const logFile = join(this.dir, LOG_FILE);
    const args = [
      '--port', String(port), '--bind', HOST, '--protected-mode', 'yes', '--daemonize', 'no',
      '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', this.options.appendfsync, '--save', '',
      '--auto-aof-rewrite-percentage', String(this.options.aofRewritePercentage ?? 400),
      '--pidfile', join(this.dir, 'redis.pid'), '--logfile', logFile,
    ];
    // Own process group: a terminal's Ctrl-C reaches shoal, which then flushes into Redis
    // before stopping it.
    const child = spawn(binary, args, { cwd: this.dir, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
    this.child = child;
    this.running = true;
    this.exited = new Promise((done) => {
      const gone = (): void => {
        this.running = false;
        process.removeListener('exit', this.onProcessExit);
        done();
      };
      child.once('exit', gone);
      child.once('error', (err) => {
        stderr += errorMessage(err);
        gone();
      });
    });
    process.once('exit', this.onProcessExit);

    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      if (!this.running) {
        const tail = `${stderr}\n${tailOf(logFile)}`.trim();
        if (/address already in use/i.test(tail)) throw new PortClashError(port);
        throw new ServiceStartError(`redis-server exited during start-up:\n${tail}`);
      }
      const reply = await command(port, ['PING'], 1000).catch(() => '');
      if (reply.startsWith('+PONG')) {
        // The answer may come from another server that holds the port while ours fails to bind.
        if (await servedBy(port, child.pid ?? -1)) break;
        child.kill('SIGKILL');
        await this.exited;
        throw new PortClashError(port);
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new ServiceStartError(`redis-server did not answer PING within ${this.startTimeoutMs} ms:\n${tailOf(logFile)}`);
      }
      await delay(25);
    }
    this.currentPort = port;
    const state: StateFile = { pid: child.pid ?? 0, port };
    writeFileSync(join(this.dir, STATE_FILE), JSON.stringify(state));
    this.options.logger?.info({ port, pid: child.pid, dir: this.dir }, 'embedded redis ready');
  }
}

class PortClashError extends Error {
  constructor(port: number) {
    super(`port ${port} is taken`);
  }
}

/** Send one command over a fresh connection; resolves with the raw reply (bulk: its body). */
function command(port: number, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((done, fail) => {
    const socket = createConnection({ host: HOST, port });
    let data = '';
    const finish = (err: Error | null, reply = ''): void => {
      socket.destroy();
      if (err) fail(err);
      else done(reply);
    };
    socket.setTimeout(timeoutMs, () => finish(new Error('redis command timed out')));
    socket.once('error', (err) => finish(err));
    socket.once('close', () => finish(null, data)); // SHUTDOWN answers by closing
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      data += chunk;
      const eol = data.indexOf('\r\n');
      if (eol < 0) return;
      if (data[0] !== '$') return finish(null, data.slice(0, eol));
      const length = Number(data.slice(1, eol));
      const body = Buffer.from(data.slice(eol + 2));
      if (length < 0 || body.length >= length) finish(null, body.subarray(0, Math.max(length, 0)).toString());
    });
    socket.write(args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).reduce((s, a) => s + a, `*${args.length}\r\n`));
  });
}

/** True when the server answering on `port` is process `pid`. */
async function servedBy(port: number, pid: number): Promise<boolean> {
  const info = await command(port, ['INFO', 'server'], 2000).catch(() => '');
  return new RegExp(`^process_id:${pid}\\r?$`, 'm').test(info);
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

function findExecutable(binary: string): string | null {
  const candidates = binary.includes('/')
    ? [resolve(binary)]
    : (process.env['PATH'] ?? '').split(delimiter).filter(isAbsolute).map((dir) => join(dir, binary));
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

function readState(file: string): StateFile | null {
  try {
    const state = JSON.parse(readFileSync(file, 'utf8')) as Partial<StateFile>;
    return Number.isInteger(state.pid) && Number.isInteger(state.port) ? (state as StateFile) : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The working directory of a process (redis chdirs into its `dir`); null when unknown. */
function cwdOf(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return null;
  }
}

function tailOf(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

async function within(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((done) => (timer = setTimeout(() => done(false), ms)));
  const result = await Promise.race([promise.then(() => true), timeout]);
  clearTimeout(timer);
  return result;
}
