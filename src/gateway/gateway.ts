/**
 * The ingest gateway on uWebSockets.js:
 *
 *   device ──WS /v1/stream──┐                       ┌─▶ XADD <region:partition stream>
 *   device ──POST /v1/events┴─▶ FrameHandler ──────┤   (BusAppender, coalesced per tick)
 *                               (processFrame)      └─▶ XADD <region dlq>
 *                                    ◀── ack after both writes ──┘
 *
 * Tokens are checked in the upgrade handler, so a bad one gets HTTP 401 and no socket.
 * No exception from a frame reaches uWS (it would abort the process).
 */
import uWS from 'uWebSockets.js';
import type {
  HttpRequest,
  HttpResponse,
  TemplatedApp,
  WebSocket,
  us_listen_socket,
  us_socket_context_t,
} from 'uWebSockets.js';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { Config } from '../config.js';
import { RejectCode, ServiceStartError, errorMessage } from '../errors.js';
import type { Keys } from '../runtime/keys.js';
import { BusAppender } from './bus-appender.js';
import { DeviceAuthenticator } from './device-authenticator.js';
import { FrameHandler, type Pressure } from './frame-handler.js';
import { GatewayMetrics } from './gateway-metrics.js';
import { GatewayStats } from './gateway-stats.js';
import { HttpIngest } from './http-ingest.js';
import { WsSession, type WsUserData } from './ws-session.js';

export interface GatewayDeps {
  config: Config;
  redis: Redis | Cluster;
  keys: Keys;
  logger: Logger;
  /** Secret verifying device tokens; null only with auth mode `none`. */
  authSecret: string | null;
  clock?: () => number;
  /** Backpressure of a partition (the runtime's LagMonitor); absent = never throttle. */
  pressure?: (region: string, partition: number) => Pressure;
  /** The sample rate a throttle asks of a partition's devices (LagMonitor.sampleRate); absent = ½. */
  sampleRate?: (region: string, partition: number) => number;
  /** Registry for the gateway's metrics (GatewayMetrics, shoal_sampled_out_readings_total); absent = none. */
  registry?: Registry;
}

/** How long a throttled device is asked to wait before sending at full rate again. */
const THROTTLE_RETRY_MS = 2000;
/** A device is sent at most one throttle message per this interval. */
const THROTTLE_EVERY_MS = 1000;

/** Frames a socket may have in flight before further ones are refused as OVERLOADED. */
const MAX_IN_FLIGHT = 16;
/**
 * Frame bytes all sockets together may have in flight before frames are refused as OVERLOADED.
 * A frame in flight costs many times its wire size once parsed (events, promises): under
 * overload 92 MB of frames in flight held about 1.5 GB of heap (profiled), so this bound is low.
 */
const MAX_IN_FLIGHT_BYTES = 32 * 1024 * 1024;
/** Bytes a socket may buffer before acks wait for a drain. */
const MAX_BUFFERED = 1024 * 1024;
/** Acks that may wait for a drain before the device is disconnected. */
const MAX_BACKLOG = 1024;
const IDLE_TIMEOUT_S = 120;
const CLOSING = JSON.stringify({ code: RejectCode.OVERLOADED, message: 'OVERLOADED: the gateway is closing' });

export class Gateway {
  readonly stats = new GatewayStats();
  readonly appender: BusAppender;
  private readonly app: TemplatedApp;
  private readonly auth: DeviceAuthenticator;
  private readonly handler: FrameHandler;
  private readonly sessions = new Set<WsSession>();
  private readonly work = new Set<Promise<void>>();
  private listenSocket: us_listen_socket | null = null;
  private closing = false;
  private boundPort = 0;
  private inFlightBytes = 0;
  private readonly clock: () => number;
  private readonly metrics: GatewayMetrics | undefined;

