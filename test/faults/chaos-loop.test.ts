/**
 * Chaos loop: the shoal process dies again and again under continuous load, and restarts on the
 * same data dir each time. Most cycles `kill -9` it at a random moment; every third one lets it
 * SIGKILL itself between a flush's sink writes and its checkpoint (the test-only fault hook
 * SHOAL_FAULT_CRASH_AFTER_SINKS=N), which may also strike while a restart re-runs an open flush.
 * Devices keep their unacked frames and resend them, same event ids, after reconnecting, and now
 * and then resend events already acked. At the end, through the query API, every acked reading
 * is there exactly once and the 1m and 1h rollups count and sum exactly the distinct acked
 * events; the raw archive holds each acked reading once (invariants 1 and 2).
 *
 * Everything random (event ids, values, kill moments, fault points) comes from one seed, printed
 * at the start: rerun a failure with SHOAL_CHAOS_SEED=<seed>.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateSecret } from '../../src/contracts/auth-secret.js';
import { issueDeviceToken } from '../../src/contracts/device-token.js';
import { Prng } from '../../src/simulator/prng.js';
import { DirObjectStore } from '../../src/sinks/dir-object-store.js';
import { ChaosDevice, SENSORS } from '../helpers/chaos-device.js';
import { expectedRollups, readingsOf } from '../helpers/events.js';
import { deviceReadings, deviceWindows, type TimeSpan } from '../helpers/query-api.js';
import { CLI, killOrphanRedis, startShoal, tempDataDir, waitFor, type ShoalProcess } from '../helpers/shoal-process.js';
import { HOUR_MS, MINUTE_MS, archivedReadings } from '../helpers/sink-snapshot.js';

const SEED = Number(process.env['SHOAL_CHAOS_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const CYCLES = 24;
const DEVICES = 12;
const REGIONS = ['us-east', 'eu-west'] as const;
const CONFIG = { partitions: 2, flush: { intervalMs: 150 } };
const run = promisify(execFile);
const SHARDS = 2;

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves true once the process has exited, or false when `ms` pass first. */
function exited(p: ShoalProcess, ms: number): Promise<boolean> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    p.child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

interface Tally {
  kills: number;
  faultDeaths: number;
  diedInRecovery: number;
  unackedAtDeaths: number;
  logs: string;
}

let shoal: ShoalProcess | undefined;
let dataDir: string | undefined;

