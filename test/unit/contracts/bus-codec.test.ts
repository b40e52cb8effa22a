import fc from 'fast-check';
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { BUS_FORMAT_VERSION, EntryEncoder, decodeEvents, encodeEvents } from '../../../src/contracts/bus-codec.js';
import { MSGPACK_FORMAT_VERSION } from '../../../src/contracts/bus-codec-msgpack.js';
import type { CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import { UnrecoverableError } from '../../../src/errors.js';
import { deviceIdArb, labelArb, NOW } from './fixtures.js';

/** Any canonical event the validator can produce (finite values, no -0, well-formed strings). */
const canonicalArb: fc.Arbitrary<CanonicalEvent> = fc
  .record({
    eventId: fc.uuid(),
    deviceId: deviceIdArb,
    region: labelArb,
    eventTime: fc.integer({ min: -8.64e15, max: 8.64e15 }),
    ingestTime: fc.double({ noNaN: true, noDefaultInfinity: true }),
    firmwareVersion: labelArb,
    v2: fc.boolean(),
    seq: fc.option(fc.maxSafeNat(), { nil: null }),
    readings: fc.array(
      fc.record({
        sensorType: labelArb,
        value: fc.double({ noNaN: true, noDefaultInfinity: true }),
        unit: labelArb,
        // Mostly 1, as without sampling; sampled readings carry keepOneIn (2..1000).
        weight: fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 1000 })),
      }),
      { minLength: 1, maxLength: 64 },
    ),
  })
  .map(({ v2, seq, readings, ingestTime, ...rest }) => ({
    ...rest,
    ingestTime: ingestTime + 0,
    schemaVersion: v2 ? (2 as const) : (1 as const),
    seq: v2 ? seq : null,
    readings: (v2 ? readings : readings.slice(0, 1)).map((r) => ({ ...r, value: r.value + 0 })),
  }));

