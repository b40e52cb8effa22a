/**
 * TabSeparated value formatting for ClickHouse inserts: string escaping, DateTime and
 * DateTime64(3) text, floats at full precision, arrays and NULL. Pure and deterministic.
 */

const NEEDS_ESCAPE = /[\\\t\n\r\0]/;
const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' };

/** A String value: backslash, tab, newline, carriage return and NUL escaped. */
export function tsvString(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/[\\\t\n\r\0]/g, (c) => ESCAPES[c] ?? c);
}

/** A Float64 with full precision (String(n) round-trips); non-finite values as ClickHouse spells them. */
export function tsvFloat(value: number): string {
  if (Number.isFinite(value)) return String(value);
  if (Number.isNaN(value)) return 'nan';
  return value > 0 ? 'inf' : '-inf';
}

/** `YYYY-MM-DD hh:mm:ss` of whole UTC seconds, remembering the last two (a batch's event and
 *  ingest times each repeat their second many times over). */
const recentSeconds: [number, string][] = [
  [NaN, ''],
  [NaN, ''],
];
function secondText(second: number): string {
  const [a, b] = recentSeconds as [[number, string], [number, string]];
  if (a[0] === second) return a[1];
  if (b[0] === second) return b[1];
  const iso = new Date(second * 1000).toISOString();
  const text = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
  recentSeconds[1] = a;
  recentSeconds[0] = [second, text];
  return text;
}

/** DateTime64(3) text of epoch ms UTC: `2026-11-27 10:00:00.123`. */
export function tsvDateTime64(epochMs: number): string {
  const second = Math.floor(epochMs / 1000);
  const ms = epochMs - second * 1000;
  return `${secondText(second)}.${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}`;
}

/** DateTime text (whole seconds) of epoch ms UTC: `2026-11-27 10:00:00`. */
export function tsvDateTime(epochMs: number): string {
  return secondText(Math.floor(epochMs / 1000));
}

/** A nullable integer: `\N` for null. */
export function tsvNullableInt(value: number | null): string {
  return value === null ? '\\N' : String(value);
}

/** An Array(Float64) or Array(UInt64) literal: `[1.5,2]`. */
export function tsvNumberArray(values: readonly number[]): string {
  return `[${values.map(tsvFloat).join(',')}]`;
}
