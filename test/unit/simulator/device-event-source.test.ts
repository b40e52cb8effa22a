/**
 * The simulator's generated telemetry: realistic values, valid against the real contract in
 * JSON and MessagePack frames, v2 seq increasing per device, and the requested shares of
 * duplicates and late events.
 */
import { describe, expect, it } from 'vitest';
import { EventValidator } from '../../../src/contracts/event-validator.js';
import { processFrame } from '../../../src/contracts/frame.js';
import { DeviceEventSource, RECENT_EVENTS, type WireEvent, type WireEventV2 } from '../../../src/simulator/device-event-source.js';
import { buildProfiles } from '../../../src/simulator/device-profiles.js';
import { encodeFrame } from '../../../src/simulator/frame-codec.js';
import { Prng } from '../../../src/simulator/prng.js';

const REGIONS = ['us-east', 'eu-west'];
const validator = new EventValidator();
const HOUR = 3_600_000;

/** Every reading of a list of wire events, flattened. */
function readings(events: readonly WireEvent[]): { sensor_type: string; value: number; unit: string; t: number }[] {
  return events.flatMap((e) =>
    'readings' in e
      ? e.readings.map((r) => ({ ...r, t: Date.parse(e.event_time) }))
      : [{ sensor_type: e.sensor_type, value: e.value, unit: e.unit, t: Date.parse(e.event_time) }],
  );
}

function fleet(devices: number, seed: number, mix = { duplicateShare: 0, lateShare: 0 }, startMs = Date.now()): DeviceEventSource[] {
  const rng = new Prng(seed);
  return buildProfiles({ devices, regions: REGIONS, v2Share: 0.5, msgpackShare: 0.5 }, rng).map(
    (p, i) => new DeviceEventSource(p, rng.fork(i), mix, startMs),
  );
}

describe('device profiles', () => {
  it('names devices sim-<region>-NNNNNN, spreads them over regions, and gives exact v2/msgpack shares', () => {
    const profiles = buildProfiles({ devices: 40, regions: REGIONS, v2Share: 0.25, msgpackShare: 0.5 }, new Prng(3));
    expect(new Set(profiles.map((p) => p.deviceId)).size).toBe(40);
    for (const p of profiles) {
      expect(p.deviceId).toMatch(/^sim-(us-east|eu-west)-\d{6}$/);
      expect(p.deviceId.startsWith(`sim-${p.region}-`)).toBe(true);
      expect(p.sensors).toContain('temperature');
      expect(p.sensors).toContain('battery');
    }
    expect(profiles.filter((p) => p.region === 'us-east').length).toBe(20);
    expect(profiles.filter((p) => p.schemaVersion === 2).length).toBe(10);
    expect(profiles.filter((p) => p.binary).length).toBe(20);
    // The schema mix is not tied to one region.
    const v2Regions = new Set(profiles.filter((p) => p.schemaVersion === 2).map((p) => p.region));
    expect(v2Regions.size).toBe(2);
  });

  it('is reproducible from the seed', () => {
    const a = buildProfiles({ devices: 20, regions: REGIONS, v2Share: 0.5, msgpackShare: 0.5 }, new Prng(9));
    const b = buildProfiles({ devices: 20, regions: REGIONS, v2Share: 0.5, msgpackShare: 0.5 }, new Prng(9));
    expect(a).toEqual(b);
  });
});

