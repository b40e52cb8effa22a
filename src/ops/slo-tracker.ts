/**
 * The visibility SLO, "99% of events visible within 30 s", computed continuously.
 *
 * Fed with cumulative counts (good = events visible within the threshold, total = all
 * committed events; in the pipeline, the aggregated visibility histogram's `le="30"` bucket and
 * `_count`), it keeps a ring of (time, good, total) samples and answers, per window:
 *
 *   good, total     increase over the window (since the newest sample at or before now − window;
 *                   while the tracker is younger than the window, since it started)
 *   ratio           good / total (1 when there were no events: no budget spent)
 *   burn_rate       (1 − ratio) / (1 − objective): 1 spends the error budget exactly on time
 *
 * A cumulative count that goes down (a shard thread restarted) is read as a counter reset.
 * Pure: the caller passes the time of every sample and report.
 */
import { Gauge, type Registry } from 'prom-client';

export interface SloWindow {
  name: string;
  ms: number;
}

export interface SloWindowReport {
  good: number;
  total: number;
  ratio: number;
  burn_rate: number;
}

export interface SloReport {
  objective: number;
  threshold_s: number;
  windows: Record<string, SloWindowReport>;
}

export interface SloTrackerOptions {
  /** Fraction of events that must be visible within the threshold. Default 0.99. */
  objective?: number;
  /** The visibility threshold, seconds. Default 30. */
  thresholdS?: number;
  /** Default 5 m and 1 h. */
  windows?: readonly SloWindow[];
  /** Samples closer together than this replace the newest one instead of adding one, ms. Default 1000. */
  resolutionMs?: number;
}

interface Sample {
  at: number;
  good: number;
  total: number;
}

export const DEFAULT_SLO_WINDOWS: readonly SloWindow[] = [
  { name: '5m', ms: 5 * 60_000 },
  { name: '1h', ms: 60 * 60_000 },
];

export class SloTracker {
  readonly objective: number;
  readonly thresholdS: number;
  readonly windows: readonly SloWindow[];
  private readonly resolutionMs: number;
  private readonly longestMs: number;
  /** Monotonic (reset-corrected) cumulative counts, oldest first; never empty. */
  private readonly samples: Sample[];
  private lastRaw = { good: 0, total: 0 };

  constructor(startedAt: number, options: SloTrackerOptions = {}) {
    this.objective = options.objective ?? 0.99;
    this.thresholdS = options.thresholdS ?? 30;
    this.windows = options.windows ?? DEFAULT_SLO_WINDOWS;
    this.resolutionMs = options.resolutionMs ?? 1000;
    this.longestMs = Math.max(...this.windows.map((w) => w.ms));
    this.samples = [{ at: startedAt, good: 0, total: 0 }];
  }

  /** Record the cumulative counts read at `at` (epoch ms, not before the previous sample). */
  observe(at: number, good: number, total: number): void {
    const dGood = good >= this.lastRaw.good ? good - this.lastRaw.good : good;
    const dTotal = total >= this.lastRaw.total ? total - this.lastRaw.total : total;
    this.lastRaw = { good, total };
    const newest = this.samples[this.samples.length - 1]!;
    const next = { at, good: newest.good + dGood, total: newest.total + dTotal };
    const previous = this.samples[this.samples.length - 2];
    if (previous && at - previous.at < this.resolutionMs) this.samples[this.samples.length - 1] = next;
    else this.samples.push(next);
    // Keep one sample at or before the start of the longest window.
    while (this.samples.length > 2 && this.samples[1]!.at <= at - this.longestMs) this.samples.shift();
  }

  report(now: number): SloReport {
    const newest = this.samples[this.samples.length - 1]!;
    const windows: Record<string, SloWindowReport> = {};
    for (const w of this.windows) {
      const base = this.baseFor(now - w.ms);
      const good = newest.good - base.good;
      const total = newest.total - base.total;
      const ratio = total > 0 ? good / total : 1;
      windows[w.name] = { good, total, ratio, burn_rate: (1 - ratio) / (1 - this.objective) };
    }
    return { objective: this.objective, threshold_s: this.thresholdS, windows };
  }

  /** The newest sample at or before `start`, else the oldest one kept. */
  private baseFor(start: number): Sample {
    let base = this.samples[0]!;
    for (const s of this.samples) {
      if (s.at > start) break;
      base = s;
    }
    return base;
  }
}

/**
 * Register `shoal_slo_visibility_good_ratio{window}` and `shoal_slo_burn_rate{window}`, read
 * from the tracker at each scrape (feed the tracker a fresh sample before scraping).
 */
export function registerSloGauges(registry: Registry, tracker: SloTracker, clock: () => number): void {
  const gauges: [string, string, (w: SloWindowReport) => number][] = [
    ['shoal_slo_visibility_good_ratio', `Fraction of committed events visible within ${tracker.thresholdS} s, per window (objective ${tracker.objective})`, (w) => w.ratio],
    ['shoal_slo_burn_rate', 'Visibility SLO error-budget burn rate per window: (1 - good ratio) / (1 - objective)', (w) => w.burn_rate],
  ];
  for (const [name, help, pick] of gauges) {
    new Gauge({
      name,
      help,
      labelNames: ['window'],
      registers: [registry],
      collect() {
        for (const [window, w] of Object.entries(tracker.report(clock()).windows)) this.set({ window }, pick(w));
      },
    });
  }
}

/**
 * Cumulative good and total counts of a histogram summed over several `getMetricsAsJSON()`
 * results (the shards'): `good` is its `le = thresholdS` bucket, `total` its `_count`. The
 * threshold must be one of the histogram's bucket bounds.
 */
export function histogramCounts(metricSets: readonly (readonly unknown[])[], name: string, thresholdS: number): { good: number; total: number } {
  let good = 0;
  let total = 0;
  for (const set of metricSets) {
    for (const metric of set) {
      const m = metric as { name?: unknown; values?: unknown };
      if (m.name !== name || !Array.isArray(m.values)) continue;
      for (const v of m.values as { metricName?: string; labels?: Record<string, unknown>; value?: unknown }[]) {
        const value = typeof v.value === 'number' ? v.value : 0;
        if (v.metricName === `${name}_count`) total += value;
        else if (v.metricName === `${name}_bucket` && Number(v.labels?.['le']) === thresholdS) good += value;
      }
    }
  }
  return { good, total };
}
