/**
 * Shoal's public surface for embedding and tooling: the pipeline, its config, the device
 * contract, and the pieces tests and tools build on. Re-exports by name.
 */
export { Pipeline, type PipelineOptions, type PipelineUrls } from './runtime/pipeline.js';
export { loadConfig, resolveConfig, validateUserConfig, regionDatabase, type Config, type UserConfig, type ConfigOverrides } from './config.js';
export {
  RejectCode,
  REJECT_CODES,
  ShoalError,
  ContractError,
  ConfigError,
  UnrecoverableError,
  RetryableError,
  SinkError,
  FencedError,
  CheckpointMovedError,
  ServiceStartError,
} from './errors.js';
export {
  processFrame,
  ackMessage,
  EventValidator,
  encodeEvents,
  decodeEvents,
  issueDeviceToken,
  issueFleetToken,
  verifyDeviceToken,
  loadOrCreateSecret,
  type CanonicalEvent,
  type Reading,
  type ReadingRow,
  type DeviceIdentity,
  type FrameResult,
  type Rejection,
} from './contracts/index.js';
export { PartitionActors, type FlushBatch, type WindowPartial } from './actors/index.js';
export { Keys, CONSUMER_GROUP, type PartitionKeys } from './runtime/keys.js';
export { partitionOf } from './runtime/partitioning.js';
export { createAnalyticsStore, createObjectStore, queryEvents, queryRollups, readArchiveObject, type AnalyticsStore, type ObjectStore } from './sinks/index.js';
export { DeviceFleet, runSimulate, type FleetSummary, type SimulateOptions } from './simulator/index.js';
