/**
 * The payload of one Redis stream entry: a batch of canonical events, in Shoal's own binary
 * format 3 (written now). Entries of the MessagePack formats 1 and 2 written before are still
 * read (bus-codec-msgpack.ts); the first byte tells them apart (3 here, an array header there).
 *
 *   entry   = 0x03, u32 tableAt, varint count, event × count, table
 *   table   = varint n, string × n: every string of the entry once, in order of first use
 *   event   = u8 flags, id, varint device, varint region, varint firmware, times,
 *             [varint seq], [varint cid], varint n, reading × n
 *   flags   = 1 schema v2 · 2 seq present · 4 weighted · 8 cid changes here
 *             · 16 times as float64 · 32 id as a string
 *   id      = the 16 bytes of a lower-case canonical UUID, big-endian; or (32) a string
 *   times   = zigzag varints: ingestTime − the ingestTime of the last event written this way
 *             (0 before it), then eventTime − ingestTime; or (16) float64 ingestTime and
 *             eventTime, for times that are not integers of up to 2^52
 *   cid     = varint 0 for none, k for string k − 1; an event without it (flag 8 clear) has
 *             the cid of the event before it (none for the first)
 *   reading = varint sensorType, varint unit, float64 value, [varint weight] (flag 4; else 1)
 *
 * Numbers are little-endian, varints LEB128 (byte-writer.ts), strings UTF-8, every string
 * field an index into the table. Against MessagePack positional arrays (format 2) an entry
 * of simulator events is 66 instead of 139 bytes an event: the id is 16 bytes, the times a
 * few, and a region, firmware, sensor type, unit or frame cid is written once per entry. The
 * decoder builds each of those strings once, so the events of an entry share them, and
 * reads no intermediate arrays: encoding and decoding take ~1.3 instead of ~2.3 µs an event
 * (measured, perf/hot-path-cost.mjs). Redis holds, appends to its AOF and sends half the
 * bytes.
 *
 * Decoding checks every field, and device ids, labels and counts against the contract's
 * limits (limits.ts; 64 readings an event, MAX_EVENTS_PER_ENTRY events an entry): an entry
 * that does not decode, or holds events no gateway could have accepted, is poison
 * (UnrecoverableError ENTRY_UNDECODABLE → DLQ). A table string is checked once an entry for
 * each use it is put to. Values and times round-trip exactly; -0 decodes as 0 (the validator
 * never produces -0).
 */
import { isUtf8 } from 'node:buffer';
import { ByteWriter } from './byte-writer.js';
import { decodeMsgpackEntry, isCid, isWeight, MAX_CID_LENGTH, MAX_WEIGHT, undecodable } from './bus-codec-msgpack.js';
import type { CanonicalEvent, Reading } from './canonical-event.js';
import { DEVICE_ID_RULE, LABEL_RULE, MAX_READINGS_PER_EVENT, isDeviceId, isLabel } from './limits.js';
import { UUID_BYTES, uuidText } from './uuid-bytes.js';
import type { UnrecoverableError } from '../errors.js';

export const BUS_FORMAT_VERSION = 3;
/** The most events the gateway puts in one stream entry (readers size their reads by it). */
export const MAX_EVENTS_PER_ENTRY = 2000;

const V2 = 1;
const HAS_SEQ = 2;
const WEIGHTED = 4;
const CID_CHANGES = 8;
const FLOAT_TIMES = 16;
const ID_AS_STRING = 32;
const ALL_FLAGS = V2 | HAS_SEQ | WEIGHTED | CID_CHANGES | FLOAT_TIMES | ID_AS_STRING;
/** Where the u32 offset of the string table sits, and where the event count starts. */
const TABLE_AT_OFFSET = 1;
const HEADER_BYTES = 5;
/** The fewest bytes a reading takes: two string indexes and a float64. */
const MIN_READING_BYTES = 10;
/** What a table string has been checked to be (bits of the decoder's per-entry `checked`). */
const AS_DEVICE_ID = 1;
const AS_LABEL = 2;

