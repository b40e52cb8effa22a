import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SinkError } from '../../../src/errors.js';
import type { StoreArchive, StoreInsert, StoreQuery } from '../../../src/runtime/messages.js';
import { StoreProxy } from '../../../src/runtime/store-proxy.js';

const insert = { table: 'events' as const, format: 'RowBinary' as const, rows: 1, body: Buffer.from('x\n') };

describe('StoreProxy', () => {
  let spool: string;
  beforeEach(() => {
    spool = mkdtempSync(join(tmpdir(), 'shoal-spool-'));
  });
  afterEach(() => rmSync(spool, { recursive: true, force: true }));

  it('settles an insert with the main thread answer, and fails it with a SinkError when unanswered', async () => {
    const { port1, port2 } = new MessageChannel();
    const proxy = new StoreProxy(port1, spool, 200);
    port2.on('message', (msg: StoreInsert) => {
      if (msg.token === 'answered') proxy.settle({ type: 'store-reply', id: msg.id, error: null });
    });
    await expect(proxy.insert('us-east', insert, 'answered')).resolves.toBeUndefined();
    await expect(proxy.insert('us-east', insert, 'lost')).rejects.toBeInstanceOf(SinkError);
    // Answered or not, no spooled body is left behind.
    expect(readdirSync(spool)).toEqual([]);
    port1.close();
    port2.close();
  });

  it('sends a spooled file instead of the body, one file for the insert and the archive of one body, removed once both settle', async () => {
    const { port1, port2 } = new MessageChannel();
    const proxy = new StoreProxy(port1, spool, 5000);
    const seen: { type: string; file: string; content: string; table?: string; days?: number[] }[] = [];
    const pending: (() => void)[] = [];
    port2.on('message', (msg: StoreInsert | StoreArchive) => {
      seen.push({ type: msg.type, file: msg.file, content: readFileSync(msg.file, 'utf8'), ...(msg.type === 'store-insert' ? { table: msg.table } : { days: msg.days }) });
      expect(JSON.stringify(msg)).not.toContain('"body"');
      const reply = (): void => proxy.settle({ type: 'store-reply', id: msg.id, error: null, ...(msg.type === 'store-archive' ? { rows: [new Uint8Array([1])] } : {}) });
      pending.push(reply);
      if (pending.length === 2) for (const r of pending) r();
    });
    const body = Buffer.from('one flush of events');
    const events = { ...insert, rows: 3, body };
    const both = Promise.all([proxy.archiveParquet(events, [20_000]), proxy.insert('eu-west', events, 'token')]);
    const [objects] = await both;
    expect(objects).toEqual([new Uint8Array([1])]);
    expect(seen.map((s) => s.type)).toEqual(['store-archive', 'store-insert']);
    expect(seen[0]!.file).toBe(seen[1]!.file);
    expect(seen[0]!.file.startsWith(spool)).toBe(true);
    expect(seen.map((s) => s.content)).toEqual(['one flush of events', 'one flush of events']);
    expect(seen[0]!.days).toEqual([20_000]);
    expect(readdirSync(spool)).toEqual([]);

    // A different body (the rollups) gets a file of its own.
    const files = new Set<string>();
    port2.removeAllListeners('message');
    port2.on('message', (msg: StoreInsert) => {
      files.add(msg.file);
      proxy.settle({ type: 'store-reply', id: msg.id, error: null });
    });
    await Promise.all([proxy.insert('eu-west', events, 't1'), proxy.insert('eu-west', { ...events, table: 'rollup_1m', body: Buffer.from('rollups') }, 't2')]);
    expect(files.size).toBe(2);
    expect(readdirSync(spool)).toEqual([]);
    port1.close();
    port2.close();
  });

  it('spools into the directory again when it was removed, and fails with a SinkError when it cannot write', async () => {
    const { port1, port2 } = new MessageChannel();
    port2.on('message', (msg: StoreInsert) => proxy.settle({ type: 'store-reply', id: msg.id, error: null }));
    const gone = join(spool, 'removed');
    const proxy = new StoreProxy(port1, gone, 1000);
    await expect(proxy.insert('us-east', insert, 't')).resolves.toBeUndefined();
    expect(readdirSync(gone)).toEqual([]);
    writeFileSync(join(spool, 'a-file'), 'not a directory');
    const blocked = new StoreProxy(port1, join(spool, 'a-file', 'spool'), 1000);
    await expect(blocked.insert('us-east', insert, 't')).rejects.toThrow(/cannot spool/);
    port1.close();
    port2.close();
  });

  it('answers a query with the rows the main thread sent back, and fails it with its error', async () => {
    const { port1, port2 } = new MessageChannel();
    const proxy = new StoreProxy(port1, spool, 1000);
    port2.on('message', (msg: StoreQuery) => {
      if (msg.sql === 'SELECT 1') proxy.settle({ type: 'store-reply', id: msg.id, error: null, rows: [{ n: msg.params['n'] }] });
      else proxy.settle({ type: 'store-reply', id: msg.id, error: { message: 'Syntax error', code: 'SINK_FAILED' } });
    });
    await expect(proxy.query('SELECT 1', { n: 7 })).resolves.toEqual([{ n: 7 }]);
    await expect(proxy.query('SELEC')).rejects.toThrow(/Syntax error/);
    port1.close();
    port2.close();
  });
});
