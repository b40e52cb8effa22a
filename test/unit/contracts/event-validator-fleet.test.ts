/**
 * The validator's identity rules with a fleet token: events of any device_id, but only of the
 * token's region; device tokens keep DEVICE_MISMATCH and REGION_MISMATCH unchanged.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import { EventValidator } from '../../../src/contracts/event-validator.js';
import { processFrame } from '../../../src/contracts/frame.js';
import { isRejection } from '../../../src/contracts/rejection.js';
import type { DeviceIdentity, Rejection } from '../../../src/contracts/types.js';
import { RejectCode } from '../../../src/errors.js';
import { context, jsonFrame, v1, v2, validCaseArb } from './fixtures.js';

const validator = new EventValidator();
const FLEET: DeviceIdentity = { deviceId: 'edge-7', region: 'us-east', fleet: true };
const DEVICE: DeviceIdentity = { deviceId: 'thermo-0042', region: 'us-east' };

function accept(raw: unknown, identity: DeviceIdentity): CanonicalEvent {
  const result = validator.validate(raw, 0, context({ identity }));
  if (isRejection(result)) throw new Error(`expected acceptance, got ${result.message}`);
  return result;
}

function reject(raw: unknown, identity: DeviceIdentity): Rejection {
  const result = validator.validate(raw, 0, context({ identity }));
  if (!isRejection(result)) throw new Error('expected a rejection, the event was accepted');
  return result;
}

describe('EventValidator with a fleet token', () => {
  it('accepts events of other devices of its region, each keeping its own device_id', () => {
    for (const deviceId of ['thermo-0042', 'thermo-0043', 'pump:7', 'edge-7']) {
      expect(accept(v1({ device_id: deviceId }), FLEET).deviceId).toBe(deviceId);
      expect(accept(v2({ device_id: deviceId, region: 'us-east' }), FLEET).deviceId).toBe(deviceId);
    }
  });

  it('accepts any valid event of its region, whatever the device', () => {
    fc.assert(
      fc.property(validCaseArb, ({ raw, expected }) => {
        const identity: DeviceIdentity = { deviceId: 'edge-7', region: expected.region, fleet: true };
        expect(validator.validate(raw, 0, context({ identity }))).toEqual(expected);
      }),
    );
  });

  it('REGION_MISMATCH: an event of another region, filed under the token region with its own device', () => {
    const r = reject(v1({ device_id: 'thermo-0043', region: 'eu-west' }), FLEET);
    expect(r.code).toBe(RejectCode.REGION_MISMATCH);
    expect(r.message).toContain('region "eu-west"');
    expect(r.message).toContain('"us-east"');
    expect(r).toMatchObject({ deviceId: 'thermo-0043', region: 'us-east' });
  });

  it('still applies every other rule (unknown region, schema, event time)', () => {
    expect(reject(v1({ region: 'ap-south' }), FLEET).code).toBe(RejectCode.REGION_UNKNOWN);
    expect(reject(v1({ value: 'hot' }), FLEET).code).toBe(RejectCode.FIELD_INVALID);
    expect(reject(v1({ event_time: '2000-01-01T00:00:00Z' }), FLEET).code).toBe(RejectCode.EVENT_TIME_OUT_OF_RANGE);
  });

  it("names the event's device in a rejection when it has a valid one, else the fleet", () => {
    expect(reject(v1({ device_id: 'thermo-0043', value: 'hot' }), FLEET).deviceId).toBe('thermo-0043');
    expect(reject(v1({ device_id: 'bad id!' }), FLEET).deviceId).toBe('edge-7');
    expect(reject('not an event', FLEET).deviceId).toBe('edge-7');
  });

  it('validates a frame of several devices event by event', () => {
    const events = [v1({ device_id: 'a-1' }), v1({ device_id: 'b-2' }), v1({ device_id: 'c-3', region: 'eu-west' }), v1({ device_id: 'd-4' })];
    const result = processFrame(jsonFrame({ seq: 4, events }), false, context({ identity: FLEET }), validator);
    expect(result.accepted.map((e) => e.deviceId)).toEqual(['a-1', 'b-2', 'd-4']);
    expect(result.rejected).toMatchObject([{ index: 2, code: RejectCode.REGION_MISMATCH, deviceId: 'c-3', region: 'us-east' }]);
  });
});

describe('EventValidator with a device token (unchanged)', () => {
  it('DEVICE_MISMATCH for another device, REGION_MISMATCH for another region, the token device named', () => {
    expect(accept(v1(), DEVICE).deviceId).toBe('thermo-0042');
    const other = reject(v1({ device_id: 'thermo-0043' }), DEVICE);
    expect(other).toMatchObject({ code: RejectCode.DEVICE_MISMATCH, deviceId: 'thermo-0042', region: 'us-east' });
    expect(reject(v1({ region: 'eu-west' }), DEVICE)).toMatchObject({ code: RejectCode.REGION_MISMATCH, deviceId: 'thermo-0042' });
  });

  it('a device identity whose id equals a fleet id gets no fleet rights', () => {
    const sameName: DeviceIdentity = { deviceId: 'edge-7', region: 'us-east' };
    expect(reject(v1({ device_id: 'thermo-0042' }), sameName).code).toBe(RejectCode.DEVICE_MISMATCH);
  });
});
