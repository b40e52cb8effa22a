// Shoal's live dashboard: every 2 s it reads /api/v1/stats, /metrics, /readyz and each
// region's DLQ length, keeps a rolling 5-minute window and redraws the uPlot charts and the
// dropped-out devices table. The charts are on window.__shoalCharts for tests.
/* global document, window */
import { createChart, fitOnResize } from './dashboard-charts.js';
import { bucketDelta, histogramBuckets, histogramQuantile, parsePromText } from './prom-text.js';

const REFRESH_MS = 2000;
const WINDOW_POINTS = 150;
const QUANTILE_WINDOW_S = 30;
const VISIBILITY = 'shoal_visibility_latency_seconds';
const QUANTILES = [0.5, 0.95, 0.99];
const BURN_WINDOWS = ['5m', '1h'];

const state = { charts: null, x: [], values: {}, prev: null, histograms: [], busy: false };

async function getJson(path) {
  const res = await fetch(path, { cache: 'no-store' });
  if (!res.ok) throw new Error(`${path} answered ${res.status}`);
  return res.json();
}

async function getText(path) {
  const res = await fetch(path, { cache: 'no-store' });
  if (!res.ok) throw new Error(`${path} answered ${res.status}`);
  return res.text();
}

/** The DLQ length of a region, or null when it cannot be read. */
async function dlqLength(region) {
  try {
    return (await getJson(`/api/v1/dlq?region=${encodeURIComponent(region)}&limit=1`)).length ?? null;
  } catch {
    return null;
  }
}

function panel(id) {
  return document.getElementById(id);
}

/** Creates the charts once the first stats tell the reject codes and regions. */
function ensureCharts(codes, regions) {
  if (state.charts) return state.charts;
  const charts = {
    ingest: createChart(panel('chart-ingest'), 'Ingest rate', 'events/s', ['accepted/s', 'rejected/s']),
    visibility: createChart(panel('chart-visibility'), 'Visibility latency (30 s window)', 'seconds', QUANTILES.map((q) => `p${q * 100}`)),
    errors: createChart(panel('chart-errors'), 'Errors by code', 'events/s', codes),
    lag: createChart(panel('chart-lag'), 'Consumer lag', 'seconds', ['max lag (s)', 'entries (sum)'], { y2: { label: 'entries', series: [1] } }),
    dlq: createChart(panel('chart-dlq'), 'DLQ entries', 'entries', regions),
    burn: createChart(panel('chart-burn'), 'SLO burn rate (99% visible < 30 s)', 'burn rate', BURN_WINDOWS),
  };
  for (const name of Object.keys(charts)) state.values[name] = charts[name].series.slice(1).map(() => []);
  state.charts = charts;
  window.__shoalCharts = charts;
  fitOnResize(Object.values(charts));
  return charts;
}

/** The visibility quantiles over about the last 30 s of histogram buckets. */
function visibilityQuantiles(t, buckets) {
  state.histograms.push({ t, buckets });
  while (state.histograms.length > 1 && state.histograms[1].t <= t - QUANTILE_WINDOW_S) state.histograms.shift();
  const oldest = state.histograms[0];
  const recent = bucketDelta(buckets, oldest.t < t ? oldest.buckets : null);
  return QUANTILES.map((q) => histogramQuantile(q, recent));
}

function perSecond(now, before, dt) {
  return before === undefined || dt <= 0 ? null : Math.max(0, now - before) / dt;
}

