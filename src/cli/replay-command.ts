/**
 * `shoal replay --ops URL --region R --from DATE --to DATE [--into rebuild|live]`: asks the
 * running pipeline to rebuild ClickHouse from the raw archive (POST /api/v1/replay), then polls
 * the job every 500 ms. On a terminal it draws a progress bar; otherwise it prints a line each
 * time the progress moves. Exits 0 when the job is done, 1 when it fails.
 */
import { ShoalError, errorMessage } from '../errors.js';
import type { ReplayJobView } from '../ops/replay-routes.js';

export interface ReplayFlags {
  ops: string;
  region: string;
  from: string;
  to: string;
  into: string;
}

/** Where progress goes; stdout by default. */
export interface ReplayOutput {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

const POLL_MS = 500;
const REQUEST_TIMEOUT_MS = 30_000;
const BAR_WIDTH = 30;

async function call(url: URL, ops: string, init: RequestInit = {}): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (err) {
    throw new ShoalError('OPS_UNREACHABLE', `cannot reach the ops API at ${ops} (${errorMessage(err)}); is shoal running there?`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ShoalError('REPLAY_FAILED', `${url.href} answered ${res.status} with a body that is not JSON`);
  }
  if (!res.ok) {
    const e = body as { code?: string; message?: string };
    throw new ShoalError(e.code ?? 'REPLAY_FAILED', e.message ?? `${url.pathname} answered ${res.status}`);
  }
  return body;
}

/** "12/40 objects, 1234 rows, date 1/2". */
export function describeProgress(job: ReplayJobView): string {
  const dup = job.duplicates > 0 ? `, ${job.duplicates} duplicates skipped` : '';
  return `${job.objects_done}/${job.objects_total} objects, ${job.rows} rows${dup}, date ${Math.min(job.dates_done + 1, job.dates_total)}/${job.dates_total}`;
}

/** A one-line bar: `[#######.......]  45% 12/40 objects, …`. */
export function progressBar(job: ReplayJobView, columns = 80): string {
  const fraction = job.objects_total === 0 ? (job.state === 'done' ? 1 : 0) : job.objects_done / job.objects_total;
  const filled = Math.round(fraction * BAR_WIDTH);
  const line = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}% ${describeProgress(job)}`;
  return line.length >= columns ? line.slice(0, columns - 1) : line;
}

export async function runReplay(flags: ReplayFlags, out: ReplayOutput = process.stdout): Promise<void> {
  const started = (await call(new URL('/api/v1/replay', flags.ops), flags.ops, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ region: flags.region, from: flags.from, to: flags.to, into: flags.into }),
  })) as { job_id: string };
  const jobUrl = new URL(`/api/v1/replay/${encodeURIComponent(started.job_id)}`, flags.ops);
  const tty = out.isTTY === true;
  let last = '';
  for (;;) {
    const job = (await call(jobUrl, flags.ops)) as ReplayJobView;
    if (tty) out.write(`\r${progressBar(job, out.columns)}`);
    else {
      const line = describeProgress(job);
      if (line !== last && job.state === 'running') out.write(`replay ${job.job_id}: ${line}\n`);
      last = line;
    }
    if (job.state !== 'running') {
      if (tty) out.write('\n');
      if (job.state === 'failed') throw new ShoalError('REPLAY_FAILED', `replay of ${job.region} ${job.from}..${job.to} failed: ${job.error ?? 'unknown error'}`);
      out.write(
        `replay done: ${job.region} ${job.from}..${job.to} (${job.into}): ${job.objects_done} objects, ${job.rows} rows` +
          `${job.duplicates > 0 ? `, ${job.duplicates} duplicate readings counted once` : ''}\n`,
      );
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
