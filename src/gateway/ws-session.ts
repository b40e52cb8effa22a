/**
 * Per-connection state of a device's WebSocket: who it is, how many frames are in flight,
 * and its acks, which go out in frame order and wait for the socket to drain when the device
 * reads slowly (uWS would drop a send past maxBackpressure).
 */
import type { WebSocket } from 'uWebSockets.js';
import type { DeviceIdentity } from '../contracts/frame.js';

/** uWS send() result: the message was dropped because of backpressure. */
const DROPPED = 2;

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
    return this.chain;
  }

  /** The socket drained: send what waited. */
  drain(): void {
    const ws = this.ws;
    if (!ws || this.closed) return;
    ws.cork(() => {
      while (this.backlog.length > 0 && ws.getBufferedAmount() < this.maxBuffered) {
        const message = this.backlog[0] as string;
        if (ws.send(message, false) === DROPPED) break;
        this.backlog.shift();
      }
    });
  }

  private send(message: string): void {
    const ws = this.ws;
    if (!ws || this.closed) return;
    if (this.backlog.length === 0 && ws.getBufferedAmount() < this.maxBuffered) {
      let status = 0;
      ws.cork(() => (status = ws.send(message, false)));
      if (status !== DROPPED) return;
    }
    this.backlog.push(message);
    if (this.backlog.length > this.maxBacklog) {
      // The device does not read its acks; it will resend what it did not see acked.
      this.closed = true;
      ws.end(1008, 'acks not read');
    }
  }
}

export interface WsUserData {
  session: WsSession;
}
