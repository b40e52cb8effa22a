/**
 * The ops port's dashboard in headless Chromium (Debian's `chromium` driven by playwright-core)
 * against a running shoal fed by the simulator plus one invalid event: every chart fills with
 * data, the invalid event shows as an error and a DLQ entry, the dropouts table first shows
 * its "none" state and then lists a device whose v2 `seq` skipped numbers, the page runs
 * under its CSP without errors, and a screenshot is kept in
 * test-artifacts/dashboard.png. The page's own quantile code, run in Chromium, is checked
 * against generated observations: it must land in the bucket that holds the true quantile.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateSecret } from '../../src/contracts/auth-secret.js';
import { issueDeviceToken } from '../../src/contracts/device-token.js';
import { runSimulate } from '../../src/simulator/index.js';
import { DeviceClient } from '../helpers/device-client.js';
import { v1Event, v2Event } from '../helpers/events.js';
import { getJson, startShoal, type ShoalProcess } from '../helpers/shoal-process.js';

const BOUNDS = [0.1, 0.25, 0.5, 1, 2, 5, 10];
const SCREENSHOT = new URL('../../test-artifacts/dashboard.png', import.meta.url).pathname;
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The part of the dashboard's prom-text.js module the test calls in the page. */
interface PromTextModule {
  parsePromText(text: string): unknown;
  histogramBuckets(samples: unknown, name: string): unknown;
  histogramQuantile(q: number, buckets: unknown): number | null;
}

/** What the test reads from each uPlot instance on window.__shoalCharts. */
interface ChartView {
  points: number;
  /** Per series (x excluded): its label, non-null values and the largest value. */
  series: { label: string; values: number; max: number | null }[];
}

let shoal: ShoalProcess | undefined;
let browser: Browser | undefined;

async function chartViews(page: Page): Promise<Record<string, ChartView>> {
  return page.evaluate(() => {
    type Uplot = { data: (number | null)[][]; series: { label?: string }[] };
    const charts = (globalThis as unknown as { __shoalCharts?: Record<string, Uplot> }).__shoalCharts ?? {};
    const out: Record<string, ChartView> = {};
    for (const [name, u] of Object.entries(charts)) {
      const [x = [], ...ys] = u.data;
      out[name] = {
        points: x.length,
        series: ys.map((ys1, i) => {
          const vals = ys1.filter((v): v is number => typeof v === 'number');
          return { label: u.series[i + 1]?.label ?? '', values: vals.length, max: vals.length ? Math.max(...vals) : null };
        }),
      };
    }
    return out;
  });
}

/** True when a chart has ≥ 2 points on its x axis and some series holds ≥ 2 values. */
function holdsData(view: ChartView | undefined): boolean {
  return view !== undefined && view.points >= 2 && view.series.some((s) => s.values >= 2);
}

