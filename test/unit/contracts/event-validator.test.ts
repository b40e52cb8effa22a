import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import { EventValidator } from '../../../src/contracts/event-validator.js';
import { processFrame } from '../../../src/contracts/frame.js';
import { isRejection } from '../../../src/contracts/rejection.js';
import type { Rejection } from '../../../src/contracts/types.js';
import { REJECT_CODES, RejectCode } from '../../../src/errors.js';
import { context, DAY, msgpackFrame, NOW, uuid, v1, v2, validCaseArb, type RawEvent } from './fixtures.js';

const validator = new EventValidator();

function accept(raw: unknown, ctx = context()): CanonicalEvent {
  const result = validator.validate(raw, 0, ctx);
  if (isRejection(result)) throw new Error(`expected acceptance, got ${result.message}`);
  return result;
}

function reject(raw: unknown, ctx = context()): Rejection {
  const result = validator.validate(raw, 0, ctx);
  if (!isRejection(result)) throw new Error('expected a rejection, the event was accepted');
  return result;
}

function without(event: RawEvent, field: string): RawEvent {
  const copy = { ...event };
  delete copy[field];
  return copy;
}

describe('EventValidator: normalisation', () => {
  it('turns a v1 event into one canonical reading with times in epoch ms', () => {
    const raw = v1({ event_time: '2024-05-01T13:59:30.250+02:00' });
    const event = accept(raw);
    expect(event).toEqual({
      eventId: raw['event_id'],
      deviceId: 'thermo-0042',
      region: 'us-east',
      eventTime: Date.UTC(2024, 4, 1, 11, 59, 30, 250),
      ingestTime: NOW,
      firmwareVersion: '1.4.2',
      schemaVersion: 1,
      seq: null,
      readings: [{ sensorType: 'temperature', value: 21.5, unit: 'C', weight: 1 }],
    });
  });

  it('turns a v2 event with three readings into three canonical readings, in order, with its seq', () => {
    const event = accept(v2());
    expect(event.schemaVersion).toBe(2);
    expect(event.seq).toBe(17);
    expect(event.readings.map((r) => r.sensorType)).toEqual(['temperature', 'humidity', 'pressure']);
    expect(event.readings.map((r) => r.value)).toEqual([18.25, 64, 1013.2]);
    expect(event.readings.map((r) => r.weight)).toEqual([1, 1, 1]);
  });

  it('gives v1 and v2 events the same canonical shape', () => {
    expect(Object.keys(accept(v1())).sort()).toEqual(Object.keys(accept(v2())).sort());
    expect(Object.keys(accept(v1()).readings[0] ?? {})).toEqual(Object.keys(accept(v2()).readings[0] ?? {}));
  });

  it('lower-cases the event id so one UUID is one key whatever case the device used', () => {
    const id = uuid();
    expect(accept(v1({ event_id: id.toUpperCase() })).eventId).toBe(id);
  });

  it('treats an explicit schema_version 1 like an absent one', () => {
    const raw = v1();
    expect(accept({ ...raw, schema_version: 1 })).toEqual(accept(raw));
  });

  it('ignores fields it does not know (forward compatibility)', () => {
    const raw = v1();
    expect(accept({ ...raw, battery_mv: 3012, tags: { site: 'roof' } })).toEqual(accept(raw));
  });

  it('treats a v2 seq of null as no seq', () => {
    expect(accept(v2({ seq: null })).seq).toBeNull();
    expect(accept(without(v2(), 'seq')).seq).toBeNull();
  });

  it('accepts any valid v1 or v2 event and normalises it exactly', () => {
    fc.assert(
      fc.property(validCaseArb, ({ raw, expected }) => {
        expect(accept(raw)).toEqual(expected);
      }),
    );
  });
});

