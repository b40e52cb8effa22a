/**
 * A device for crash tests that behaves like a real at-least-once sender: it keeps several
 * frames in flight, holds every frame until its ack arrives, and after a reconnect resends the
 * unacked ones first with the same event ids. Now and then it also resends events that were
 * already acked (a device that lost its ack bookkeeping). Event ids, times and values come from
 * a seeded generator, so the same seed produces the same events.
 */
import { Prng } from '../../src/simulator/prng.js';
import { DeviceClient, type Ack } from './device-client.js';
import { seededUuid, v1Event, v2Event, type DeviceEvent } from './events.js';

export interface Frame {
  events: DeviceEvent[];
  format: 'json' | 'msgpack';
}

export interface ChaosDeviceOptions {
  /** Frames in flight at once. */
  window: number;
  /** Pause between new frames, ms (shapes the load; not a synchronisation). */
  paceMs: number;
  /** Event times are spread over this many ms before `now`. */
  spreadMs: number;
  /** Chance that a new frame also carries a copy of an event already acked. */
  duplicateChance: number;
}

export const SENSORS = ['temperature', 'humidity', 'pressure'] as const;

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class ChaosDevice {
  /** Frames sent (or to send) whose ack has not arrived: resent after a reconnect. */
  readonly outbox: Frame[] = [];
  /** Every event acked as accepted, by event id. */
  readonly acked = new Map<string, DeviceEvent>();
  /** Acks that rejected an event for a reason other than OVERLOADED (must stay empty). */
  readonly rejections: Ack['rejected'] = [];
  /** Frames sent again after a reconnect, and acked events sent again on purpose. */
  resentFrames = 0;
  duplicatesSent = 0;
  private seq = 0;

  constructor(
    readonly id: string,
    readonly region: string,
    private readonly token: string,
    private readonly prng: Prng,
    private readonly now: number,
    private readonly options: ChaosDeviceOptions,
  ) {}

  /**
   * Connect, resend the outbox, then send new frames until `until()` is true (then wait for the
   * acks in flight) or the connection dies (then the unacked frames stay in the outbox).
   */
  async stream(url: string, until: () => boolean): Promise<void> {
    let client: DeviceClient;
    try {
      client = await DeviceClient.connect(url, this.token);
    } catch {
      return; // the server is already gone
    }
    let alive = true;
    const inFlight = new Set<Promise<void>>();
    const send = (frame: Frame): void => {
      const done = client.sendOrFail(frame.events, frame.format).then(
        (ack) => this.onAck(frame, ack),
        () => {
          alive = false;
        },
      );
      const tracked = done.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    };
    this.resentFrames += this.outbox.length;
    for (const frame of [...this.outbox]) send(frame);
    while (alive && !until()) {
      if (inFlight.size >= this.options.window) {
        await Promise.race(inFlight);
        continue;
      }
      const frame = this.newFrame();
      this.outbox.push(frame);
      send(frame);
      await delay(this.options.paceMs);
    }
    await Promise.allSettled([...inFlight]);
    if (alive) await client.close();
    else client.terminate();
  }

  private onAck(frame: Frame, ack: Ack): void {
    const overloaded = new Set<number>();
    for (const r of ack.rejected) {
      if (r.code === 'OVERLOADED' && r.index !== null) overloaded.add(r.index);
      else this.rejections.push(r);
    }
    frame.events.forEach((e, i) => {
      if (!overloaded.has(i)) this.acked.set(e.event_id, e);
    });
    const at = this.outbox.indexOf(frame);
    if (at >= 0) this.outbox.splice(at, 1);
    // Events the gateway could not take now are sent again later, as a device would.
    const retry = frame.events.filter((_, i) => overloaded.has(i));
    if (retry.length > 0) this.outbox.push({ events: retry, format: frame.format });
  }

  private newFrame(): Frame {
    const p = this.prng;
    const events = Array.from({ length: 2 + p.int(4) }, () => this.newEvent());
    if (this.acked.size > 0 && p.chance(this.options.duplicateChance)) {
      const known = [...this.acked.values()];
      events.push(known[p.int(known.length)]!);
      this.duplicatesSent++;
    }
    return { events, format: p.chance(0.5) ? 'json' : 'msgpack' };
  }

  private newEvent(): DeviceEvent {
    const p = this.prng;
    const time = this.now - p.int(this.options.spreadMs);
    // Quarter units: sums of them are exact in float64, so rollup sums compare exactly.
    const value = (): number => p.int(800) / 4 - 50;
    const sensor = (): string => SENSORS[p.int(SENSORS.length)]!;
    this.seq++;
    const event = p.chance(0.7)
      ? v1Event(this.id, this.region, time, sensor(), value())
      : v2Event(
          this.id,
          this.region,
          time,
          this.seq,
          Array.from({ length: 1 + p.int(3) }, () => {
            const s = sensor();
            return { sensor_type: s, value: value(), unit: s === 'temperature' ? 'C' : '%' };
          }),
        );
    return { ...event, event_id: seededUuid(() => p.next()) };
  }
}
