/**
 * ClickHouse RowBinary: each row's values back to back, little-endian, no separators and no
 * escaping. ClickHouse parses it in ~0.1 µs a row where TabSeparated costs ~2.5 µs (measured
 * with chDB and Shoal's `events` columns), and writing numbers into a buffer allocates no
 * strings. Pure and byte-deterministic: the same values always give the same bytes.
 *
 *   String, LowCardinality(String)   LEB128 byte length, then UTF-8 bytes
 *   UInt8 / UInt16 / UInt32 / UInt64 1 / 2 / 4 / 8 bytes
 *   Float64                          8 bytes IEEE 754 (-0 is written as 0, as text would)
 *   DateTime('UTC')                  UInt32 seconds
 *   DateTime64(3, 'UTC')             Int64 milliseconds
 *   UUID                             the two 64-bit halves, each little-endian
 *   Nullable(T)                      1 byte (1 = NULL), then T unless NULL
 *   Array(T)                         LEB128 length, then the elements
 */

import { ByteWriter } from '../contracts/byte-writer.js';
import { UUID_BYTES } from '../contracts/uuid-bytes.js';

const TWO_32 = 0x1_0000_0000;

/**
 * ClickHouse keeps a UUID as two UInt64 (high half first), each stored little-endian: the
 * first 8 bytes of the text go to positions 7..0, the last 8 to positions 15..8.
 */
const CLICKHOUSE_UUID_ORDER: readonly number[] = Array.from({ length: UUID_BYTES }, (_, k) => (k < 8 ? 7 - k : 23 - k));

/** String, UInt8, UInt32 and Float64 are ByteWriter's encodings (RowBinary's own). */
export class RowBinaryWriter extends ByteWriter {
  uint16(value: number): void {
    this.reserve(2);
    this.at = this.buf.writeUInt16LE(value, this.at);
  }

  /** A UInt64 from a safe non-negative integer. */
  uint64(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`UInt64 must be a safe non-negative integer, got ${value}`);
    this.reserve(8);
    this.buf.writeUInt32LE(value % TWO_32, this.at);
    this.buf.writeUInt32LE(Math.floor(value / TWO_32), this.at + 4);
    this.at += 8;
  }

  /** An Int64 from a safe integer (two's complement). */
  int64(value: number): void {
    if (!Number.isSafeInteger(value)) throw new RangeError(`Int64 must be a safe integer, got ${value}`);
    this.reserve(8);
    const high = Math.floor(value / TWO_32);
    this.buf.writeUInt32LE(value - high * TWO_32, this.at);
    this.buf.writeInt32LE(high, this.at + 4);
    this.at += 8;
  }

  /** DateTime('UTC') of epoch ms (whole seconds, rounded down). */
  dateTime(epochMs: number): void {
    this.uint32(Math.floor(epochMs / 1000));
  }

  /** DateTime64(3, 'UTC') of epoch ms. */
  dateTime64(epochMs: number): void {
    this.int64(epochMs);
  }

  /** A UUID from its canonical text (8-4-4-4-12 hex digits, either case). */
  uuid(text: string): void {
    if (!this.uuidBytes(text, CLICKHOUSE_UUID_ORDER)) throw new RangeError(`not a UUID: ${JSON.stringify(text)}`);
  }

  nullableUint64(value: number | null): void {
    if (value === null) {
      this.uint8(1);
      return;
    }
    this.uint8(0);
    this.uint64(value);
  }

  /** The length prefix of an Array(T): write its `length` elements next. */
  arrayLength(length: number): void {
    this.varint(length);
  }
}
