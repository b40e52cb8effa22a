// Line charts as hand-written SVG (no dependency): one y axis, several series as polylines,
// gaps where a value is missing (null), "nice" ticks, a legend. Enough for the perf reports.

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf'];

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks = [];
  let v = Math.floor(lo / step) * step;
  ticks.push(Number(v.toFixed(10)));
  while (v < hi - step * 1e-9) {
    v += step;
    ticks.push(Number(v.toFixed(10)));
  }
  return ticks;
}

function fmt(v) {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return String(+v.toFixed(2));
}

/** At most `max` points: consecutive points averaged into bins (missing values stay missing). */
export function downsample(points, max = 1500) {
  if (points.length <= max) return points;
  const size = points.length / max;
  const out = [];
  for (let b = 0; b < max; b++) {
    const bin = points.slice(Math.floor(b * size), Math.floor((b + 1) * size));
    const ys = bin.map(([, y]) => y).filter((y) => Number.isFinite(y));
    const x = bin.reduce((a, [px]) => a + px, 0) / bin.length;
    out.push([x, ys.length ? ys.reduce((a, y) => a + y, 0) / ys.length : null]);
  }
  return out;
}

/**
 * @param {object} o
 * @param {string} o.title
 * @param {string} o.xLabel
 * @param {string} o.yLabel
 * @param {{name: string, points: [number, number|null][], color?: string, dashed?: boolean}[]} o.series
 * @param {{x: number, label: string}[]} [o.markers] vertical lines (e.g. end of load, ramp steps)
 * @param {number} [o.yMin] lower bound of the y axis (default 0)
 */
export function lineChart({ title, xLabel, yLabel, series: raw, markers = [], width = 760, height = 340, yMin = 0 }) {
  const series = raw.map((s) => ({ ...s, points: downsample(s.points) }));
  // Legend above the plot, wrapped into rows (text width estimated at 6.2 px a character).
  const legend = [];
  let lx = 64;
  let row = 0;
  for (const s of series) {
    const itemWidth = 30 + 6.2 * s.name.length;
    if (lx + itemWidth > width - 16 && lx > 64) {
      row++;
      lx = 64;
    }
    legend.push({ x: lx, y: 40 + row * 16 });
    lx += itemWidth;
  }
  const m = { top: 52 + row * 16, right: 16, bottom: 44, left: 64 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = all.map(([x]) => x).concat(markers.map((k) => k.x));
  const ys = all.map(([, y]) => y);
  const xTicks = niceTicks(xs.length ? Math.min(...xs) : 0, xs.length ? Math.max(...xs) : 1, 8);
  const yTicks = niceTicks(yMin, ys.length ? Math.max(yMin + 1e-9, ...ys) : 1, 5);
  const [x0, x1] = [xTicks[0], xTicks.at(-1)];
  const [y0, y1] = [yTicks[0], yTicks.at(-1)];
  const sx = (x) => m.left + ((x - x0) / (x1 - x0 || 1)) * w;
  const sy = (y) => m.top + h - ((y - y0) / (y1 - y0 || 1)) * h;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="${width / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`);
  for (const t of yTicks) {
    out.push(`<line x1="${m.left}" x2="${m.left + w}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 6}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`);
  }
  for (const t of xTicks) {
    out.push(`<line x1="${sx(t).toFixed(1)}" x2="${sx(t).toFixed(1)}" y1="${m.top + h}" y2="${m.top + h + 4}" stroke="#333"/>`);
    out.push(`<text x="${sx(t).toFixed(1)}" y="${m.top + h + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  out.push(`<line x1="${m.left}" x2="${m.left + w}" y1="${m.top + h}" y2="${m.top + h}" stroke="#333"/>`);
  out.push(`<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + h}" stroke="#333"/>`);
  out.push(`<text x="${m.left + w / 2}" y="${height - 8}" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(`<text transform="translate(14 ${m.top + h / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  for (const k of markers) {
    out.push(`<line x1="${sx(k.x).toFixed(1)}" x2="${sx(k.x).toFixed(1)}" y1="${m.top}" y2="${m.top + h}" stroke="#999" stroke-dasharray="3 3"/>`);
    out.push(`<text x="${(sx(k.x) + 3).toFixed(1)}" y="${m.top + 10}" fill="#666">${esc(k.label)}</text>`);
  }
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    // Split at missing values so a gap shows as a gap, not a straight line across it.
    const runs = [[]];
    for (const [x, y] of s.points) {
      if (Number.isFinite(x) && Number.isFinite(y)) runs.at(-1).push(`${sx(x).toFixed(1)},${sy(Math.min(y, y1)).toFixed(1)}`);
      else if (runs.at(-1).length) runs.push([]);
    }
    for (const run of runs) {
      if (run.length === 1) out.push(`<circle cx="${run[0].split(',')[0]}" cy="${run[0].split(',')[1]}" r="2" fill="${color}"/>`);
      else if (run.length > 1)
        out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.6"${s.dashed ? ' stroke-dasharray="5 3"' : ''} points="${run.join(' ')}"/>`);
    }
    const at = legend[i];
    out.push(`<line x1="${at.x}" x2="${at.x + 18}" y1="${at.y - 4}" y2="${at.y - 4}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    out.push(`<text x="${at.x + 22}" y="${at.y}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