function expectUndecodable(payload: Uint8Array): void {
  let thrown: unknown;
  try {
    decodeEvents(payload);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(UnrecoverableError);
  expect((thrown as UnrecoverableError).code).toBe('ENTRY_UNDECODABLE');
}

/** The contract's limits, restated from the schemas (src/contracts/schemas) for the tests. */
const DEVICE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const isControl = (c: string): boolean => (c.codePointAt(0) as number) <= 0x1f || ((c.codePointAt(0) as number) >= 0x7f && (c.codePointAt(0) as number) <= 0x9f);
const isLabel = (s: unknown): boolean => typeof s === 'string' && [...s].length >= 1 && [...s].length <= 64 && ![...s].some(isControl) && Buffer.from(s).toString() === s;

/** Every field of the type and range CanonicalEvent promises, and within the contract's limits. */
function expectWellFormed(e: CanonicalEvent): void {
  expect(typeof e.eventId).toBe('string');
  expect(e.deviceId).toMatch(DEVICE_ID);
  expect(isLabel(e.region) && isLabel(e.firmwareVersion)).toBe(true);
  expect(Number.isFinite(e.eventTime) && Number.isFinite(e.ingestTime)).toBe(true);
  expect([1, 2]).toContain(e.schemaVersion);
  expect(e.seq === null || Number.isSafeInteger(e.seq)).toBe(true);
  expect(e.cid === undefined || (typeof e.cid === 'string' && e.cid.length >= 1 && e.cid.length <= 64)).toBe(true);
  expect(e.readings.length).toBeGreaterThan(0);
  expect(e.readings.length).toBeLessThanOrEqual(64);
  for (const r of e.readings) {
    expect(isLabel(r.sensorType) && isLabel(r.unit)).toBe(true);
    expect(Number.isFinite(r.value)).toBe(true);
    expect(Number.isInteger(r.weight) && r.weight >= 1 && r.weight <= 65_535).toBe(true);
  }
}

const goodEvent = (): unknown[] => ['0b6c4e1a-8f4e-4d2c-9a57-1f0e6b2d3c4a', 'thermo-1', 'us-east', NOW, NOW + 5, '1.0.0', 1, null, ['temperature', 21.5, 'C']];

describe('bus codec', () => {
  it('writes the same entry an event at a time when an event in between fails to encode', () => {
    fc.assert(
      fc.property(fc.array(canonicalArb, { minLength: 1, maxLength: 12 }), fc.nat(), canonicalArb, (events, at, other) => {
        // Strings no other event uses (so the table must forget them), then a seq no varint holds.
        const broken: CanonicalEvent = { ...other, deviceId: 'only-the-broken-one', firmwareVersion: 'never-written', schemaVersion: 2, seq: -1 };
        const entry = new EntryEncoder();
        const k = at % (events.length + 1);
        events.forEach((e, i) => {
          if (i === k) expect(() => entry.add(broken)).toThrow(RangeError);
          entry.add(e);
        });
        if (k === events.length) expect(() => entry.add(broken)).toThrow(RangeError);
        expect(entry.count).toBe(events.length);
        expect(entry.finish().equals(encodeEvents(events))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('is spent once finished', () => {
    const entry = new EntryEncoder();
    const payload = entry.finish();
    expect(decodeEvents(payload)).toEqual([]);
    expect(() => entry.finish()).toThrow(/finished/);
  });

  it('round-trips any batch of canonical events exactly', () => {
    fc.assert(
      fc.property(fc.array(canonicalArb, { maxLength: 20 }), (events) => {
        expect(decodeEvents(encodeEvents(events))).toEqual(events);
      }),
      { numRuns: 300 },
    );
  });

  it('is smaller than the JSON of the same events', () => {
    fc.assert(
      fc.property(fc.array(canonicalArb, { minLength: 1, maxLength: 20 }), (events) => {
        expect(encodeEvents(events).byteLength).toBeLessThan(Buffer.byteLength(JSON.stringify(events)));
      }),
    );
  });

  it('decodes a payload that is a view into a larger buffer, as Redis clients hand them out', () => {
    fc.assert(
      fc.property(fc.array(canonicalArb, { maxLength: 5 }), fc.nat({ max: 64 }), (events, offset) => {
        const payload = encodeEvents(events);
        const outer = Buffer.alloc(payload.length + offset + 7, 0xc1);
        payload.copy(outer, offset);
        expect(decodeEvents(outer.subarray(offset, offset + payload.length))).toEqual(events);
      }),
    );
  });

  it('keeps an earlier payload intact after encoding another', () => {
    fc.assert(
      fc.property(fc.array(canonicalArb, { maxLength: 5 }), fc.array(canonicalArb, { maxLength: 5 }), (a, b) => {
        const first = encodeEvents(a);
        const copy = Buffer.from(first);
        encodeEvents(b);
        expect(first.equals(copy)).toBe(true);
      }),
    );
  });

  it('throws ENTRY_UNDECODABLE (unrecoverable) on random bytes, never another error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        try {
          decodeEvents(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(UnrecoverableError);
          expect((err as UnrecoverableError).code).toBe('ENTRY_UNDECODABLE');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('throws ENTRY_UNDECODABLE on MessagePack of the wrong shape', () => {
    const bad: unknown[] = [
      {},
      [],
      [MSGPACK_FORMAT_VERSION + 1, goodEvent()],
      [BUS_FORMAT_VERSION, goodEvent()],
      ['1', goodEvent()],
      [MSGPACK_FORMAT_VERSION, goodEvent().slice(0, 8)],
      [MSGPACK_FORMAT_VERSION, { ...goodEvent() }],
    ];
    const mutations: [number, unknown][] = [
      [0, 42],
      [1, null],
      [3, '2024-05-01T00:00:00Z'],
      [4, NaN],
      [5, 1],
      [6, 3],
      [7, -1],
      [7, 1.5],
      [8, []],
      [8, ['temperature', 21.5]],
      [8, ['temperature', '21.5', 'C']],
      [8, ['temperature', Infinity, 'C']],
      [8, 'temperature'],
      [9, null],
      [9, 'weights'],
      [9, [0]],
      [9, [2.5]],
      [9, [65_536]],
      [9, ['4']],
      [9, [4, 4]],
      [9, []],
    ];
    for (const [field, value] of mutations) {
      const event = goodEvent();
      event[field] = value;
      bad.push([MSGPACK_FORMAT_VERSION, event]);
    }
    // A twelfth field (after weights and cid), or weights in the format before weights existed.
    bad.push([MSGPACK_FORMAT_VERSION, [...goodEvent(), [4], 'cid', 'extra']], [1, [...goodEvent(), [4]]]);
    expect(decodeEvents(pack([MSGPACK_FORMAT_VERSION, goodEvent()]))).toHaveLength(1);
    expect(decodeEvents(pack([MSGPACK_FORMAT_VERSION, [...goodEvent(), [4]]]))[0]?.readings[0]?.weight).toBe(4);
    for (const payload of bad) expectUndecodable(pack(payload));
  });

  it('costs one byte a reading for weights, and none while nothing was sampled', () => {
    fc.assert(
      fc.property(fc.array(canonicalArb, { minLength: 1, maxLength: 20 }), (events) => {
        const withWeight = (weight: number): CanonicalEvent[] => events.map((e) => ({ ...e, readings: e.readings.map((r) => ({ ...r, weight })) }));
        const readings = events.reduce((n, e) => n + e.readings.length, 0);
        expect(encodeEvents(withWeight(2)).byteLength).toBe(encodeEvents(withWeight(1)).byteLength + readings);
      }),
    );
  });

  it('writes each string once per entry, however many events share it', () => {
    const long = (tag: string): string => tag.padEnd(64, '.');
    const one: CanonicalEvent = {
      eventId: '0b6c4e1a-8f4e-4d2c-9a57-1f0e6b2d3c4a',
      deviceId: long('device'),
      region: long('region'),
      eventTime: NOW - 1000,
      ingestTime: NOW,
      firmwareVersion: long('firmware'),
      schemaVersion: 2,
      seq: 7,
      readings: [{ sensorType: long('sensor'), value: 21.5, unit: long('unit'), weight: 1 }],
      cid: long('cid'),
    };
    const size = (n: number): number => encodeEvents(Array.from({ length: n }, () => one)).byteLength;
    // Six 64-character strings: each more event adds its id, indexes, times, seq and value only.
    expect(size(2) - size(1)).toBeLessThan(40);
    expect(size(101) - size(1)).toBe(100 * (size(2) - size(1)));
    expect(size(1)).toBeGreaterThan(6 * 64);
  });

  it('holds simulator-like events in under half the bytes of the MessagePack format', () => {
    const events: CanonicalEvent[] = Array.from({ length: 1000 }, (_, i) => ({
      eventId: `0b6c4e1a-8f4e-4d2c-9a57-${i.toString(16).padStart(12, '0')}`,
      deviceId: `sim-us-east-${String(i % 400).padStart(6, '0')}`,
      region: 'us-east',
      eventTime: NOW - 5000 + i,
      ingestTime: NOW + Math.floor(i / 250),
      firmwareVersion: '1.5.1',
      schemaVersion: i % 2 === 0 ? 1 : 2,
      seq: i % 2 === 0 ? null : i,
      readings: [{ sensorType: 'temperature', value: 21.5 + i / 100, unit: 'C', weight: 1 }, ...(i % 2 === 0 ? [] : [{ sensorType: 'humidity', value: 40 + i / 10, unit: '%', weight: 1 }])],
      cid: `frame-${Math.floor(i / 250)}`,
    }));
    const msgpack = pack([MSGPACK_FORMAT_VERSION, ...events.map((e) => [e.eventId, e.deviceId, e.region, e.eventTime, e.ingestTime, e.firmwareVersion, e.schemaVersion, e.seq, e.readings.flatMap((r) => [r.sensorType, r.value, r.unit]), null, e.cid])]);
    const payload = encodeEvents(events);
    expect(decodeEvents(payload)).toEqual(events);
    expect(payload.byteLength * 2).toBeLessThan(msgpack.byteLength);
  });

  it('throws ENTRY_UNDECODABLE, never another error, on an entry cut short, extended or with a byte changed', () => {
    fc.assert(
      fc.property(fc.array(canonicalArb, { minLength: 1, maxLength: 5 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (events, at, xor) => {
        const payload = encodeEvents(events);
        const cut = at % payload.byteLength;
        expectUndecodable(payload.subarray(0, cut));
        expectUndecodable(Buffer.concat([payload, Buffer.from([xor])]));
        const changed = Buffer.from(payload);
        changed[cut] = (changed[cut] as number) ^ xor;
        try {
          // What does decode is well-formed events, whatever byte changed.
          for (const e of decodeEvents(changed)) expectWellFormed(e);
        } catch (err) {
          expect(err).toBeInstanceOf(UnrecoverableError);
          expect((err as UnrecoverableError).code).toBe('ENTRY_UNDECODABLE');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('throws ENTRY_UNDECODABLE on a table string that is not UTF-8, instead of decoding a label with U+FFFD in it', () => {
    const event: CanonicalEvent = { eventId: 'e', deviceId: 'd', region: 'us-east', eventTime: NOW, ingestTime: NOW, firmwareVersion: 'f', schemaVersion: 1, seq: null, readings: [{ sensorType: 's', value: 1, unit: 'Celsius', weight: 1 }] };
    const payload = Buffer.from(encodeEvents([event]));
    const at = payload.lastIndexOf('Celsius');
    expect(at).toBeGreaterThan(0);
    payload[at] = 0xff;
    expectUndecodable(payload);
    payload[at] = 0x63; // 'c': still UTF-8, so it decodes, with the changed unit
    expect(decodeEvents(payload)[0]?.readings[0]?.unit).toBe('celsius');
  });

  it('throws ENTRY_UNDECODABLE on events no gateway writes: no reading, a weight of 0, a cid of 65 characters', () => {
    const base: CanonicalEvent = { eventId: 'e', deviceId: 'd', region: 'us-east', eventTime: NOW, ingestTime: NOW, firmwareVersion: 'f', schemaVersion: 1, seq: null, readings: [{ sensorType: 's', value: 1, unit: 'u', weight: 1 }] };
    expect(decodeEvents(encodeEvents([base]))).toEqual([base]);
    expectUndecodable(encodeEvents([{ ...base, readings: [] }]));
    expectUndecodable(encodeEvents([{ ...base, readings: [{ sensorType: 's', value: 1, unit: 'u', weight: 0 }] }]));
    expectUndecodable(encodeEvents([{ ...base, readings: [{ sensorType: 's', value: 1, unit: 'u', weight: 65_536 }] }]));
    expectUndecodable(encodeEvents([{ ...base, readings: [{ sensorType: 's', value: NaN, unit: 'u', weight: 1 }] }]));
    expectUndecodable(encodeEvents([{ ...base, cid: 'x'.repeat(65) }]));
    expectUndecodable(encodeEvents([{ ...base, cid: '' }]));
  });

  it('throws ENTRY_UNDECODABLE on events outside the contract: device ids, labels, readings and events over the limits', () => {
    const reading = { sensorType: 's', value: 1, unit: 'u', weight: 1 };
    const base: CanonicalEvent = { eventId: 'e', deviceId: 'd', region: 'us-east', eventTime: NOW, ingestTime: NOW, firmwareVersion: 'f', schemaVersion: 2, seq: null, readings: [reading] };
    const atLimits: CanonicalEvent = { ...base, deviceId: 'd'.repeat(128), region: '🌊'.repeat(64), readings: Array.from({ length: 64 }, () => reading) };
    expect(decodeEvents(encodeEvents([atLimits]))).toEqual([atLimits]);
    expect(decodeEvents(encodeEvents(Array.from({ length: 2000 }, () => base)))).toHaveLength(2000);
    const outside: CanonicalEvent[][] = [
      [{ ...base, deviceId: 'd'.repeat(129) }],
      [{ ...base, deviceId: 'site/7' }],
      [{ ...base, deviceId: '' }],
      [{ ...base, region: 'x'.repeat(65) }],
      [{ ...base, region: 'us\neast' }],
      [{ ...base, firmwareVersion: '' }],
      [{ ...base, firmwareVersion: '1.0\u0085' }],
      [{ ...base, readings: [{ ...reading, sensorType: '\u0000' }] }],
      [{ ...base, readings: [{ ...reading, unit: '°C\u007f' }] }],
      [{ ...base, readings: Array.from({ length: 65 }, () => reading) }],
      Array.from({ length: 2001 }, () => base),
    ];
    for (const events of outside) {
      expectUndecodable(encodeEvents(events));
      // The MessagePack formats an older gateway wrote are held to the same limits.
      const msgpack = pack([MSGPACK_FORMAT_VERSION, ...events.map((e) => [e.eventId, e.deviceId, e.region, e.eventTime, e.ingestTime, e.firmwareVersion, e.schemaVersion, e.seq, e.readings.flatMap((r) => [r.sensorType, r.value, r.unit])])]);
      expectUndecodable(msgpack);
    }
    // A device id that is a label, and a label that is a device id, in one entry: each string is checked as what it is used for.
    const shared: CanonicalEvent[] = [base, { ...base, deviceId: 'us-east' }];
    expect(decodeEvents(encodeEvents(shared))).toEqual(shared);
    expectUndecodable(encodeEvents([{ ...base, region: 'a b' }, { ...base, deviceId: 'a b' }]));
  });

  it('still decodes MessagePack entries written before weights existed (format 1), every weight 1', () => {
    fc.assert(
      fc.property(fc.array(canonicalArb, { maxLength: 20 }), (events) => {
        const previous = pack([1, ...events.map((e) => [e.eventId, e.deviceId, e.region, e.eventTime, e.ingestTime, e.firmwareVersion, e.schemaVersion, e.seq, e.readings.flatMap((r) => [r.sensorType, r.value, r.unit])])]);
        const decoded = decodeEvents(previous);
        expect(decoded).toEqual(events.map((e) => ({ ...e, readings: e.readings.map((r) => ({ ...r, weight: 1 })) })));
      }),
      { numRuns: 200 },
    );
  });

  it('throws ENTRY_UNDECODABLE on a truncated payload', () => {
    const payload = encodeEvents([
      { eventId: 'e', deviceId: 'd', region: 'us-east', eventTime: NOW, ingestTime: NOW, firmwareVersion: 'f', schemaVersion: 1, seq: null, readings: [{ sensorType: 's', value: 1, unit: 'u', weight: 1 }] },
    ]);
    expectUndecodable(payload.subarray(0, payload.length - 1));
  });
});
