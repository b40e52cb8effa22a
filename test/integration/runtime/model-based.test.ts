/**
 * Model-based test of the flush runtime (fc.commands + fc.asyncModelRun): one PartitionProcessor
 * per owner of one (region, partition), in-process, against a real redis-server, the real
 * embedded ClickHouse (chDB) and a directory object store. Random sequences of appends,
 * duplicate resends, polls, flushes, crashes at every point of a flush, takeovers by newer
 * owners and zombie owners waking up are checked against the model after every command; at
 * the end a fresh owner drains the stream and every appended reading must be in `events` and
 * in the raw archive exactly once, with rollup_1m / rollup_1h count and sum per window equal to
 * those of the distinct events (invariants 1 and 2).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRASH_POINTS } from '../../helpers/crash-gate.js';
import { PartitionRig, startRuntimeServices, type RuntimeServices } from '../../helpers/partition-rig.js';
import { runtimeCommands } from '../../helpers/runtime-commands.js';
import { RuntimeModel, checkSinks, emptyCoverage } from '../../helpers/runtime-model.js';
import { MINUTE_MS, expectedReadings } from '../../helpers/sink-snapshot.js';

let services: RuntimeServices;
let runs = 0;

beforeAll(async () => {
  services = await startRuntimeServices();
});
afterAll(async () => {
  await services?.stop();
});

describe('partition runtime against its model', () => {
  it('keeps every appended reading exactly once through crashes, takeovers and zombies', async () => {
    const now = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
    const coverage = emptyCoverage();
    await fc.assert(
      fc.asyncProperty(fc.commands(runtimeCommands, { maxCommands: 60, size: 'large' }), async (commands) => {
        const rig = new PartitionRig(services, ++runs);
        await rig.init();
        if (!(await rig.restart(null))) throw new Error('the first owner must come up');
        const model = new RuntimeModel(runs, now, coverage);
        await fc.asyncModelRun(() => ({ model, real: rig }), commands);

        // A fresh owner finishes whatever is open and drains the stream.
        if ((await rig.checkpoint()).intentTo !== null) coverage.reruns++;
        await rig.settle();
        const ck = await rig.checkpoint();
        expect(ck.intentTo).toBeNull();
        expect(ck.offset).toBe(model.entries.at(-1)?.id ?? '0-0');
        await checkSinks(model, rig);
        const all = expectedReadings(model.distinct.values());
        expect((await rig.snapshot()).readings.size).toBe(all.size);
        const archived = await rig.archive();
        expect(new Set(archived.keys()), 'archived readings').toEqual(new Set(all.keys()));
        for (const [key, times] of archived) expect(times, `archive copies of ${key}`).toBe(1);

        // Owners abandoned along the way wake up late: fenced, and their writes change nothing.
        for (const z of await rig.wakeZombies()) {
          expect(z.fenced, `zombie of epoch ${z.epoch}`).toBe(true);
          expect(z.after).toEqual(z.before);
        }
        await checkSinks(model, rig);
        expect(await rig.archive()).toEqual(archived);
      }),
      { numRuns: 25 },
    );
    // The runs must really have crashed at every point, re-run open flushes and woken zombies.
    console.log('fault coverage', JSON.stringify(coverage));
    for (const point of CRASH_POINTS) expect(coverage.died[point], `flushes that died at ${point}`).toBeGreaterThan(0);
    expect(coverage.reruns).toBeGreaterThan(0);
    expect(coverage.supersededWakes).toBeGreaterThan(0);
  }, 120_000);
});
