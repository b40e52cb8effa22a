/**
 * Building and recognising Rejections. Each carries the best known event id, device and
 * region, so the ack can name the event and the DLQ entry can be filed under a region.
 */
import type { RejectCode } from '../errors.js';
import type { CanonicalEvent } from './canonical-event.js';
import type { Rejection, ValidationContext } from './types.js';
import { isPlainObject, toJsonSafe } from './untrusted-values.js';

/** Longest event_id echoed back in a rejection (a UUID is 36). */
const MAX_ECHOED_EVENT_ID = 64;
/** Longest device_id kept as DLQ metadata (the contract's limit). */
const MAX_DEVICE_ID = 128;

function servedRegion(candidate: unknown, ctx: ValidationContext): string | null {
  return typeof candidate === 'string' && ctx.regions.includes(candidate) ? candidate : null;
}

/**
 * A rejection of `raw` (an event, or a frame preview when index is null). `detail` names the
 * field and the rule; the message is prefixed with the code. The device and region come from
 * the authenticated identity when there is one, else from the event itself; the region is only
 * ever one of ctx.regions (or null).
 */
export function rejection(raw: unknown, index: number | null, ctx: ValidationContext, code: RejectCode, detail: string): Rejection {
  const obj = isPlainObject(raw) ? raw : null;
  const eventId = obj?.['event_id'];
  const deviceId = obj?.['device_id'];
  return {
    index,
    eventId: typeof eventId === 'string' && eventId.length <= MAX_ECHOED_EVENT_ID ? eventId : null,
    code,
    message: `${code}: ${detail}`,
    deviceId: ctx.identity?.deviceId ?? (typeof deviceId === 'string' && deviceId.length <= MAX_DEVICE_ID ? deviceId : null),
    region: servedRegion(ctx.identity ? ctx.identity.region : obj?.['region'], ctx),
    raw: toJsonSafe(raw),
  };
}

/** Tell EventValidator.validate's two outcomes apart. */
export function isRejection(result: CanonicalEvent | Rejection): result is Rejection {
  return 'code' in result;
}
