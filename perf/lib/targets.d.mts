/** Types of targets.mjs, for the tests (the harness itself is plain JavaScript). */
export declare const TARGETS: {
  sustainedRate: number;
  visibilityRate: number;
  visibilityP99Sec: number;
  burstVisibilityP99Sec: number;
  devices: number;
  rssMb: number;
};
export declare const KEPT_UP_SHARE: number;
export declare const MEMORY_STEADY_SEC: number;

/** The fields of a perf result (perf/run.mjs) the verdicts read. */
export interface RunResultForTargets {
  ramp?: { maxPassingRate: number | null } | undefined;
  steps?: { rate: number; acceptedPerSec: number | null; visibilityP99Sec: number | null }[] | undefined;
  options: { devices: number };
  generator: { offeredPerSec: number; acceptedPerSecLoadPhase: number };
  shoal: { visibilitySeconds?: { p99: number | null } };
  cpu: { totals: { shoal?: { rssPeakMb: number } } };
  phases?: { loadSec: number };
}

export interface Verdict {
  target: string;
  verdict: 'met' | 'not met' | 'not measured';
  detail: string;
}

export declare function designVerdicts(r: RunResultForTargets): { keptUp: boolean | null; ackedShare: number | null; verdicts: Verdict[] };