describe('DeviceEventSource', () => {
  it('produces events the contract accepts, in JSON and MessagePack envelopes', () => {
    const now = Date.now();
    const sources = fleet(12, 5, { duplicateShare: 0.05, lateShare: 0.05 }, now - HOUR);
    let frames = 0;
    for (const src of sources) {
      const p = src.profile;
      for (let i = 0; i < 30; i++) {
        const t = now - HOUR + i * 120_000;
        const { events } = src.next(10, t, 1000);
        const frame = encodeFrame(i, events, p.binary);
        expect(typeof frame === 'string').toBe(!p.binary);
        const payload = typeof frame === 'string' ? new TextEncoder().encode(frame) : new Uint8Array(frame);
        const result = processFrame(
          payload,
          p.binary,
          {
            now: t,
            regions: REGIONS,
            identity: { deviceId: p.deviceId, region: p.region },
            maxFrameBytes: 1 << 20,
            maxEventsPerFrame: 1000,
            maxEventAgeMs: 7 * 24 * HOUR,
            maxEventAheadMs: 5 * 60_000,
          },
          validator,
        );
        expect(result.rejected).toEqual([]);
        expect(result.seq).toBe(i);
        expect(result.accepted.length).toBe(10);
        for (const e of result.accepted) {
          expect(e.schemaVersion).toBe(p.schemaVersion);
          expect(e.readings.length).toBe(p.schemaVersion === 2 ? p.sensors.length : 1);
        }
        frames++;
      }
    }
    expect(frames).toBe(12 * 30);
  });

  it('gives realistic values: temperature near 20 °C drifting slowly, humidity %, pressure hPa, battery falling', () => {
    const start = Date.parse('2026-03-01T00:00:00Z');
    for (const src of fleet(20, 11, undefined, start)) {
      const all: ReturnType<typeof readings> = [];
      for (let i = 0; i < 360; i++) all.push(...readings(src.next(1, start + i * 30_000, 0).events)); // 3 hours
      const of = (type: string): ReturnType<typeof readings> => all.filter((r) => r.sensor_type === type);
      const temps = of('temperature');
      expect(temps.length).toBeGreaterThan(0);
      for (const r of temps) {
        expect(r.unit).toBe('°C');
        expect(r.value).toBeGreaterThan(5);
        expect(r.value).toBeLessThan(35);
      }
      // Slow drift: neighbouring readings (≤ 2 min apart) differ by far less than a degree or two.
      for (let i = 1; i < temps.length; i++) expect(Math.abs((temps[i]?.value ?? 0) - (temps[i - 1]?.value ?? 0))).toBeLessThan(2);
      // …but the signal is not constant.
      expect(new Set(temps.map((r) => r.value)).size).toBeGreaterThan(10);
      for (const r of of('humidity')) {
        expect(r.unit).toBe('%');
        expect(r.value).toBeGreaterThanOrEqual(0);
        expect(r.value).toBeLessThanOrEqual(100);
      }
      for (const r of of('pressure')) {
        expect(r.unit).toBe('hPa');
        expect(r.value).toBeGreaterThan(950);
        expect(r.value).toBeLessThan(1080);
      }
      const battery = of('battery');
      for (const r of battery) {
        expect(r.unit).toBe('V');
        expect(r.value).toBeGreaterThanOrEqual(3.0);
        expect(r.value).toBeLessThanOrEqual(4.21);
      }
      const mean = (xs: { value: number }[]): number => xs.reduce((a, r) => a + r.value, 0) / xs.length;
      expect(mean(battery.slice(-10))).toBeLessThan(mean(battery.slice(0, 10)));
    }
  });

  it('numbers v2 events with seq increasing by one per device', () => {
    const start = Date.now();
    for (const src of fleet(10, 21, undefined, start).filter((s) => s.profile.schemaVersion === 2)) {
      const seqs: number[] = [];
      for (let i = 0; i < 20; i++) {
        for (const e of src.next(7, start + i * 1000, 100).events) seqs.push((e as WireEventV2).seq);
      }
      expect(seqs.length).toBe(140);
      seqs.forEach((s, i) => expect(s).toBe((seqs[0] ?? 0) + i));
    }
  });

  it('repeats recent events exactly and back-dates late ones, in the requested shares', () => {
    const start = Date.now();
    const [src] = fleet(1, 8, { duplicateShare: 0.2, lateShare: 0.1 }, start);
    if (!src) throw new Error('no device');
    const seen = new Map<string, WireEvent>();
    const fresh: string[] = [];
    let events = 0;
    let duplicates = 0;
    let late = 0;
    for (let i = 0; i < 500; i++) {
      const now = start + i * 1000;
      const batch = src.next(10, now, 50);
      events += batch.events.length;
      duplicates += batch.duplicates;
      late += batch.late;
      let repeats = 0;
      for (const e of batch.events) {
        const earlier = seen.get(e.event_id);
        if (earlier) {
          expect(e).toEqual(earlier);
          // A repeat of one of the device's last RECENT_EVENTS fresh events, not of any older one.
          expect(fresh.slice(-RECENT_EVENTS)).toContain(e.event_id);
          repeats++;
        } else fresh.push(e.event_id);
        seen.set(e.event_id, e);
        expect(Date.parse(e.event_time)).toBeLessThanOrEqual(now);
      }
      expect(repeats).toBe(batch.duplicates);
    }
    expect(duplicates / events).toBeGreaterThan(0.15);
    expect(duplicates / events).toBeLessThan(0.25);
    expect(late / (events - duplicates)).toBeGreaterThan(0.06);
    expect(late / (events - duplicates)).toBeLessThan(0.14);
  });
});
