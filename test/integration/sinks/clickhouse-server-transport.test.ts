/**
 * The ClickHouse server HTTP transport against a real clickhouse-server started by the test.
 * Debian ships 18.16, which lacks TTL, DateTime64, query parameters and dedup tokens, so this
 * checks the transport (raw TabSeparated body inserts, JSONEachRow reads, statements, ping,
 * errors) with old DDL; Shoal's schema and SQL are checked on chDB.
 */
import { Socket, createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SinkError } from '../../../src/errors.js';
import type { EncodedInsert } from '../../../src/sinks/analytics-store.js';
import { ClickHouseServerStore } from '../../../src/sinks/clickhouse-server-store.js';
import { ClickHouseServerTransport } from '../../../src/sinks/clickhouse-server-transport.js';
import { ClickHouseServerProcess, freePort } from './clickhouse-server-process.js';

const server = new ClickHouseServerProcess();
let transport: ClickHouseServerTransport;

beforeAll(async () => {
  await server.start();
  transport = new ClickHouseServerTransport({ url: server.url });
});

afterAll(async () => {
  await transport?.close();
  await server.dispose();
});

describe('ClickHouseServerTransport (clickhouse-server 18.16)', () => {
  it('answers ping and runs statements', async () => {
    expect(await transport.ping()).toBe(true);
    await transport.command('CREATE DATABASE IF NOT EXISTS shoal_t');
    await transport.command(
      'CREATE TABLE IF NOT EXISTS shoal_t.readings (d Date, device_id String, seq UInt64, note String, value Float64) ' +
        'ENGINE = MergeTree ORDER BY (device_id, seq)',
    );
    const [version] = await transport.query<{ v: string }>('SELECT version() AS v');
    expect(version?.v).toMatch(/^\d+\.\d+/);
  });

  it('inserts a raw TabSeparated body into the named columns and reads the rows back', async () => {
    const notes = ['plain', 'tab\there', 'new\nline', 'back\\slash', 'température'];
    const escape = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n');
    const body = Buffer.from(notes.map((n, i) => `dev-1\t${i}\t${escape(n)}\t${i + 0.5}\n`).join(''));
    await transport.insert({
      table: 'shoal_t.readings',
      columns: ['device_id', 'seq', 'note', 'value'],
      body,
      format: 'TabSeparated',
    });
    const rows = await transport.query<{ seq: string | number; note: string; value: number }>(
      "SELECT seq, note, value FROM shoal_t.readings WHERE device_id = 'dev-1' ORDER BY seq",
    );
    expect(rows.map((r) => [Number(r.seq), r.note, r.value])).toEqual(notes.map((n, i) => [i, n, i + 0.5]));
  });

  it('retries an insert whose connection was reset, and inserts it once', async () => {
    // A proxy in front of the server that resets the first two connections it gets.
    const target = new URL(server.url);
    let resets = 2;
    const proxy = createServer((client: Socket) => {
      if (resets-- > 0) return void client.resetAndDestroy();
      const upstream = new Socket();
      upstream.connect(Number(target.port), target.hostname, () => client.pipe(upstream).pipe(client));
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    const port = await freePort();
    await new Promise<void>((done) => proxy.listen(port, '127.0.0.1', done));
    const flaky = new ClickHouseServerTransport({ url: `http://127.0.0.1:${port}`, insertAttempts: 3 });
    try {
      await transport.command('CREATE TABLE IF NOT EXISTS shoal_t.retried (device_id String, seq UInt64) ENGINE = MergeTree ORDER BY seq');
      await flaky.insert({ table: 'shoal_t.retried', columns: ['device_id', 'seq'], body: Buffer.from('dev-r\t1\ndev-r\t2\n'), format: 'TabSeparated' });
      expect(resets).toBeLessThan(0);
      const [row] = await transport.query<{ n: string | number }>('SELECT count() AS n FROM shoal_t.retried');
      expect(Number(row?.n)).toBe(2);
    } finally {
      await flaky.close();
      await new Promise((done) => proxy.close(done));
    }
  });

  it('surfaces a server error as a SinkError carrying the server message as its cause', async () => {
    const err = await transport.query('SELECT * FROM shoal_t.no_such_table').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SinkError);
    expect(String((err as SinkError).cause)).toMatch(/no_such_table/);
  });

  it('reports an old server that cannot take dedup tokens as a SinkError from the store, not a crash', async () => {
    const store = new ClickHouseServerStore({
      clickhouse: {
        url: server.url,
        username: 'default',
        password: '',
        databasePrefix: 'shoal',
        eventsTtlDays: 30,
        rollup1mTtlDays: 30,
        rollup1hTtlDays: 730,
      },
    });
    try {
      const ins: EncodedInsert = { table: 'events', body: Buffer.from('x\n'), format: 'TabSeparated', rows: 1 };
      const err = await store.insert('us-east', ins, 'tok').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SinkError);
      expect(String((err as SinkError).cause)).toMatch(/insert_deduplication_token/);
      await expect(store.init(['us-east'])).rejects.toBeInstanceOf(SinkError);
    } finally {
      await store.close();
    }
  });

  it('times out on a server that accepts but never answers, as a SinkError', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    const port = await freePort();
    await new Promise<void>((r) => silent.listen(port, '127.0.0.1', r));
    const slow = new ClickHouseServerTransport({ url: `http://127.0.0.1:${port}`, requestTimeoutMs: 300 });
    try {
      await expect(slow.query('SELECT 1')).rejects.toBeInstanceOf(SinkError);
    } finally {
      await slow.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('fails with a SinkError once the server is stopped', async () => {
    await server.stop();
    expect(await transport.ping()).toBe(false);
    const err = await transport
      .insert({ table: 'shoal_t.readings', columns: ['device_id'], body: Buffer.from('x\n'), format: 'TabSeparated' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SinkError);
    expect((err as SinkError).cause).toBeDefined();
  });
});
