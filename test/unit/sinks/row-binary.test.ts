/**
 * RowBinaryWriter: the byte layout ClickHouse reads (little-endian integers, LEB128 lengths,
 * UUID halves, Nullable flags), checked against hand-written bytes; chdb-store.test.ts checks
 * that chDB stores it exactly as the TabSeparated text.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RowBinaryWriter } from '../../../src/sinks/row-binary.js';

function bytes(write: (w: RowBinaryWriter) => void, initial = 64): string {
  const w = new RowBinaryWriter(initial);
  write(w);
  return w.bytes().toString('hex');
}

describe('RowBinaryWriter', () => {
  it('writes integers little-endian, 64-bit ones past 2^32 and below zero', () => {
    expect(bytes((w) => w.uint16(0x1234))).toBe('3412');
    expect(bytes((w) => w.uint64(2 ** 40 + 5))).toBe('0500000000010000');
    expect(bytes((w) => w.int64(-2))).toBe('feffffffffffffff');
    expect(bytes((w) => w.dateTime64(1_795_000_000_123))).toBe(Buffer.from(new BigInt64Array([1_795_000_000_123n]).buffer).toString('hex'));
    expect(bytes((w) => w.dateTime(1_795_000_000_999))).toBe(Buffer.from(new Uint32Array([1_795_000_000]).buffer).toString('hex'));
    expect(() => bytes((w) => w.uint64(-1))).toThrow(RangeError);
  });

  it('prefixes strings and arrays with their LEB128 length in bytes, UTF-8 included', () => {
    expect(bytes((w) => w.string('ab'))).toBe('026162');
    expect(bytes((w) => w.string('é'))).toBe('02c3a9');
    const long = bytes((w) => w.string('x'.repeat(300)), 8);
    expect(long.slice(0, 4)).toBe('ac02'); // 300 = 0b10_0101100
    expect(long.length).toBe((2 + 300) * 2);
    expect(
      bytes((w) => {
        w.arrayLength(2);
        w.uint64(1);
        w.uint64(2);
      }),
    ).toBe('0201000000000000000200000000000000');
  });

  it('writes LEB128 up to 2^53 - 1 and refuses what is not a non-negative safe integer, instead of looping or writing another value', () => {
    expect(bytes((w) => w.varint(Number.MAX_SAFE_INTEGER))).toBe('ffffffffffffff0f');
    for (const bad of [-1, 1.5, 2 ** 53, NaN, -Infinity, Infinity]) expect(() => bytes((w) => w.varint(bad)), String(bad)).toThrow(RangeError);
  });

  it('writes a UUID as its two 64-bit halves, each little-endian', () => {
    expect(bytes((w) => w.uuid('00112233-4455-6677-8899-aabbccddeeff'))).toBe('7766554433221100ffeeddccbbaa9988');
    expect(bytes((w) => w.uuid('00112233-4455-6677-8899-AABBCCDDEEFF'))).toBe('7766554433221100ffeeddccbbaa9988');
    expect(() => bytes((w) => w.uuid('not-a-uuid'))).toThrow(RangeError);
    expect(() => bytes((w) => w.uuid('00112233-4455-6677-8899-aabbccddeefg'))).toThrow(RangeError);
    expect(() => bytes((w) => w.uuid('00112233-4455-6677-8899_aabbccddeeff'))).toThrow(RangeError);
  });

  it('writes any string as its UTF-8 bytes behind their length, whatever path it takes', () => {
    const expected = (s: string): string => {
      const utf8 = Buffer.from(s, 'utf8');
      const w = new RowBinaryWriter(8);
      w.arrayLength(utf8.length); // the same LEB128 prefix
      return Buffer.concat([w.bytes(), utf8]).toString('hex');
    };
    for (const s of ['', 'x'.repeat(64), 'x'.repeat(65), `${'a'.repeat(63)}é`, 'abé', 'é', '😀 ok']) {
      expect(bytes((w) => w.string(s))).toBe(expected(s));
    }
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 80 }), { maxLength: 5 }), (strings) => {
        const w = new RowBinaryWriter(4);
        for (const s of strings) w.string(s);
        expect(w.bytes().toString('hex')).toBe(strings.map(expected).join(''));
      }),
    );
  });

  it('reads a UUID the way its text says, for any UUID', () => {
    fc.assert(
      fc.property(fc.uuid(), (id) => {
        const hex = id.replace(/-/g, '');
        const halves = [hex.slice(0, 16), hex.slice(16)].map((h) => Buffer.from(h, 'hex').reverse().toString('hex'));
        expect(bytes((w) => w.uuid(id))).toBe(halves.join(''));
      }),
    );
  });

  it('flags NULL in a Nullable and writes -0 as 0', () => {
    expect(bytes((w) => w.nullableUint64(null))).toBe('01');
    expect(bytes((w) => w.nullableUint64(7))).toBe('000700000000000000');
    expect(bytes((w) => w.float64(-0))).toBe(bytes((w) => w.float64(0)));
  });

  it('grows its buffer and keeps what was written', () => {
    const w = new RowBinaryWriter(1);
    for (let i = 0; i < 1000; i++) w.uint16(i);
    const out = w.bytes();
    expect(out.length).toBe(2000);
    expect(out.readUInt16LE(2 * 999)).toBe(999);
  });
});
