// The run's timeline: once a second, the generators' summed counters and queues, the ack
// latency of that second, CPU and RSS of every process; and, as often as Shoal answers
// (at most once a second, never two at a time), a scrape of /metrics. Windows of either
// (rates, visibility quantiles, backlog slope) are computed from these afterwards.
import { bucketDelta, histogramQuantile, scrape } from './metrics.mjs';
import { performance } from 'node:perf_hooks';

export class Recorder {
  constructor({ pool, sampler, opsUrl, t0 }) {
    Object.assign(this, { pool, sampler, opsUrl, t0 });
    this.timeline = [];
    this.scrapes = [];
    this.scraping = false;
    this.timer = null;
  }

  now() {
    return (performance.now() - this.t0) / 1000;
  }

  start() {
    this.sampler.sample(); // CPU from here on
    this.timer = setInterval(() => this.tick(), 1000);
    this.tick();
  }

  tick() {
    const snap = this.pool.snapshot();
    const ack = this.pool.takeAckHist();
    this.timeline.push({
      t: this.now(),
      c: snap.counters,
      queued: snap.queued,
      inflightEvents: snap.inflightEvents,
      connsOpen: snap.connsOpen,
      ackP50: ack.quantile(0.5),
      ackP99: ack.quantile(0.99),
      proc: this.sampler.sample(),
    });
    if (!this.scraping) {
      this.scraping = true;
      scrape(this.opsUrl).then((d) => {
        if (d) this.scrapes.push({ t: this.now(), ...d });
        this.scraping = false;
      });
    }
  }

  stop() {
    clearInterval(this.timer);
    this.tick();
  }

  latestScrape() {
    return this.scrapes.at(-1) ?? null;
  }

  /** Scrapes whose time falls in [a, b]. */
  scrapesIn(a, b) {
    return this.scrapes.filter((s) => s.t >= a && s.t <= b);
  }

  /** The last scrape at or before t (or the first one). */
  scrapeAt(t) {
    let best = null;
    for (const s of this.scrapes) if (s.t <= t) best = s;
    return best ?? this.scrapes[0] ?? null;
  }

  /** Shoal's visibility quantile (seconds) of the flushes between t = a and t = b. */
  visibility(a, b, q) {
    const start = this.scrapeAt(a);
    const end = this.scrapeAt(b);
    if (!end || !start || end === start) return null;
    return histogramQuantile(bucketDelta(end.visibility, start.visibility), q);
  }

  /** Rate (per second) of a generator counter between t = a and t = b. */
  rate(key, a, b) {
    const pts = this.timeline.filter((p) => p.t >= a && p.t <= b);
    if (pts.length < 2) return null;
    const first = pts[0];
    const last = pts.at(-1);
    return ((last.c[key] ?? 0) - (first.c[key] ?? 0)) / (last.t - first.t);
  }

  /** Per-second rate series of generator counters (one key or the sum of several), as [t, value] points. */
  rateSeries(...keys) {
    const out = [];
    const value = (c) => keys.reduce((s, k) => s + (c[k] ?? 0), 0);
    for (let i = 1; i < this.timeline.length; i++) {
      const a = this.timeline[i - 1];
      const b = this.timeline[i];
      const dt = b.t - a.t;
      if (a.c[keys[0]] === undefined) continue; // before the generators' first report
      if (dt > 0) out.push([b.t, (value(b.c) - value(a.c)) / dt]);
    }
    return out;
  }

  /** Shoal visibility quantiles over a sliding window, one point per scrape. */
  visibilitySeries(q, windowSec = 5) {
    const out = [];
    let start = 0; // the last scrape at or before s.t − windowSec
    for (const s of this.scrapes) {
      while (start + 1 < this.scrapes.length && this.scrapes[start + 1].t <= s.t - windowSec) start++;
      const from = this.scrapes[start];
      out.push([s.t, from === s ? null : histogramQuantile(bucketDelta(s.visibility, from.visibility), q)]);
    }
    return out;
  }

  /** Least-squares slope (per second) of a scrape field over [a, b]. */
  slope(field, a, b) {
    const pts = this.scrapesIn(a, b).map((s) => [s.t, s[field]]);
    if (pts.length < 3) return null;
    const n = pts.length;
    const mx = pts.reduce((s, p) => s + p[0], 0) / n;
    const my = pts.reduce((s, p) => s + p[1], 0) / n;
    const sxx = pts.reduce((s, p) => s + (p[0] - mx) ** 2, 0);
    const sxy = pts.reduce((s, p) => s + (p[0] - mx) * (p[1] - my), 0);
    return sxx > 0 ? sxy / sxx : null;
  }

  /**
   * Mean cores of each group of threads of process `name` between t = a and t = b (a group
   * absent from a sample, such as chDB's merges before the first one, counts as 0 there).
   */
  meanThreadCores(name, a, b) {
    const pts = this.timeline.filter((p) => p.t > a && p.t <= b && p.proc[name]?.threads);
    const sums = {};
    for (const p of pts) for (const [group, cores] of Object.entries(p.proc[name].threads)) sums[group] = (sums[group] ?? 0) + cores;
    return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / pts.length]));
  }

  /** Mean cores of each process between t = a and t = b (from the per-second samples). */
  meanCores(a, b) {
    const pts = this.timeline.filter((p) => p.t > a && p.t <= b);
    const sums = {};
    for (const p of pts) for (const [name, v] of Object.entries(p.proc)) if (v.cores !== null) (sums[name] ??= []).push(v.cores);
    return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v.reduce((s, x) => s + x, 0) / v.length]));
  }
}