describe('dashboard in headless Chromium', () => {
  beforeAll(async () => {
    shoal = await startShoal({ shards: 2, config: { partitions: 2, flush: { intervalMs: 200 } } });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await shoal?.cleanup();
  });

  it('charts live ingest, visibility, errors, lag, DLQ and burn while the simulator runs', async () => {
    const s = shoal!;
    const page = await browser!.newPage({ viewport: { width: 1400, height: 1000 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));

    const response = await page.goto(`${s.opsUrl}/`);
    expect(response?.status()).toBe(200);
    expect(await page.title()).toBe('Shoal dashboard');
    // No device has sent anything yet: the dropouts table says none dropped out.
    // (The table reads "loading…" until the first /api/v1/stats answer.)
    await page.locator('#dropouts-body td.none', { hasText: /^none/ }).waitFor({ timeout: 10_000 });

    // One event without a valid value: a rejection by code and a DLQ entry the user can see.
    const secret = loadOrCreateSecret(s.dataDir);
    const bad = await DeviceClient.connect(s.ingestUrl, await issueDeviceToken(secret, 'dash-bad', 'us-east'));
    const ack = await bad.send([v1Event('dash-bad', 'us-east', Date.now(), 'temperature', Number.NaN)]);
    expect(ack.rejected).toHaveLength(1);
    await bad.close();

    const quiet = new Writable({ write: (_c, _e, done) => done() });
    const summary = await runSimulate({ devices: 20, ratePerSec: 400, durationSec: 8, url: s.ingestUrl, dataDir: s.dataDir, out: quiet });
    expect(summary.acked).toBeGreaterThan(0);

    const hasSlo = (await getJson<{ slo?: unknown }>(`${s.opsUrl}/api/v1/stats`)).slo !== undefined;
    const required = ['ingest', 'visibility', 'errors', 'lag', 'dlq', ...(hasSlo ? ['burn'] : [])];
    await page.waitForFunction(
      (names) => {
        type Uplot = { data: (number | null)[][] };
        const charts = (globalThis as unknown as { __shoalCharts?: Record<string, Uplot> }).__shoalCharts;
        if (!charts) return false;
        return names.every((n) => {
          const [x = [], ...ys] = charts[n]?.data ?? [];
          return x.length >= 2 && ys.some((y) => y.filter((v) => typeof v === 'number').length >= 2);
        });
      },
      required,
      { timeout: 60_000, polling: 500 },
    );

    const views = await chartViews(page);
    for (const name of required) expect(holdsData(views[name]), `${name} chart holds data`).toBe(true);
    expect(views['ingest']?.series.find((x) => x.label === 'accepted/s')?.max).toBeGreaterThan(0);
    const p99 = views['visibility']?.series.find((x) => x.label === 'p99')?.max;
    expect(p99).toBeGreaterThan(0);
    expect(views['errors']?.series.some((x) => (x.max ?? 0) > 0)).toBe(true);
    expect(views['dlq']?.series.find((x) => x.label === 'us-east')?.max).toBeGreaterThanOrEqual(1);
    if (!hasSlo) await expect(page.locator('#burn-note').isVisible()).resolves.toBe(true);

    // A v2 device numbers 1, then 5: three events never arrived, and the table lists it.
    const gappy = await DeviceClient.connect(s.ingestUrl, await issueDeviceToken(secret, 'dash-gappy', 'eu-west'));
    for (const seq of [1, 5]) {
      const gapAck = await gappy.send([v2Event('dash-gappy', 'eu-west', Date.now(), seq, [{ sensor_type: 'temperature', value: 20, unit: 'C' }])]);
      expect(gapAck.accepted).toBe(1);
    }
    await gappy.close();
    const row = page.locator('#dropouts-body tr', { hasText: 'dash-gappy' });
    await row.waitFor({ timeout: 30_000 });
    await expect(row.textContent()).resolves.toMatch(/seq_gap.*3/);
    expect(problems).toEqual([]);

    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(20_000);
  });

  it('reads visibility quantiles from /metrics histograms into the bucket of the true quantile', async () => {
    const page = await browser!.newPage();
    await page.goto(`${shoal!.opsUrl}/`);
    // The dashboard's module, loaded in the page as the dashboard loads it (a string, so the
    // test runner does not rewrite the import).
    await page.evaluate("import('/static/prom-text.js').then((m) => { globalThis.__promText = m; })");
    // Observations of two regions, rendered as Prometheus text the way prom-client does.
    const observations = fc.array(fc.double({ min: 0, max: 20, noNaN: true }), { minLength: 1, maxLength: 200 });
    await fc.assert(
      fc.asyncProperty(observations, observations, fc.constantFrom(0.5, 0.95, 0.99), async (east, west, q) => {
        const text = [east, west]
          .flatMap((obs, i) => {
            const region = i === 0 ? 'us-east' : 'eu-west';
            return [...BOUNDS.map(String), '+Inf'].map((le) => {
              const count = obs.filter((v) => le === '+Inf' || v <= Number(le)).length;
              return `shoal_visibility_latency_seconds_bucket{le="${le}",region="${region}"} ${count}`;
            });
          })
          .join('\n');
        const got = await page.evaluate(
          ([body, quantile]) => {
            const m = (globalThis as unknown as { __promText: PromTextModule }).__promText;
            return m.histogramQuantile(quantile, m.histogramBuckets(m.parsePromText(body), 'shoal_visibility_latency_seconds'));
          },
          [text, q] as const,
        );
        const all = [...east, ...west].sort((a, b) => a - b);
        const truth = all[Math.ceil(q * all.length) - 1] as number;
        const upper = BOUNDS.find((b) => truth <= b) ?? Infinity;
        const lower = [...BOUNDS].reverse().find((b) => b < truth) ?? 0;
        expect(got).not.toBeNull();
        if (upper === Infinity) expect(got).toBe(lower);
        else {
          expect(got).toBeGreaterThanOrEqual(lower);
          expect(got).toBeLessThanOrEqual(upper);
        }
      }),
      { numRuns: 60 },
    );
    await page.close();
  });
});
