/**
 * Decodes one device frame (DESIGN §3) into its list of raw events, before any event is
 * validated: size limit, text → JSON / binary → MessagePack, and the three shapes a frame may
 * take — one event, an array of events, or an envelope {"seq": n, "events": [...]}.
 * Failures here reject the whole frame (index null). An object with an own `events` key is
 * an envelope, so a lone event cannot itself carry a field named `events`.
 */
import { isUtf8 } from 'node:buffer';
import { Unpackr } from 'msgpackr';
import { RejectCode } from '../errors.js';
import { rejection } from './rejection.js';
import type { Rejection, ValidationContext } from './types.js';
import { isPlainObject } from './untrusted-values.js';

/** How much of a rejected frame is kept (in `raw`) for the DLQ. */
export const FRAME_PREVIEW_BYTES = 1024;

/**
 * Device frames are untrusted: no structured-clone references (so no cycles) and 64-bit
 * integers as plain numbers (out-of-range ones then fail the schema, not JSON rendering).
 */
const unpackr = new Unpackr({ useRecords: false, structuredClone: false, int64AsType: 'number' });

export type DecodedFrame =
  | { seq: number | null; events: readonly unknown[]; rejection: null }
  | { seq: number | null; events: null; rejection: Rejection };

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A bounded, printable preview of a frame: UTF-8 text, or base64 for binary frames. */
function framePreview(payload: Buffer, binary: boolean): string {
  const head = payload.subarray(0, FRAME_PREVIEW_BYTES);
  const text = binary ? `base64:${head.toString('base64')}` : head.toString('utf8');
  return payload.byteLength > FRAME_PREVIEW_BYTES ? `${text}…[${payload.byteLength} bytes in all]` : text;
}

function frameRejected(payload: Buffer, binary: boolean, ctx: ValidationContext, seq: number | null, code: RejectCode, detail: string): DecodedFrame {
  return { seq, events: null, rejection: rejection(framePreview(payload, binary), null, ctx, code, detail) };
}

function isSeq(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

const SHAPE_RULE = 'a frame must hold an event object, an array of events or an envelope {"seq": n, "events": [...]}';

/** Decode a frame into raw events (not yet validated), or a whole-frame rejection. */
export function decodeFrame(payload: Uint8Array, binary: boolean, ctx: ValidationContext): DecodedFrame {
  const bytes = asBuffer(payload);
  if (bytes.byteLength > ctx.maxFrameBytes)
    return frameRejected(bytes, binary, ctx, null, RejectCode.TOO_LARGE, `the frame is ${bytes.byteLength} bytes; the limit is ${ctx.maxFrameBytes}`);

  let root: unknown;
  if (binary) {
    try {
      root = unpackr.unpack(bytes);
    } catch {
      return frameRejected(bytes, binary, ctx, null, RejectCode.MALFORMED, 'a binary frame must be one MessagePack value');
    }
  } else {
    if (!isUtf8(bytes)) return frameRejected(bytes, binary, ctx, null, RejectCode.MALFORMED, 'a text frame must be UTF-8');
    try {
      root = JSON.parse(bytes.toString('utf8'));
    } catch {
      return frameRejected(bytes, binary, ctx, null, RejectCode.MALFORMED, 'a text frame must be one JSON value');
    }
  }

  let seq: number | null = null;
  let events: readonly unknown[];
  if (Array.isArray(root)) events = root;
  else if (isPlainObject(root) && Object.hasOwn(root, 'events')) {
    const rawSeq = root['seq'];
    if (isSeq(rawSeq)) seq = rawSeq;
    else if (rawSeq !== undefined && rawSeq !== null)
      return frameRejected(bytes, binary, ctx, null, RejectCode.MALFORMED, 'the envelope seq must be a non-negative integer or null');
    const list = root['events'];
    if (!Array.isArray(list)) return frameRejected(bytes, binary, ctx, seq, RejectCode.MALFORMED, 'the envelope events must be an array');
    events = list;
  } else if (isPlainObject(root)) events = [root];
  else return frameRejected(bytes, binary, ctx, null, RejectCode.MALFORMED, SHAPE_RULE);

  if (events.length > ctx.maxEventsPerFrame)
    return frameRejected(bytes, binary, ctx, seq, RejectCode.TOO_LARGE, `the frame holds ${events.length} events; the limit is ${ctx.maxEventsPerFrame}`);
  return { seq, events, rejection: null };
}
