/**
 * The `date-time` format of the schemas: an RFC 3339 date-time with a time zone
 * (section 5.6), e.g. `2024-05-01T12:00:00.123Z` or `2024-05-01 14:00:00+02:00`.
 * A hand-written scanner rather than a regex: it runs once per event on the gateway's hot
 * path, allocates nothing, and also rejects dates that do not exist (30 February) and leap
 * seconds (`:60`, which Date.parse cannot represent).
 */

const DASH = 45;
const COLON = 58;
const DOT = 46;
const PLUS = 43;

/** The number written by `count` digits at `from`, or -1 if any of them is not a digit. */
function digitsAt(s: string, from: number, count: number): number {
  let n = 0;
  for (let i = from; i < from + count; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** True when `s` is `YYYY-MM-DD(T|t| )HH:MM:SS[.fraction](Z|z|±HH:MM)` naming a real instant. */
export function isRfc3339DateTime(s: string): boolean {
  if (s.length < 20) return false;
  if (s.charCodeAt(4) !== DASH || s.charCodeAt(7) !== DASH || s.charCodeAt(13) !== COLON || s.charCodeAt(16) !== COLON) return false;
  const separator = s[10];
  if (separator !== 'T' && separator !== 't' && separator !== ' ') return false;
  const year = digitsAt(s, 0, 4);
  const month = digitsAt(s, 5, 2);
  const day = digitsAt(s, 8, 2);
  const hour = digitsAt(s, 11, 2);
  const minute = digitsAt(s, 14, 2);
  const second = digitsAt(s, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return false;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return false;

  let i = 19;
  if (s.charCodeAt(i) === DOT) {
    const start = ++i;
    while (i < s.length && digitsAt(s, i, 1) >= 0) i++;
    if (i === start) return false;
  }
  const zone = s[i];
  if (zone === 'Z' || zone === 'z') return i + 1 === s.length;
  const sign = s.charCodeAt(i);
  if ((sign !== PLUS && sign !== DASH) || i + 6 !== s.length || s.charCodeAt(i + 3) !== COLON) return false;
  const offsetHours = digitsAt(s, i + 1, 2);
  const offsetMinutes = digitsAt(s, i + 4, 2);
  return offsetHours >= 0 && offsetHours <= 23 && offsetMinutes >= 0 && offsetMinutes <= 59;
}
