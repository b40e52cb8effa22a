/**
 * The actors: Shoal's pure functional core (dedup, event-time windows, quantile sketches).
 */
export type { ActorOptions, Centroid, DedupRecord, FlushBatch, WindowPartial } from './types.js';
export {
  DEFAULT_DIGEST_SIZE,
  QuantileDigest,
  compressDigest,
  digestWeight,
  mergeDigests,
  quantile,
} from './quantile-digest.js';
export { HOUR_MS, MINUTE_MS, WindowAggregator, windowStartOf } from './window-aggregator.js';
export { DeviceActor, LATE_AFTER_MS } from './device-actor.js';
export { DEFAULT_DEDUP_MAX_IDS_PER_PARTITION, DedupIndex, type DedupIndexOptions, type DedupIndexStats } from './dedup-index.js';
export { PartitionActors } from './partition-actors.js';
export { AcceptedIds } from './accepted-ids.js';
export { DropoutTracker, mergeDropouts, type Dropout } from './dropout-tracker.js';
