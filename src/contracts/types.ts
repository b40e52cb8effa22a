/**
 * Types of the device contract (DESIGN §3) shared by the validator, the frame decoder and the
 * gateway: who the device is, the limits a frame is checked against, and what a rejection
 * carries to the ack and the DLQ.
 */
import type { RejectCode } from '../errors.js';
import type { CanonicalEvent } from './canonical-event.js';

/**
 * Who a verified token names: one device, or with `fleet` a fleet (an edge gateway, an
 * aggregator, a load generator) that sends for many devices of its region.
 */
export interface DeviceIdentity {
  /** The device id; for a fleet token, the fleet id (the sender, not a device of any event). */
  deviceId: string;
  region: string;
  /** Present (true) only for a fleet token: events of any device_id, but only of `region`. */
  fleet?: true;
}

/** Everything a frame is checked against; built by the gateway per frame (or per connection). */
export interface ValidationContext {
  /** Receipt time, epoch ms: becomes each accepted event's ingestTime. */
  now: number;
  /** Regions this deployment serves. */
  regions: readonly string[];
  /** The authenticated device, or null when auth is `none`. */
  identity: DeviceIdentity | null;
  maxFrameBytes: number;
  maxEventsPerFrame: number;
  /** Oldest event_time accepted, ms before `now`. */
  maxEventAgeMs: number;
  /** Furthest future event_time accepted, ms after `now`. */
  maxEventAheadMs: number;
}

export interface Rejection {
  /** Position of the event in the frame; null when the whole frame is rejected. */
  index: number | null;
  /** The event_id as the device sent it, when it was a string of sane length. */
  eventId: string | null;
  code: RejectCode;
  /** Names the field and the rule, e.g. `FIELD_INVALID: value must be a finite number`. */
  message: string;
  /** Best known device: the token's, else the event's device_id if it was a string. */
  deviceId: string | null;
  /** Best known region: the token's, else the event's region if it is one this deployment serves. */
  region: string | null;
  /**
   * The offending event, or a truncated preview of the frame for whole-frame rejections.
   * Always a plain JSON value: JSON.stringify never throws on it (see json-safe.ts).
   */
  raw: unknown;
}

/**
 * What a frame's ack and counters need of an accepted event once it is on its way to the bus
 * (the gateway keeps them as bytes, AcceptedRefs, while the bus append is in flight).
 */
export type AcceptedRef = Pick<CanonicalEvent, 'eventId' | 'deviceId' | 'region' | 'schemaVersion'>;

export interface FrameResult<A extends AcceptedRef = CanonicalEvent> {
  /** The envelope's seq, echoed in the ack; null when the frame had none. */
  seq: number | null;
  accepted: A[];
  rejected: Rejection[];
}

/**
 * A frame's answer as its ack and counters read it: a FrameResult, or what the gateway keeps
 * of one while its bus append is in flight (its accepted events as AcceptedRefs).
 */
export interface FrameAnswer<L extends { readonly length: number } = { readonly length: number }> {
  seq: number | null;
  accepted: L;
  rejected: Rejection[];
}
