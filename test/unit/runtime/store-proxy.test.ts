import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { SinkError } from '../../../src/errors.js';
import type { StoreInsert, StoreQuery } from '../../../src/runtime/messages.js';
import { StoreProxy } from '../../../src/runtime/store-proxy.js';

const insert = { table: 'events' as const, format: 'TabSeparated' as const, rows: 1, body: Buffer.from('x\n') };

describe('StoreProxy', () => {
  it('settles an insert with the main thread answer, and fails it with a SinkError when unanswered', async () => {
    const { port1, port2 } = new MessageChannel();
    const proxy = new StoreProxy(port1, 200);
    port2.on('message', (msg: StoreInsert) => {
      if (msg.token === 'answered') proxy.settle({ type: 'store-reply', id: msg.id, error: null });
    });
    await expect(proxy.insert('us-east', insert, 'answered')).resolves.toBeUndefined();
    await expect(proxy.insert('us-east', insert, 'lost')).rejects.toBeInstanceOf(SinkError);
    port1.close();
    port2.close();
  });

  it('answers a query with the rows the main thread sent back, and fails it with its error', async () => {
    const { port1, port2 } = new MessageChannel();
    const proxy = new StoreProxy(port1, 1000);
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
