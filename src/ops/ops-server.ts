/**
 * OpsServer: the ops HTTP port (node:http — it carries little traffic; ingest stays on uWS).
 *
 *   GET /                                 live dashboard (uPlot charts of stats and metrics, refreshes every 2 s)
 *   GET /static/{file}                    the dashboard's scripts and styles (uPlot from node_modules, no CDN)
 *   GET /healthz                          200 {"status":"ok"} while the process is alive
 *   GET /readyz                           200 when every health check is up, else 503 + which are down
 *   GET /metrics                          Prometheus text format
 *   GET /api/v1/stats                     the pipeline's stats()
 *   GET /api/v1/audit?from&to             accepted vs archived vs stored vs rolled up
 *   GET /api/v1/status                    per region: stored events, bytes per store, bytes per event
 *   GET /api/v1/dlq?region=R&limit=N&code=C   newest DLQ entries of a region
 *   GET|DELETE /api/v1/dlq/{region}/{id}, POST …/{id}/replay, DELETE /api/v1/dlq/{region}
 *                                         DLQ triage (see dlq-routes.ts)
 *   POST /api/v1/replay, GET /api/v1/replay/{job_id}
 *                                         rebuild ClickHouse from the raw archive (see replay-routes.ts)
 *   GET /api/v1/devices/{id}/events?from&to&sensor&limit
 *   GET /api/v1/devices/{id}/rollups?sensor&from&to&step=1m|1h
 *
 * Errors are JSON `{"code", "message"}`: 400 BAD_REQUEST naming the parameter, 404 NOT_FOUND,
 * 405, 503 STORE_UNAVAILABLE / BUS_UNAVAILABLE, 500 INTERNAL. A handler that throws never
 * takes the process down.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Registry, type RegistryContentType } from 'prom-client';
import type { Config } from '../config.js';
import { errorMessage } from '../errors.js';
import type { Keys } from '../runtime/keys.js';
import type { AnalyticsStore } from '../sinks/analytics-store.js';
import { ApiError } from './api-error.js';
import { DeviceQueries } from './device-queries.js';
import type { DlqAppend } from './dlq-replayer.js';
import { DlqRoutes } from './dlq-routes.js';
import { downChecks, type HealthReport } from './health.js';
import { sendBody, sendError, sendJson } from './http-response.js';
import type { AuditReport } from './auditor.js';
import type { StatusReport } from './status-report.js';
import { parseDeviceId, parseTimeRange } from './query-params.js';
import { ReplayRoutes, type ReplayRun } from './replay-routes.js';

export interface OpsServerDeps {
  config: Config;
  store: AnalyticsStore;
  redis: Redis;
  keys: Keys;
  logger: Logger;
  health: () => Promise<HealthReport>;
  stats: () => Promise<Record<string, unknown>>;
  /** A prom-client registry, or a function rendering metrics in Prometheus text format. */
  metrics: Registry<RegistryContentType> | (() => Promise<string>);
  /** Wall clock for the query API's default time ranges and DLQ replays. Default Date.now. */
  clock?: () => number;
  /**
   * Appends replayed DLQ events to the bus: the gateway's BusAppender,
   * `(region, partition, events) => appender.append(region, partition, events)`.
   * Without it, DLQ replay answers 503 REPLAY_UNAVAILABLE.
   */
  append?: DlqAppend;
  /** The audit of a time range (see auditor.ts); without it /api/v1/audit answers 503. */
  audit?: (from: number, to: number) => Promise<AuditReport>;
  /** Stored events and bytes per region (see status-report.ts); without it /api/v1/status answers 503. */
  status?: () => Promise<StatusReport>;
  /** Runs an archive replay job (see replay-routes.ts); without it /api/v1/replay answers 503. */
  replay?: ReplayRun;
}

export { DLQ_DEFAULT_LIMIT, DLQ_MAX_LIMIT } from './dlq-routes.js';
const CLOSE_GRACE_MS = 2_000;
const DEVICE_ROUTE = /^\/api\/v1\/devices\/([^/]+)\/(events|rollups)$/;
const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'";
const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
/** The dashboard's assets by URL path: [file, content type]. uPlot is bundled from node_modules. */
function dashboardAssets(): Map<string, [URL | string, string]> {
  const own = (name: string): URL => new URL(`./static/${name}`, import.meta.url);
  const uplot = (name: string): string => createRequire(import.meta.url).resolve(`uplot/dist/${name}`);
  return new Map<string, [URL | string, string]>([
    ['/', [own('dashboard.html'), 'text/html; charset=utf-8']],
    ['/static/dashboard.js', [own('dashboard.js'), JS]],
    ['/static/dashboard-charts.js', [own('dashboard-charts.js'), JS]],
    ['/static/prom-text.js', [own('prom-text.js'), JS]],
    ['/static/dashboard.css', [own('dashboard.css'), CSS]],
    ['/static/uplot.js', [uplot('uPlot.iife.min.js'), JS]],
    ['/static/uplot.css', [uplot('uPlot.min.css'), CSS]],
  ]);
}

