/**
 * ByteWriter: a growable little-endian buffer for Shoal's binary formats (the bus entries of
 * bus-codec.ts, ClickHouse RowBinary in sinks/row-binary.ts). Numbers are written into the
 * buffer without allocating strings; short ASCII strings byte by byte, which is cheaper than
 * two calls into native code for the ids, units and sensor types that make up most of what
 * Shoal writes (measured with RowBinary).
 *
 *   varint    LEB128: 7 bits a byte, low bits first, high bit set on every byte but the last
 *   string    varint UTF-8 byte length, then the UTF-8 bytes
 *   float64   8 bytes IEEE 754; -0 is written as 0 (both formats have one zero)
 */
import { UUID_BYTES, writeUuidBytes } from './uuid-bytes.js';

/** Strings up to this many UTF-16 units take the byte-by-byte ASCII path. */
const SHORT_STRING = 64;

export class ByteWriter {
  protected buf: Buffer;
  protected at = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(Math.max(64, initialBytes));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.at;
  }

  /** Drop what was written after the first `length` bytes (a value that failed halfway). */
  truncate(length: number): void {
    if (length < 0 || length > this.at) throw new RangeError(`cannot truncate ${this.at} bytes to ${length}`);
    this.at = length;
  }

  /** The bytes written so far (a view of the writer's buffer: take it last). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.at);
  }

  /** Start over, keeping the buffer. */
  reset(): void {
    this.at = 0;
  }

  uint8(value: number): void {
    this.reserve(1);
    this.buf[this.at++] = value;
  }

  uint32(value: number): void {
    this.reserve(4);
    this.at = this.buf.writeUInt32LE(value, this.at);
  }

  /** Overwrite a byte written before (flags known only later). */
  patchUint8(position: number, value: number): void {
    this.buf[position] = value;
  }

  /** Overwrite 4 bytes written before (a length or an offset known only later). */
  patchUint32(position: number, value: number): void {
    this.buf.writeUInt32LE(value, position);
  }

  float64(value: number): void {
    this.reserve(8);
    this.at = this.buf.writeDoubleLE(value === 0 ? 0 : value, this.at);
  }

  /**
   * A non-negative safe integer as LEB128 (at most 8 bytes). Anything else is a RangeError:
   * Infinity would loop forever, and a fraction, a negative or an unsafe number would write
   * bytes that decode to another value.
   */
  varint(value: number): void {
    if (!(Number.isSafeInteger(value) && value >= 0)) throw new RangeError(`a varint must be a non-negative safe integer, not ${value}`);
    this.reserve(10);
    const buf = this.buf;
    let v = value;
    while (v >= 0x80) {
      buf[this.at++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    buf[this.at++] = v;
  }

  string(value: string): void {
    const n = value.length;
    // Each UTF-16 unit becomes at most 3 UTF-8 bytes; the length prefix is at most 5 bytes.
    this.reserve(5 + n * 3);
    if (n < 0x80 && n <= SHORT_STRING) {
      const buf = this.buf;
      const start = this.at + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        buf[start + i] = c;
      }
      if (i === n) {
        buf[this.at] = n;
        this.at = start + n;
        return;
      }
    }
    this.varint(Buffer.byteLength(value, 'utf8'));
    this.at += this.buf.write(value, this.at, 'utf8');
  }

  /**
   * The UUID `text` as 16 bytes, byte k at `order[k]`. False, with nothing written, for
   * anything but a canonical UUID (with `lowerCaseOnly`, also for upper-case digits).
   */
  uuidBytes(text: string, order?: readonly number[], lowerCaseOnly = false): boolean {
    this.reserve(UUID_BYTES);
    if (!writeUuidBytes(this.buf, this.at, text, order, lowerCaseOnly)) return false;
    this.at += UUID_BYTES;
    return true;
  }

  protected reserve(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + bytes));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }
}
