// The dashboard's uPlot charts: one small factory per panel and a resize hook. Browser ES
// module; uPlot itself is the global the bundled uplot.js defines.
/* global uPlot, document, window */

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#9333ea', '#ea580c', '#475569'];
const HEIGHT = 200;

function widthOf(el) {
  return Math.max(280, el.clientWidth - 8);
}

function lineSeries(label, i, scale = 'y') {
  return { label, scale, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: false, points: { show: false } };
}

/** A y range from 0 (or below, for negative data) to a little above the largest value; 0..1 when all is 0. */
function fromZero(_u, min, max) {
  const top = max !== null && max > 0 ? max * 1.1 : 1;
  return [Math.min(0, min ?? 0), top];
}

function axes(yLabel, extra = []) {
  return [{}, { scale: 'y', label: yLabel, size: 60 }, ...extra];
}

/**
 * Creates a chart in `el` with one line per label; returns the uPlot instance. `opts.y2`
 * ({label, series: [...indexes]}) moves some series to a right-hand axis.
 */
export function createChart(el, title, yLabel, labels, opts = {}) {
  const onRight = new Set(opts.y2?.series ?? []);
  const series = [{}, ...labels.map((l, i) => lineSeries(l, i, onRight.has(i) ? 'y2' : 'y'))];
  const scales = { x: { time: true }, y: { range: fromZero } };
  const extra = [];
  if (opts.y2) {
    scales.y2 = { range: fromZero };
    extra.push({ scale: 'y2', side: 1, label: opts.y2.label, size: 60, grid: { show: false } });
  }
  const data = [[], ...labels.map(() => [])];
  return new uPlot({ title, width: widthOf(el), height: HEIGHT, series, scales, axes: axes(yLabel, extra), legend: { live: false } }, data, el);
}

/** Keeps every chart as wide as its panel. */
export function fitOnResize(charts) {
  window.addEventListener('resize', () => {
    for (const u of charts) {
      const panel = u.root.parentElement ?? document.body;
      u.setSize({ width: widthOf(panel), height: HEIGHT });
    }
  });
}