/** Zigzag of a safe integer whose zigzag is a safe integer too, else -1. */
function zigzag(v: number): number {
  if (!Number.isSafeInteger(v)) return -1;
  const z = v < 0 ? -2 * v - 1 : 2 * v;
  return z <= Number.MAX_SAFE_INTEGER ? z : -1;
}

function unzigzag(z: number): number {
  return z % 2 === 1 ? -(z + 1) / 2 : z / 2;
}

/** Writers of finished entries, kept for the next ones (each entry copies its bytes out). */
const spareWriters: ByteWriter[] = [];
const MAX_SPARE_WRITERS = 16;

function isWeighted(readings: readonly Reading[]): boolean {
  for (let j = 0; j < readings.length; j++) if ((readings[j] as Reading).weight !== 1) return true;
  return false;
}

/**
 * One stream entry, written an event at a time: the gateway encodes each frame's events into
 * the entry of their partition as it appends them, so an event's objects die with its frame's
 * processing instead of living until the entry is written (BusAppender). The events go first
 * and the header last: finish() returns the payload, and the encoder is then spent.
 */
export class EntryEncoder {
  private readonly w: ByteWriter;
  private readonly stringIndex = new Map<string, number>();
  private readonly strings: string[] = [];
  /** The ingestTime the next integer time delta is taken from, and the cid in force. */
  private ingest = 0;
  private cid: string | undefined;
  private n = 0;
  private finished = false;

  constructor() {
    this.w = spareWriters.pop() ?? new ByteWriter(16 * 1024);
    this.w.reset();
  }

  /** Events added so far. */
  get count(): number {
    return this.n;
  }

  /** Encode one event after the others; if it throws, the entry is as it was before. */
  add(e: CanonicalEvent): void {
    if (this.finished) throw new Error('this entry is finished');
    const w = this.w;
    const start = w.length;
    const tableLength = this.strings.length;
    try {
      const readings = e.readings;
      const weighted = isWeighted(readings);
      const cidChanges = e.cid !== this.cid;
      const ingestDelta = zigzag(e.ingestTime - this.ingest);
      const lag = zigzag(e.eventTime - e.ingestTime);
      const intTimes = ingestDelta >= 0 && lag >= 0 && Number.isSafeInteger(e.ingestTime) && Number.isSafeInteger(e.eventTime);
      w.uint8(0);
      let flags = (e.schemaVersion === 2 ? V2 : 0) | (e.seq !== null ? HAS_SEQ : 0) | (weighted ? WEIGHTED : 0) | (cidChanges ? CID_CHANGES : 0);
      if (!w.uuidBytes(e.eventId, undefined, true)) {
        flags |= ID_AS_STRING;
        w.varint(this.indexOf(e.eventId));
      }
      w.varint(this.indexOf(e.deviceId));
      w.varint(this.indexOf(e.region));
      w.varint(this.indexOf(e.firmwareVersion));
      if (intTimes) {
        w.varint(ingestDelta);
        w.varint(lag);
      } else {
        flags |= FLOAT_TIMES;
        w.float64(e.ingestTime);
        w.float64(e.eventTime);
      }
      if (e.seq !== null) w.varint(e.seq);
      if (cidChanges) w.varint(e.cid === undefined ? 0 : this.indexOf(e.cid) + 1);
      w.varint(readings.length);
      for (let j = 0; j < readings.length; j++) {
        const r = readings[j] as Reading;
        w.varint(this.indexOf(r.sensorType));
        w.varint(this.indexOf(r.unit));
        w.float64(r.value);
        if (weighted) w.varint(r.weight);
      }
      w.patchUint8(start, flags);
      if (intTimes) this.ingest = e.ingestTime;
      this.cid = e.cid;
      this.n++;
    } catch (err) {
      w.truncate(start);
      for (let i = tableLength; i < this.strings.length; i++) this.stringIndex.delete(this.strings[i] as string);
      this.strings.length = tableLength;
      throw err;
    }
  }

