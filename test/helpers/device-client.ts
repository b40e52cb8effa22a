/**
 * A test device: one WebSocket with a token, frames sent as envelopes with a unique seq, and
 * each frame's ack awaited by that seq (raw frames without seq are matched in order).
 */
import { pack } from 'msgpackr';
import WebSocket from 'ws';

export interface Ack {
  type: 'ack';
  seq: number | null;
  accepted: number;
  rejected: { index: number | null; event_id: string | null; code: string; message: string }[];
}

export class DeviceClient {
  private nextSeq = 1;
  private readonly waiting = new Map<number, (ack: Ack) => void>();
  private readonly unsequenced: ((ack: Ack) => void)[] = [];
  readonly messages: unknown[] = [];
  /** Resolves when the socket closes for any reason (pending acks will never come). */
  readonly closed: Promise<void>;

  private constructor(private readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()));
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString()) as Ack | { type: string };
      this.messages.push(msg);
      if (msg.type !== 'ack') return;
      const ack = msg as Ack;
      const waiter = ack.seq === null ? this.unsequenced.shift() : this.waiting.get(ack.seq);
      if (ack.seq !== null) this.waiting.delete(ack.seq);
      waiter?.(ack);
    });
  }

  static connect(url: string, token: string | null): Promise<DeviceClient> {
    const ws = new WebSocket(token ? `${url}?token=${encodeURIComponent(token)}` : url);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new DeviceClient(ws)));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
  }

  /** Like send(), but rejects when the connection closes before the ack arrives. */
  sendOrFail(events: unknown[], format: 'json' | 'msgpack' = 'json'): Promise<Ack> {
    return Promise.race([
      this.send(events, format),
      this.closed.then(() => {
        throw new Error('connection closed before the ack');
      }),
    ]);
  }

  /** Send events in an envelope; JSON text or MessagePack binary. Resolves with the ack. */
  send(events: unknown[], format: 'json' | 'msgpack' = 'json', seq = this.nextSeq++): Promise<Ack> {
    const envelope = { seq, events };
    const ack = new Promise<Ack>((resolve) => this.waiting.set(seq, resolve));
    this.ws.send(format === 'json' ? JSON.stringify(envelope) : pack(envelope), { binary: format === 'msgpack' });
    return ack;
  }

  /** Send a raw frame (any shape, even malformed); the next seq-less ack answers it. */
  sendRaw(frame: string | Buffer): Promise<Ack> {
    const ack = new Promise<Ack>((resolve) => this.unsequenced.push(resolve));
    this.ws.send(frame, { binary: Buffer.isBuffer(frame) });
    return ack;
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }

  /** Drop the socket without a close handshake (the server process died, or we simulate it). */
  terminate(): void {
    this.ws.terminate();
  }
}
