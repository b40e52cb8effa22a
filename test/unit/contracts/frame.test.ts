import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeEvents, encodeEvents } from '../../../src/contracts/bus-codec.js';
import { EventValidator } from '../../../src/contracts/event-validator.js';
import { FRAME_PREVIEW_BYTES } from '../../../src/contracts/frame-decoder.js';
import { ackMessage, processFrame, type FrameResult } from '../../../src/contracts/frame.js';
import { REJECT_CODES, RejectCode } from '../../../src/errors.js';
import { context, jsonFrame, msgpackFrame, v1, v2, validCaseArb } from './fixtures.js';

const validator = new EventValidator();

interface Ack {
  type: string;
  seq: number | null;
  accepted: number;
  rejected: { index: number | null; event_id: string | null; code: string; message: string }[];
}

function ackOf(result: FrameResult): Ack {
  return JSON.parse(ackMessage(result)) as Ack;
}

const encodings = [
  { name: 'JSON text', encode: jsonFrame, binary: false },
  { name: 'MessagePack binary', encode: msgpackFrame, binary: true },
] as const;

describe.each(encodings)('processFrame with $name frames', ({ encode, binary }) => {
  it('accepts a single event', () => {
    const raw = v1();
    const result = processFrame(encode(raw), binary, context(), validator);
    expect(result.accepted.map((e) => e.eventId)).toEqual([raw['event_id']]);
    expect(result.rejected).toEqual([]);
    expect(ackOf(result)).toEqual({ type: 'ack', seq: null, accepted: 1, rejected: [] });
  });

  it('accepts the good events of an array, rejects the bad ones at their index, and says so in the ack', () => {
    const bad = v1({ event_time: undefined });
    const frame = [v1(), bad, v2(), 'not an event'];
    const result = processFrame(encode(frame), binary, context(), validator);
    expect(result.accepted.map((e) => e.eventId)).toEqual([frame[0], frame[2]].map((e) => (e as Record<string, unknown>)['event_id']));
    const ack = ackOf(result);
    expect(ack.accepted).toBe(2);
    expect(ack.rejected).toEqual([
      { index: 1, event_id: bad['event_id'], code: RejectCode.FIELD_MISSING, message: 'FIELD_MISSING: event_time is required' },
      { index: 3, event_id: null, code: RejectCode.MALFORMED, message: expect.stringMatching(/^MALFORMED: /) as string },
    ]);
  });

  it('echoes the envelope seq in the ack', () => {
    const result = processFrame(encode({ seq: 41, events: [v1(), v2()] }), binary, context(), validator);
    expect(ackOf(result)).toEqual({ type: 'ack', seq: 41, accepted: 2, rejected: [] });
    expect(ackOf(processFrame(encode({ seq: null, events: [v1()] }), binary, context(), validator)).seq).toBeNull();
    expect(ackOf(processFrame(encode({ events: [v1()] }), binary, context(), validator)).seq).toBeNull();
  });

  it('acks an empty array or envelope as zero accepted', () => {
    expect(ackOf(processFrame(encode([]), binary, context(), validator))).toEqual({ type: 'ack', seq: null, accepted: 0, rejected: [] });
    expect(ackOf(processFrame(encode({ seq: 0, events: [] }), binary, context(), validator))).toEqual({ type: 'ack', seq: 0, accepted: 0, rejected: [] });
  });

  it('accepts duplicates: deduplication is the pipeline’s job', () => {
    const raw = v1();
    const result = processFrame(encode([raw, raw]), binary, context(), validator);
    expect(result.accepted).toHaveLength(2);
    expect(ackOf(result).accepted).toBe(2);
  });

  it('rejects the whole frame as MALFORMED when events is not an array or seq is not a count', () => {
    for (const frame of [{ seq: 1, events: v1() }, { seq: 1, events: null }, { seq: -1, events: [v1()] }, { seq: 'one', events: [v1()] }, 42, 'hello']) {
      const result = processFrame(encode(frame), binary, context(), validator);
      expect(result.accepted).toEqual([]);
      expect(result.rejected).toHaveLength(1);
      expect(result.rejected[0]).toMatchObject({ index: null, code: RejectCode.MALFORMED });
      expect(ackOf(result).rejected[0]?.index).toBeNull();
    }
  });

  it('rejects a frame over the byte limit as TOO_LARGE before parsing it', () => {
    const frame = encode([v1(), v1()]);
    const result = processFrame(frame, binary, context({ maxFrameBytes: frame.byteLength - 1 }), validator);
    expect(result.rejected).toEqual([expect.objectContaining({ index: null, code: RejectCode.TOO_LARGE })]);
    expect(result.rejected[0]?.message).toContain(`${frame.byteLength} bytes`);
    expect(processFrame(frame, binary, context({ maxFrameBytes: frame.byteLength }), validator).accepted).toHaveLength(2);
  });

  it('rejects a frame over the event limit as TOO_LARGE, whole, still echoing its seq', () => {
    const events = Array.from({ length: 4 }, () => v1());
    const result = processFrame(encode({ seq: 9, events }), binary, context({ maxEventsPerFrame: 3 }), validator);
    expect(result.accepted).toEqual([]);
    expect(ackOf(result)).toEqual({ type: 'ack', seq: 9, accepted: 0, rejected: [expect.objectContaining({ index: null, code: RejectCode.TOO_LARGE })] });
    expect(processFrame(encode(events), binary, context({ maxEventsPerFrame: 4 }), validator).accepted).toHaveLength(4);
  });

  it('files a whole-frame rejection under the authenticated device, with a bounded preview of the frame', () => {
    const identity = { deviceId: 'thermo-0042', region: 'eu-west' };
    const big = encode(Array.from({ length: 200 }, () => v1()));
    const result = processFrame(big, binary, context({ identity, maxEventsPerFrame: 100 }), validator);
    const rejection = result.rejected[0];
    expect(rejection).toMatchObject({ deviceId: 'thermo-0042', region: 'eu-west', eventId: null });
    expect(typeof rejection?.raw).toBe('string');
    expect((rejection?.raw as string).length).toBeLessThan(2 * FRAME_PREVIEW_BYTES);
  });
});

