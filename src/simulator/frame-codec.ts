/**
 * The simulator's side of the wire: envelopes `{seq, events}` encoded as JSON text or
 * MessagePack binary frames, and the gateway's replies (ack and throttle, DESIGN §3) parsed
 * defensively — anything else is ignored.
 */
import { pack } from 'msgpackr';
import type { WireEvent } from './device-event-source.js';

export interface AckRejection {
  index: number | null;
  code: string;
  message: string;
}

export interface AckMessage {
  type: 'ack';
  seq: number | null;
  accepted: number;
  rejected: AckRejection[];
}

export interface ThrottleMessage {
  type: 'throttle';
  sampleRate: number;
  retryAfterMs: number;
}

export type ServerMessage = AckMessage | ThrottleMessage;

/** A frame: JSON text or a MessagePack Buffer. */
export function encodeFrame(seq: number, events: readonly WireEvent[], binary: boolean): string | Buffer {
  const envelope = { seq, events };
  return binary ? pack(envelope) : JSON.stringify(envelope);
}

function finiteOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

function parseRejection(raw: unknown): AckRejection | null {
  if (!raw || typeof raw !== 'object') return null;
  const r = raw as Record<string, unknown>;
  const index = r['index'];
  return {
    index: typeof index === 'number' && Number.isInteger(index) && index >= 0 ? index : null,
    code: typeof r['code'] === 'string' ? r['code'] : 'UNKNOWN',
    message: typeof r['message'] === 'string' ? r['message'] : '',
  };
}

/** Parse a gateway message (text JSON); null when it is neither an ack nor a throttle. */
export function parseServerMessage(text: string): ServerMessage | null {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return null;
  }
  if (!msg || typeof msg !== 'object') return null;
  const m = msg as Record<string, unknown>;
  if (m['type'] === 'ack') {
    const seq = m['seq'];
    const rejected = Array.isArray(m['rejected']) ? m['rejected'] : [];
    return {
      type: 'ack',
      seq: typeof seq === 'number' && Number.isInteger(seq) ? seq : null,
      accepted: Math.max(0, Math.floor(finiteOr(m['accepted'], 0))),
      rejected: rejected.map(parseRejection).filter((r): r is AckRejection => r !== null),
    };
  }
  if (m['type'] === 'throttle') {
    return {
      type: 'throttle',
      sampleRate: Math.min(1, Math.max(0, finiteOr(m['sample_rate'], 1))),
      retryAfterMs: Math.max(0, finiteOr(m['retry_after_ms'], 0)),
    };
  }
  return null;
}
