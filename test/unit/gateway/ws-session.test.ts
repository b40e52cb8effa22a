/**
 * Acks that become ready in the same turn go out together, one cork per socket. A socket that
 * uWS has already closed throws on any access; that must cost only its own acks, never the
 * acks of the other devices flushed in the same turn, nor crash the gateway.
 */
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'uWebSockets.js';
import { WsSession, type WsUserData } from '../../../src/gateway/ws-session.js';

/** The part of a uWS socket a session touches, recording what it was sent. */
function socket(opts: { closed?: boolean } = {}): { ws: WebSocket<WsUserData>; sent: string[] } {
  const sent: string[] = [];
  const closed = (): never => {
    throw new Error('Invalid access of closed uWS.WebSocket/SSLWebSocket.');
  };
  const ws = {
    cork(fn: () => void) {
      if (opts.closed) closed();
      fn();
      return ws;
    },
    send(message: string) {
      if (opts.closed) closed();
      sent.push(message);
      return 1;
    },
    getBufferedAmount: () => (opts.closed ? closed() : 0),
    end: () => undefined,
  };
  return { ws: ws as unknown as WebSocket<WsUserData>, sent };
}

function session(ws: WebSocket<WsUserData>): WsSession {
  const s = new WsSession(null, '127.0.0.1', 64 * 1024, 100);
  s.ws = ws;
  return s;
}

describe('WsSession', () => {
  it('sends each socket its acks in frame order', async () => {
    const a = socket();
    const s = session(a.ws);
    let second!: (v: string) => void;
    s.ackWhenReady(new Promise((done) => setTimeout(() => done('ack-1'), 20)));
    s.ackWhenReady(new Promise<string>((done) => (second = done)));
    second('ack-2');
    await s.settled();
    expect(a.sent).toEqual(['ack-1', 'ack-2']);
    expect(s.inFlight).toBe(0);
  });

  it('still acks the other devices of a turn when one socket was closed under it', async () => {
    const dead = socket({ closed: true });
    const live = socket();
    const gone = session(dead.ws);
    const ok = session(live.ws);
    gone.ackWhenReady(Promise.resolve('ack-dead'));
    ok.ackWhenReady(Promise.resolve(['ack-live', 'throttle']));
    // No settled(): the turn's flush alone must deliver.
    await new Promise((done) => setTimeout(done, 20));
    expect(live.sent).toEqual(['ack-live', 'throttle']);
    expect(dead.sent).toEqual([]);
    expect(gone.closed).toBe(true);
  });
});
