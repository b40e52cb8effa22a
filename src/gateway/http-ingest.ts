/**
 * `POST /v1/events`: the same frame processing as the WebSocket path for one HTTP body.
 * The body is read with a size limit (413 with a TOO_LARGE ack when over); the reply is the
 * ack JSON with 200, or 503 when events were refused as OVERLOADED, or 401 for a bad token.
 */
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { Logger } from 'pino';
import type { DeviceIdentity } from '../contracts/frame.js';
import { RejectCode, errorMessage } from '../errors.js';
import { DeviceAuthenticator } from './device-authenticator.js';
import { FrameHandler, type FrameOutcome } from './frame-handler.js';
import type { GatewayStats } from './gateway-stats.js';

export interface HttpIngestDeps {
  handler: FrameHandler;
  auth: DeviceAuthenticator;
  stats: GatewayStats;
  logger: Logger;
  maxBodyBytes: number;
  /** Register work the gateway must wait for when closing. */
  track: (work: Promise<void>) => void;
  /** True while the gateway closes: accepted events are refused as OVERLOADED. */
  closing: () => boolean;
}

const JSON_TYPES = new Set(['', 'application/json', 'text/json', 'text/plain']);
const MSGPACK_TYPES = new Set(['application/msgpack', 'application/x-msgpack', 'application/vnd.msgpack']);
const PREVIEW_BYTES = 1024;

/** State of one request: uWS forbids touching `res` after it was aborted or answered. */
class Exchange {
  aborted = false;
  answered = false;
  constructor(readonly res: HttpResponse) {
    res.onAborted(() => (this.aborted = true));
  }

  reply(status: string, body: string, close = false, headers: Record<string, string> = {}): void {
    if (this.aborted || this.answered) return;
    this.answered = true;
    this.res.cork(() => {
      this.res.writeStatus(status).writeHeader('Content-Type', 'application/json');
      for (const [k, v] of Object.entries(headers)) this.res.writeHeader(k, v);
      this.res.end(body, close);
    });
  }
}

export class HttpIngest {
  constructor(private readonly deps: HttpIngestDeps) {}

  /** The route handler: reads every header synchronously, then streams the body. */
  handle(res: HttpResponse, req: HttpRequest): void {
    const { stats, maxBodyBytes } = this.deps;
    stats.httpRequests++;
    const exchange = new Exchange(res);
    const mediaType = (req.getHeader('content-type').split(';')[0] ?? '').trim().toLowerCase();
    const token = DeviceAuthenticator.tokenFrom(req.getHeader('authorization'), req.getQuery('token') ?? '');
    const declared = Number(req.getHeader('content-length') || '0');
    const remote = Buffer.from(res.getRemoteAddressAsText()).toString();
    const identity = this.deps.auth.authenticate(token);
    identity.catch(() => undefined); // answered below, once the body is in

    if (!JSON_TYPES.has(mediaType) && !MSGPACK_TYPES.has(mediaType)) {
      exchange.reply('415 Unsupported Media Type', JSON.stringify({ code: RejectCode.MALFORMED, message: 'Content-Type must be application/json or application/msgpack' }), true);
      return;
    }
    const binary = MSGPACK_TYPES.has(mediaType);
    if (declared > maxBodyBytes) return this.tooLarge(exchange, identity, declared, Buffer.alloc(0), remote);

    const chunks: Buffer[] = [];
    let received = 0;
    res.onData((chunk, isLast) => {
      if (exchange.answered) return;
      received += chunk.byteLength;
      if (received > maxBodyBytes) return this.tooLarge(exchange, identity, received, Buffer.concat(chunks), remote);
      chunks.push(Buffer.from(new Uint8Array(chunk))); // copies: uWS reuses the chunk's memory
      if (isLast) this.deps.track(this.process(exchange, identity, Buffer.concat(chunks), binary, remote));
    });
  }

  private async process(exchange: Exchange, identity: Promise<DeviceIdentity | null>, body: Buffer, binary: boolean, remote: string): Promise<void> {
    try {
      const device = await this.authenticated(exchange, identity);
      if (device === undefined) return;
      const outcome = await this.deps.handler.handle(body, binary, device, { source: 'http', remote }, this.deps.closing());
      this.answer(exchange, outcome);
    } catch (err) {
      this.deps.logger.error({ err }, 'HTTP ingest failed');
      exchange.reply('500 Internal Server Error', JSON.stringify({ code: 'INTERNAL', message: errorMessage(err) }));
    }
  }

  /** 413 at once, closing the connection (the rest of the body is not read); then the DLQ entry. */
  private tooLarge(exchange: Exchange, identity: Promise<DeviceIdentity | null>, bytes: number, head: Buffer, remote: string): void {
    const message = `the body exceeds ${this.deps.maxBodyBytes} bytes`;
    exchange.reply('413 Payload Too Large', FrameHandler.refusalAck(RejectCode.TOO_LARGE, message), true);
    const preview = head.subarray(0, PREVIEW_BYTES).toString();
    const record = identity.then(
      (device) => this.deps.handler.recordRefusal(RejectCode.TOO_LARGE, message, device, preview, bytes, { source: 'http', remote }),
      () => {
        this.deps.stats.unauthorized++;
      },
    );
    this.deps.track(record);
  }

  /** The device, or undefined after answering 401. */
  private async authenticated(exchange: Exchange, identity: Promise<DeviceIdentity | null>): Promise<DeviceIdentity | null | undefined> {
    try {
      return await identity;
    } catch (err) {
      this.deps.stats.unauthorized++;
      exchange.reply('401 Unauthorized', JSON.stringify({ code: RejectCode.UNAUTHORIZED, message: errorMessage(err) }), false, {
        'WWW-Authenticate': 'Bearer',
      });
      return undefined;
    }
  }

  private answer(exchange: Exchange, outcome: FrameOutcome): void {
    if (outcome.overloaded > 0) exchange.reply('503 Service Unavailable', outcome.ack, false, { 'Retry-After': '1' });
    else exchange.reply('200 OK', outcome.ack);
  }
}