  /** The entry payload (a buffer of its own). */
  finish(): Buffer {
    if (this.finished) throw new Error('this entry is finished');
    this.finished = true;
    const w = this.w;
    const eventsEnd = w.length;
    w.varint(this.strings.length);
    for (const s of this.strings) w.string(s);
    const head = new ByteWriter(HEADER_BYTES + 10);
    head.uint8(BUS_FORMAT_VERSION);
    head.uint32(0);
    head.varint(this.n);
    head.patchUint32(TABLE_AT_OFFSET, head.length + eventsEnd);
    const out = Buffer.concat([head.bytes(), w.bytes()]);
    this.stringIndex.clear();
    this.strings.length = 0;
    if (spareWriters.length < MAX_SPARE_WRITERS) spareWriters.push(w);
    return out;
  }

  private indexOf(s: string): number {
    let i = this.stringIndex.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.stringIndex.set(s, i);
      this.strings.push(s);
    }
    return i;
  }
}

/** Encode a batch of events as one stream entry payload (a buffer of its own). */
export function encodeEvents(events: readonly CanonicalEvent[]): Buffer {
  const entry = new EntryEncoder();
  for (let i = 0; i < events.length; i++) entry.add(events[i] as CanonicalEvent);
  return entry.finish();
}

/**
 * Reads an entry with a bounds check on every field: a short or garbled one is poison. Error
 * messages are built only when thrown (they name the event being read).
 */
class EntryReader {
  pos: number;
  /** The event being read, for error messages. */
  event = -1;

  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  fail(detail: string): UnrecoverableError {
    return undecodable(this.event < 0 ? detail : `event ${this.event}: ${detail}`);
  }

  u8(): number {
    if (this.pos >= this.end) throw this.fail(`truncated at byte ${this.pos}`);
    return this.buf[this.pos++] as number;
  }

  /** A LEB128 varint of at most 8 bytes and a safe integer. */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (value > Number.MAX_SAFE_INTEGER) break;
        return value;
      }
      scale *= 0x80;
    }
    throw this.fail(`byte ${this.pos}: a varint must be a safe integer of at most 8 bytes`);
  }

  float64(): number {
    if (this.pos + 8 > this.end) throw this.fail(`truncated at byte ${this.pos}`);
    const value = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    if (!Number.isFinite(value)) throw this.fail(`byte ${this.pos - 8}: a number must be finite`);
    return value + 0;
  }

  /** The string whose table index comes next. */
  string(table: readonly string[]): string {
    const s = table[this.varint()];
    if (s === undefined) throw this.fail(`byte ${this.pos}: a string index is outside the string table`);
    return s;
  }

  /**
   * The table string whose index comes next, checked once per entry to be `kind` (a bit of
   * `checked`, which has one byte per table string).
   */
  checkedString(table: readonly string[], checked: Uint8Array, kind: number): string {
    const at = this.pos;
    const k = this.varint();
    const s = table[k];
    if (s === undefined) throw this.fail(`byte ${at}: a string index is outside the string table`);
    if (((checked[k] as number) & kind) === 0) {
      if (kind === AS_DEVICE_ID ? !isDeviceId(s) : !isLabel(s))
        throw this.fail(`byte ${at}: ${kind === AS_DEVICE_ID ? `a device id must be ${DEVICE_ID_RULE}` : `a label must be ${LABEL_RULE}`}`);
      checked[k] = (checked[k] as number) | kind;
    }
    return s;
  }

  /** A count of items of at least `minBytes` each, at most `max`, which must fit before `end`. */
  count(minBytes: number, max = Number.MAX_SAFE_INTEGER): number {
    const n = this.varint();
    if (n > max) throw this.fail(`byte ${this.pos}: a count of ${n} is over the limit of ${max}`);
    if (n * minBytes > this.end - this.pos) throw this.fail(`byte ${this.pos}: a count of ${n} cannot fit in ${this.end - this.pos} bytes`);
    return n;
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function readTable(buf: Buffer, tableAt: number): string[] {
  const r = new EntryReader(buf, tableAt, buf.byteLength);
  const n = r.count(1);
  const table = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const length = r.count(1);
    // toString would turn bytes that are not UTF-8 into U+FFFD: a wrong label, not an error.
    if (!isUtf8(buf.subarray(r.pos, r.pos + length))) throw undecodable(`string ${i} of the table is not UTF-8`);
    table[i] = buf.toString('utf8', r.pos, r.pos + length);
    r.pos += length;
  }
  if (r.pos !== buf.byteLength) throw undecodable(`${buf.byteLength - r.pos} bytes after the string table`);
  return table;
}