describe('EventValidator: one rejection per error code, naming the field', () => {
  it('MALFORMED: an event that is not an object', () => {
    for (const raw of ['temperature=21.5', 42, null, [v1()]]) {
      const r = reject(raw);
      expect(r.code).toBe(RejectCode.MALFORMED);
      expect(r.message).toMatch(/^MALFORMED: .*object/);
    }
  });

  it('SCHEMA_VERSION_UNSUPPORTED: a schema_version other than 1 or 2', () => {
    for (const version of [3, 0, '2', null]) {
      const r = reject(v2({ schema_version: version }));
      expect(r.code).toBe(RejectCode.SCHEMA_VERSION_UNSUPPORTED);
      expect(r.message).toContain('schema_version');
    }
  });

  it('FIELD_MISSING: each required v1 field', () => {
    for (const field of ['event_id', 'device_id', 'event_time', 'sensor_type', 'value', 'unit', 'firmware_version', 'region']) {
      const r = reject(without(v1(), field));
      expect(r.code).toBe(RejectCode.FIELD_MISSING);
      expect(r.message).toBe(`FIELD_MISSING: ${field} is required`);
    }
  });

  it('FIELD_MISSING: v2 readings, and a field of one reading, by its position', () => {
    expect(reject(without(v2(), 'readings')).message).toBe('FIELD_MISSING: readings is required');
    const raw = v2();
    const readings = raw['readings'] as RawEvent[];
    readings[1] = without(readings[1] ?? {}, 'unit');
    const r = reject(raw);
    expect(r.code).toBe(RejectCode.FIELD_MISSING);
    expect(r.message).toBe('FIELD_MISSING: readings[1].unit is required');
  });

  it('FIELD_INVALID: wrong types, formats and lengths, each naming its field', () => {
    const cases: [RawEvent, string][] = [
      [v1({ value: '21.5' }), 'value'],
      [v1({ event_id: 'not-a-uuid' }), 'event_id'],
      [v1({ event_id: `urn:uuid:${uuid()}` }), 'event_id'],
      [v1({ device_id: 'thermo 42' }), 'device_id'],
      [v1({ device_id: 'd'.repeat(129) }), 'device_id'],
      [v1({ device_id: '' }), 'device_id'],
      [v1({ event_time: '2024-05-01T11:59:30' }), 'event_time'], // no time zone
      [v1({ event_time: '01/05/2024 11:59' }), 'event_time'],
      [v1({ event_time: 1714564770000 }), 'event_time'],
      [v1({ sensor_type: '' }), 'sensor_type'],
      [v1({ unit: 'x'.repeat(65) }), 'unit'],
      [v1({ firmware_version: '1.0\n' }), 'firmware_version'],
      [v1({ sensor_type: 'temp\ud800' }), 'sensor_type'], // lone surrogate: not encodable as UTF-8
      [v1({ region: 7 }), 'region'],
      [v2({ seq: -1 }), 'seq'],
      [v2({ seq: 1.5 }), 'seq'],
      [v2({ readings: [] }), 'readings'],
      [v2({ readings: { sensor_type: 'temperature', value: 1, unit: 'C' } }), 'readings'],
    ];
    for (const [raw, field] of cases) {
      const r = reject(raw);
      expect(r.code, field).toBe(RejectCode.FIELD_INVALID);
      expect(r.message, field).toMatch(new RegExp(`^FIELD_INVALID: ${field.replace(/[[\]]/g, '\\$&')} must `));
    }
  });

  it('FIELD_INVALID: a v2 event with more than 64 readings, or a reading that is not an object', () => {
    const reading = { sensor_type: 'temperature', value: 1, unit: 'C' };
    expect(reject(v2({ readings: Array.from({ length: 65 }, () => reading) })).message).toMatch(/^FIELD_INVALID: readings must .*64/);
    expect(reject(v2({ readings: [reading, 'humidity=40'] })).message).toMatch(/^FIELD_INVALID: readings\[1\] must be an object/);
    expect(reject(v2({ readings: [reading, { ...reading, value: null }] })).message).toBe('FIELD_INVALID: readings[1].value must be a finite number');
  });

  it('FIELD_INVALID: NaN and infinite values, which only MessagePack can carry', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const result = processFrame(msgpackFrame([v1({ value: bad }), v2({ readings: [{ sensor_type: 't', value: bad, unit: 'C' }] })]), true, context(), validator);
      expect(result.accepted).toEqual([]);
      expect(result.rejected.map((r) => r.message)).toEqual([
        'FIELD_INVALID: value must be a finite number',
        'FIELD_INVALID: readings[0].value must be a finite number',
      ]);
    }
  });

  it('FIELD_INVALID: a well-formed date-time that is not a real instant (leap second, 30 February)', () => {
    for (const time of ['2024-04-30T23:59:60Z', '2024-02-30T10:00:00Z']) {
      const r = reject(v1({ event_time: time }));
      expect(r.code).toBe(RejectCode.FIELD_INVALID);
      expect(r.message).toContain('event_time');
    }
  });

  it('EVENT_TIME_OUT_OF_RANGE: older than the age limit or further ahead than the lead limit', () => {
    const ctx = context();
    const at = (ms: number): RawEvent => v1({ event_time: new Date(ms).toISOString() });
    expect(accept(at(NOW - ctx.maxEventAgeMs), ctx).eventTime).toBe(NOW - ctx.maxEventAgeMs);
    expect(accept(at(NOW + ctx.maxEventAheadMs), ctx).eventTime).toBe(NOW + ctx.maxEventAheadMs);
    for (const ms of [NOW - ctx.maxEventAgeMs - 1, NOW - 8 * DAY, NOW + ctx.maxEventAheadMs + 1, NOW + DAY]) {
      const r = reject(at(ms), ctx);
      expect(r.code).toBe(RejectCode.EVENT_TIME_OUT_OF_RANGE);
      expect(r.message).toContain('event_time');
    }
  });

  it('EVENT_TIME_OUT_OF_RANGE follows configured limits', () => {
    const ctx = context({ maxEventAgeMs: 60_000, maxEventAheadMs: 0 });
    expect(reject(v1({ event_time: new Date(NOW - 120_000).toISOString() }), ctx).code).toBe(RejectCode.EVENT_TIME_OUT_OF_RANGE);
    expect(reject(v1({ event_time: new Date(NOW + 1).toISOString() }), ctx).code).toBe(RejectCode.EVENT_TIME_OUT_OF_RANGE);
  });

  it('REGION_UNKNOWN: a region this deployment does not serve', () => {
    const r = reject(v1({ region: 'ap-south' }));
    expect(r.code).toBe(RejectCode.REGION_UNKNOWN);
    expect(r.message).toContain('region "ap-south"');
  });

  it('DEVICE_MISMATCH: an authenticated device sending as another device', () => {
    const ctx = context({ identity: { deviceId: 'thermo-0042', region: 'us-east' } });
    expect(accept(v1(), ctx).deviceId).toBe('thermo-0042');
    const r = reject(v1({ device_id: 'thermo-0043' }), ctx);
    expect(r.code).toBe(RejectCode.DEVICE_MISMATCH);
    expect(r.message).toContain('device_id "thermo-0043"');
  });

  it('REGION_MISMATCH: an authenticated device writing into another region', () => {
    const ctx = context({ identity: { deviceId: 'thermo-0042', region: 'us-east' } });
    const r = reject(v1({ region: 'eu-west' }), ctx);
    expect(r.code).toBe(RejectCode.REGION_MISMATCH);
    expect(r.message).toContain('region "eu-west"');
  });
});

