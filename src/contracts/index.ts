/**
 * The device contract (DESIGN §3): schemas, validation, frames and acks, the bus payload
 * codec, and device tokens. Re-exported by name.
 */
export { toReadingRows, type CanonicalEvent, type Reading, type ReadingRow } from './canonical-event.js';
export type { AcceptedRef, DeviceIdentity, FrameResult, Rejection, ValidationContext } from './types.js';
export { EventValidator } from './event-validator.js';
export { isRejection } from './rejection.js';
export { ackMessage, processFrame } from './frame.js';
export { BUS_FORMAT_VERSION, decodeEvents, encodeEvents } from './bus-codec.js';
export { issueDeviceToken, issueFleetToken, verifyDeviceToken } from './device-token.js';
export { AUTH_SECRET_FILE, loadOrCreateSecret } from './auth-secret.js';
export { toJsonSafe } from './untrusted-values.js';
