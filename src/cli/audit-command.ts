/**
 * `shoal audit --ops URL --from T --to T`: per device and hour, accepted vs archived vs stored
 * vs rolled up. Prints every difference, ends with a one-line summary, exits 1 on any difference.
 */
import type { AuditReport, AuditRow } from '../ops/auditor.js';
import { ShoalError } from '../errors.js';

export interface AuditFlags {
  ops: string;
  from?: string;
  to?: string;
  json?: boolean;
}

function line(r: AuditRow): string {
  return (
    `${r.region} ${r.device_id} ${r.hour}: expected ${r.expected_events} events/${r.expected_readings} readings ` +
    `(accepted ${r.accepted_events}, duplicates ${r.duplicate_events}); archived ${r.archived_events}/${r.archived_readings}; ` +
    `stored ${r.stored_events}/${r.stored_readings}; rolled up ${r.rolled_up_readings} readings`
  );
}

export async function runAudit(flags: AuditFlags): Promise<void> {
  const url = new URL('/api/v1/audit', flags.ops);
  if (flags.from) url.searchParams.set('from', flags.from);
  if (flags.to) url.searchParams.set('to', flags.to);
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new ShoalError('OPS_UNREACHABLE', `cannot reach the ops API at ${flags.ops} (${(err as Error).message}); is shoal running there?`);
  }
  const body = (await res.json()) as AuditReport & { code?: string; message?: string };
  if (!res.ok) throw new ShoalError(body.code ?? 'AUDIT_FAILED', body.message ?? `audit answered ${res.status}`);
  if (flags.json) process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
  else for (const r of body.differences) process.stdout.write(`DIFF ${line(r)}\n`);
  const t = body.totals;
  process.stdout.write(
    `audit ${body.from} → ${body.to}: ${body.checked} device-hours, ${body.differences.length} with differences; ` +
      `expected ${t.expected_events} events, archived ${t.archived_events}, stored ${t.stored_events}; ` +
      `expected ${t.expected_readings} readings, rolled up ${t.rolled_up_readings}\n`,
  );
  if (body.differences.length > 0) process.exitCode = 1;
}