describe('EventValidator: what a rejection carries to the ack and the DLQ', () => {
  it('echoes the event id as sent and the device, and files the DLQ entry under a served region', () => {
    const raw = v1({ value: 'hot' });
    const r = reject(raw);
    expect(r).toMatchObject({ index: 0, eventId: raw['event_id'], deviceId: 'thermo-0042', region: 'us-east', raw });
  });

  it("prefers the authenticated identity over what the event claims", () => {
    const ctx = context({ identity: { deviceId: 'thermo-0042', region: 'us-east' } });
    const r = reject(v1({ device_id: 'intruder', region: 'eu-west' }), ctx);
    expect(r).toMatchObject({ deviceId: 'thermo-0042', region: 'us-east' });
  });

  it('never names a region it does not serve as the DLQ region', () => {
    expect(reject(v1({ region: 'ap-south' })).region).toBeNull();
  });

  it('keeps MessagePack-only values of a rejected event as plain JSON', () => {
    const packr = new Packr({ useBigIntExtension: true });
    const frame = packr.pack([v1({ value: 2n ** 70n, firmware_version: new Date(NOW), unit: new Map([[1, 'C']]) })]);
    const result = processFrame(frame, true, context(), validator);
    const raw = result.rejected[0]?.raw as RawEvent;
    expect(JSON.parse(JSON.stringify(raw))).toEqual(raw);
    expect(raw['value']).toBe((2n ** 70n).toString());
  });

  it('rejects any mutation of a known field either not at all or with a message naming that field', () => {
    // (Not schema_version: without it a v2 event reads as v1 and misses v1's fields.)
    const fields = ['event_id', 'device_id', 'event_time', 'firmware_version', 'region', 'seq', 'readings'];
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.option(fc.anything(), { nil: undefined }), (field, value) => {
        const raw = v2();
        if (value === undefined) delete raw[field];
        else raw[field] = value;
        const result = validator.validate(raw, 3, context());
        if (!isRejection(result)) return;
        expect(REJECT_CODES).toContain(result.code);
        expect(result.index).toBe(3);
        expect(result.message.startsWith(`${result.code}: `)).toBe(true);
        expect(result.message).toContain(field);
      }),
    );
  });
});
