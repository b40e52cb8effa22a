/**
 * The commands of the runtime's model-based test (fc.commands + fc.asyncModelRun) and their
 * weighted arbitraries: appends of new events and of duplicates, polls, flushes, crashes inside
 * a flush at every crash point, crashes between flushes, takeovers by newer owners (which may
 * die re-running an open flush) and abandoned owners waking up. Every command ends with
 * checkSinks() against the model (runtime-model.ts).
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import type { CanonicalEvent } from '../../src/contracts/canonical-event.js';
import { CRASH_POINTS, type CrashPoint } from './crash-gate.js';
import type { PartitionRig } from './partition-rig.js';
import { checkSinks, type RuntimeModel } from './runtime-model.js';
import { MINUTE_MS } from './sink-snapshot.js';

type Command = fc.AsyncCommand<RuntimeModel, PartitionRig>;

export interface EventSpec {
  device: number;
  minutesAgo: number;
  second: number;
  v2: boolean;
  readings: { sensor: string; value: number }[];
}

function toEvent(model: RuntimeModel, region: string, spec: EventSpec): CanonicalEvent {
  const n = model.distinct.size;
  const readings = spec.readings.slice(0, spec.v2 ? undefined : 1).map((r) => ({ sensorType: r.sensor, value: r.value, unit: 'u', weight: 1 }));
  return {
    eventId: `${model.run.toString(16).padStart(8, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`,
    deviceId: `dev-${spec.device}`,
    region,
    eventTime: model.now - spec.minutesAgo * MINUTE_MS + spec.second * 1000,
    ingestTime: Date.now(),
    firmwareVersion: '1.0.0',
    schemaVersion: spec.v2 ? 2 : 1,
    seq: spec.v2 ? n : null,
    readings,
  };
}

abstract class Checked implements Command {
  abstract check(m: Readonly<RuntimeModel>): boolean;
  protected abstract apply(m: RuntimeModel, r: PartitionRig): Promise<void>;
  abstract toString(): string;
  async run(m: RuntimeModel, r: PartitionRig): Promise<void> {
    await this.apply(m, r);
    await checkSinks(m, r);
  }
}

class AppendEvents extends Checked {
  constructor(readonly specs: EventSpec[]) {
    super();
  }
  override check(): boolean {
    return true;
  }
  protected override async apply(m: RuntimeModel, r: PartitionRig): Promise<void> {
    const events: CanonicalEvent[] = [];
    for (const spec of this.specs) {
      const e = toEvent(m, r.region, spec);
      m.distinct.set(e.eventId, e);
      events.push(e);
    }
    m.entries.push({ id: await r.append(events), events });
  }
  override toString(): string {
    return `AppendEvents(${this.specs.length})`;
  }
}

/** A device resends events it sent before (same ids and readings, a later receipt). */
class AppendDuplicates extends Checked {
  constructor(readonly picks: number[]) {
    super();
  }
  override check(m: Readonly<RuntimeModel>): boolean {
    return m.distinct.size > 0;
  }
  protected override async apply(m: RuntimeModel, r: PartitionRig): Promise<void> {
    const known = [...m.distinct.values()];
    const events = this.picks.map((i) => ({ ...known[i % known.length]!, ingestTime: Date.now() }));
    m.entries.push({ id: await r.append(events), events });
  }
  override toString(): string {
    return `AppendDuplicates(${this.picks.join(',')})`;
  }
}

class Poll extends Checked {
  constructor(readonly count: number) {
    super();
  }
  override check(m: Readonly<RuntimeModel>): boolean {
    return m.up;
  }
  protected override async apply(_m: RuntimeModel, r: PartitionRig): Promise<void> {
    await r.poll(this.count);
  }
  override toString(): string {
    return `Poll(${this.count})`;
  }
}

class Flush extends Checked {
  override check(m: Readonly<RuntimeModel>): boolean {
    return m.up;
  }
  protected override async apply(_m: RuntimeModel, r: PartitionRig): Promise<void> {
    await r.flush();
  }
  override toString(): string {
    return 'Flush';
  }
}