describe('processFrame: parse failures', () => {
  it('rejects text that is not JSON as MALFORMED, keeping the text for the DLQ', () => {
    const text = '{"event_id": "3f2b8c1e-7a4d-4c2b-9e1f-000000000001", "value": 21.';
    const result = processFrame(new TextEncoder().encode(text), false, context(), validator);
    expect(result.rejected).toEqual([expect.objectContaining({ index: null, code: RejectCode.MALFORMED, raw: text })]);
  });

  it('rejects a text frame that is not UTF-8', () => {
    const result = processFrame(Uint8Array.from([0x5b, 0xff, 0xfe, 0x5d]), false, context(), validator);
    expect(result.rejected[0]).toMatchObject({ index: null, code: RejectCode.MALFORMED });
  });

  it('rejects bytes that are not one MessagePack value, including trailing bytes', () => {
    const one = msgpackFrame(v1());
    const two = new Uint8Array([...one, ...one]);
    for (const frame of [Uint8Array.from([0xc1]), one.subarray(0, one.length - 3), two]) {
      const result = processFrame(frame, true, context(), validator);
      expect(result.rejected).toEqual([expect.objectContaining({ index: null, code: RejectCode.MALFORMED })]);
    }
  });

  it('reads a frame that is a view into a larger buffer', () => {
    const inner = jsonFrame([v1(), v2()]);
    const outer = new Uint8Array(inner.length + 20);
    outer.set(inner, 10);
    expect(processFrame(outer.subarray(10, 10 + inner.length), false, context(), validator).accepted).toHaveLength(2);
  });
});

describe('processFrame: properties', () => {
  const shapes = ['single', 'array', 'envelope'] as const;

  it('accepts any valid v1/v2 event, in any frame shape and encoding, and it round-trips through the bus codec', () => {
    fc.assert(
      fc.property(fc.array(validCaseArb, { minLength: 1, maxLength: 8 }), fc.constantFrom(...shapes), fc.boolean(), fc.nat(), (cases, shape, binary, seq) => {
        const events = cases.map((c) => c.raw);
        const frame = shape === 'single' ? events[0] : shape === 'array' ? events : { seq, events };
        const payload = binary ? msgpackFrame(frame) : jsonFrame(frame);
        const result = processFrame(payload, binary, context(), validator);
        const expected = shape === 'single' ? cases.slice(0, 1) : cases;
        expect(result.rejected).toEqual([]);
        expect(result.accepted).toEqual(expected.map((c) => c.expected));
        expect(result.seq).toBe(shape === 'envelope' ? seq : null);
        expect(decodeEvents(encodeEvents(result.accepted))).toEqual(result.accepted);
      }),
      { numRuns: 200 },
    );
  });

  function checkResult(result: FrameResult): void {
    for (const r of result.rejected) {
      expect(REJECT_CODES).toContain(r.code);
      expect(r.message.startsWith(`${r.code}: `)).toBe(true);
      expect(() => JSON.stringify(r.raw)).not.toThrow();
    }
    const ack = ackOf(result);
    expect(ack.accepted).toBe(result.accepted.length);
    expect(ack.rejected).toHaveLength(result.rejected.length);
  }

  it('never throws on random bytes, text or binary', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.boolean(), (bytes, binary) => {
        checkResult(processFrame(bytes, binary, context(), validator));
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on any JSON value, sent as text or as MessagePack', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.boolean(), (value, binary) => {
        checkResult(processFrame(binary ? msgpackFrame(value) : jsonFrame(value), binary, context(), validator));
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws on MessagePack-only values (BigInt, Date, Map, Set, typed arrays) inside events', () => {
    const packr = new Packr({ useBigIntExtension: true, moreTypes: true });
    const anything = fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true, withBoxedValues: true, withSparseArray: true });
    fc.assert(
      fc.property(fc.array(fc.oneof(anything, fc.record({ value: anything }).map((o) => v1(o))), { maxLength: 4 }), fc.boolean(), (frame, envelope) => {
        let payload: Uint8Array;
        try {
          payload = packr.pack(envelope ? { seq: 1, events: frame } : frame);
        } catch {
          return; // not every JS value packs
        }
        checkResult(processFrame(payload, true, context(), validator));
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on deeply nested input, and keeps the DLQ copy renderable', () => {
    // Built as text: JSON.stringify itself cannot render this deep a value.
    const deep = `${'['.repeat(50_000)}${JSON.stringify(v1())}${']'.repeat(50_000)}`;
    const text = `[${JSON.stringify(v1()).slice(0, -1)},"value":${deep}},${deep}]`;
    const result = processFrame(new TextEncoder().encode(text), false, context(), validator);
    expect(result.rejected.map((r) => r.code)).toEqual([RejectCode.FIELD_INVALID, RejectCode.MALFORMED]);
    checkResult(result);
    const nested = new Uint8Array(100_001).fill(0x91);
    nested[100_000] = 0xc0;
    checkResult(processFrame(nested, true, context(), validator));
  });
});
