/**
 * The device contract as the gateway calls it: one frame in, accepted canonical events and
 * rejections out, and the JSON ack the device receives (DESIGN §3). Duplicates are accepted
 * here: deduplication is the pipeline's job, and resending is how devices get at-least-once.
 */
import type { CanonicalEvent } from './canonical-event.js';
import type { EventValidator } from './event-validator.js';
import { isRejection } from './rejection.js';
import { decodeFrame } from './frame-decoder.js';
import type { FrameAnswer, FrameResult, Rejection, ValidationContext } from './types.js';

export type { AcceptedRef, DeviceIdentity, FrameAnswer, FrameResult, Rejection, ValidationContext } from './types.js';

/**
 * Decode and validate a frame. Never throws on any payload: a bad frame is one rejection with
 * index null; bad events are rejected one by one at their index, in frame order, and the rest
 * are accepted (also in frame order).
 */
export function processFrame(payload: Uint8Array, binary: boolean, ctx: ValidationContext, validator: EventValidator): FrameResult {
  const frame = decodeFrame(payload, binary, ctx);
  if (frame.rejection !== null) return { seq: frame.seq, accepted: [], rejected: [frame.rejection] };
  const accepted: CanonicalEvent[] = [];
  const rejected: Rejection[] = [];
  const events = frame.events;
  for (let i = 0; i < events.length; i++) {
    const result = validator.validate(events[i], i, ctx);
    if (isRejection(result)) rejected.push(result);
    else accepted.push(result);
  }
  return { seq: frame.seq, accepted, rejected };
}

/**
 * The ack of DESIGN §3:
 * {"type":"ack","seq":n|null,"accepted":k,"rejected":[{"index":i,"event_id":..,"code":..,"message":..}]}
 * plus `"sampled_out":n` when the gateway sampled n > 0 of the frame's readings away under
 * backpressure (they count as delivered: the device must not resend them).
 */
export function ackMessage(result: FrameAnswer, sampledOut = 0): string {
  // The common answer, everything accepted, without building an object to stringify.
  if (result.rejected.length === 0 && sampledOut === 0)
    return `{"type":"ack","seq":${result.seq === null ? 'null' : result.seq},"accepted":${result.accepted.length},"rejected":[]}`;
  const rejected = new Array<{ index: number | null; event_id: string | null; code: string; message: string }>(result.rejected.length);
  for (let i = 0; i < result.rejected.length; i++) {
    const r = result.rejected[i] as Rejection;
    rejected[i] = { index: r.index, event_id: r.eventId, code: r.code, message: r.message };
  }
  const ack = { type: 'ack', seq: result.seq, accepted: result.accepted.length, rejected };
  return JSON.stringify(sampledOut > 0 ? { ...ack, sampled_out: sampledOut } : ack);
}