function readReadings(r: EntryReader, table: readonly string[], checked: Uint8Array, weighted: boolean): Reading[] {
  const count = r.count(MIN_READING_BYTES, MAX_READINGS_PER_EVENT);
  if (count === 0) throw r.fail('an event has at least one reading');
  const readings = new Array<Reading>(count);
  for (let j = 0; j < count; j++) {
    const sensorType = r.checkedString(table, checked, AS_LABEL);
    const unit = r.checkedString(table, checked, AS_LABEL);
    const value = r.float64();
    let weight = 1;
    if (weighted) {
      weight = r.varint();
      if (!isWeight(weight)) throw r.fail(`reading ${j} weight must be an integer from 1 to ${MAX_WEIGHT}`);
    }
    readings[j] = { sensorType, value, unit, weight };
  }
  return readings;
}

function decodeBinaryEntry(buf: Buffer): CanonicalEvent[] {
  if (buf.byteLength < HEADER_BYTES) throw undecodable('shorter than its header');
  const tableAt = buf.readUInt32LE(TABLE_AT_OFFSET);
  if (tableAt < HEADER_BYTES || tableAt > buf.byteLength) throw undecodable(`string table offset ${tableAt} is outside the entry`);
  const table = readTable(buf, tableAt);
  const checked = new Uint8Array(table.length);
  const r = new EntryReader(buf, HEADER_BYTES, tableAt);
  const n = r.count(1, MAX_EVENTS_PER_ENTRY);
  const events = new Array<CanonicalEvent>(n);
  let ingest = 0;
  let cid: string | undefined;
  for (let i = 0; i < n; i++) {
    r.event = i;
    const flags = r.u8();
    if ((flags & ~ALL_FLAGS) !== 0) throw r.fail(`unknown flags ${flags}`);
    let eventId: string;
    if ((flags & ID_AS_STRING) !== 0) eventId = r.string(table);
    else {
      if (r.pos + UUID_BYTES > tableAt) throw r.fail(`truncated at byte ${r.pos}`);
      eventId = uuidText(buf, r.pos);
      r.pos += UUID_BYTES;
    }
    const deviceId = r.checkedString(table, checked, AS_DEVICE_ID);
    const region = r.checkedString(table, checked, AS_LABEL);
    const firmwareVersion = r.checkedString(table, checked, AS_LABEL);
    let ingestTime: number;
    let eventTime: number;
    if ((flags & FLOAT_TIMES) === 0) {
      ingest += unzigzag(r.varint());
      ingestTime = ingest;
      eventTime = ingest + unzigzag(r.varint());
    } else {
      ingestTime = r.float64();
      eventTime = r.float64();
    }
    const seq = (flags & HAS_SEQ) !== 0 ? r.varint() : null;
    if ((flags & CID_CHANGES) !== 0) {
      const k = r.varint();
      cid = k === 0 ? undefined : table[k - 1];
      if (k > 0 && !isCid(cid)) throw r.fail(`the cid must be a string of 1 to ${MAX_CID_LENGTH} characters from the string table`);
    }
    const readings = readReadings(r, table, checked, (flags & WEIGHTED) !== 0);
    const event: CanonicalEvent = { eventId, deviceId, region, eventTime, ingestTime, firmwareVersion, schemaVersion: (flags & V2) !== 0 ? 2 : 1, seq, readings };
    if (cid !== undefined) event.cid = cid;
    events[i] = event;
  }
  if (r.pos !== tableAt) throw undecodable(`${tableAt - r.pos} bytes between the last event and the string table`);
  return events;
}

/** Decode a stream entry payload; throws UnrecoverableError ENTRY_UNDECODABLE on anything else. */
export function decodeEvents(payload: Uint8Array): CanonicalEvent[] {
  if (payload.byteLength > 0 && payload[0] === BUS_FORMAT_VERSION) return decodeBinaryEntry(asBuffer(payload));
  return decodeMsgpackEntry(payload, MAX_EVENTS_PER_ENTRY);
}
