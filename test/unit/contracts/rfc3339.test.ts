import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRfc3339DateTime } from '../../../src/contracts/rfc3339.js';
import { rfc3339 } from './fixtures.js';

describe('isRfc3339DateTime', () => {
  it('accepts every instant written in any time zone, and Date.parse reads back that instant', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.parse('0001-01-02T00:00:00Z'), max: Date.parse('9998-12-31T00:00:00Z') }),
        fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
        fc.constantFrom(0 as const, 3 as const),
        (ms, offsetMin, fraction) => {
          const text = rfc3339(ms, offsetMin, fraction);
          expect(isRfc3339DateTime(text)).toBe(true);
          expect(Date.parse(text)).toBe(fraction === 3 ? ms : ms - (((ms % 1000) + 1000) % 1000));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('accepts the forms RFC 3339 allows', () => {
    for (const text of ['2024-05-01T12:00:00Z', '2024-05-01t12:00:00z', '2024-05-01 12:00:00+02:00', '2024-02-29T00:00:00.123456789-05:30', '2000-02-29T23:59:59.5Z'])
      expect(isRfc3339DateTime(text), text).toBe(true);
  });

  it('rejects dates and times that do not exist, and texts that are not RFC 3339', () => {
    const bad = [
      '2023-02-29T00:00:00Z', // not a leap year
      '1900-02-29T00:00:00Z',
      '2024-04-31T00:00:00Z',
      '2024-13-01T00:00:00Z',
      '2024-00-10T00:00:00Z',
      '2024-05-01T24:00:00Z',
      '2024-05-01T12:60:00Z',
      '2024-05-01T23:59:60Z', // leap second: Date.parse cannot represent it
      '2024-05-01T12:00:00', // no time zone
      '2024-05-01T12:00:00+0200', // offset without colon
      '2024-05-01T12:00:00+24:00',
      '2024-05-01T12:00:00.Z',
      '2024-05-01T12:00:00Z ',
      '2024-05-01T12:00Z',
      '2024-5-1T12:00:00Z',
      '2024-05-01_12:00:00Z',
      '+02024-05-01T12:00:00Z',
      '',
    ];
    for (const text of bad) expect(isRfc3339DateTime(text), text).toBe(false);
  });

  it('never accepts a text Date.parse cannot read', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,12})?([Zz]|[+-]\d{2}:\d{2})$/), (text) => {
        if (isRfc3339DateTime(text)) expect(Number.isNaN(Date.parse(text))).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });
});
