/**
 * Canonical events for bus entries written straight to a partition's stream, as the gateway
 * would: the k-th entry of a backlog holds `perEntry` one-reading v1 events, numbered on
 * across entries (ids `${idPrefix}-0000-4000-8000-<n>`, event times `agoMs` back plus n ms).
 */
import type { CanonicalEvent } from '../../src/contracts/canonical-event.js';

export interface BacklogEntry {
  region: string;
  /** Which entry of the backlog (0, 1, …). */
  k: number;
  perEntry: number;
  /** The first 8 hex digits of every id: one per test, so their ids never meet. */
  idPrefix: string;
  /** The device of event n (of entry k). */
  device: (n: number, k: number) => string;
  agoMs?: number;
}

export function backlogEntry(o: BacklogEntry): CanonicalEvent[] {
  const start = Date.now() - (o.agoMs ?? 5 * 60_000);
  return Array.from({ length: o.perEntry }, (_, i) => {
    const n = o.k * o.perEntry + i;
    return {
      eventId: `${o.idPrefix}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`,
      deviceId: o.device(n, o.k),
      region: o.region,
      eventTime: start + n,
      ingestTime: Date.now(),
      firmwareVersion: '1.0.0',
      schemaVersion: 1 as const,
      seq: null,
      readings: [{ sensorType: 'temperature', value: n, unit: 'C', weight: 1 }],
    };
  });
}
