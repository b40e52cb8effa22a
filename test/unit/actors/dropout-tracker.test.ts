/**
 * DropoutTracker: a regular device is flagged quiet exactly when its silence passes k of its
 * intervals, sequence gaps are counted exactly, memory stays bounded, and the merged list is
 * tagged, ordered worst first and capped.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DropoutTracker, MIN_INTERVAL_MS, mergeDropouts, type Dropout } from '../../../src/actors/dropout-tracker.js';

const T0 = Date.UTC(2024, 0, 15, 12, 0, 0);
const HOUR = 3_600_000;

/** A device reporting every `intervalMs`, `arrivals` times from T0; returns its last arrival. */
function regular(tracker: DropoutTracker, device: string, intervalMs: number, arrivals: number): number {
  let t = T0;
  for (let i = 0; i < arrivals; i++) {
    t = T0 + i * intervalMs;
    tracker.observe(device, t, null, t);
  }
  return t;
}

function quiet(list: Dropout[], device: string): Extract<Dropout, { kind: 'quiet' }> | undefined {
  return list.find((d): d is Extract<Dropout, { kind: 'quiet' }> => d.kind === 'quiet' && d.device_id === device);
}

function gap(list: Dropout[], device: string): Extract<Dropout, { kind: 'seq_gap' }> | undefined {
  return list.find((d): d is Extract<Dropout, { kind: 'seq_gap' }> => d.kind === 'seq_gap' && d.device_id === device);
}

describe('DropoutTracker: quiet devices', () => {
  it('flags a regular device once, and only once, its silence exceeds k intervals', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: MIN_INTERVAL_MS, max: 10 * 60_000 }),
        fc.integer({ min: 4, max: 40 }),
        fc.integer({ min: 1, max: 10 }),
        fc.double({ min: 0, max: 20, noNaN: true }),
        (interval, arrivals, k, silenceInIntervals) => {
          const tracker = new DropoutTracker();
          const last = regular(tracker, 'dev', interval, arrivals);
          const silence = Math.round(silenceInIntervals * interval);
          const flagged = quiet(tracker.dropouts(last + silence, k), 'dev');
          expect(flagged !== undefined).toBe(silence > k * interval);
          // Always quiet just past k intervals, never at exactly k.
          expect(quiet(tracker.dropouts(last + k * interval, k), 'dev')).toBeUndefined();
          const late = quiet(tracker.dropouts(last + k * interval + 1, k), 'dev');
          // Reported in seconds, to 0.1 s.
          expect(Math.abs((late?.interval_s ?? NaN) - interval / 1000)).toBeLessThanOrEqual(0.05 + 1e-9);
        },
      ),
    );
  });

  it('does not flag a device before it has reported minSamples intervals', () => {
    const tracker = new DropoutTracker();
    const last = regular(tracker, 'dev', 1000, 3); // two intervals
    expect(quiet(tracker.dropouts(last + HOUR, 5, 3), 'dev')).toBeUndefined();
    tracker.observe('dev', last + 1000, null, last + 1000);
    expect(quiet(tracker.dropouts(last + HOUR, 5, 3), 'dev')?.silent_s).toBeCloseTo((HOUR - 1000) / 1000, 1);
  });

  it('stops flagging a quiet device as soon as it reports again', () => {
    const tracker = new DropoutTracker();
    const last = regular(tracker, 'dev', 1000, 10);
    expect(quiet(tracker.dropouts(last + 60_000), 'dev')).toBeDefined();
    tracker.observe('dev', last + 60_000, null, last + 60_000);
    expect(quiet(tracker.dropouts(last + 60_500), 'dev')).toBeUndefined();
  });

  it('counts a frame of several events as one arrival and never learns an interval under 100 ms', () => {
    const tracker = new DropoutTracker();
    for (let i = 0; i < 10; i++) {
      // Ten events in one frame each time: same bus time, increasing event times.
      for (let j = 0; j < 10; j++) tracker.observe('batch', T0 + i * 2000 + j, null, T0 + i * 2000);
      tracker.observe('fast', T0 + i * 10, null, T0 + i * 10);
    }
    const flagged = tracker.dropouts(T0 + 20 * 2000);
    expect(quiet(flagged, 'batch')?.interval_s).toBe(2);
    expect(quiet(flagged, 'fast')?.interval_s).toBe(MIN_INTERVAL_MS / 1000);
  });

  it('does not shorten the learned interval when a device resends old events', () => {
    const tracker = new DropoutTracker();
    const last = regular(tracker, 'dev', 10_000, 10);
    // A burst of resends of old events, 100 ms apart, right after the last one.
    for (let i = 1; i <= 20; i++) tracker.observe('dev', T0, null, last + i * 100);
    const flagged = quiet(tracker.dropouts(last + 2000 + 60_000), 'dev');
    expect(flagged?.interval_s).toBe(10);
  });

  it('forgets a device silent for more than 24 h', () => {
    const tracker = new DropoutTracker();
    const last = regular(tracker, 'dev', 1000, 10);
    expect(quiet(tracker.dropouts(last + 24 * HOUR), 'dev')).toBeDefined();
    expect(tracker.dropouts(last + 24 * HOUR + 1)).toEqual([]);
    expect(tracker.size).toBe(0);
  });

  it('forgets each device 24 h after its own last arrival, whatever order they were seen in', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 30 * HOUR })), { minLength: 1, maxLength: 40 }), (steps) => {
        const tracker = new DropoutTracker();
        const lastSeen = new Map<string, number>();
        let now = T0;
        for (const [device, gap] of steps) {
          now += gap;
          tracker.observe(`dev-${device}`, now, null, now);
          lastSeen.set(`dev-${device}`, now);
          for (const [id, seen] of lastSeen) if (now - seen > 24 * HOUR) lastSeen.delete(id);
          expect(tracker.size).toBe(lastSeen.size);
        }
      }),
    );
  });
});