/** One point per chart from a sample of the pipeline. */
function derive(t, stats, samples, dlq, codes) {
  const gw = stats.gateway ?? { accepted: 0, rejected: {} };
  const prev = state.prev;
  const dt = prev ? t - prev.t : 0;
  const rejectedNow = codes.reduce((sum, c) => sum + (gw.rejected?.[c] ?? 0), 0);
  const parts = Array.isArray(stats.partitions) ? stats.partitions : [];
  const lagMs = parts.map((p) => p.lagMs).filter((v) => typeof v === 'number');
  const lagEntries = parts.map((p) => p.lagEntries).filter((v) => typeof v === 'number');
  const burn = stats.slo?.windows ?? {};
  state.prev = { t, accepted: gw.accepted, rejected: rejectedNow, byCode: { ...(gw.rejected ?? {}) } };
  return {
    ingest: [perSecond(gw.accepted, prev?.accepted, dt), perSecond(rejectedNow, prev?.rejected, dt)],
    visibility: visibilityQuantiles(t, histogramBuckets(samples, VISIBILITY)),
    errors: codes.map((c) => perSecond(gw.rejected?.[c] ?? 0, prev?.byCode[c], dt)),
    lag: [lagMs.length ? Math.max(...lagMs) / 1000 : null, lagEntries.length ? lagEntries.reduce((a, b) => a + b, 0) : null],
    dlq,
    burn: BURN_WINDOWS.map((w) => (typeof burn[w]?.burn_rate === 'number' ? burn[w].burn_rate : null)),
  };
}

function push(t, point) {
  state.x.push(t);
  const trim = state.x.length > WINDOW_POINTS;
  if (trim) state.x.shift();
  for (const [name, u] of Object.entries(state.charts)) {
    const columns = state.values[name];
    point[name].forEach((v, i) => {
      columns[i].push(v);
      if (trim) columns[i].shift();
    });
    u.setData([state.x.slice(), ...columns.map((c) => c.slice())]);
  }
}

// The fields of /api/v1/stats `dropouts`: a 'quiet' row has silent_s and interval_s, a
// 'seq_gap' row has missing and last_seq; a row shows '—' for the other kind's fields.
const DROPOUT_COLUMNS = ['device_id', 'region', 'kind', 'silent_s', 'interval_s', 'missing', 'last_seq'];

function renderDropouts(dropouts) {
  const body = panel('dropouts-body');
  const head = panel('dropouts-head');
  const columns = dropouts.length > 0 ? DROPOUT_COLUMNS.filter((c) => dropouts.some((d) => c in d)) : ['device_id'];
  const hr = document.createElement('tr');
  for (const c of columns) hr.appendChild(Object.assign(document.createElement('th'), { textContent: c }));
  head.replaceChildren(hr);
  if (dropouts.length === 0) {
    const td = Object.assign(document.createElement('td'), { textContent: 'none: every device is reporting', className: 'none' });
    td.colSpan = columns.length;
    const tr = document.createElement('tr');
    tr.appendChild(td);
    body.replaceChildren(tr);
    return;
  }
  body.replaceChildren(
    ...dropouts.map((d) => {
      const tr = document.createElement('tr');
      for (const c of columns) {
        const v = d[c];
        tr.appendChild(Object.assign(document.createElement('td'), { textContent: v === null || v === undefined ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v) }));
      }
      return tr;
    }),
  );
}

function renderReady(ready) {
  const el = panel('ready');
  el.textContent = ready.ok ? 'ready' : `not ready${ready.down?.length ? ': ' + ready.down.join(', ') : ''}`;
  el.className = ready.ok ? 'up' : 'down';
}

async function tick() {
  if (state.busy) return;
  state.busy = true;
  try {
    const [stats, metrics, ready] = await Promise.all([
      getJson('/api/v1/stats'),
      getText('/metrics'),
      fetch('/readyz', { cache: 'no-store' }).then(async (r) => ({ ok: r.ok, ...(await r.json()) })),
    ]);
    const regions = Array.isArray(stats.regions) ? stats.regions : [];
    const dlq = await Promise.all(regions.map(dlqLength));
    const codes = Object.keys(stats.gateway?.rejected ?? {});
    ensureCharts(codes, regions);
    const t = Date.now() / 1000;
    push(t, derive(t, stats, parsePromText(metrics), dlq, codes));
    renderDropouts(Array.isArray(stats.dropouts) ? stats.dropouts : []);
    renderReady(ready);
    panel('burn-note').hidden = stats.slo !== undefined;
    panel('error').hidden = true;
    panel('updated').textContent = new Date().toLocaleTimeString();
  } catch (err) {
    const el = panel('error');
    el.textContent = `cannot reach the ops API: ${err instanceof Error ? err.message : String(err)}`;
    el.hidden = false;
  } finally {
    state.busy = false;
  }
}

void tick();
setInterval(() => void tick(), REFRESH_MS);
