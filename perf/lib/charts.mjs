// The run's charts, from the recorded timeline (see recorder.mjs): rates, visibility,
// backlog, consumer lag, CPU per process and Shoal's by thread, Shoal's memory by part. Returns { suffix: svgText };
// run.mjs writes them beside the report.
import { percentile } from './histogram.mjs';
import { lineChart } from './svg.mjs';
import { orderThreadGroups, threadGroupLabel } from './threads.mjs';

/** Probe visibility p50/p99 (seconds) over a sliding window of send times, one point per second. */
function probeSeries(points, q, windowSec, tEnd) {
  const out = [];
  let lo = 0;
  let hi = 0; // points[lo, hi) were sent in (t − windowSec, t]; points are sorted by send time
  for (let t = 1; t <= tEnd; t += 1) {
    while (hi < points.length && points[hi][0] <= t) hi++;
    while (lo < hi && points[lo][0] <= t - windowSec) lo++;
    const vis = points.slice(lo, hi).map(([, v]) => v / 1000);
    out.push([t, vis.length >= 3 ? percentile(vis, q) : null]);
  }
  return out;
}

export function buildCharts({ recorder, probePoints, markers, profile }) {
  const tEnd = recorder.timeline.at(-1)?.t ?? 0;
  const xLabel = 'seconds since load start';
  const charts = {};
  charts.rate = lineChart({
    title: `${profile}: events/s offered, sent and acked`,
    xLabel,
    yLabel: 'events/s',
    markers,
    series: [
      { name: 'offered (schedule)', points: recorder.rateSeries('offered'), dashed: true },
      { name: 'sent (incl. resends, invalid)', points: recorder.rateSeries('sentEvents') },
      { name: 'acked as accepted', points: recorder.rateSeries('acceptedEvents') },
      { name: 'refused OVERLOADED', points: recorder.rateSeries('overloaded') },
      { name: 'not sent (throttled, buffer full)', points: recorder.rateSeries('throttleSkipped', 'droppedQueueFull') },
    ],
  });
  charts.visibility = lineChart({
    title: `${profile}: visibility latency (ingest → queryable)`,
    xLabel,
    yLabel: 'seconds',
    markers,
    series: [
      { name: 'Shoal histogram p50 (5 s window)', points: recorder.visibilitySeries(0.5) },
      { name: 'Shoal histogram p99 (5 s window)', points: recorder.visibilitySeries(0.99) },
      { name: 'probe p50 (10 s of sends)', points: probeSeries(probePoints, 0.5, 10, tEnd), dashed: true },
      { name: 'probe p99 (10 s of sends)', points: probeSeries(probePoints, 0.99, 10, tEnd), dashed: true },
    ],
  });
  charts.backlog = lineChart({
    title: `${profile}: backlog (events)`,
    xLabel,
    yLabel: 'events',
    markers,
    series: [
      { name: 'accepted, not yet read by a shard', points: recorder.scrapes.map((s) => [s.t, s.unreadEvents]) },
      { name: 'waiting in generators (unsent)', points: recorder.timeline.map((p) => [p.t, p.queued]) },
      { name: 'in flight (sent, unacked)', points: recorder.timeline.map((p) => [p.t, p.inflightEvents]) },
    ],
  });
  charts.lag = lineChart({
    title: `${profile}: consumer lag (shoal_consumer_lag_*)`,
    xLabel,
    yLabel: 'seconds / entries÷100',
    markers,
    series: [
      { name: 'lag seconds (worst partition)', points: recorder.scrapes.map((s) => [s.t, s.lagSecondsMax]) },
      { name: 'lag entries ÷ 100 (all partitions)', points: recorder.scrapes.map((s) => [s.t, s.lagEntries / 100]) },
    ],
  });
  const names = Object.keys(recorder.timeline.at(-1)?.proc ?? {});
  charts.cpu = lineChart({
    title: `${profile}: CPU per process`,
    xLabel,
    yLabel: 'cores',
    markers,
    series: names.map((name) => ({ name, points: recorder.timeline.map((p) => [p.t, p.proc[name]?.cores ?? null]) })),
  });
  const groups = orderThreadGroups(new Set(recorder.timeline.flatMap((p) => Object.keys(p.proc.shoal?.threads ?? {}))));
  if (groups.length > 0) {
    charts.threads = lineChart({
      title: `${profile}: Shoal's CPU by thread`,
      xLabel,
      yLabel: 'cores',
      markers,
      series: groups.map((g) => ({ name: threadGroupLabel(g).replace(/ \(.*\)$/, ''), points: recorder.timeline.map((p) => [p.t, p.proc.shoal?.threads?.[g] ?? null]) })),
    });
  }
  const withMemory = recorder.scrapes.filter((s) => s.memory);
  if (withMemory.length > 0) {
    const mb = (pick) => withMemory.map((s) => [s.t, pick(s.memory) / 1048576]);
    charts.memory = lineChart({
      title: `${profile}: Shoal's memory by part (from its /metrics)`,
      xLabel,
      yLabel: 'MB',
      markers,
      series: [
        { name: 'RSS', points: mb((m) => m.rss) },
        { name: 'V8 heaps, shard threads', points: mb((m) => m.shardHeaps) },
        { name: 'V8 heap, main thread', points: mb((m) => m.mainHeap) },
        { name: 'chDB tracked', points: mb((m) => m.clickhouse) },
        { name: 'dedup indexes', points: mb((m) => m.dedup) },
        { name: 'mapped files (code)', points: mb((m) => m.mappedFiles ?? 0) },
      ],
    });
  }
  return charts;
}
