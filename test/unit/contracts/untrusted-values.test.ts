import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPlainObject, toJsonSafe } from '../../../src/contracts/untrusted-values.js';

describe('toJsonSafe (the DLQ copy of a rejected event)', () => {
  it('leaves any JSON value as it is', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 10 }), (value) => {
        // As JSON reads it back: fast-check's JSON values include -0, which JSON writes as 0.
        expect(toJsonSafe(value)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  it('renders any value, however odd, as JSON without throwing', () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true, withBoxedValues: true, withSparseArray: true }), (value) => {
        const safe = toJsonSafe(value);
        expect(JSON.parse(JSON.stringify(safe) ?? 'null')).toEqual(safe ?? null);
      }),
    );
  });

  it('writes -0 as 0, the number JSON reads back', () => {
    expect(Object.is(toJsonSafe(-0), 0)).toBe(true);
    expect(toJsonSafe({ v: [-0] })).toEqual({ v: [0] });
  });

  it('keeps a decoded "__proto__" key as data, not as the prototype', () => {
    const raw = JSON.parse('{"__proto__": {"polluted": true}, "value": 1}') as unknown;
    const safe = toJsonSafe(raw) as Record<string, unknown>;
    expect(isPlainObject(safe)).toBe(true);
    expect(Object.getPrototypeOf(safe)).toBe(Object.prototype);
    expect(JSON.stringify(safe)).toBe('{"__proto__":{"polluted":true},"value":1}');
  });

  it('cuts nesting deeper than JSON rendering can bear', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(() => JSON.stringify(toJsonSafe(deep))).not.toThrow();
    expect(JSON.stringify(toJsonSafe(deep))).not.toContain('bottom');
  });
});
