/**
 * `shoal simulate`: runs a DeviceFleet against a running gateway, prints one progress line
 * per second (events/s sent, acked and rejected, ack latency p50/p99) and a final summary.
 * Device tokens are minted from SHOAL_AUTH_SECRET, or else from the data dir's secret.
 */
import { resolve } from 'node:path';
import { loadOrCreateSecret } from '../contracts/auth-secret.js';
import { DEFAULT_REGIONS } from '../config.js';
import { DeviceFleet, type FleetSummary } from './device-fleet.js';
import type { FleetCounters } from './fleet-stats.js';
import type { LatencySummary } from './latency-histogram.js';

export const DEFAULT_SIMULATE_URL = 'ws://127.0.0.1:8080/v1/stream';

export interface SimulateOptions {
  devices: number;
  /** Target total events per second. */
  ratePerSec: number;
  durationSec: number;
  /** Default ws://127.0.0.1:8080/v1/stream. */
  url?: string;
  /** Default: the default config's regions (us-east, eu-west). */
  regions?: readonly string[];
  /**
   * Token secret; null sends no token (gateway with auth: none). When absent:
   * SHOAL_AUTH_SECRET, else the secret kept in `dataDir`.
   */
  secret?: string | null;
  /** Where the auth secret lives when neither `secret` nor SHOAL_AUTH_SECRET is given. Default ./data */
  dataDir?: string;
  v2Share?: number;
  msgpackShare?: number;
  /** Default: enough for about four frames per device per second, at most 500. */
  eventsPerFrame?: number;
  duplicateShare?: number;
  lateShare?: number;
  seed?: number;
  /** Ends production early; the run still drains and prints its summary. */
  signal?: AbortSignal;
  /** Where progress lines go. Default process.stdout. */
  out?: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
}

/** About four frames per device per second, within the contract's limits. */
export function defaultEventsPerFrame(rate: number, devices: number): number {
  return Math.min(500, Math.max(1, Math.ceil(rate / devices / 4)));
}

function ms(x: number): string {
  return x < 10 ? x.toFixed(2) : x.toFixed(1);
}

function rejectedTotal(c: FleetCounters): number {
  return Object.values(c.rejected).reduce((a, b) => a + b, 0);
}

export function formatProgress(
  elapsedSec: number,
  prev: FleetCounters,
  cur: FleetCounters,
  intervalSec: number,
  unacked: number,
  connected: number,
  devices: number,
  latency: LatencySummary,
): string {
  const per = (a: number, b: number): string => String(Math.round((b - a) / intervalSec));
  return (
    `[${String(Math.round(elapsedSec)).padStart(4)}s] sent ${per(prev.sent, cur.sent)}/s` +
    `  acked ${per(prev.acked, cur.acked)}/s` +
    `  rejected ${per(rejectedTotal(prev), rejectedTotal(cur))}/s` +
    `  resent ${per(prev.resent, cur.resent)}/s  unacked ${unacked}  connected ${connected}/${devices}` +
    `  ack p50 ${ms(latency.p50)} ms p99 ${ms(latency.p99)} ms`
  );
}

export function formatSummary(s: FleetSummary): string {
  const rejected = Object.entries(s.rejected)
    .map(([code, n]) => `${code}=${n}`)
    .join(' ');
  return [
    `simulation finished: ${s.devices} devices, ${s.durationSec.toFixed(1)} s (${s.elapsedSec.toFixed(1)} s with drain)`,
    `  sent      ${s.sent} events in ${s.sentFrames} frames, ${s.sentPerSec}/s (target ${s.targetRatePerSec}/s)`,
    `  acked     ${s.acked} accepted`,
    `  rejected  ${rejectedTotal(s)}${rejected ? ` (${rejected})` : ''}`,
    `  resent    ${s.resent} events in ${s.resentFrames} frames (overloaded ${s.overloaded}, throttles ${s.throttles})`,
    `  mix       duplicates ${s.duplicates}, late ${s.late}`,
    `  unacked   ${s.unacked}${s.drained ? '' : ' (drain deadline reached)'}`,
    `  sockets   ${s.connects} connects, ${s.disconnects} disconnects, ${s.connectErrors} failed${
      s.lastError ? ` (last error: ${s.lastError})` : ''
    }`,
    `  ack latency ms  p50 ${ms(s.ackLatencyMs.p50)}  p90 ${ms(s.ackLatencyMs.p90)}  p99 ${ms(s.ackLatencyMs.p99)}  max ${ms(s.ackLatencyMs.max)}`,
  ].join('\n');
}

/** Run the simulation to its end, printing progress; resolves with the summary. */
export async function runSimulate(opts: SimulateOptions): Promise<FleetSummary> {
  const env = opts.env ?? process.env;
  const out = opts.out ?? process.stdout;
  const secret =
    opts.secret !== undefined ? opts.secret : env['SHOAL_AUTH_SECRET'] || loadOrCreateSecret(resolve(opts.dataDir ?? './data'));
  const fleet = new DeviceFleet({
    url: opts.url ?? DEFAULT_SIMULATE_URL,
    devices: opts.devices,
    ratePerSec: opts.ratePerSec,
    durationSec: opts.durationSec,
    regions: opts.regions ?? DEFAULT_REGIONS,
    secret,
    v2Share: opts.v2Share ?? 0.5,
    msgpackShare: opts.msgpackShare ?? 0.5,
    eventsPerFrame: opts.eventsPerFrame ?? defaultEventsPerFrame(opts.ratePerSec, opts.devices),
    duplicateShare: opts.duplicateShare ?? 0,
    lateShare: opts.lateShare ?? 0,
    seed: opts.seed ?? 1,
  });
  const onAbort = (): void => fleet.stop();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) fleet.stop();

  const started = Date.now();
  let last = started;
  let prev = fleet.progress().counters;
  const timer = setInterval(() => {
    const now = Date.now();
    const p = fleet.progress();
    out.write(
      `${formatProgress((now - started) / 1000, prev, p.counters, (now - last) / 1000, p.unacked, p.connected, opts.devices, fleet.takeIntervalLatency())}\n`,
    );
    prev = p.counters;
    last = now;
  }, 1000);
  try {
    const summary = await fleet.run();
    out.write(`${formatSummary(summary)}\n`);
    return summary;
  } finally {
    clearInterval(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
