/**
 * The contract's limits on identifiers and labels (DESIGN §3; schemas/v1 and v2 publish the
 * same ones), as predicates for the code that checks them outside the schema validator:
 * device tokens, and the bus decoders, which refuse an entry whose events could not have
 * passed validation (a garbled or foreign entry is poison, not data).
 */

/** A device id (and a fleet id): 1–128 characters of A-Z a-z 0-9 . _ : - */
const DEVICE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/**
 * A label (region, firmware version, sensor type, unit): 1–64 code points, none of them a
 * control character (C0, DEL, C1) or a lone surrogate (with the u flag a surrogate pair is
 * one code point; a lone one is \p{Cs}).
 */
const LABEL = /^[^\p{Cc}\p{Cs}]{1,64}$/u;

/** Readings a v2 event carries at most (a v1 event has one). */
export const MAX_READINGS_PER_EVENT = 64;

export const DEVICE_ID_RULE = '1–128 characters of A-Z a-z 0-9 . _ : -';
export const LABEL_RULE = 'a string of 1–64 characters without control characters';

export function isDeviceId(value: unknown): value is string {
  return typeof value === 'string' && DEVICE_ID.test(value);
}

export function isLabel(value: unknown): value is string {
  return typeof value === 'string' && LABEL.test(value);
}
