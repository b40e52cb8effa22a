// The harness's profiles. Every figure can be overridden on the command line.
//
//   quick   CI smoke: 3k events/s for 30 s from 500 devices, one generator; ≤ 60 s in all.
//   steady  the average requirement: 50k events/s for 5 minutes.
//   peak    the peak requirement: 200k events/s offered for 60 s, then drain.
//   soak    a long run at a steady rate (--duration is required).
//   ramp    steps of `stepSec` from rampStart up by rampStep; stops at the first step where
//           the backlog keeps growing, p99 visibility is ≥ 5 s or the acked rate falls short;
//           reports the highest passing rate.

export const PROFILES = {
  quick: { rate: 3_000, duration: 30, devices: 500, generators: 1, sockets: 8, peers: false, generatorDrainSec: 30, shoalDrainSec: 30 },
  steady: { rate: 50_000, duration: 300, devices: 10_000, generators: 2, sockets: 32, peers: true, generatorDrainSec: 120, shoalDrainSec: 300 },
  peak: { rate: 200_000, duration: 60, devices: 10_000, generators: 2, sockets: 32, peers: true, generatorDrainSec: 600, shoalDrainSec: 900 },
  soak: { rate: 20_000, duration: null, devices: 20_000, generators: 2, sockets: 32, peers: false, generatorDrainSec: 120, shoalDrainSec: 600 },
  ramp: {
    rate: 20_000,
    duration: null,
    devices: 10_000,
    generators: 2,
    sockets: 32,
    peers: false,
    generatorDrainSec: 120,
    shoalDrainSec: 600,
    ramp: { start: 20_000, step: 20_000, max: 400_000, stepSec: 30, maxVisibilityP99Sec: 5, minAckedShare: 0.95 },
  },
};

/** Event mix defaults (shares of events; invalid ones come on top of the offered rate). */
export const MIX = {
  v2Share: 0.5,
  msgpackShare: 0.5,
  duplicateShare: 0.01,
  lateShare: 0.005,
  invalidShare: 0.001,
};
