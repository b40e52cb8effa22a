/**
 * The perf report's verdicts against DESIGN §1 (perf/lib/targets.mjs): what engineers read
 * first in a report, so a run that fell behind must never read as a visibility pass.
 */
import { describe, expect, it } from 'vitest';
import { designVerdicts, type RunResultForTargets } from '../../../perf/lib/targets.mjs';

function run(over: { offered?: number; acked?: number; p99?: number | null; devices?: number; rssMb?: number; loadSec?: number; ramp?: RunResultForTargets['ramp']; steps?: RunResultForTargets['steps'] }): RunResultForTargets {
  const offered = over.offered ?? 50_000;
  return {
    ramp: over.ramp,
    steps: over.steps,
    options: { devices: over.devices ?? 10_000 },
    generator: { offeredPerSec: offered, acceptedPerSecLoadPhase: over.acked ?? offered },
    shoal: { visibilitySeconds: { p99: over.p99 === undefined ? 1.5 : over.p99 } },
    cpu: { totals: { shoal: { rssPeakMb: over.rssMb ?? 1_200 } } },
    phases: { loadSec: over.loadSec ?? 300 },
  };
}

function verdictOf(r: RunResultForTargets, prefix: string): string | undefined {
  return designVerdicts(r).verdicts.find((v) => v.target.startsWith(prefix))?.verdict;
}

describe('perf verdicts against DESIGN §1', () => {
  it('passes p99 visibility at 50k/s only when the run kept up and p99 is under 2 s', () => {
    expect(verdictOf(run({ p99: 1.9 }), 'p99 visibility < 2 s')).toBe('met');
    expect(verdictOf(run({ p99: 2.03 }), 'p99 visibility < 2 s')).toBe('not met');
    expect(verdictOf(run({ p99: null }), 'p99 visibility < 2 s')).toBe('not met');
    // Behind the offered rate, a low p99 describes fewer events, not the rate: not a pass.
    const behind = designVerdicts(run({ acked: 40_000, p99: 1.2 }));
    expect(behind.keptUp).toBe(false);
    expect(behind.verdicts.find((v) => v.target.startsWith('p99 visibility < 2 s'))?.verdict).toBe('not met');
    expect(verdictOf(run({ offered: 30_000, p99: 0.9 }), 'p99 visibility < 2 s')).toBe('not measured');
  });

  it('judges 200k/s only from a run offered it or a ramp, and any run that fell behind a lower rate as not met', () => {
    expect(verdictOf(run({ offered: 200_000, acked: 195_000 }), '200,000 events/s')).toBe('met');
    expect(verdictOf(run({ offered: 200_000, acked: 58_963 }), '200,000 events/s')).toBe('not met');
    expect(verdictOf(run({ offered: 50_000, acked: 31_635 }), '200,000 events/s')).toBe('not met');
    expect(verdictOf(run({ offered: 50_000 }), '200,000 events/s')).toBe('not measured');
    expect(verdictOf(run({ ramp: { maxPassingRate: 50_000 } }), '200,000 events/s')).toBe('not met');
    expect(verdictOf(run({ ramp: { maxPassingRate: 220_000 } }), '200,000 events/s')).toBe('met');
  });

  it('reads a ramp step at 50k/s for the visibility target, and the burst target only at 200k/s', () => {
    const step = (acceptedPerSec: number, visibilityP99Sec: number) => [{ rate: 45_000, acceptedPerSec: 45_000, visibilityP99Sec: 1.1 }, { rate: 50_000, acceptedPerSec, visibilityP99Sec }];
    expect(verdictOf(run({ ramp: { maxPassingRate: 50_000 }, steps: step(49_800, 1.49) }), 'p99 visibility < 2 s')).toBe('met');
    expect(verdictOf(run({ ramp: { maxPassingRate: 50_000 }, steps: step(49_800, 2.3) }), 'p99 visibility < 2 s')).toBe('not met');
    expect(verdictOf(run({ ramp: { maxPassingRate: 50_000 }, steps: step(40_000, 1.2) }), 'p99 visibility < 2 s')).toBe('not met');
    expect(verdictOf(run({ offered: 200_000, acked: 60_000, p99: 8.2 }), 'p99 visibility < 30 s')).toBe('met');
    expect(verdictOf(run({ offered: 200_000, acked: 60_000, p99: 31 }), 'p99 visibility < 30 s')).toBe('not met');
    expect(verdictOf(run({ offered: 50_000 }), 'p99 visibility < 30 s')).toBeUndefined();
  });

  it('judges memory only with 100k devices or more, against 1.5 GB (1,430 MiB)', () => {
    expect(verdictOf(run({ devices: 100_000, rssMb: 1_233 }), '100,000 active devices')).toBe('met');
    // Under the limit over a short load proves nothing (memory grows for minutes); over it fails at once.
    expect(verdictOf(run({ devices: 100_000, rssMb: 1_233, loadSec: 60 }), '100,000 active devices')).toBe('not measured');
    expect(designVerdicts(run({ devices: 100_000, rssMb: 1_233, loadSec: 60 })).verdicts.at(-1)?.detail).toContain('over only 60 s');
    expect(verdictOf(run({ devices: 100_000, rssMb: 1_450, loadSec: 60 }), '100,000 active devices')).toBe('not met');
    expect(verdictOf(run({ devices: 100_000, rssMb: 1_450 }), '100,000 active devices')).toBe('not met');
    expect(verdictOf(run({ devices: 10_000, rssMb: 900 }), '100,000 active devices')).toBe('not measured');
  });
});