/** The owner reads up to `count` entries and dies in the flush at `point` (if it has rows to write). */
class CrashInFlush extends Checked {
  constructor(
    readonly count: number,
    readonly point: CrashPoint,
  ) {
    super();
  }
  override check(m: Readonly<RuntimeModel>): boolean {
    return m.up;
  }
  protected override async apply(m: RuntimeModel, r: PartitionRig): Promise<void> {
    await r.poll(this.count);
    if (await r.crashInFlush(this.point)) {
      m.died(this.point);
      m.up = false;
      m.zombies++;
    }
  }
  override toString(): string {
    return `CrashInFlush(${this.count}, ${this.point})`;
  }
}

/** The owner dies between flushes, losing what it read but did not flush. */
class Crash extends Checked {
  override check(m: Readonly<RuntimeModel>): boolean {
    return m.up;
  }
  protected override apply(m: RuntimeModel, r: PartitionRig): Promise<void> {
    r.crash();
    m.up = false;
    m.zombies++;
    return Promise.resolve();
  }
  override toString(): string {
    return 'Crash';
  }
}

/** A new owner (higher epoch) takes over, possibly dying while it re-runs an open flush. */
class Restart extends Checked {
  constructor(readonly crash: CrashPoint | null) {
    super();
  }
  override check(): boolean {
    return true;
  }
  protected override async apply(m: RuntimeModel, r: PartitionRig): Promise<void> {
    if (m.up) m.zombies++;
    if ((await r.checkpoint()).intentTo !== null) m.coverage.reruns++;
    m.up = await r.restart(this.crash);
    if (!m.up) {
      m.died(this.crash!);
      m.zombies++;
    }
  }
  override toString(): string {
    return `Restart(${this.crash ?? 'clean'})`;
  }
}

/** Abandoned owners resume; one that a newer owner superseded must not move the checkpoint. */
class WakeZombies extends Checked {
  override check(m: Readonly<RuntimeModel>): boolean {
    return m.zombies > 0;
  }
  protected override async apply(m: RuntimeModel, r: PartitionRig): Promise<void> {
    m.zombies = 0;
    for (const z of await r.wakeZombies()) {
      if (!z.superseded) continue;
      m.coverage.supersededWakes++;
      expect(z.fenced, `zombie of epoch ${z.epoch} fenced`).toBe(true);
      expect(z.after, `zombie of epoch ${z.epoch} left the checkpoint alone`).toEqual(z.before);
    }
  }
  override toString(): string {
    return 'WakeZombies';
  }
}

const readingArb = fc.record({
  sensor: fc.constantFrom('temp', 'humidity'),
  // Quarter units: sums of them are exact in float64, so rollup sums compare exactly.
  value: fc.integer({ min: -400, max: 400 }).map((v) => v / 4),
});

const eventSpecArb: fc.Arbitrary<EventSpec> = fc.record({
  device: fc.nat({ max: 3 }),
  minutesAgo: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 150 })),
  second: fc.nat({ max: 59 }),
  v2: fc.boolean(),
  readings: fc.array(readingArb, { minLength: 1, maxLength: 3 }),
});

const crashPointArb = fc.constantFrom(...CRASH_POINTS);

const appendEvents = fc.array(eventSpecArb, { minLength: 1, maxLength: 6 }).map((specs) => new AppendEvents(specs));
const poll = fc.integer({ min: 1, max: 4 }).map((n) => new Poll(n));
const flush = fc.constant(new Flush());
const crashInFlush = fc.tuple(fc.integer({ min: 1, max: 4 }), crashPointArb).map(([n, p]) => new CrashInFlush(n, p));
const restart = fc.option(crashPointArb, { nil: null }).map((p) => new Restart(p));

/** Weights: appends, polls and flushes ×3; crashes inside a flush and restarts ×2; the rest ×1. */
export const runtimeCommands: fc.Arbitrary<Command>[] = [
  appendEvents,
  appendEvents,
  appendEvents,
  fc.array(fc.nat(), { minLength: 1, maxLength: 4 }).map((picks) => new AppendDuplicates(picks)),
  poll,
  poll,
  poll,
  flush,
  flush,
  flush,
  crashInFlush,
  crashInFlush,
  fc.constant(new Crash()),
  restart,
  restart,
  fc.constant(new WakeZombies()),
];
