/**
 * The DLQ triage endpoints of the ops API (DESIGN §6), behind `shoal dlq list|show|replay|purge`:
 *
 *   GET    /api/v1/dlq?region=R&limit=N&code=C     newest entries of a region (optionally one code)
 *   GET    /api/v1/dlq/{region}/{id}               one entry, raw parsed (and an undecodable
 *                                                  bus payload unpacked as raw_decoded)
 *   POST   /api/v1/dlq/{region}/{id}/replay        body optional: {"event": {...}} (a repaired event)
 *                                                  → {"replayed": true, "event_id", "region", "partition"}
 *                                                  422 {code, message} when still invalid (entry kept)
 *   DELETE /api/v1/dlq/{region}/{id}               → {"deleted": 1}, 404 when there is none
 *   DELETE /api/v1/dlq/{region}?code=C&before=T    → {"deleted": n} (all entries when no filter)
 *
 * Errors are ApiErrors (JSON {code, message}): 400 naming the parameter, 404, 405, 413, 422,
 * 503 BUS_UNAVAILABLE when Redis is down, 503 REPLAY_UNAVAILABLE without a bus appender.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { isPlainObject } from '../contracts/untrusted-values.js';
import type { Keys } from '../runtime/keys.js';
import { ApiError } from './api-error.js';
import { readBody } from './read-body.js';
import { parseBefore, parseCode, parseEntryId, parseRegionSegment } from './dlq-params.js';
import { DlqPurger } from './dlq-purger.js';
import { DlqReader, undecodablePayload, ENTRY_UNDECODABLE } from './dlq-reader.js';
import { DlqReplayer, type DlqAppend } from './dlq-replayer.js';
import { sendJson } from './http-response.js';
import { parseLimit, parseRegion } from './query-params.js';

export const DLQ_DEFAULT_LIMIT = 100;
export const DLQ_MAX_LIMIT = 1000;
const PREFIX = '/api/v1/dlq';
/** Room for the `{"event": …}` wrapper around an event of the largest frame size. */
const BODY_OVERHEAD_BYTES = 4096;

export interface DlqRoutesDeps {
  config: Config;
  redis: Redis;
  keys: Keys;
  /** Server clock: `now` of a replayed event's validation (and its ingest_time). */
  clock: () => number;
  /** Appends replayed events to the bus; without it, replay answers 503 REPLAY_UNAVAILABLE. */
  append?: DlqAppend;
}

export class DlqRoutes {
  private readonly reader: DlqReader;
  private readonly purger: DlqPurger;
  private readonly replayer: DlqReplayer | null;

  constructor(private readonly deps: DlqRoutesDeps) {
    this.reader = new DlqReader(deps.redis, deps.keys);
    this.purger = new DlqPurger(deps.redis, deps.keys, this.reader);
    this.replayer = deps.append
      ? new DlqReplayer({ config: deps.config, reader: this.reader, purger: this.purger, append: deps.append, clock: deps.clock })
      : null;
  }

  /** True for the paths this class answers. */
  static owns(path: string): boolean {
    return path === PREFIX || path.startsWith(`${PREFIX}/`);
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const params = url.searchParams;
    const regions = this.deps.config.regions;
    if (url.pathname === PREFIX) {
      allow(method, ['GET', 'HEAD'], url.pathname);
      const region = parseRegion(params, regions);
      const limit = parseLimit(params, 'limit', DLQ_DEFAULT_LIMIT, 1, DLQ_MAX_LIMIT);
      sendJson(res, 200, await this.reader.newest(region, limit, parseCode(params)));
      return;
    }
    const parts = url.pathname.slice(PREFIX.length + 1).split('/');
    const [regionPart = '', idPart = '', action] = parts;
    if (parts.length > 3 || parts.some((p) => p === '') || (action !== undefined && action !== 'replay'))
      throw new ApiError(404, 'NOT_FOUND', `no route ${method} ${url.pathname}`);
    if (parts.length === 1) {
      allow(method, ['DELETE'], url.pathname);
      const region = parseRegionSegment(regionPart, regions);
      const filter = { code: parseCode(params), before: parseBefore(params) };
      sendJson(res, 200, { deleted: await this.purger.purge(region, filter) });
      return;
    }
    if (action === 'replay') {
      allow(method, ['POST'], url.pathname);
      const region = parseRegionSegment(regionPart, regions);
      const id = parseEntryId(idPart);
      const repaired = parseReplayBody(await readBody(req, this.deps.config.ingest.maxFrameBytes + BODY_OVERHEAD_BYTES));
      if (!this.replayer) throw new ApiError(503, 'REPLAY_UNAVAILABLE', 'replay is not available: this ops server has no bus appender');
      sendJson(res, 200, await this.replayer.replay(region, id, repaired));
      return;
    }
    allow(method, ['GET', 'HEAD', 'DELETE'], url.pathname);
    const region = parseRegionSegment(regionPart, regions);
    const id = parseEntryId(idPart);
    if (method === 'DELETE') {
      if (!(await this.purger.deleteOne(region, id))) throw notFound(region, id);
      sendJson(res, 200, { deleted: 1 });
      return;
    }
    const entry = await this.reader.entry(region, id);
    if (!entry) throw notFound(region, id);
    sendJson(res, 200, entry.code === ENTRY_UNDECODABLE ? { ...entry, raw_decoded: undecodablePayload(entry) } : entry);
  }
}

function allow(method: string, allowed: readonly string[], path: string): void {
  if (!allowed.includes(method)) throw new ApiError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}; use ${allowed.join(' or ')}`);
}

function notFound(region: string, id: string): ApiError {
  return new ApiError(404, 'NOT_FOUND', `no DLQ entry ${id} in region ${region}`);
}

/** An empty body replays the stored event; otherwise it must be `{"event": …}`. */
function parseReplayBody(body: Buffer): { event: unknown } | null {
  const text = body.toString('utf8');
  if (text.trim() === '') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw ApiError.badRequest('body: must be JSON {"event": {...}} (or empty to replay the stored event)');
  }
  if (!isPlainObject(parsed) || !('event' in parsed))
    throw ApiError.badRequest('body: must be {"event": {...}} holding the repaired event (or empty to replay the stored event)');
  return { event: parsed['event'] };
}
