import { describe, expect, it } from 'vitest';
import { isoTime } from '../../../src/simulator/iso-time.js';

const toIso = (ms: number): string => new Date(ms).toISOString();

describe('isoTime', () => {
  it('writes what toISOString writes, across milliseconds, seconds, days and years', () => {
    const base = Date.parse('2026-12-31T23:59:58.990Z');
    // Ascending through two second boundaries and a year boundary, every millisecond.
    for (let ms = base; ms < base + 2100; ms++) expect(isoTime(ms)).toBe(toIso(ms));
    // Back and forth between seconds: the cached second must not leak into another one.
    for (const ms of [base + 5, base - 1000, base + 5, 0, 1, 999, 1000, -1, -999, -1000, -1001, base])
      expect(isoTime(ms)).toBe(toIso(ms));
  });

  it('keeps the padding of 1- and 2-digit milliseconds', () => {
    const second = Date.parse('2024-02-29T12:00:00.000Z');
    expect(isoTime(second + 7)).toBe('2024-02-29T12:00:00.007Z');
    expect(isoTime(second + 42)).toBe('2024-02-29T12:00:00.042Z');
    expect(isoTime(second + 420)).toBe('2024-02-29T12:00:00.420Z');
  });

  it('falls back to toISOString outside four-digit years and for fractional times', () => {
    for (const ms of [Date.parse('0000-01-01T00:00:00.000Z') - 1, Date.parse('9999-12-31T23:59:59.999Z') + 1, 8.64e15, -8.64e15])
      expect(isoTime(ms)).toBe(toIso(ms));
    expect(isoTime(Date.parse('0000-01-01T00:00:00.000Z'))).toBe('0000-01-01T00:00:00.000Z');
    expect(isoTime(1.5)).toBe(toIso(1.5));
    expect(() => isoTime(Number.NaN)).toThrow(RangeError);
  });
});
