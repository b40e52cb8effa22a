/**
 * Health of a running Shoal process as the ops server reports it: named checks (ingest, bus,
 * sinks, workers, …), each up or down with an optional detail. /readyz answers 200 only when
 * every check is up.
 */

export interface HealthCheck {
  up: boolean;
  detail?: string;
}

export interface HealthReport {
  checks: Record<string, HealthCheck>;
}

/** Names of the checks that are down; a report without any check counts as not ready. */
export function downChecks(report: HealthReport): string[] {
  const entries = Object.entries(report.checks);
  if (entries.length === 0) return ['(no checks reported)'];
  return entries.filter(([, c]) => c.up !== true).map(([name]) => name);
}
