/**
 * Helpers for values decoded from untrusted frames (JSON.parse or MessagePack).
 *
 * MessagePack can decode to things JSON cannot hold (BigInt, Date, Map, Set, typed arrays,
 * NaN), and JSON can nest deeper than JSON.stringify's recursion survives. A rejected event
 * travels on to the DLQ and the logs, so `toJsonSafe` turns it into a plain JSON value first:
 * rendering it must never throw (DESIGN §5, invariant 3).
 */

/** Deeper levels are replaced by TRUNCATED. */
const MAX_RAW_DEPTH = 16;
const TRUNCATED = '[truncated]';

/** A plain object: what JSON.parse and MessagePack maps decode to (not an array, Date, Map…). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function bytesToBase64(view: ArrayBufferView): string {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64');
}

function setKey(target: Record<string, unknown>, key: string, value: unknown): void {
  // A decoded own "__proto__" key must stay data, never become the copy's prototype.
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

function objectToJsonSafe(value: object, depth: number): unknown {
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = toJsonSafe(value[i] as unknown, depth + 1);
    return out;
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value as Map<unknown, unknown>) {
      const key = typeof k === 'string' ? k : JSON.stringify(toJsonSafe(k, depth + 1));
      setKey(out, key, toJsonSafe(v, depth + 1));
    }
    return out;
  }
  if (value instanceof Set) return toJsonSafe([...(value as Set<unknown>)], depth);
  if (ArrayBuffer.isView(value)) return bytesToBase64(value);
  if (value instanceof ArrayBuffer) return bytesToBase64(new Uint8Array(value));
  if (value instanceof RegExp) return String(value);
  if (value instanceof Error) return { name: value.name, message: value.message };
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) setKey(out, key, toJsonSafe((value as Record<string, unknown>)[key], depth + 1));
  return out;
}

/**
 * A JSON value equivalent to `value`: BigInt → decimal string, NaN/±Infinity → "NaN"/"Infinity",
 * Date → ISO string, Map → object, Set → array, bytes → base64, undefined → null, and anything
 * nested deeper than MAX_RAW_DEPTH → "[truncated]".
 */
export function toJsonSafe(value: unknown, depth = 0): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      // JSON has no -0 (it reads back as 0), nor NaN or the infinities (kept as their names).
      return Number.isFinite(value) ? value + 0 : String(value);
    case 'bigint':
      return value.toString();
    case 'object':
      if (value === null) return null;
      return depth >= MAX_RAW_DEPTH ? TRUNCATED : objectToJsonSafe(value, depth);
    default:
      return null;
  }
}