export class OpsServer {
  private server: Server | null = null;
  private readonly queries: DeviceQueries;
  private readonly dlq: DlqRoutes;
  private readonly replay: ReplayRoutes;
  private readonly assets = new Map<string, { body: string; type: string }>();
  private readonly sockets = new Set<Socket>();

  constructor(private readonly deps: OpsServerDeps) {
    this.queries = new DeviceQueries(deps.config, deps.store, deps.clock);
    this.dlq = new DlqRoutes({ config: deps.config, redis: deps.redis, keys: deps.keys, clock: deps.clock ?? Date.now, append: deps.append });
    this.replay = new ReplayRoutes({ regions: deps.config.regions, logger: deps.logger, run: deps.replay });
    for (const [path, [file, type]] of dashboardAssets()) this.assets.set(path, { body: readFileSync(file, 'utf8'), type });
  }

  /** Start listening on config.ops.host:port; resolves with the actual port. */
  async listen(): Promise<number> {
    if (this.server) throw new Error('OpsServer is already listening');
    const server = createServer((req, res) => {
      void this.handle(req, res);
    });
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
    const { host, port } = this.deps.config.ops;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  /** Stop accepting and any running replay; idle keep-alive sockets close now, busy ones get a short grace. */
  async close(): Promise<void> {
    await this.replay.close();
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const grace = setTimeout(() => {
      for (const s of this.sockets) s.destroy();
    }, CLOSE_GRACE_MS);
    await closed;
    clearTimeout(grace);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await this.route(req, res);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
      } else if (err instanceof ApiError) {
        if (err.status >= 500) this.deps.logger.warn({ err: errorMessage(err), url: req.url }, 'ops request failed');
        sendError(res, err.status, err.code, err.message);
      } else {
        this.deps.logger.error({ err, url: req.url }, 'ops handler threw');
        sendError(res, 500, 'INTERNAL', `internal error: ${errorMessage(err)}`);
      }
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://ops.invalid');
    const path = url.pathname;
    if (DlqRoutes.owns(path)) return this.dlq.handle(req, res, url);
    if (ReplayRoutes.owns(path)) return this.replay.handle(req, res, url);
    const asset = this.assets.get(path);
    const known = asset !== undefined || path === '/healthz' || path === '/readyz' || path === '/metrics' || path.startsWith('/api/');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      if (known) throw new ApiError(405, 'METHOD_NOT_ALLOWED', `${req.method ?? '?'} is not allowed; use GET`);
      throw new ApiError(404, 'NOT_FOUND', `no route ${req.method ?? '?'} ${path}`);
    }
    if (asset) {
      sendBody(res, 200, asset.type, asset.body, { 'Content-Security-Policy': DASHBOARD_CSP });
      return;
    }
    const params = url.searchParams;
    switch (path) {
      case '/healthz':
        sendJson(res, 200, { status: 'ok' });
        return;
      case '/readyz':
        await this.readyz(res);
        return;
      case '/metrics':
        await this.metrics(res);
        return;
      case '/api/v1/stats':
        sendJson(res, 200, await this.deps.stats());
        return;
      case '/api/v1/audit': {
        if (!this.deps.audit) throw new ApiError(503, 'AUDIT_UNAVAILABLE', 'this server has no audit');
        const { from, to } = parseTimeRange(params, 24 * 3_600_000, (this.deps.clock ?? Date.now)());
        sendJson(res, 200, await this.deps.audit(from, to));
        return;
      }
      case '/api/v1/status':
        if (!this.deps.status) throw new ApiError(503, 'STATUS_UNAVAILABLE', 'this server has no status report');
        sendJson(res, 200, await this.deps.status());
        return;
    }
    const device = DEVICE_ROUTE.exec(path);
    if (device) {
      const deviceId = parseDeviceId(device[1] as string);
      const answer =
        device[2] === 'events' ? await this.queries.events(deviceId, params) : await this.queries.rollups(deviceId, params);
      sendJson(res, 200, answer);
      return;
    }
    throw new ApiError(404, 'NOT_FOUND', `no route GET ${path}`);
  }

  private async readyz(res: ServerResponse): Promise<void> {
    let report: HealthReport;
    try {
      report = await this.deps.health();
    } catch (err) {
      sendJson(res, 503, { status: 'not_ready', down: ['health'], checks: {}, message: errorMessage(err) });
      return;
    }
    const down = downChecks(report);
    sendJson(res, down.length === 0 ? 200 : 503, {
      status: down.length === 0 ? 'ready' : 'not_ready',
      down,
      checks: report.checks,
    });
  }

  private async metrics(res: ServerResponse): Promise<void> {
    const m = this.deps.metrics;
    if (m instanceof Registry) sendBody(res, 200, m.contentType, await m.metrics());
    else sendBody(res, 200, Registry.PROMETHEUS_CONTENT_TYPE, await m());
  }
}
