/**
 * Realistic sensor curves for one simulated device. Each environmental sensor follows a
 * mean-reverting random walk (Ornstein–Uhlenbeck: slow drift around a per-device set point)
 * plus measurement noise; the battery voltage falls slowly and steadily with time. Values
 * are rounded to the resolution a real sensor reports.
 */
import type { Prng } from './prng.js';

/** A reading as it appears on the wire (DESIGN §3). */
export interface WireReading {
  sensor_type: string;
  value: number;
  unit: string;
}

interface DriftSpec {
  kind: 'drift';
  type: string;
  unit: string;
  /** Mean and spread of the per-device set point. */
  center: number;
  centerSpread: number;
  /** Stationary standard deviation of the slow drift. */
  driftSd: number;
  /** Mean-reversion time, seconds. */
  reversionSec: number;
  noiseSd: number;
  min: number;
  max: number;
  decimals: number;
}

interface BatterySpec {
  kind: 'battery';
  type: string;
  unit: string;
}

type SensorSpec = DriftSpec | BatterySpec;

export const SENSOR_SPECS: Readonly<Record<string, SensorSpec>> = {
  temperature: {
    kind: 'drift', type: 'temperature', unit: '°C', center: 20, centerSpread: 2, driftSd: 1.5,
    reversionSec: 1800, noiseSd: 0.05, min: -40, max: 85, decimals: 2,
  },
  humidity: {
    kind: 'drift', type: 'humidity', unit: '%', center: 45, centerSpread: 8, driftSd: 5,
    reversionSec: 2400, noiseSd: 0.3, min: 0, max: 100, decimals: 1,
  },
  pressure: {
    kind: 'drift', type: 'pressure', unit: 'hPa', center: 1013.25, centerSpread: 4, driftSd: 4,
    reversionSec: 7200, noiseSd: 0.1, min: 870, max: 1085, decimals: 1,
  },
  battery: { kind: 'battery', type: 'battery', unit: 'V' },
};

/** Battery voltage never reported below this (the device would shut down). */
export const BATTERY_FLOOR_V = 3.0;

interface DriftState {
  kind: 'drift';
  spec: DriftSpec;
  setPoint: number;
  level: number;
  lastMs: number;
}

interface BatteryState {
  kind: 'battery';
  spec: BatterySpec;
  startV: number;
  /** Volts lost per hour. */
  drainPerHour: number;
  startMs: number;
}

type SensorState = DriftState | BatteryState;

function round(x: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(x * f) / f;
}

export class SensorModel {
  readonly sensorTypes: readonly string[];
  private readonly states: SensorState[];

  /** A device with temperature and battery, usually humidity, sometimes pressure. */
  static randomSensors(rng: Prng): string[] {
    const types = ['temperature'];
    if (rng.chance(0.8)) types.push('humidity');
    if (rng.chance(0.5)) types.push('pressure');
    types.push('battery');
    return types;
  }

  constructor(
    private readonly rng: Prng,
    sensorTypes: readonly string[],
    startMs: number,
  ) {
    this.states = sensorTypes.map((type): SensorState => {
      const spec = SENSOR_SPECS[type];
      if (!spec) throw new RangeError(`unknown simulated sensor: ${type}`);
      if (spec.kind === 'battery') {
        return { kind: 'battery', spec, startV: rng.range(3.75, 4.2), drainPerHour: rng.range(0.005, 0.03), startMs };
      }
      const setPoint = spec.center + spec.centerSpread * rng.normal();
      return { kind: 'drift', spec, setPoint, level: setPoint + spec.driftSd * rng.normal(), lastMs: startMs };
    });
    this.sensorTypes = this.states.map((s) => s.spec.type);
  }

  /** Read sensor number `index` (modulo the sensor count) at time `nowMs`. */
  read(index: number, nowMs: number): WireReading {
    const state = this.states[index % this.states.length];
    if (!state) throw new RangeError('device has no sensors');
    return this.sample(state, nowMs);
  }

  /** Read every sensor at time `nowMs`. */
  readAll(nowMs: number): WireReading[] {
    return this.states.map((s) => this.sample(s, nowMs));
  }

  private sample(state: SensorState, nowMs: number): WireReading {
    if (state.kind === 'battery') {
      const b = state;
      const hours = Math.max(0, nowMs - b.startMs) / 3_600_000;
      const v = Math.max(BATTERY_FLOOR_V, b.startV - b.drainPerHour * hours + 0.002 * this.rng.normal());
      return { sensor_type: b.spec.type, value: round(v, 3), unit: b.spec.unit };
    }
    const d = state;
    const spec = d.spec;
    const dt = Math.min(Math.max(0, nowMs - d.lastMs) / 1000, 3600);
    d.lastMs = Math.max(d.lastMs, nowMs);
    if (dt > 0) {
      // Exact OU step: decay towards the set point, add the matching amount of fresh noise.
      const decay = Math.exp(-dt / spec.reversionSec);
      d.level = d.setPoint + (d.level - d.setPoint) * decay + spec.driftSd * Math.sqrt(1 - decay * decay) * this.rng.normal();
    }
    const v = Math.min(spec.max, Math.max(spec.min, d.level + spec.noiseSd * this.rng.normal()));
    return { sensor_type: spec.type, value: round(v, spec.decimals), unit: spec.unit };
  }
}