describe('chaos loop: repeated kill -9 under load', () => {
  afterAll(async () => {
    await shoal?.cleanup();
    if (dataDir) {
      killOrphanRedis(dataDir);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('keeps every acked event exactly once across many crashes', async () => {
    console.log(`chaos seed ${SEED} (reproduce with SHOAL_CHAOS_SEED=${SEED})`);
    const prng = new Prng(SEED);
    const dir = (dataDir = tempDataDir('shoal-chaos-'));
    const secret = loadOrCreateSecret(dir);
    const now = Date.now();
    const options = { window: 4, paceMs: 40, spreadMs: 2 * HOUR_MS, duplicateChance: 0.15 };
    const devices = await Promise.all(
      Array.from({ length: DEVICES }, async (_, i) => {
        const region = REGIONS[i % REGIONS.length]!;
        const id = `chaos-${region}-${i}`;
        return new ChaosDevice(id, region, await issueDeviceToken(secret, id, region), prng.fork(i), now, options);
      }),
    );
    const unacked = (): number => devices.reduce((n, d) => n + d.outbox.length, 0);
    const tally: Tally = { kills: 0, faultDeaths: 0, diedInRecovery: 0, unackedAtDeaths: 0, logs: '' };

    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const crashAfterSinks = cycle % 3 === 2 ? 1 + prng.int(6) : 0;
      const killAfterMs = 200 + prng.int(1300);
      const env = crashAfterSinks ? { SHOAL_FAULT_CRASH_AFTER_SINKS: String(crashAfterSinks) } : {};
      try {
        shoal = await startShoal({ dataDir: dir, shards: SHARDS, config: CONFIG, env });
      } catch (err) {
        // The fault struck while the new process re-ran an open flush, before it was ready.
        if (crashAfterSinks && String(err).includes('fault injection')) {
          tally.diedInRecovery++;
          continue;
        }
        throw err;
      }
      const running = shoal;
      let stop = false;
      const streams = Promise.all(devices.map((d) => d.stream(running.ingestUrl, () => stop)));
      if (crashAfterSinks && (await exited(running, 10_000))) {
        expect(running.logs(), 'the process died by the fault hook').toContain('fault injection');
        tally.faultDeaths++;
      } else {
        await delay(killAfterMs);
        expect(running.child.exitCode ?? running.child.signalCode, 'alive until killed').toBeNull();
        await running.kill9();
        tally.kills++;
      }
      stop = true;
      await streams;
      tally.unackedAtDeaths += unacked();
      tally.logs += running.logs();
    }

    // Last start: no faults. Devices resend what is unacked, send a little more, and stop.
    shoal = await startShoal({ dataDir: dir, shards: SHARDS, config: CONFIG });
    const last = shoal;
    const stopAt = Date.now() + 2000;
    await Promise.all(devices.map((d) => d.stream(last.ingestUrl, () => Date.now() > stopAt)));
    tally.logs += last.logs();
    expect(unacked(), 'frames still unacked after the last run').toBe(0);
    for (const d of devices) expect(d.rejections, `rejections of ${d.id}`).toEqual([]);

    const span: TimeSpan = { from: now - 3 * HOUR_MS, to: now + HOUR_MS };
    for (const d of devices) {
      const want = new Set([...d.acked.values()].flatMap((e) => readingsOf(e).map((r) => `${r.eventId}/${r.index}`)));
      const got = await waitFor(`readings of ${d.id}`, async () => {
        const rows = await deviceReadings(last.opsUrl, d.id, span);
        return rows.length >= want.size ? rows : undefined;
      }).catch(async (err: unknown) => {
        // Keep what explains a failure: the pipeline's own view and its logs.
        mkdirSync('test-artifacts', { recursive: true });
        const stats = await fetch(`${last.opsUrl}/api/v1/stats`).then((r) => r.text(), String);
        const rows = await deviceReadings(last.opsUrl, d.id, span).catch((): string[] => []);
        const missing = [...want].filter((k) => !rows.includes(k));
        const dlq = await fetch(`${last.opsUrl}/api/v1/dlq?region=${d.region}&limit=100`).then((r) => r.text(), String);
        const report = { seed: SEED, device: d.id, missing, stats: JSON.parse(stats) as unknown, dlq };
        writeFileSync('test-artifacts/chaos-failure.json', JSON.stringify(report, null, 2));
        writeFileSync('test-artifacts/chaos-failure.log', tally.logs);
        throw err;
      });
      expect(got.length, `${d.id}: rows returned`).toBe(want.size);
      expect(new Set(got), `${d.id}: the acked readings`).toEqual(want);
      for (const [step, width] of [
        ['1m', MINUTE_MS],
        ['1h', HOUR_MS],
      ] as const) {
        for (const sensor of SENSORS) {
          const expected = new Map([...expectedRollups(d.acked.values(), width)].filter(([k]) => k.includes(`|${sensor}|`)));
          const wantCount = [...expected.values()].reduce((n, w) => n + w.count, 0);
          const windows = await waitFor(`${d.id} ${sensor} ${step} rollups`, async () => {
            const w = await deviceWindows(last.opsUrl, d.id, sensor, step, span);
            return [...w.values()].reduce((n, x) => n + x.count, 0) >= wantCount ? w : undefined;
          }).catch(async (err: unknown) => {
            // Keep both rollups of the device beside what they should hold, and the logs.
            mkdirSync('test-artifacts', { recursive: true });
            const got = async (s: '1m' | '1h'): Promise<unknown> =>
              Object.fromEntries(await deviceWindows(last.opsUrl, d.id, sensor, s, span).catch(() => new Map()));
            const report = { seed: SEED, device: d.id, sensor, step, expected: Object.fromEntries(expected), got1m: await got('1m'), got1h: await got('1h') };
            writeFileSync('test-artifacts/chaos-failure.json', JSON.stringify(report, null, 2));
            writeFileSync('test-artifacts/chaos-failure.log', tally.logs);
            throw err;
          });
          const plain = new Map([...expected].map(([k, w]) => [k, { count: w.count, sum: w.sum }]));
          expect(windows, `${d.id} ${sensor} ${step} rollups`).toEqual(plain);
        }
      }
    }
    // The audit agrees: per device and hour, accepted − duplicates = archived = stored = rolled up.
    const audit = await run(process.execPath, [CLI, 'audit', '--ops', last.opsUrl, '--from', new Date(span.from).toISOString(), '--to', new Date(span.to).toISOString()]).catch(
      (err: { code: number; stdout: string }) => ({ code: err.code, stdout: err.stdout }),
    );
    expect(audit.stdout, 'shoal audit').toMatch(/ 0 with differences;/);
    expect((audit as { code?: number }).code ?? 0, 'shoal audit exit code').toBe(0);
    expect(await last.stop(), 'clean shutdown').toBe(0);

    // The raw archive holds every acked reading once (read after the clean stop flushed everything).
    const archived = await archivedReadings(new DirObjectStore(join(dir, 'objects')), 'raw/');
    const acked = new Set(devices.flatMap((d) => [...d.acked.values()].flatMap((e) => readingsOf(e).map((r) => `${r.eventId}/${r.index}`))));
    expect(new Set(archived.keys()), 'archived readings').toEqual(acked);
    expect([...archived].filter(([, n]) => n !== 1), 'readings archived more than once').toEqual([]);

    // The faults really happened: deaths between sinks and checkpoint, open flushes re-run,
    // frames in flight at the deaths, and duplicates resent.
    const reruns = occurrences(tally.logs, 're-running unfinished flush');
    // Re-runs that found rollup partials lost by a torn insert and put them back (rare: the
    // kill must land inside chDB's insert, between its dedup record and its part).
    const repaired = occurrences(tally.logs, 'rollup partials lost by a torn insert');
    const resent = devices.reduce((n, d) => n + d.resentFrames, 0);
    const duplicates = devices.reduce((n, d) => n + d.duplicatesSent, 0);
    console.log(
      `chaos seed ${SEED}: ${tally.kills} kill -9, ${tally.faultDeaths} deaths after sinks, ${tally.diedInRecovery} during recovery, ` +
        `${reruns} flushes re-run (${repaired} with torn rollups put back), ${tally.unackedAtDeaths} frames unacked at deaths, ${resent} frames resent, ` +
        `${duplicates} acked events resent, ${acked.size} readings`,
    );
    expect(tally.kills + tally.faultDeaths + tally.diedInRecovery).toBe(CYCLES);
    expect(tally.faultDeaths + tally.diedInRecovery, 'deaths between sinks and checkpoint').toBeGreaterThan(0);
    expect(reruns, 'open flushes re-run by a restart').toBeGreaterThan(0);
    expect(tally.unackedAtDeaths, 'frames unacked at the deaths').toBeGreaterThan(0);
    expect(duplicates, 'acked events resent').toBeGreaterThan(0);
  }, 240_000);
});
