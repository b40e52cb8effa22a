/**
 * SloTracker: good/total/ratio/burn rate per window from cumulative counts, with an injected
 * clock; and histogramCounts reading a visibility histogram exported by several registries.
 */
import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { SloTracker, histogramCounts, registerSloGauges } from '../../../src/ops/slo-tracker.js';

const T0 = 1_700_000_000_000;
const MIN = 60_000;

describe('SloTracker', () => {
  it('burns nothing when every event is visible in time', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 50 }), (steps) => {
        const slo = new SloTracker(T0);
        let total = 0;
        steps.forEach((n, i) => {
          total += n;
          slo.observe(T0 + (i + 1) * 5000, total, total);
        });
        const report = slo.report(T0 + steps.length * 5000);
        for (const w of Object.values(report.windows)) {
          expect(w.ratio).toBe(1);
          expect(w.burn_rate).toBe(0);
          expect(w.good).toBe(w.total);
        }
      }),
    );
  });

  it('burns at exactly 1 when 99% are visible in time', () => {
    const slo = new SloTracker(T0);
    slo.observe(T0 + 10_000, 990, 1000);
    const w = slo.report(T0 + 10_000).windows['5m']!;
    expect(w).toMatchObject({ good: 990, total: 1000 });
    expect(w.ratio).toBeCloseTo(0.99, 12);
    expect(w.burn_rate).toBeCloseTo(1, 9);
  });

  it('forgets what happened before a window but keeps it in the longer one', () => {
    const slo = new SloTracker(T0);
    slo.observe(T0 + 1 * MIN, 50, 100); // a bad minute
    slo.observe(T0 + 10 * MIN, 1050, 1100); // then 1000 good events
    const at = T0 + 10 * MIN;
    const report = slo.report(at);
    expect(report.windows['5m']).toMatchObject({ good: 1000, total: 1000, ratio: 1, burn_rate: 0 });
    expect(report.windows['1h']).toMatchObject({ good: 1050, total: 1100 });
    expect(report.windows['1h']!.burn_rate).toBeGreaterThan(1);
    // Two hours later with no new events, both windows are empty again.
    slo.observe(T0 + 130 * MIN, 1050, 1100);
    const later = slo.report(T0 + 130 * MIN);
    expect(later.windows['1h']).toMatchObject({ good: 0, total: 0, burn_rate: 0 });
  });

  it('matches a plain model: window counts are the events observed within the window', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ gapS: fc.integer({ min: 1, max: 600 }), good: fc.nat({ max: 100 }), bad: fc.nat({ max: 100 }) }), { minLength: 1, maxLength: 60 }),
        (steps) => {
          const slo = new SloTracker(T0);
          let t = T0;
          let good = 0;
          let total = 0;
          const points: { t: number; good: number; bad: number }[] = [];
          for (const s of steps) {
            t += s.gapS * 1000;
            good += s.good;
            total += s.good + s.bad;
            points.push({ t, good: s.good, bad: s.bad });
            slo.observe(t, good, total);
          }
          const report = slo.report(t);
          for (const [name, ms] of [['5m', 5 * MIN], ['1h', 60 * MIN]] as const) {
            const inside = points.filter((p) => p.t > t - ms);
            const expectedGood = inside.reduce((n, p) => n + p.good, 0);
            const expectedTotal = inside.reduce((n, p) => n + p.good + p.bad, 0);
            expect(report.windows[name]).toMatchObject({ good: expectedGood, total: expectedTotal });
          }
        },
      ),
    );
  });

  it('reads a drop of the cumulative counts as a restart, not as negative events', () => {
    const slo = new SloTracker(T0);
    slo.observe(T0 + 10_000, 100, 100);
    slo.observe(T0 + 20_000, 5, 10); // a shard restarted: its histogram began again
    expect(slo.report(T0 + 20_000).windows['5m']).toMatchObject({ good: 105, total: 110 });
  });

  it('exports the ratio and burn rate per window as gauges', async () => {
    const registry = new Registry();
    const slo = new SloTracker(T0);
    registerSloGauges(registry, slo, () => T0 + 10_000);
    slo.observe(T0 + 10_000, 98, 100);
    const text = await registry.metrics();
    expect(text).toMatch(/shoal_slo_visibility_good_ratio\{window="5m"\} 0\.98/);
    expect(text).toMatch(/shoal_slo_burn_rate\{window="1h"\} 2(\.0+\d*)?\n/);
  });
});

describe('histogramCounts', () => {
  it('sums the threshold bucket and the count over several registries', async () => {
    const sets = await Promise.all(
      [[0.5, 29, 31], [100, 2]].map(async (observations) => {
        const registry = new Registry();
        const h = new Histogram({ name: 'shoal_visibility_latency_seconds', help: 'h', labelNames: ['region'], buckets: [1, 30, 60], registers: [registry] });
        observations.forEach((s, i) => h.observe({ region: i % 2 ? 'a' : 'b' }, s));
        return registry.getMetricsAsJSON();
      }),
    );
    expect(histogramCounts(sets, 'shoal_visibility_latency_seconds', 30)).toEqual({ good: 3, total: 5 });
  });
});
