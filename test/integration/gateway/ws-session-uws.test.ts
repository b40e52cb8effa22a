/**
 * A session's acks through a real uWS socket to a `ws` device that reads in spurts, so the
 * kernel's send buffer keeps filling up: every ack of 16 KiB or more (an ack listing a couple
 * of hundred rejections) must arrive whole and in order, however the writes get split. With
 * uWS.js 20.30's shortcut for such sends, a partial write made from the drain handler left
 * the rest in uWS's buffer with nothing to flush it, and the device waited forever.
 */
import { afterEach, describe, expect, it } from 'vitest';
import uWS from 'uWebSockets.js';
import WebSocket from 'ws';
import { WsSession, type WsUserData } from '../../../src/gateway/ws-session.js';

/**
 * The session waits for a drain as soon as uWS buffers anything, so nearly every ack goes out
 * from uWS's drain handler into an empty uWS buffer: the sends the gateway makes only now and
 * then with its 1 MiB threshold, made here every time.
 */
const MAX_BUFFERED = 1;
let stop: (() => void) | null = null;

afterEach(() => {
  stop?.();
  stop = null;
});

/**
 * A uWS server whose sockets answer a `go` with `count` acks, all ready at once: most of them
 * wait in the session's backlog and go out from uWS's drain handler.
 */
function serve(count: number, body: (n: number) => string): Promise<number> {
  const app = uWS.App().ws<WsUserData>('/*', {
    maxBackpressure: 64 * 1024 * 1024,
    upgrade: (res, req, context) =>
      res.upgrade<WsUserData>(
        { session: new WsSession(null, 'test', MAX_BUFFERED, 4096) },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      ),
    open: (ws) => {
      ws.getUserData().session.ws = ws;
    },
    message: (ws) => {
      const session = ws.getUserData().session;
      for (let n = 0; n < count; n++) session.ackWhenReady(Promise.resolve(body(n)));
    },
    drain: (ws) => ws.getUserData().session.drain(),
    close: (ws) => {
      const session = ws.getUserData().session;
      session.closed = true;
      session.ws = null;
    },
  });
  return new Promise((done, fail) =>
    app.listen('127.0.0.1', 0, (token) => {
      if (!token) return fail(new Error('uWS did not listen'));
      stop = () => uWS.us_listen_socket_close(token);
      done(uWS.us_socket_local_port(token));
    }),
  );
}

describe('WsSession over a real uWS socket', () => {
  it('delivers every large ack whole and in order to a device that reads in spurts', async () => {
    const count = 1500;
    const body = (n: number): string => JSON.stringify({ type: 'ack', seq: n, pad: 'r'.repeat(16 * 1024 + (n % 89)) });
    const port = await serve(count, body);
    const client = new WebSocket(`ws://127.0.0.1:${port}/`);
    const received: string[] = [];
    const outcome = await new Promise<string>((done) => {
      let paused = false;
      let spurts: NodeJS.Timeout | undefined;
      const finish = (why: string): void => {
        clearInterval(spurts);
        clearTimeout(deadline);
        done(why);
      };
      const deadline = setTimeout(() => finish(`stalled after ${received.length} acks`), 30_000);
      client.on('message', (data: Buffer) => {
        received.push(data.toString('utf8'));
        if (received.length === count) finish('complete');
      });
      client.on('error', (err) => finish(`error: ${err.message}`));
      client.on('close', (code) => finish(`closed ${code} after ${received.length} acks`));
      client.on('open', () => {
        client.send('go');
        const tcp = (client as unknown as { _socket: { pause(): void; resume(): void } })._socket;
        spurts = setInterval(() => {
          if (paused) tcp.resume();
          else tcp.pause();
          paused = !paused;
        }, 3);
      });
    });
    client.terminate();
    expect(outcome).toBe('complete');
    expect(received.every((m, n) => m === body(n))).toBe(true);
  });
});
