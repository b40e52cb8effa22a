/**
 * EmbeddedRedis against the real redis-server: it starts on a free port, keeps data across a
 * restart and a kill -9 (AOF), retires a server a crashed run left on the same data dir,
 * and explains a missing binary in one line.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedRedis } from '../../../src/runtime/embedded-redis.js';
import { ServiceStartError } from '../../../src/errors.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-emb-'));
  cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
  return dir;
}

function server(dataDir: string, appendfsync: 'always' | 'everysec' = 'always'): EmbeddedRedis {
  const s = new EmbeddedRedis({ dataDir, appendfsync, binary: 'redis-server' });
  cleanups.push(() => s.stop());
  return s;
}

async function withClient<T>(url: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

async function waitForPong(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await withClient(`redis://127.0.0.1:${port}`, (r) => r.ping()).then(
      () => true,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`no redis answered on port ${port}`);
    await new Promise((done) => setTimeout(done, 25));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('EmbeddedRedis', () => {
  it('serves a loopback port with AOF on and keeps data across stop and start', async () => {
    const dataDir = tempDir();
    const redis = server(dataDir);
    await redis.start();
    expect(redis.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    await withClient(redis.url, async (r) => {
      expect(await r.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await r.config('GET', 'appendfsync')).toEqual(['appendfsync', 'always']);
      // Rewrites of the whole dataset only after 4× its size in new commands (config.ts).
      expect(await r.config('GET', 'auto-aof-rewrite-percentage')).toEqual(['auto-aof-rewrite-percentage', '400']);
      await r.set('k', 'v1');
    });
    const state = JSON.parse(readFileSync(join(dataDir, 'redis', 'shoal-redis.json'), 'utf8')) as { pid: number; port: number };
    expect(state).toEqual({ pid: redis.pid, port: redis.port });

    await redis.stop();
    expect(existsSync(join(dataDir, 'redis', 'shoal-redis.json'))).toBe(false);
    await redis.start();
    expect(await withClient(redis.url, (r) => r.get('k'))).toBe('v1');
  });

  it('keeps acknowledged writes across kill -9 and comes back on the same port', async () => {
    const redis = server(tempDir());
    await redis.start();
    const url = redis.url;
    await withClient(url, (r) => r.xadd('s', '*', 'd', 'x'));
    await redis.kill9();
    await expect(withClient(url, (r) => r.ping())).rejects.toThrow();
    await redis.start();
    expect(redis.url).toBe(url);
    expect(await withClient(url, (r) => r.xlen('s'))).toBe(1);
  });

  it('shuts down a server left by a crashed run before serving the same data dir', async () => {
    const dataDir = tempDir();
    const leftover = server(dataDir);
    await leftover.start();
    const oldPid = leftover.pid as number;
    await withClient(leftover.url, (r) => r.set('from-first-run', '1'));

    const fresh = server(dataDir);
    await fresh.start();
    expect(isAlive(oldPid)).toBe(false);
    expect(fresh.pid).not.toBe(oldPid);
    expect(await withClient(fresh.url, (r) => r.get('from-first-run'))).toBe('1');
  });

  it('moves to another port when its previous one was taken meanwhile, even by another redis', async () => {
    const redis = server(tempDir());
    await redis.start();
    const taken = redis.port;
    await redis.stop();
    const squatter = spawn('redis-server', ['--port', String(taken), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    cleanups.push(async () => {
      squatter.kill('SIGKILL');
      await new Promise((done) => squatter.once('exit', done));
    });
    await waitForPong(taken);

    await redis.start();
    expect(redis.port).not.toBe(taken);
    expect(await withClient(redis.url, (r) => r.info('server'))).toContain(`process_id:${redis.pid}`);
  });

  it('fails with one line naming the install command when the binary is missing', async () => {
    const redis = new EmbeddedRedis({ dataDir: tempDir(), appendfsync: 'everysec', binary: 'no-such-redis-server' });
    const error = await redis.start().then(
      () => null,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ServiceStartError);
    expect((error as Error).message).toContain('apt-get install -y redis-server');
    expect((error as Error).message).not.toContain('\n');
  });

  it('reports the log tail when redis-server exits during start-up', async () => {
    const dataDir = tempDir();
    const redis = new EmbeddedRedis({ dataDir, appendfsync: 'everysec', binary: 'redis-server' });
    // A corrupt AOF manifest makes redis refuse to start.
    mkdirSync(join(dataDir, 'redis', 'appendonlydir'), { recursive: true });
    writeFileSync(join(dataDir, 'redis', 'appendonlydir', 'appendonly.aof.manifest'), 'garbage\n');
    await expect(redis.start()).rejects.toThrow(/exited during start-up[\s\S]*manifest/i);
  });
});
