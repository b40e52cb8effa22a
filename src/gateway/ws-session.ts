/**
 * Per-connection state of a device's WebSocket: who it is, how many frames are in flight,
 * and its acks, which go out in frame order and wait for the socket to drain when the device
 * reads slowly (uWS would drop a send past maxBackpressure).
 */
import type { WebSocket } from 'uWebSockets.js';
import type { DeviceIdentity } from '../contracts/frame.js';

/** uWS send() result: the message was dropped because of backpressure. */
const DROPPED = 2;

/**
 * Hand one message to uWS. The build we load (uWS.js 20.30; newer builds need glibc 2.38)
 * writes uncompressed messages of 16 KiB or more straight to the socket when nothing is
 * buffered, and when that write is partial inside the drain handler, the rest stays in uWS's
 * buffer and no drain ever comes again: the device waits forever for the end of its ack
 * (measured with test/integration/gateway/ws-session-uws.test.ts; upstream reworked that
 * shortcut later, e.g. uWebSockets PR #1662). An ack with a couple of hundred rejections is
 * that big. Asking for compression skips the shortcut; the gateway negotiates none, so uWS
 * sends the frame uncompressed, through its buffered path.
 */
function sendText(ws: WebSocket<WsUserData>, message: string): number {
  return ws.send(message, false, true);
}

/**
 * Sessions with acks waiting for the end of this turn of the event loop. Acks that become
 * ready together (one bus append answers many frames) go out under one cork per socket: one
 * write instead of one per ack.
 */
const toFlush = new Set<WsSession>();
let flushScheduled = false;

function flushAll(): void {
  flushScheduled = false;
  const sessions = [...toFlush];
  toFlush.clear();
  for (const session of sessions) {
    // A socket uWS already closed throws on access: that session is done, the others still
    // get their acks (and the throw must not escape a setImmediate callback).
    try {
      session.flush();
    } catch {
      session.closed = true;
    }
  }
}

export class WsSession {
  ws: WebSocket<WsUserData> | null = null;
  closed = false;
  /** Frames received whose ack has not been handed to the socket yet. */
  inFlight = 0;
  /** When this device was last asked to throttle (clock ms). */
  lastThrottleAt = Number.NEGATIVE_INFINITY;
  /** Resolves when every ack queued so far has been handed to the socket (or the socket closed). */
  private chain: Promise<void> = Promise.resolve();
  private readonly backlog: string[] = [];
  /** Acks ready this turn, sent together by flush(). */
  private pending: string[] = [];

  constructor(
    readonly identity: DeviceIdentity | null,
    readonly remote: string,
    /** Bytes the socket may buffer before acks wait for a drain. */
    private readonly maxBuffered: number,
    /** Acks that may wait for a drain before the connection is closed. */
    private readonly maxBacklog: number,
  ) {}

  /**
   * Queue the ack of a frame (and any control messages after it, e.g. throttle) behind the
   * acks of earlier frames (`ack` should not reject).
   */
  ackWhenReady(ack: Promise<string | string[]>): void {
    this.inFlight++;
    this.chain = this.chain
      .then(() => ack)
      .then(
        (messages) => {
          for (const message of typeof messages === 'string' ? [messages] : messages) this.send(message);
        },
        () => undefined,
      )
      .finally(() => this.inFlight--);
  }

  /** Wait until the acks of every frame received so far have been sent. */
  settled(): Promise<void> {
    return this.chain.then(() => this.flush());
  }

  /** The socket drained: send what waited. */
  drain(): void {
    const ws = this.ws;
    if (!ws || this.closed) return;
    ws.cork(() => {
      while (this.backlog.length > 0 && ws.getBufferedAmount() < this.maxBuffered) {
        const message = this.backlog[0] as string;
        if (sendText(ws, message) === DROPPED) break;
        this.backlog.shift();
      }
    });
  }

  /** Hand the acks that became ready to the socket, under one cork. */
  flush(): void {
    toFlush.delete(this);
    const messages = this.pending;
    if (messages.length === 0) return;
    this.pending = [];
    const ws = this.ws;
    if (!ws || this.closed) return;
    ws.cork(() => {
      for (const message of messages) {
        if (this.backlog.length === 0 && ws.getBufferedAmount() < this.maxBuffered && sendText(ws, message) !== DROPPED) continue;
        this.backlog.push(message);
      }
    });
    if (this.backlog.length > this.maxBacklog) {
      // The device does not read its acks; it will resend what it did not see acked.
      this.closed = true;
      ws.end(1008, 'acks not read');
    }
  }

  private send(message: string): void {
    if (!this.ws || this.closed) return;
    this.pending.push(message);
    toFlush.add(this);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushAll);
    }
  }
}

export interface WsUserData {
  session: WsSession;
}
