// The loss audit, after the pipeline drained: every event a client saw acked is stored exactly
// once. Compares what the generators and the probe counted (distinct fresh events acked as
// accepted, per device) with Shoal's own audit (GET /api/v1/audit?from&to, see
// src/ops/auditor.ts: per region, device and event hour, accepted − duplicates vs the raw
// archive vs ClickHouse `events` vs `rollup_1h`), and spot-checks a few devices through the
// query API. Readings sampled away under backpressure (`sampled_out_readings`) are legitimate:
// an event whose every reading was sampled away is acked but never stored, so they loosen the
// lower bound. Events whose frame was never answered (connection lost, drain timeout) may or
// may not have been accepted: they loosen the upper bound, and are reported.
/* global AbortSignal */
import { performance } from 'node:perf_hooks';

const EVENTS_API_LIMIT = 10_000;

async function getJson(url, timeoutMs) {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} ${text.slice(0, 500)}`);
  return JSON.parse(text);
}

/**
 * @param {object} o
 * @param {string} o.opsUrl
 * @param {number} o.fromMs audit window start (event time)
 * @param {number} o.toMs audit window end
 * @param {number} o.clientAcked distinct events acked, all generators and the probe
 * @param {Record<string, number>} o.clientPerDevice the same per device
 * @param {number} o.indeterminate events sent in frames never answered
 * @param {number} o.spotDevices how many devices to check through the events API
 */
export async function lossAudit({ opsUrl, fromMs, toMs, clientAcked, clientPerDevice, indeterminate, spotDevices = 4, log }) {
  const from = new Date(fromMs).toISOString();
  const to = new Date(toMs).toISOString();
  const checks = [];
  const check = (name, ok, detail) => checks.push({ name, ok, detail });
  let report = null;
  const started = performance.now();
  try {
    report = await getJson(`${opsUrl}/api/v1/audit?from=${from}&to=${to}`, 15 * 60_000);
  } catch (err) {
    check('audit answered', false, String(err.message ?? err));
    return { ok: false, from, to, checks, totals: null, differences: [], differenceCount: null, spot: [] };
  }
  const auditSeconds = (performance.now() - started) / 1000;
  const t = report.totals;
  const sampledOut = t.sampled_out_readings ?? 0;
  check('no per-(device, hour) differences', report.differences.length === 0, `${report.differences.length} of ${report.checked} (device, hour) rows differ`);
  check('stored_events == archived_events', t.stored_events === t.archived_events, `stored ${t.stored_events}, archived ${t.archived_events}`);
  check('stored_events == expected_events (accepted − duplicates)', t.stored_events === t.expected_events, `stored ${t.stored_events}, expected ${t.expected_events}`);
  check('rolled_up_readings == expected_readings', t.rolled_up_readings === t.expected_readings, `rolled up ${t.rolled_up_readings}, expected ${t.expected_readings}`);
  const lo = clientAcked - sampledOut;
  const hi = clientAcked + indeterminate;
  const exact = sampledOut === 0 && indeterminate === 0;
  check(
    exact ? 'stored_events == client-side distinct acked events' : 'client-side distinct acked events within bounds',
    exact ? t.stored_events === clientAcked : t.stored_events >= lo && t.stored_events <= hi,
    `stored ${t.stored_events}, client acked ${clientAcked}` +
      (exact ? '' : ` (allowed ${lo}…${hi}: ${sampledOut} readings sampled out, ${indeterminate} events never answered)`) +
      (t.stored_events !== clientAcked ? `, difference ${t.stored_events - clientAcked}` : ''),
  );

  // Spot checks: the busiest devices, counted through the query API.
  const spot = [];
  const candidates = Object.entries(clientPerDevice).sort((a, b) => b[1] - a[1]);
  for (const [deviceId, acked] of candidates.slice(0, spotDevices)) {
    try {
      const body = await getJson(`${opsUrl}/api/v1/devices/${encodeURIComponent(deviceId)}/events?from=${from}&to=${to}&limit=${EVENTS_API_LIMIT}`, 60_000);
      const rows = body.rows ?? [];
      if (rows.length >= EVENTS_API_LIMIT) {
        spot.push({ deviceId, clientAcked: acked, rows: rows.length, inconclusive: 'row limit reached' });
        continue;
      }
      const keys = new Set(rows.map((r) => `${r.event_id}/${r.reading_index}`));
      const events = new Set(rows.map((r) => r.event_id)).size;
      spot.push({ deviceId, clientAcked: acked, storedEvents: events, rows: rows.length, duplicateRows: rows.length - keys.size, ok: rows.length === keys.size && (exact ? events === acked : true) });
    } catch (err) {
      spot.push({ deviceId, clientAcked: acked, error: String(err.message ?? err) });
    }
  }
  const spotBad = spot.filter((s) => s.ok === false);
  if (spot.length) check('spot-checked devices: API events == client acked, no duplicate rows', spotBad.length === 0, spot.map((s) => `${s.deviceId}: ${s.storedEvents ?? '?'} / ${s.clientAcked}${s.duplicateRows ? ` (${s.duplicateRows} dup rows)` : ''}${s.inconclusive ? ' (inconclusive)' : ''}`).join('; '));
  const ok = checks.every((c) => c.ok);
  log?.(`audit ${ok ? 'PASSED' : 'FAILED'} in ${auditSeconds.toFixed(1)} s: ${checks.map((c) => `${c.ok ? '✓' : '✗'} ${c.name}`).join('; ')}`);
  return { ok, from, to, auditSeconds, checks, totals: t, checked: report.checked, differenceCount: report.differences.length, differences: report.differences.slice(0, 20), spot };
}
