/** The rate limiter's arithmetic: fractional rates add up, the cap holds, rate changes keep what was earned. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../src/simulator/token-bucket.js';

describe('TokenBucket', () => {
  it('delivers a fractional rate exactly over time (2.5/s for 10 s in 50 ms ticks → 25)', () => {
    const b = new TokenBucket(2.5, 10, 0);
    let sent = 0;
    for (let t = 50; t <= 10_000; t += 50) sent += b.takeUpTo(Infinity, t);
    expect(sent).toBe(25);
  });

  it('taking everything every tick yields rate × elapsed, within one token', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.1, max: 100_000, noNaN: true }),
        fc.array(fc.double({ min: 0.001, max: 1, noNaN: true }), { minLength: 1, maxLength: 200 }),
        (rate, fractions) => {
          // Steps short enough that a single tick never overflows the capacity.
          const capacity = rate + 1;
          const b = new TokenBucket(rate, capacity, 0);
          let t = 0;
          let taken = 0;
          for (const f of fractions) {
            t += f * 1000;
            taken += b.takeUpTo(Infinity, t);
          }
          const earned = (rate * t) / 1000;
          expect(taken).toBeLessThanOrEqual(earned + 1e-6);
          expect(taken).toBeGreaterThanOrEqual(earned - 1 - 1e-6);
        },
      ),
    );
  });

  it('never holds more than its capacity, and takes at most what is asked', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 20_000 })), { maxLength: 50 }),
        (rate, capacity, steps) => {
          const b = new TokenBucket(rate, capacity, 0);
          let t = 0;
          for (const [dt, want] of steps) {
            t += dt;
            expect(b.available(t)).toBeLessThanOrEqual(capacity);
            expect(b.takeUpTo(want, t)).toBeLessThanOrEqual(want);
          }
        },
      ),
    );
  });

  it('earns nothing when time goes backwards', () => {
    const b = new TokenBucket(1000, 1000, 10_000);
    expect(b.available(5_000)).toBe(0);
    expect(b.available(10_000)).toBe(0);
    expect(b.available(10_100)).toBeCloseTo(100, 6);
  });

  it('keeps tokens earned at the old rate when the rate changes', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1000, noNaN: true }),
        fc.double({ min: 0, max: 1000, noNaN: true }),
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 0, max: 5000 }),
        (r1, r2, t1, t2) => {
          const b = new TokenBucket(r1, 1e9, 0);
          b.setRate(r2, t1);
          expect(b.available(t1 + t2)).toBeCloseTo((r1 * t1 + r2 * t2) / 1000, 6);
        },
      ),
    );
  });

  it('setLevel clamps to 0..capacity and keeps earning from there', () => {
    const b = new TokenBucket(100, 50, 0);
    b.setLevel(500, 0);
    expect(b.available(0)).toBe(50);
    b.setLevel(-3, 0);
    expect(b.available(100)).toBeCloseTo(10, 9);
  });

  it('rejects a negative or infinite rate', () => {
    expect(() => new TokenBucket(-1, 10, 0)).toThrow(RangeError);
    expect(() => new TokenBucket(Infinity, 10, 0)).toThrow(RangeError);
    expect(() => new TokenBucket(1, 0, 0)).toThrow(RangeError);
  });
});
