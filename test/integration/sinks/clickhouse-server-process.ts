/**
 * Runs Debian's clickhouse-server (18.16) for the HTTP transport test: free loopback ports, a
 * temp directory holding a minimal config.xml / users.xml, the data, tmp and log files.
 * start() resolves once /ping answers; stop() ends the process and waits for it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CLICKHOUSE_SERVER_BINARY = '/usr/sbin/clickhouse-server';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function configXml(dir: string, httpPort: number, tcpPort: number): string {
  return `<?xml version="1.0"?>
<yandex>
  <logger>
    <level>information</level>
    <log>${dir}/log/server.log</log>
    <errorlog>${dir}/log/error.log</errorlog>
    <console>0</console>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>5368709120</mark_cache_size>
</yandex>
`;
}

const USERS_XML = `<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default></default></quotas>
</yandex>
`;

export class ClickHouseServerProcess {
  readonly dir = mkdtempSync(join(tmpdir(), 'shoal-chserver-'));
  private child: ChildProcess | null = null;
  url = '';

  /** Start the server and wait (up to `timeoutMs`) until /ping answers. */
  async start(timeoutMs = 30_000): Promise<void> {
    if (!existsSync(CLICKHOUSE_SERVER_BINARY)) throw new Error(`${CLICKHOUSE_SERVER_BINARY} is not installed`);
    for (const sub of ['data', 'tmp', 'log']) mkdirSync(join(this.dir, sub), { recursive: true });
    const [httpPort, tcpPort] = [await freePort(), await freePort()];
    writeFileSync(join(this.dir, 'config.xml'), configXml(this.dir, httpPort, tcpPort));
    writeFileSync(join(this.dir, 'users.xml'), USERS_XML);
    this.url = `http://127.0.0.1:${httpPort}`;
    const child = spawn(CLICKHOUSE_SERVER_BINARY, [`--config-file=${join(this.dir, 'config.xml')}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`clickhouse-server exited with ${child.exitCode}: ${stderr}${this.errorLog()}`);
      try {
        const res = await fetch(`${this.url}/ping`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await this.stop();
    throw new Error(`clickhouse-server did not answer /ping within ${timeoutMs} ms: ${stderr}${this.errorLog()}`);
  }

  private errorLog(): string {
    const file = join(this.dir, 'log', 'error.log');
    return existsSync(file) ? readFileSync(file, 'utf8').slice(-2000) : '';
  }

  /** Stop the server (SIGTERM, then SIGKILL after 10 s) and wait for it to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /** Stop and remove the temp directory. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