  constructor(private readonly deps: GatewayDeps) {
    const { config, redis, keys, logger } = deps;
    const clock = deps.clock ?? Date.now;
    this.auth = new DeviceAuthenticator(config.auth.mode, deps.authSecret);
    this.metrics = deps.registry ? new GatewayMetrics(deps.registry, config.regions) : undefined;
    this.appender = new BusAppender({ redis, keys, regions: config.regions, lingerMs: config.ingest.appendLingerMs, clock, metrics: this.metrics });
    const sampledOutReadings = deps.registry
      ? new Counter({
          name: 'shoal_sampled_out_readings_total',
          help: 'Readings sampled away by the gateway under backpressure (acked; represented by the weights of the kept readings)',
          labelNames: ['region', 'sensor_type'] as const,
          registers: [deps.registry],
        })
      : undefined;
    this.handler = new FrameHandler({ config, appender: this.appender, stats: this.stats, logger, clock, pressure: deps.pressure, sampleRate: deps.sampleRate, sampledOutReadings, metrics: this.metrics });
    this.clock = clock;
    const http = new HttpIngest({
      handler: this.handler,
      auth: this.auth,
      stats: this.stats,
      logger,
      maxBodyBytes: config.ingest.maxFrameBytes,
      track: (w) => this.track(w),
      closing: () => this.closing,
    });
    this.app = uWS
      .App()
      .ws<WsUserData>('/v1/stream', {
        // Frames a little over the limit still get a TOO_LARGE ack; far bigger ones close the socket.
        maxPayloadLength: config.ingest.maxFrameBytes + Math.max(64 * 1024, config.ingest.maxFrameBytes >> 2),
        idleTimeout: IDLE_TIMEOUT_S,
        maxBackpressure: 2 * MAX_BUFFERED,
        closeOnBackpressureLimit: 0,
        sendPingsAutomatically: true,
        upgrade: (res, req, context) => this.upgrade(res, req, context),
        open: (ws) => this.open(ws.getUserData().session, ws),
        message: (ws, message, isBinary) => this.message(ws.getUserData().session, message, isBinary),
        drain: (ws) => ws.getUserData().session.drain(),
        close: (ws) => this.closed(ws.getUserData().session),
      })
      .post('/v1/events', (res, req) => {
        if (this.closing) return void res.writeStatus('503 Service Unavailable').end(CLOSING, true);
        http.handle(res, req);
      })
      .get('/healthz', (res) => {
        if (this.closing) res.writeStatus('503 Service Unavailable');
        res.writeHeader('Content-Type', 'text/plain').end(this.closing ? 'closing' : 'ok');
      })
      .any('/*', (res) => void res.writeStatus('404 Not Found').writeHeader('Content-Type', 'application/json').end('{"code":"NOT_FOUND","message":"no such route"}'));
  }

  /** The port actually bound (config.ingest.port may be 0). */
  get port(): number {
    return this.boundPort;
  }

  listen(): Promise<number> {
    const { host, port } = this.deps.config.ingest;
    return new Promise((done, fail) => {
      this.app.listen(host, port, (socket) => {
        if (!socket) return fail(new ServiceStartError(`the ingest gateway could not listen on ${host}:${port}`));
        this.listenSocket = socket;
        this.boundPort = uWS.us_socket_local_port(socket);
        this.deps.logger.info({ port: this.boundPort }, 'ingest gateway listening');
        done(this.boundPort);
      });
    });
  }

