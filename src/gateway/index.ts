/**
 * The ingest gateway: WebSocket and HTTP intake, validation through the device contract, and
 * coalesced appends to the bus.
 */
export { Gateway, type GatewayDeps } from './gateway.js';
export { BusAppender, type BusAppenderOptions, type DlqMeta } from './bus-appender.js';
export { GatewayStats, type GatewayStatsSnapshot } from './gateway-stats.js';
export { DeviceAuthenticator } from './device-authenticator.js';
export { FrameHandler, type FrameOutcome } from './frame-handler.js';
