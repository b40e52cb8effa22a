import { describe, expect, it } from 'vitest';
import { V8_DEFAULT_SEMI_SPACE_MB, launchSemiSpaceMb, mainSemiSpaceMismatch, youngGenerationMb } from '../../../src/runtime/young-generation.js';

describe('the main thread semi-space Node was started with', () => {
  it("is V8's default when neither the command line nor NODE_OPTIONS names it", () => {
    expect(launchSemiSpaceMb([], undefined)).toBe(V8_DEFAULT_SEMI_SPACE_MB);
    expect(launchSemiSpaceMb(['--enable-source-maps'], '--max-old-space-size=4096')).toBe(V8_DEFAULT_SEMI_SPACE_MB);
  });

  it('reads every spelling V8 accepts', () => {
    expect(launchSemiSpaceMb(['--max-semi-space-size=32'], undefined)).toBe(32);
    expect(launchSemiSpaceMb(['--max_semi_space_size=48'], undefined)).toBe(48);
    expect(launchSemiSpaceMb(['--max-semi-space-size', '64'], undefined)).toBe(64);
    expect(launchSemiSpaceMb([], ' --max-semi-space-size=24  --trace-gc ')).toBe(24);
  });

  it('takes the command line over NODE_OPTIONS, and the last of several (as V8 does)', () => {
    expect(launchSemiSpaceMb(['--max-semi-space-size=16'], '--max-semi-space-size=64')).toBe(16);
    expect(launchSemiSpaceMb(['--max-semi-space-size=64', '--max-semi-space-size=8'], undefined)).toBe(8);
    expect(launchSemiSpaceMb([], '--max-semi-space-size=64')).toBe(64);
  });
});

describe('the operator warning at start', () => {
  it('is silent when the main thread runs with what the config asks', () => {
    expect(mainSemiSpaceMismatch(32, 32)).toBeNull();
    expect(mainSemiSpaceMismatch(0, V8_DEFAULT_SEMI_SPACE_MB)).toBeNull();
  });

  it('names both sizes and the Node option that fixes it', () => {
    expect(mainSemiSpaceMismatch(64, 16)).toBe(
      "the main thread's semi-space is 16 MB, semiSpaceMb asks 64: start Node with --max-semi-space-size=64 (shard threads follow the setting)",
    );
    expect(mainSemiSpaceMismatch(0, 32)).toMatch(/asks 16: start Node with --max-semi-space-size=16/);
  });
});

describe('a shard thread young generation', () => {
  it('is three semi-spaces, or left to V8 with 0', () => {
    expect(youngGenerationMb(32)).toBe(96);
    expect(youngGenerationMb(0)).toBeUndefined();
    expect(() => youngGenerationMb(-1)).toThrow(RangeError);
  });
});
