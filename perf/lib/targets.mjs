// What a run says about the targets of DESIGN §1, for the report: each target met, not met,
// or not measured by this run (and why). A run that did not keep up with its offered rate
// says so first: its latencies then describe a backlog, not the rate.
import { n0, n2 } from './format.mjs';

export const TARGETS = {
  /** Events/s sustained end to end on the 2-core machine, load generator included. */
  sustainedRate: 200_000,
  /** The rate at which p99 visibility is stated, and the p99 there (s). */
  visibilityRate: 50_000,
  visibilityP99Sec: 2,
  /** p99 visibility through a burst at the sustained rate (s). */
  burstVisibilityP99Sec: 30,
  /** Active devices, and the RSS (MiB, as the report's RSS) they must fit in: 1.5 GB. */
  devices: 100_000,
  rssMb: 1.5e9 / 2 ** 20,
};

/**
 * The least load phase (s) whose peak RSS can show the memory target met: Shoal's memory grows
 * for minutes (the dedup indexes fill, up to dedup.maxIds ids, for ~400 s at 20k/s; the V8
 * heaps settle), and a 60 s soak once read 1,233 MB where 8 minutes peaked at 1,883 MB.
 */
export const MEMORY_STEADY_SEC = 300;

/** A run kept up when it acked at least this share of the offered rate during the load. */
export const KEPT_UP_SHARE = 0.95;
/** How close to a target's rate the offered rate must be for the run to measure it. */
const RATE_TOLERANCE = 0.02;


function nearRate(offered, rate) {
  return Math.abs(offered - rate) <= rate * RATE_TOLERANCE;
}

/**
 * The verdicts of a run's result (perf/run.mjs): { keptUp, ackedShare, verdicts: [{ target,
 * verdict: 'met' | 'not met' | 'not measured', detail }] }.
 */
export function designVerdicts(r) {
  const offered = r.ramp ? null : r.generator.offeredPerSec;
  const acked = r.generator.acceptedPerSecLoadPhase;
  const ackedShare = offered ? acked / offered : null;
  const keptUp = ackedShare === null ? null : ackedShare >= KEPT_UP_SHARE;
  const p99 = r.shoal.visibilitySeconds?.p99 ?? null;
  const verdicts = [];

  // Throughput: only a run at the target rate (or a ramp reaching it) can show it met; any
  // run that fell behind a lower rate shows it not met.
  let throughput;
  if (r.ramp) {
    const best = r.ramp.maxPassingRate;
    throughput = { verdict: best !== null && best >= TARGETS.sustainedRate ? 'met' : 'not met', detail: `highest passing ramp step ${best === null ? 'none' : `${n0(best)}/s`}` };
  } else if (offered >= TARGETS.sustainedRate * (1 - RATE_TOLERANCE)) {
    throughput = { verdict: keptUp ? 'met' : 'not met', detail: `acked ${n0(acked)}/s of ${n0(offered)}/s offered during the load` };
  } else if (!keptUp) {
    throughput = { verdict: 'not met', detail: `did not keep up with ${n0(offered)}/s (acked ${n0(acked)}/s during the load)` };
  } else {
    throughput = { verdict: 'not measured', detail: `offered ${n0(offered)}/s (kept up)` };
  }
  verdicts.push({ target: `${n0(TARGETS.sustainedRate)} events/s sustained`, ...throughput });

  let visibility;
  const step = r.steps?.find((x) => nearRate(x.rate, TARGETS.visibilityRate));
  if (step) {
    const stepKeptUp = step.acceptedPerSec !== null && step.acceptedPerSec >= KEPT_UP_SHARE * step.rate;
    const met = stepKeptUp && step.visibilityP99Sec !== null && step.visibilityP99Sec < TARGETS.visibilityP99Sec;
    visibility = { verdict: met ? 'met' : 'not met', detail: `ramp step ${n0(step.rate)}/s: p99 ${n2(step.visibilityP99Sec)} s (second half of the step), acked ${n0(step.acceptedPerSec)}/s` };
  } else if (offered !== null && nearRate(offered, TARGETS.visibilityRate)) {
    const met = keptUp && p99 !== null && p99 < TARGETS.visibilityP99Sec;
    visibility = { verdict: met ? 'met' : 'not met', detail: `p99 ${n2(p99)} s (Shoal's histogram)${keptUp ? '' : ', behind the offered rate'}` };
  } else {
    visibility = { verdict: 'not measured', detail: offered === null ? `no ramp step at ${n0(TARGETS.visibilityRate)}/s` : `offered ${n0(offered)}/s; p99 here ${n2(p99)} s` };
  }
  verdicts.push({ target: `p99 visibility < ${TARGETS.visibilityP99Sec} s at ${n0(TARGETS.visibilityRate)}/s`, ...visibility });

  if (offered !== null && offered >= TARGETS.sustainedRate * (1 - RATE_TOLERANCE)) {
    const met = p99 !== null && p99 < TARGETS.burstVisibilityP99Sec;
    verdicts.push({ target: `p99 visibility < ${TARGETS.burstVisibilityP99Sec} s through a ${n0(TARGETS.sustainedRate)}/s burst`, verdict: met ? 'met' : 'not met', detail: `p99 ${n2(p99)} s` });
  }

  const devices = r.options.devices;
  const rss = r.cpu.totals.shoal?.rssPeakMb ?? null;
  const loadSec = r.phases?.loadSec ?? 0;
  if (devices >= TARGETS.devices && rss !== null && rss >= TARGETS.rssMb) {
    verdicts.push({ target: `${n0(TARGETS.devices)} active devices in < 1.5 GB RSS`, verdict: 'not met', detail: `Shoal peak RSS ${n0(rss)} MB with ${n0(devices)} devices (the limit: ${n0(TARGETS.rssMb)} MB, MiB as every RSS here)` });
  } else if (devices >= TARGETS.devices && rss !== null && loadSec >= MEMORY_STEADY_SEC) {
    verdicts.push({ target: `${n0(TARGETS.devices)} active devices in < 1.5 GB RSS`, verdict: 'met', detail: `Shoal peak RSS ${n0(rss)} MB with ${n0(devices)} devices over ${n0(loadSec)} s (the limit: ${n0(TARGETS.rssMb)} MB, MiB as every RSS here)` });
  } else if (devices >= TARGETS.devices && rss !== null) {
    const detail = `Shoal peak RSS ${n0(rss)} MB over only ${n0(loadSec)} s of load: memory grows for minutes (dedup indexes, heaps); run --duration ${MEMORY_STEADY_SEC} or more`;
    verdicts.push({ target: `${n0(TARGETS.devices)} active devices in < 1.5 GB RSS`, verdict: 'not measured', detail });
  } else {
    verdicts.push({ target: `${n0(TARGETS.devices)} active devices in < 1.5 GB RSS`, verdict: 'not measured', detail: `${n0(devices)} devices (Shoal peak RSS ${rss === null ? 'n/a' : `${n0(rss)} MB`})` });
  }
  return { keptUp, ackedShare, verdicts };
}
