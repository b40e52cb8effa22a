/**
 * The replay endpoints of the ops API and `shoal replay`'s client side, against an OpsServer
 * whose replay runner the test steers: job progress as the CLI sees it, one job at a time,
 * failures reported (exit 1 in the CLI), request validation naming the field, and 503 without
 * a runner. (The real replay runs in test/integration/replay.test.ts.)
 */
import { Redis } from 'ioredis';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig, validateUserConfig, type Config } from '../../../src/config.js';
import { runReplay } from '../../../src/cli/replay-command.js';
import { OpsServer } from '../../../src/ops/ops-server.js';
import type { ReplayRun } from '../../../src/ops/replay-routes.js';
import type { ReplayProgress } from '../../../src/sinks/archive-replayer.js';
import { Keys } from '../../../src/runtime/keys.js';
import { FakeAnalyticsStore } from './fake-analytics-store.js';

interface Steered {
  progress: (p: Partial<ReplayProgress>) => void;
  finish: (error?: Error) => void;
}

let config: Config;
let redis: Redis;
let base = '';
let server: OpsServer;
let bare: OpsServer;
let bareBase = '';
let current: Steered | null = null;
const started: string[] = [];

const runner: ReplayRun = (request, jobId, onProgress) => {
  started.push(`${jobId} ${request.region} ${request.from}..${request.to} ${request.into}`);
  const p: ReplayProgress = { objectsTotal: 0, objectsDone: 0, rows: 0, duplicates: 0, datesDone: 0 };
  return new Promise((resolve, reject) => {
    current = {
      progress: (delta) => onProgress(Object.assign(p, delta)),
      finish: (error) => (error ? reject(error) : resolve(p)),
    };
  });
};

function opsServer(run: ReplayRun | undefined): OpsServer {
  const registry = new Registry();
  return new OpsServer({
    config,
    store: new FakeAnalyticsStore(),
    redis,
    keys: new Keys('t'),
    logger: pino({ level: 'silent' }),
    health: () => Promise.resolve({ checks: {} }),
    stats: () => Promise.resolve({}),
    metrics: registry,
    ...(run ? { replay: run } : {}),
  });
}

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}/api/v1/replay`, { method: 'POST', body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Wait until the steered runner has been called (the POST answered before it ran). */
async function steered(): Promise<Steered> {
  const deadline = Date.now() + 5_000;
  while (current === null) {
    if (Date.now() > deadline) throw new Error('the replay runner was never called');
    await new Promise((r) => setImmediate(r));
  }
  return current;
}

function output(isTTY: boolean): { text: () => string; isTTY: boolean; columns: number; write: (t: string) => void } {
  let text = '';
  return { isTTY, columns: 100, text: () => text, write: (t) => void (text += t) };
}

beforeAll(async () => {
  config = resolveConfig(validateUserConfig({ ops: { port: 0 } }));
  redis = new Redis({ lazyConnect: true });
  server = opsServer(runner);
  base = `http://127.0.0.1:${await server.listen()}`;
  bare = opsServer(undefined);
  bareBase = `http://127.0.0.1:${await bare.listen()}`;
});

afterEach(() => {
  current?.finish();
  current = null;
});

afterAll(async () => {
  await server.close();
  await bare.close();
  redis.disconnect();
});

describe('POST /api/v1/replay and GET /api/v1/replay/{id}', () => {
  it('shows a job\'s progress until it is done, and refuses a second job meanwhile', async () => {
    const { status, json } = await post(base, { region: 'us-east', from: '2026-03-01', to: '2026-03-02' });
    expect(status).toBe(202);
    const id = json['job_id'] as string;
    const job = await steered();
    expect(started.at(-1)).toBe(`${id} us-east 2026-03-01..2026-03-02 rebuild`);
    job.progress({ objectsTotal: 4, objectsDone: 1, rows: 10 });
    const view = (await (await fetch(`${base}/api/v1/replay/${id}`)).json()) as Record<string, unknown>;
    expect(view).toMatchObject({ job_id: id, state: 'running', objects_total: 4, objects_done: 1, rows: 10, dates_total: 2 });
    const busy = await post(base, { region: 'eu-west', from: '2026-03-01', to: '2026-03-01', into: 'live' });
    expect(busy.status).toBe(409);
    expect(busy.json['code']).toBe('REPLAY_RUNNING');
    job.progress({ objectsDone: 4, rows: 40, datesDone: 2 });
    job.finish();
    const deadline = Date.now() + 5_000;
    let state = 'running';
    while (state === 'running' && Date.now() < deadline) {
      state = ((await (await fetch(`${base}/api/v1/replay/${id}`)).json()) as { state: string }).state;
    }
    expect(state).toBe('done');
    expect((await fetch(`${base}/api/v1/replay/nope`)).status).toBe(404);
  });

  it('names the wrong field of a request', async () => {
    const cases: [unknown, RegExp][] = [
      [{ region: 'mars', from: '2026-03-01', to: '2026-03-01' }, /^region: must be one of/],
      [{ region: 'us-east', from: '2026-3-1', to: '2026-03-01' }, /^from: must be a date/],
      [{ region: 'us-east', from: '2026-03-02', to: '2026-03-01' }, /^from: must not be later than to/],
      [{ region: 'us-east', from: '2026-03-01', to: '2026-03-01', into: 'merge' }, /^into: must be rebuild or live/],
      [{ region: 'us-east', from: '2020-01-01', to: '2026-03-01' }, /^to: at most 366 dates/],
    ];
    for (const [body, message] of cases) {
      const { status, json } = await post(base, body);
      expect(status).toBe(400);
      expect(json['message']).toMatch(message);
    }
  });

  it('answers 503 on a server without a replay runner', async () => {
    const { status, json } = await post(bareBase, { region: 'us-east', from: '2026-03-01', to: '2026-03-01' });
    expect(status).toBe(503);
    expect(json['code']).toBe('REPLAY_UNAVAILABLE');
  });
});

describe('shoal replay (client side)', () => {
  it('draws a progress bar on a terminal and ends with a summary', async () => {
    const out = output(true);
    const done = runReplay({ ops: base, region: 'us-east', from: '2026-03-01', to: '2026-03-01', into: 'rebuild' }, out);
    const job = await steered();
    job.progress({ objectsTotal: 2, objectsDone: 2, rows: 7, duplicates: 1, datesDone: 1 });
    job.finish();
    await done;
    expect(out.text()).toMatch(/\r\[#{30}\] 100% 2\/2 objects, 7 rows, 1 duplicates skipped/);
    expect(out.text().trimEnd().split('\n').at(-1)).toBe('replay done: us-east 2026-03-01..2026-03-01 (rebuild): 2 objects, 7 rows, 1 duplicate readings counted once');
  });

  it('prints plain lines off a terminal, and fails with the job\'s error', async () => {
    const out = output(false);
    const done = runReplay({ ops: base, region: 'us-east', from: '2026-03-01', to: '2026-03-01', into: 'live' }, out);
    const job = await steered();
    job.finish(new Error('clickhouse: insert into rollup_1m failed'));
    await expect(done).rejects.toMatchObject({ code: 'REPLAY_FAILED', message: expect.stringContaining('insert into rollup_1m failed') as unknown });
    expect(out.text()).not.toContain('\r');
  });
});