  /** Stop accepting, let in-flight frames finish and ack (bounded), then close every socket. */
  async close(timeoutMs = 10_000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.listenSocket) uWS.us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
    const deadline = Date.now() + timeoutMs;
    const acksSent = (): Promise<unknown> => Promise.allSettled([...this.work, ...[...this.sessions].map((s) => s.settled())]);
    await within(acksSent(), deadline);
    await this.appender.drain(Math.max(0, deadline - Date.now()));
    await within(acksSent(), deadline); // frames that arrived meanwhile were refused as OVERLOADED
    for (const session of this.sessions) if (!session.closed) session.ws?.end(1001, 'server shutting down');
    // Closes what is left (idle HTTP keep-alive connections); untyped in this uWS build.
    (this.app as unknown as { close?: () => void }).close?.();
  }

  private upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void {
    if (this.closing) return void res.writeStatus('503 Service Unavailable').end(CLOSING, true);
    const key = req.getHeader('sec-websocket-key');
    const protocol = req.getHeader('sec-websocket-protocol');
    const extensions = req.getHeader('sec-websocket-extensions');
    const token = DeviceAuthenticator.tokenFrom(req.getHeader('authorization'), req.getQuery('token') ?? '');
    const remote = Buffer.from(res.getRemoteAddressAsText()).toString();
    let aborted = false;
    res.onAborted(() => (aborted = true));
    this.auth.authenticate(token).then(
      (identity) => {
        if (aborted) return;
        if (this.closing) return void res.cork(() => res.writeStatus('503 Service Unavailable').end(CLOSING, true));
        const session = new WsSession(identity, remote, MAX_BUFFERED, MAX_BACKLOG);
        res.cork(() => res.upgrade<WsUserData>({ session }, key, protocol, extensions, context));
      },
      (err: unknown) => {
        this.stats.unauthorized++;
        if (aborted) return;
        const body = JSON.stringify({ code: RejectCode.UNAUTHORIZED, message: errorMessage(err) });
        res.cork(() => res.writeStatus('401 Unauthorized').writeHeader('Content-Type', 'application/json').end(body, true));
      },
    );
  }

  private open(session: WsSession, ws: WebSocket<WsUserData>): void {
    session.ws = ws;
    this.sessions.add(session);
    this.stats.connections++;
    this.stats.connectionsTotal++;
    this.metrics?.connectionOpened();
  }

  private message(session: WsSession, message: ArrayBuffer, binary: boolean): void {
    const bytes = message.byteLength;
    try {
      const shed = this.closing || session.inFlight >= MAX_IN_FLIGHT || this.inFlightBytes + bytes > MAX_IN_FLIGHT_BYTES;
      this.inFlightBytes += bytes;
      // handle() reads the frame before its first await: uWS reclaims `message` on return.
      const outcome = this.handler.handle(new Uint8Array(message), binary, session.identity, { source: 'ws', remote: session.remote }, shed);
      session.ackWhenReady(
        outcome.then(
          (o) => (o.pressure === 'ok' ? o.ack : [o.ack, ...this.throttle(session, o.sampleRate)]),
          (err: unknown) => this.failedAck(err),
        ).finally(() => (this.inFlightBytes -= bytes)),
      );
    } catch (err) {
      this.inFlightBytes -= bytes;
      session.ackWhenReady(Promise.resolve(this.failedAck(err)));
    }
  }

  /**
   * The throttle message for a device behind a lagging partition, at most once a second:
   * `sampleRate` is the frame's (FrameOutcome.sampleRate), lower the further behind.
   */
  private throttle(session: WsSession, sampleRate: number): string[] {
    const now = this.clock();
    if (now - session.lastThrottleAt < THROTTLE_EVERY_MS) return [];
    session.lastThrottleAt = now;
    this.stats.throttles++;
    return [JSON.stringify({ type: 'throttle', sample_rate: sampleRate, retry_after_ms: THROTTLE_RETRY_MS })];
  }

  private failedAck(err: unknown): string {
    this.deps.logger.error({ err }, 'frame handling failed; answering MALFORMED');
    return FrameHandler.refusalAck(RejectCode.MALFORMED, 'the frame could not be processed');
  }

  private closed(session: WsSession): void {
    session.closed = true;
    session.ws = null;
    this.sessions.delete(session);
    this.stats.connections--;
    this.metrics?.connectionClosed();
  }

  private track(work: Promise<void>): void {
    const settled = work.catch((err: unknown) => this.deps.logger.error({ err }, 'ingest request failed'));
    this.work.add(settled);
    void settled.then(() => this.work.delete(settled));
  }
}

/** Wait for `work`, but not past `deadline` (epoch ms). */
async function within(work: Promise<unknown>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((done) => (timer = setTimeout(done, Math.max(0, deadline - Date.now()))));
  await Promise.race([work, timeout]);
  clearTimeout(timer);
}
