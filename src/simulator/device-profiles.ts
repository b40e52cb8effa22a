/**
 * Builds the simulated fleet's device profiles: ids like `sim-us-east-000042`, regions
 * assigned round-robin, and exact shares of schema-v2 and MessagePack devices (a device's
 * firmware decides its schema and encoding, as on a real fleet), shuffled by the seed so
 * they do not line up with regions.
 */
import type { DeviceProfile } from './device-event-source.js';
import type { Prng } from './prng.js';
import { SensorModel } from './sensor-model.js';

export interface ProfileOptions {
  devices: number;
  regions: readonly string[];
  v2Share: number;
  msgpackShare: number;
}

const V1_FIRMWARE = ['1.4.2', '1.5.0', '1.5.1'];
const V2_FIRMWARE = ['2.0.3', '2.1.0'];

export function simulatedDeviceId(region: string, index: number): string {
  return `sim-${region}-${String(index).padStart(6, '0')}`;
}

/** `count` indices of 0..n-1 chosen by the seed. */
function pick(n: number, count: number, rng: Prng): Set<number> {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const a = order[i] as number;
    order[i] = order[j] as number;
    order[j] = a;
  }
  return new Set(order.slice(0, count));
}

export function buildProfiles(opts: ProfileOptions, rng: Prng): DeviceProfile[] {
  const v2 = pick(opts.devices, Math.round(opts.devices * opts.v2Share), rng);
  const binary = pick(opts.devices, Math.round(opts.devices * opts.msgpackShare), rng);
  const profiles: DeviceProfile[] = [];
  for (let i = 0; i < opts.devices; i++) {
    const region = opts.regions[i % opts.regions.length] as string;
    const schemaVersion = v2.has(i) ? 2 : 1;
    const firmware = schemaVersion === 2 ? V2_FIRMWARE : V1_FIRMWARE;
    profiles.push({
      deviceId: simulatedDeviceId(region, i),
      region,
      schemaVersion,
      binary: binary.has(i),
      firmwareVersion: firmware[rng.int(firmware.length)] as string,
      sensors: SensorModel.randomSensors(rng),
    });
  }
  return profiles;
}
