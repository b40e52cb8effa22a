/**
 * `shoal start` and the main thread's semi-space: Node fixes it at launch, so the CLI can only
 * tell the operator when it differs from what the config asks of every thread (semiSpaceMb).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startShoal, type ShoalProcess } from '../helpers/shoal-process.js';

let shoal: ShoalProcess | undefined;

function warnings(p: ShoalProcess): string[] {
  return p
    .logs()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number | string; msg: string })
    .filter((l) => l.level === 40 || l.level === 'warn')
    .map((l) => l.msg);
}

describe("the main thread's semi-space at start", () => {
  afterEach(async () => {
    await shoal?.cleanup();
    shoal = undefined;
  });

  it('draws a warning naming the fix when Node was started without the configured size', async () => {
    shoal = await startShoal({ shards: 1, config: { partitions: 1, semiSpaceMb: 48 }, env: { NODE_OPTIONS: '--max-semi-space-size=24' } });
    expect(warnings(shoal)).toContain(
      "the main thread's semi-space is 24 MB, semiSpaceMb asks 48: start Node with --max-semi-space-size=48 (shard threads follow the setting)",
    );
  });

  it('is quiet with the default setting, and when Node was started with the configured size', async () => {
    shoal = await startShoal({ shards: 1, config: { partitions: 1 } });
    expect(warnings(shoal).filter((m) => m.includes('semi-space'))).toEqual([]);
    await shoal.cleanup();
    shoal = await startShoal({ shards: 1, config: { partitions: 1, semiSpaceMb: 48 }, env: { NODE_OPTIONS: '--max-semi-space-size=48' } });
    expect(warnings(shoal).filter((m) => m.includes('semi-space'))).toEqual([]);
  });
});
