/**
 * fast-check arbitraries for the sinks' tests: reading rows and window partials as the actors
 * produce them, with awkward strings (tabs, newlines, backslashes, unicode) where the contract
 * allows free text.
 */
import fc from 'fast-check';
import type { WindowPartial } from '../../../src/actors/types.js';
import type { CanonicalEvent, ReadingRow } from '../../../src/contracts/canonical-event.js';

/** 2020-01-01 .. 2030-01-01, epoch ms. */
export const epochMs = fc.integer({ min: 1_577_836_800_000, max: 1_893_456_000_000 });

export const freeText = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('a\tb', 'line\nbreak', 'back\\slash', '\\N', 'cr\r', 'nul\0x', 'température', '🌡️', ''),
);

export const deviceId = fc.stringMatching(/^[A-Za-z0-9._:-]{1,24}$/);

export const streamId = fc
  .tuple(fc.integer({ min: 0, max: 9_999_999_999_999 }), fc.integer({ min: 0, max: 999_999 }))
  .map(([ms, seq]) => `${ms}-${seq}`);

export const finiteDouble = fc.double({ noNaN: true, noDefaultInfinity: true });

export const readingRow: fc.Arbitrary<ReadingRow> = fc.record({
  eventId: fc.uuid({ version: 4 }),
  readingIndex: fc.integer({ min: 0, max: 63 }),
  deviceId,
  region: fc.constantFrom('us-east', 'eu-west'),
  eventTime: epochMs,
  ingestTime: epochMs,
  sensorType: freeText,
  value: finiteDouble,
  weight: fc.integer({ min: 1, max: 1000 }),
  unit: freeText,
  firmwareVersion: freeText,
  schemaVersion: fc.constantFrom(1 as const, 2 as const),
  seq: fc.option(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), { nil: null }),
  streamId,
  partition: fc.integer({ min: 0, max: 1023 }),
});

/** An accepted event (1–4 readings) with the stream id of the entry it came from. */
export const acceptedEvent: fc.Arbitrary<{ event: CanonicalEvent; streamId: string }> = fc.record({
  event: fc.record({
    eventId: fc.uuid({ version: 4 }),
    deviceId,
    region: fc.constantFrom('us-east', 'eu-west'),
    eventTime: epochMs,
    ingestTime: epochMs,
    firmwareVersion: freeText,
    schemaVersion: fc.constantFrom(1 as const, 2 as const),
    seq: fc.option(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), { nil: null }),
    readings: fc.array(fc.record({ sensorType: freeText, value: finiteDouble, unit: freeText, weight: fc.integer({ min: 1, max: 1000 }) }), { minLength: 1, maxLength: 4 }),
  }),
  streamId,
});

export const windowPartial: fc.Arbitrary<WindowPartial> = fc
  .record({
    deviceId,
    sensorType: freeText,
    windowStart: epochMs.map((t) => t - (t % 60_000)),
    values: fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 8 }),
  })
  .map(({ values, ...rest }) => partialOf(rest.deviceId, rest.sensorType, rest.windowStart, values));

/** The exact partial of some values: one centroid per value. */
export function partialOf(deviceId: string, sensorType: string, windowStart: number, values: readonly number[]): WindowPartial {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    deviceId,
    sensorType,
    windowStart,
    readings: values.length,
    count: values.length,
    sum: values.reduce((a, b) => a + b, 0),
    min: Math.min(...values),
    max: Math.max(...values),
    digest: sorted.map((v) => [v, 1]),
  };
}
