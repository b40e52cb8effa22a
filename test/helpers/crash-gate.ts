/**
 * A crash point inside one processor's flush, for in-process fault tests. Armed for a point,
 * the gate makes the sink call there hang (the call is not made), which is what a process
 * death looks like to everyone else: the flush neither finishes nor commits. The hang lasts
 * forever unless the test wakes the gate; a woken call then goes on as if the process had only
 * been paused (a zombie owner), so the test can check that it is fenced.
 */

/**
 * Where a flush can die: before the archive put, before one ClickHouse insert, or after all
 * sinks; or inside the `events` or rollup insert, torn: ClickHouse recorded the insert's dedup
 * token but the part with its rows never became active (what a kill -9 between the two leaves).
 */
export type CrashPoint = 'archive' | 'insert-events' | 'insert-rollup_1m' | 'after-sinks' | 'torn-insert-events' | 'torn-insert-rollup_1m';

/** A flush inserts into `events` and `rollup_1m` only: `rollup_1h` is fed by a view of the latter. */
export const CRASH_POINTS: readonly CrashPoint[] = ['archive', 'insert-events', 'insert-rollup_1m', 'after-sinks'];

export class CrashGate {
  private armedAt: CrashPoint | null = null;
  private signalReached!: () => void;
  private release!: () => void;
  /** Resolves when an armed crash point was hit (the flush is now hanging there). */
  readonly reached: Promise<void>;
  private readonly woken: Promise<void>;
  private hit = false;

  constructor() {
    this.reached = new Promise((resolve) => (this.signalReached = resolve));
    this.woken = new Promise((resolve) => (this.release = resolve));
  }

  arm(point: CrashPoint | null): void {
    this.armedAt = point;
  }

  /** True while armed for `point`. */
  isArmed(point: CrashPoint): boolean {
    return this.armedAt === point;
  }

  /** True once an armed point was hit. */
  get hung(): boolean {
    return this.hit;
  }

  /** Called by the wrapped sinks at each point: hangs there when armed for it. */
  async at(point: CrashPoint): Promise<void> {
    if (this.armedAt !== point) return;
    this.armedAt = null;
    this.hit = true;
    this.signalReached();
    await this.woken;
  }

  /** Let a hung call go on (the paused owner resumes). */
  wake(): void {
    this.release();
  }
}
