/** Redis stream ids ("<ms>-<seq>"): comparison and bus time. */

export function parseStreamId(id: string): [ms: number, seq: number] {
  const dash = id.indexOf('-');
  if (dash < 0) return [Number(id), 0];
  return [Number(id.slice(0, dash)), Number(id.slice(dash + 1))];
}

/** Negative when a < b, 0 when equal, positive when a > b. */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = parseStreamId(a);
  const [bm, bs] = parseStreamId(b);
  return am !== bm ? am - bm : as - bs;
}

/** The ms part of a stream id: the bus time of the entry (the gateway's append time). */
export function busTimeOf(id: string): number {
  return parseStreamId(id)[0];
}
