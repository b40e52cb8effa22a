/**
 * The archive replay endpoints of the ops API, behind `shoal replay` (see
 * src/sinks/archive-replayer.ts for what a replay does):
 *
 *   POST /api/v1/replay            {"region", "from": "YYYY-MM-DD", "to": "YYYY-MM-DD",
 *                                   "into": "rebuild"|"live"}  (into defaults to rebuild)
 *                                  → 202 {"job_id"}; 409 REPLAY_RUNNING while another job runs
 *   GET  /api/v1/replay/{job_id}   → {"job_id", "state": running|done|failed, "objects_total",
 *                                   "objects_done", "rows", "duplicates", "dates_total",
 *                                   "dates_done", "region", "from", "to", "into", "error"?}
 *
 * One job runs at a time (two replays of one date would interleave deletes and inserts). The
 * last MAX_KEPT jobs stay queryable. Without a runner every route answers 503 REPLAY_UNAVAILABLE.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import { isPlainObject } from '../contracts/untrusted-values.js';
import { replayDates, type ReplayInto, type ReplayProgress, type ReplayRequest } from '../sinks/archive-replayer.js';
import { ApiError } from './api-error.js';
import { readBody } from './read-body.js';
import { sendJson } from './http-response.js';

/** Runs one replay job; `onProgress` after each object; stops early when `signal` aborts. */
export type ReplayRun = (request: ReplayRequest, jobId: string, onProgress: (p: ReplayProgress) => void, signal: AbortSignal) => Promise<ReplayProgress>;

export interface ReplayJobView {
  job_id: string;
  state: 'running' | 'done' | 'failed';
  region: string;
  from: string;
  to: string;
  into: ReplayInto;
  dates_total: number;
  dates_done: number;
  objects_total: number;
  objects_done: number;
  rows: number;
  duplicates: number;
  error?: string;
}

export interface ReplayRoutesDeps {
  regions: readonly string[];
  logger: Pick<Logger, 'info' | 'error'>;
  run?: ReplayRun;
}

const PREFIX = '/api/v1/replay';
const MAX_BODY_BYTES = 4096;
const MAX_DATES = 366;
const MAX_KEPT = 50;

export class ReplayRoutes {
  private readonly jobs = new Map<string, ReplayJobView>();
  private running: { id: string; abort: AbortController; done: Promise<void> } | null = null;

  constructor(private readonly deps: ReplayRoutesDeps) {}

  /** True for the paths this class answers. */
  static owns(path: string): boolean {
    return path === PREFIX || path.startsWith(`${PREFIX}/`);
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    if (url.pathname === PREFIX) {
      if (method !== 'POST') throw new ApiError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${PREFIX}; use POST`);
      const request = this.parseRequest(await readBody(req, MAX_BODY_BYTES));
      const run = this.runner();
      if (this.running) throw new ApiError(409, 'REPLAY_RUNNING', `replay job ${this.running.id} is still running; wait for it to finish`);
      sendJson(res, 202, { job_id: this.start(request, run) });
      return;
    }
    const id = url.pathname.slice(PREFIX.length + 1);
    if (method !== 'GET' && method !== 'HEAD') throw new ApiError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${url.pathname}; use GET`);
    this.runner();
    const job = this.jobs.get(id);
    if (!job) throw new ApiError(404, 'NOT_FOUND', `no replay job ${id}`);
    sendJson(res, 200, job);
  }

  /** Stop the running job, if any, and wait until it has let go of its resources. */
  async close(): Promise<void> {
    const running = this.running;
    if (!running) return;
    running.abort.abort();
    await running.done;
  }

  private runner(): ReplayRun {
    if (!this.deps.run) throw new ApiError(503, 'REPLAY_UNAVAILABLE', 'this server cannot replay the archive');
    return this.deps.run;
  }

  private start(request: ReplayRequest, run: ReplayRun): string {
    const id = randomUUID();
    const dates = replayDates(request.from, request.to) as string[];
    const job: ReplayJobView = {
      job_id: id,
      state: 'running',
      ...request,
      dates_total: dates.length,
      dates_done: 0,
      objects_total: 0,
      objects_done: 0,
      rows: 0,
      duplicates: 0,
    };
    this.jobs.set(id, job);
    for (const old of this.jobs.keys()) if (this.jobs.size > MAX_KEPT) this.jobs.delete(old);
    const abort = new AbortController();
    const progress = (p: ReplayProgress): void => {
      job.objects_total = p.objectsTotal;
      job.objects_done = p.objectsDone;
      job.rows = p.rows;
      job.duplicates = p.duplicates;
      job.dates_done = p.datesDone;
    };
    this.deps.logger.info({ job: id, ...request }, 'replay started');
    const done = run(request, id, progress, abort.signal).then(
      (p) => {
        progress(p);
        job.state = 'done';
        this.deps.logger.info({ job: id, rows: p.rows, objects: p.objectsDone, duplicates: p.duplicates }, 'replay done');
      },
      (err: unknown) => {
        job.state = 'failed';
        job.error = errorMessage(err);
        this.deps.logger.error({ job: id, err: job.error }, 'replay failed');
      },
    ).finally(() => {
      this.running = null;
    });
    this.running = { id, abort, done };
    return id;
  }

  private parseRequest(body: Buffer): ReplayRequest {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw ApiError.badRequest('body: must be JSON {"region", "from", "to", "into"}');
    }
    if (!isPlainObject(parsed)) throw ApiError.badRequest('body: must be a JSON object {"region", "from", "to", "into"}');
    const { region, from, to, into = 'rebuild' } = parsed;
    if (typeof region !== 'string' || !this.deps.regions.includes(region))
      throw ApiError.badRequest(`region: must be one of ${this.deps.regions.join(', ')}`);
    if (typeof from !== 'string') throw ApiError.badRequest('from: must be a date YYYY-MM-DD');
    if (typeof to !== 'string') throw ApiError.badRequest('to: must be a date YYYY-MM-DD');
    if (into !== 'rebuild' && into !== 'live') throw ApiError.badRequest('into: must be rebuild or live');
    const dates = replayDates(from, to);
    if (typeof dates === 'string') throw ApiError.badRequest(dates);
    if (dates.length > MAX_DATES) throw ApiError.badRequest(`to: at most ${MAX_DATES} dates per replay, got ${dates.length}`);
    return { region, from, to, into };
  }
}

