/**
 * The size of V8's young generation, the `semiSpaceMb` setting. An event's objects live from
 * its frame until its bus append is acknowledged (gateway) or from its bus read until its
 * flush (shard): often longer than V8's default semi-space (16 MB) takes to fill at tens of
 * thousands of events a second. Objects that outlive two young collections are copied twice
 * and promoted, then die in the old generation, where only a full collection reclaims them.
 * A larger semi-space lets them die young.
 *
 * A shard thread gets it through its Worker's resource limits, which count the young
 * generation whole: two semi-spaces and the new large-object space, 3× the semi-space. The
 * main thread's heap is sized once, when Node starts, by `--max-semi-space-size` on Node's
 * command line or in NODE_OPTIONS: the CLI can only compare it with the setting.
 */

/** V8's semi-space when nothing sets it, MB (64-bit platforms). */
export const V8_DEFAULT_SEMI_SPACE_MB = 16;

/** The young generation a Worker's `resourceLimits.maxYoungGenerationSizeMb` asks for; undefined leaves V8's own. */
export function youngGenerationMb(semiSpaceMb: number): number | undefined {
  if (!Number.isInteger(semiSpaceMb) || semiSpaceMb < 0) throw new RangeError(`semi-space must be a non-negative integer of MB, got ${semiSpaceMb}`);
  return semiSpaceMb === 0 ? undefined : 3 * semiSpaceMb;
}

const FLAG = /^--max[-_]semi[-_]space[-_]size(?:=(.*))?$/;

/**
 * The semi-space, MB, that Node's options gave this process's main thread: the last
 * `--max-semi-space-size` among NODE_OPTIONS and then the command line's (`execArgv`; V8
 * keeps the last it reads), or V8's default when neither names it.
 */
export function launchSemiSpaceMb(execArgv: readonly string[], nodeOptions: string | undefined): number {
  const args = [...(nodeOptions ?? '').split(/\s+/).filter((a) => a !== ''), ...execArgv];
  let mb = V8_DEFAULT_SEMI_SPACE_MB;
  for (let i = 0; i < args.length; i++) {
    const match = FLAG.exec(args[i] as string);
    if (match === null) continue;
    const value = Number(match[1] ?? args[++i]);
    if (Number.isInteger(value) && value > 0) mb = value;
  }
  return mb;
}

/**
 * Null when the main thread runs with the configured semi-space (or the setting leaves V8's
 * own), else what an operator should be told: the main thread keeps its launch size.
 */
export function mainSemiSpaceMismatch(semiSpaceMb: number, launchMb: number): string | null {
  const wanted = semiSpaceMb === 0 ? V8_DEFAULT_SEMI_SPACE_MB : semiSpaceMb;
  if (wanted === launchMb) return null;
  return `the main thread's semi-space is ${launchMb} MB, semiSpaceMb asks ${wanted}: start Node with --max-semi-space-size=${wanted} (shard threads follow the setting)`;
}
