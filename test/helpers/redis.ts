/**
 * A real redis-server per test suite: EmbeddedRedis in a fresh temp directory, on its own
 * free port, with an ioredis client that reconnects quickly (outage tests restart the server).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { EmbeddedRedis } from '../../src/runtime/embedded-redis.js';

export interface TestRedis {
  url: string;
  /** A client for the test itself (and for the code under test, if it may share it). */
  redis: Redis;
  /** The server, for outage tests: server.stop() / server.kill9() / server.start(). */
  server: EmbeddedRedis;
  dataDir: string;
  /** Another client on the same server (the caller quits it, or stop() does). */
  client(): Redis;
  stop(): Promise<void>;
}

export async function startTestRedis(): Promise<TestRedis> {
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-redis-'));
  const server = new EmbeddedRedis({ dataDir, appendfsync: 'no', binary: 'redis-server' });
  await server.start();
  const clients: Redis[] = [];
  const client = (): Redis => {
    const c = new Redis(server.url, { retryStrategy: () => 100, maxRetriesPerRequest: 2 });
    c.on('error', () => undefined); // outage tests stop the server on purpose
    clients.push(c);
    return c;
  };
  const redis = client();
  await redis.ping();
  return {
    url: server.url,
    redis,
    server,
    dataDir,
    client,
    async stop() {
      for (const c of clients) c.disconnect();
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
