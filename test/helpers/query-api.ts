/**
 * Reads a running shoal's query API the way a user would, in the shapes the tests compare:
 * a device's readings as `${event_id}/${reading_index}` keys, and a device's rollup windows of
 * one sensor keyed `${device}|${sensor}|${windowStartMs}` (the keys of expectedRollups()).
 */
import { getJson } from './shoal-process.js';
import type { WindowTotals } from './sink-snapshot.js';

/** The most rows one events answer holds; a device with this many cannot be checked in one call. */
export const EVENTS_LIMIT = 10_000;

export interface TimeSpan {
  from: number;
  to: number;
}

function range(span: TimeSpan): string {
  return `from=${new Date(span.from).toISOString()}&to=${new Date(span.to).toISOString()}`;
}

/** Every reading of a device in the span, one key per row returned (repeats stay visible). */
export async function deviceReadings(opsUrl: string, deviceId: string, span: TimeSpan): Promise<string[]> {
  const body = await getJson<{ rows: { event_id: string; reading_index: number }[] }>(
    `${opsUrl}/api/v1/devices/${encodeURIComponent(deviceId)}/events?${range(span)}&limit=${EVENTS_LIMIT}`,
  );
  if (body.rows.length >= EVENTS_LIMIT) throw new Error(`${deviceId} has ${EVENTS_LIMIT}+ readings: too many to check in one answer`);
  return body.rows.map((r) => `${r.event_id}/${r.reading_index}`);
}

/** A device's windows of one sensor at a step (1m or 1h). */
export async function deviceWindows(
  opsUrl: string,
  deviceId: string,
  sensor: string,
  step: '1m' | '1h',
  span: TimeSpan,
): Promise<Map<string, WindowTotals>> {
  const body = await getJson<{ rows: { window_start: string; count: number; sum: number }[] }>(
    `${opsUrl}/api/v1/devices/${encodeURIComponent(deviceId)}/rollups?sensor=${encodeURIComponent(sensor)}&step=${step}&${range(span)}`,
  );
  return new Map(body.rows.map((r) => [`${deviceId}|${sensor}|${Date.parse(r.window_start)}`, { count: r.count, sum: r.sum }]));
}
