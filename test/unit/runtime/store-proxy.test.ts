import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { SinkError } from '../../../src/errors.js';
import type { StoreInsert } from '../../../src/runtime/messages.js';
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
});
