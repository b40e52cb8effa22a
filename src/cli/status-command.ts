/**
 * `shoal status [--ops URL] [--json]`: what a running pipeline stores and what that costs per
 * event, per region (GET /api/v1/status, see src/ops/status-report.ts): events and readings
 * stored, raw archive and ClickHouse bytes, bytes per event for each, and partition lag.
 * Prints a compact table, or the whole report as JSON with --json.
 */
import { ShoalError, errorMessage } from '../errors.js';
import type { BytesPerEvent, PipelineState, StatusReport } from '../ops/status-report.js';

export interface StatusFlags {
  ops: string;
  json?: boolean;
}

const REQUEST_TIMEOUT_MS = 60_000;
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

function perEvent(value: number | null): string {
  return value === null ? '-' : value.toFixed(1);
}

function lag(p: PipelineState): string {
  const oldest = p.max_lag_ms === null ? '-' : `${(p.max_lag_ms / 1000).toFixed(1)} s`;
  return `${p.lag_entries} (${oldest}, ${p.pressure})`;
}

/** Columns padded to their widest cell: the first left-aligned, the others right-aligned. */
function table(rows: readonly string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd()).join('\n');
}

function row(name: string, events: number, readings: number, archive: { objects: number; bytes: number }, chEvents: number, chAll: number, bpe: BytesPerEvent, p: PipelineState): string[] {
  return [
    name,
    String(events),
    String(readings),
    String(archive.objects),
    formatBytes(archive.bytes),
    formatBytes(chEvents),
    formatBytes(chAll),
    perEvent(bpe.archive),
    perEvent(bpe.clickhouse_events),
    perEvent(bpe.clickhouse_all),
    String(p.partitions),
    lag(p),
  ];
}

/** The human report: a header line, then one row per region and a total. */
export function renderStatus(report: StatusReport): string {
  const t = report.totals;
  const header = `shoal status at ${report.generated_at}: ${report.shards} shards, ${t.pipeline.partitions} partitions, ${t.pipeline.pending_events} events pending`;
  const rows = [
    ['region', 'events', 'readings', 'objects', 'archive', 'ch events', 'ch all', 'B/ev archive', 'B/ev ch events', 'B/ev ch all', 'partitions', 'lag entries (oldest, pressure)'],
    ...report.regions.map((r) =>
      row(r.region, r.events, r.readings, r.archive, r.clickhouse.tables.find((x) => x.table === 'events')?.bytes ?? 0, r.clickhouse.bytes, r.bytes_per_event, r.pipeline),
    ),
  ];
  const eventsTableBytes = report.regions.reduce((s, r) => s + (r.clickhouse.tables.find((x) => x.table === 'events')?.bytes ?? 0), 0);
  rows.push(row('total', t.events, t.readings, { objects: t.archive_objects, bytes: t.archive_bytes }, eventsTableBytes, t.clickhouse_bytes, t.bytes_per_event, t.pipeline));
  return `${header}\n\n${table(rows)}\n\nch events = ClickHouse \`events\` table; ch all = every table of the region's database (events + rollups); B/ev = bytes per stored event\n`;
}

export async function runStatus(flags: StatusFlags): Promise<void> {
  const url = new URL('/api/v1/status', flags.ops);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (err) {
    throw new ShoalError('OPS_UNREACHABLE', `cannot reach the ops API at ${flags.ops} (${errorMessage(err)}); is shoal running there?`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ShoalError('STATUS_FAILED', `${url.href} answered ${res.status} with a body that is not JSON`);
  }
  if (!res.ok) {
    const e = body as { code?: string; message?: string };
    throw new ShoalError(e.code ?? 'STATUS_FAILED', e.message ?? `status answered ${res.status}`);
  }
  process.stdout.write(flags.json ? `${JSON.stringify(body, null, 2)}\n` : renderStatus(body as StatusReport));
}
