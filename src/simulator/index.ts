/** The device simulator's public surface (used by `shoal simulate` and the perf harness). */
export { DeviceFleet, type FleetOptions, type FleetSummary, type FleetProgress } from './device-fleet.js';
export {
  runSimulate,
  defaultEventsPerFrame,
  formatSummary,
  DEFAULT_SIMULATE_URL,
  type SimulateOptions,
} from './simulate-command.js';
export type { FleetCounters } from './fleet-stats.js';
export type { LatencySummary } from './latency-histogram.js';
export type { WireEvent, WireEventV1, WireEventV2, DeviceProfile } from './device-event-source.js';
export { simulatedDeviceId } from './device-profiles.js';
