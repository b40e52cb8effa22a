/** Query API parameters: any RFC 3339 time and in-range limit is accepted as given; anything else is a 400 naming the parameter. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../src/ops/api-error.js';
import { parseDeviceId, parseLimit, parseTimeRange } from '../../../src/ops/query-params.js';

const time = fc.integer({ min: Date.parse('1990-01-01T00:00:00Z'), max: Date.parse('2099-12-31T23:59:59Z') });

function badRequest(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError && err.status === 400) return err;
    throw err;
  }
  throw new Error('expected a 400');
}

describe('query parameters', () => {
  it('any RFC 3339 pair with from ≤ to comes back as the same instants', () => {
    fc.assert(
      fc.property(time, time, fc.constantFrom('Z', '+02:00', '-05:30'), (a, b, zone) => {
        const [from, to] = a <= b ? [a, b] : [b, a];
        const render = (ms: number): string => {
          if (zone === 'Z') return new Date(ms).toISOString();
          const offsetMin = (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4)));
          return new Date(ms + offsetMin * 60_000).toISOString().replace('Z', zone);
        };
        const range = parseTimeRange(new URLSearchParams({ from: render(from), to: render(to) }), 3_600_000, 0);
        expect(range).toEqual({ from, to });
      }),
    );
  });

  it('defaults: to = now, from = to − span', () => {
    expect(parseTimeRange(new URLSearchParams(), 3_600_000, 10_000_000)).toEqual({ from: 6_400_000, to: 10_000_000 });
  });

  it('limits inside the range are taken as given, outside are refused by name', () => {
    fc.assert(
      fc.property(fc.integer({ min: -100, max: 20_000 }), (n) => {
        const params = new URLSearchParams({ limit: String(n) });
        if (n >= 1 && n <= 10_000) expect(parseLimit(params, 'limit', 1000, 1, 10_000)).toBe(n);
        else expect(badRequest(() => parseLimit(params, 'limit', 1000, 1, 10_000)).message).toMatch(/^limit:/);
      }),
    );
  });

  it('device ids follow the contract pattern', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/), (id) => {
        expect(parseDeviceId(encodeURIComponent(id))).toBe(id);
      }),
    );
    expect(badRequest(() => parseDeviceId('a%2Fb')).message).toMatch(/^device id:/);
    expect(badRequest(() => parseDeviceId('')).message).toMatch(/^device id:/);
  });
});
