/**
 * The model of the runtime's model-based test and the check of the sinks against it.
 *
 * The model is the list of bus entries appended and, from it, the distinct events up to any
 * stream id. The sinks are checked against it at the checkpoint the runtime states: everything
 * up to the committed offset is in ClickHouse exactly once; nothing past the open intent (or
 * past the offset, when none) is there at all; with no intent open, the rollups are exact.
 */
import { expect } from 'vitest';
import type { CanonicalEvent } from '../../src/contracts/canonical-event.js';
import { compareStreamIds } from '../../src/runtime/stream-id.js';
import type { CrashPoint } from './crash-gate.js';
import type { PartitionRig } from './partition-rig.js';
import { HOUR_MS, MINUTE_MS, expectedReadings, expectedWindows, type WindowTotals } from './sink-snapshot.js';

/** How often the interesting faults happened across runs (a test that never crashes proves nothing). */
export interface FaultCoverage {
  /** Flushes (or start re-runs) that died at each crash point. */
  died: Partial<Record<CrashPoint, number>>;
  /** New owners that found an open intent and re-ran it. */
  reruns: number;
  /** Zombies that woke after a newer owner took over. */
  supersededWakes: number;
}

export function emptyCoverage(): FaultCoverage {
  return { died: {}, reruns: 0, supersededWakes: 0 };
}

export class RuntimeModel {
  /** Bus entries in stream order. */
  readonly entries: { id: string; events: CanonicalEvent[] }[] = [];
  /** Distinct events appended so far, by event id. */
  readonly distinct = new Map<string, CanonicalEvent>();
  up = true;
  zombies = 0;

  constructor(
    readonly run: number,
    /** Event times are minutes before this (epoch ms). */
    readonly now: number,
    readonly coverage: FaultCoverage,
  ) {}

  died(point: CrashPoint): void {
    this.coverage.died[point] = (this.coverage.died[point] ?? 0) + 1;
  }

  /** The events of the entries up to and including stream id `to`. */
  upTo(to: string): CanonicalEvent[] {
    return this.entries.filter((e) => compareStreamIds(e.id, to) <= 0).flatMap((e) => e.events);
  }
}

/** Sinks agree with the model at the checkpoint the runtime states (see the file header). */
export async function checkSinks(model: RuntimeModel, rig: PartitionRig): Promise<void> {
  const ck = await rig.checkpoint();
  const committed = model.upTo(ck.offset);
  const written = ck.intentTo === null ? committed : model.upTo(ck.intentTo);
  const snap = await rig.snapshot();
  expect(snap.repeatedReadings, 'a reading repeated in events FINAL').toBe(0);
  for (const [key, want] of expectedReadings(committed)) expect(snap.readings.get(key), `committed reading ${key}`).toBe(want);
  const allowed = expectedReadings(written);
  for (const [key, got] of snap.readings) expect(allowed.get(key), `reading ${key} beyond the checkpoint`).toBe(got);
  const windows: [string, Map<string, WindowTotals>, number][] = [
    ['1m', snap.rollup1m, MINUTE_MS],
    ['1h', snap.rollup1h, HOUR_MS],
  ];
  for (const [step, got, width] of windows) {
    const low = expectedWindows(committed, width);
    if (ck.intentTo === null) {
      expect(got, `rollup_${step} at checkpoint ${ck.offset}`).toEqual(low);
      continue;
    }
    const high = expectedWindows(written, width);
    for (const key of new Set([...got.keys(), ...high.keys()])) {
      const count = got.get(key)?.count ?? 0;
      expect(count, `rollup_${step} ${key} lost committed events`).toBeGreaterThanOrEqual(low.get(key)?.count ?? 0);
      expect(count, `rollup_${step} ${key} counted past the intent`).toBeLessThanOrEqual(high.get(key)?.count ?? 0);
    }
  }
}
