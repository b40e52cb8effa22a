/**
 * tornState: whether a rollup table holds a re-run flush's partials, judged against the
 * readings `events` stores per window.
 */
import { describe, expect, it } from 'vitest';
import type { WindowPartial } from '../../../src/actors/types.js';
import { tornState } from '../../../src/runtime/partition-processor.js';

const partial = (deviceId: string, windowStart: number, readings: number): WindowPartial => ({
  deviceId,
  sensorType: 't',
  windowStart,
  readings,
  count: readings,
  sum: readings,
  min: 1,
  max: 1,
  digest: [[1, readings]],
});
const counts = (entries: [string, number][]): Map<string, number> => new Map(entries);

describe('tornState', () => {
  const partials = [partial('a', 0, 2), partial('b', 0, 1), partial('a', 0, 1)];

  it('says in when every window rolls up what is stored, lost when every window lacks exactly the partials', () => {
    const stored = counts([['a|t|0', 10], ['b|t|0', 4]]);
    expect(tornState(partials, stored, counts([['a|t|0', 10], ['b|t|0', 4]]))).toBe('in');
    expect(tornState(partials, stored, counts([['a|t|0', 7], ['b|t|0', 3]]))).toBe('lost');
    // A window the flush alone filled: nothing rolled up yet is lost, not unknown.
    expect(tornState([partial('c', 60_000, 2)], counts([['c|t|60000', 2]]), counts([]))).toBe('lost');
  });

  it('says unclear for a mix, or a window rolling up more than is stored (a duplicate past the dedup horizon)', () => {
    const stored = counts([['a|t|0', 10], ['b|t|0', 4]]);
    expect(tornState(partials, stored, counts([['a|t|0', 10], ['b|t|0', 3]]))).toBe('unclear');
    expect(tornState(partials, stored, counts([['a|t|0', 11], ['b|t|0', 4]]))).toBe('unclear');
  });
});