describe('DropoutTracker: sequence gaps', () => {
  it('counts exactly the sequence numbers skipped, ignoring resends and reordering', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constant(null)), { maxLength: 60 }), (seqs) => {
        const tracker = new DropoutTracker();
        let highest: number | null = null;
        let missing = 0;
        seqs.forEach((seq, i) => {
          tracker.observe('dev', T0 + i, seq, T0 + i * 1000);
          if (seq === null) return;
          if (highest !== null && seq > highest) missing += seq - highest - 1;
          if (highest === null || seq > highest) highest = seq;
        });
        const found = gap(tracker.dropouts(T0 + seqs.length * 1000), 'dev');
        if (missing === 0) expect(found).toBeUndefined();
        else expect(found).toEqual({ device_id: 'dev', kind: 'seq_gap', missing, last_seq: highest });
      }),
    );
  });

  it('reports seq 1, 2, 3, 7 as 3 missing after 3', () => {
    const tracker = new DropoutTracker();
    [1, 2, 3, 7].forEach((seq, i) => tracker.observe('dev', T0 + i, seq, T0 + i));
    expect(gap(tracker.dropouts(T0 + 10), 'dev')).toEqual({ device_id: 'dev', kind: 'seq_gap', missing: 3, last_seq: 7 });
  });
});

describe('DropoutTracker: memory bound', () => {
  it('tracks at most maxDevices, keeping the most recently seen', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 300 }), (maxDevices, arrivals) => {
        const tracker = new DropoutTracker({ maxDevices });
        arrivals.forEach((d, i) => tracker.observe(`dev-${d}`, T0 + i, i, T0 + i));
        expect(tracker.size).toBeLessThanOrEqual(maxDevices);
        // The most recently seen devices are the ones kept: their gaps are still reported.
        const recent = [...new Set([...arrivals].reverse())].slice(0, maxDevices);
        expect(tracker.size).toBe(recent.length);
        const flagged = new Set(tracker.dropouts(T0 + arrivals.length).map((x) => x.device_id));
        for (const d of flagged) expect(recent.map((r) => `dev-${r}`)).toContain(d);
      }),
    );
  });
});

describe('mergeDropouts', () => {
  it('tags each dropout with its region, puts quiet devices first, the worst first, and caps the list', () => {
    const a: Dropout[] = [
      { device_id: 'a1', kind: 'seq_gap', missing: 2, last_seq: 10 },
      { device_id: 'a2', kind: 'quiet', silent_s: 10, interval_s: 1 },
    ];
    const b: Dropout[] = [
      { device_id: 'b1', kind: 'quiet', silent_s: 100, interval_s: 1 },
      { device_id: 'b2', kind: 'seq_gap', missing: 50, last_seq: 99 },
    ];
    const merged = mergeDropouts([
      { region: 'eu', dropouts: a },
      { region: 'us', dropouts: b },
    ]);
    expect(merged.map((d) => `${d.region}/${d.device_id}`)).toEqual(['us/b1', 'eu/a2', 'us/b2', 'eu/a1']);
    expect(mergeDropouts([{ region: 'eu', dropouts: a }], 1)).toHaveLength(1);
  });
});
