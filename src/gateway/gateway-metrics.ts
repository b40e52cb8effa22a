/**
 * The gateway's Prometheus metrics (main thread registry):
 *
 *   shoal_ingest_events_total{region,schema_version,outcome}   outcome: accepted | reject code, lower case
 *   shoal_ingest_bytes_total / shoal_ingest_frames_total{transport=ws|http}
 *   shoal_ws_connections                                      WebSocket connections open now
 *   shoal_ingest_frame_seconds{transport}                      a frame's receipt to its ack (validation, bus and DLQ writes)
 *   shoal_dlq_entries_total{region,reason}                    DLQ entries the gateway wrote
 *
 * Per frame the events are tallied in a small map first, so each label set is incremented
 * once per frame, not once per event. Labels only ever take configured regions (else
 * `unknown`) and known schema versions, so untrusted input cannot grow the label space.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { FrameAnswer, Rejection } from '../contracts/frame.js';
import type { AcceptedRefs } from './accepted-refs.js';

export type Transport = 'ws' | 'http';

const UNKNOWN = 'unknown';

export class GatewayMetrics {
  private readonly events: Counter<'region' | 'schema_version' | 'outcome'>;
  private readonly bytes: Counter;
  private readonly frames: Counter<'transport'>;
  private readonly connections: Gauge;
  private readonly frameSeconds: Histogram<'transport'>;
  private readonly dlq: Counter<'region' | 'reason'>;
  private readonly regions: ReadonlySet<string>;

  constructor(registry: Registry, regions: readonly string[]) {
    const registers = [registry];
    this.regions = new Set(regions);
    this.events = new Counter({
      name: 'shoal_ingest_events_total',
      help: 'Events received by the gateway, by outcome (accepted, or the reject code in lower case; whole-frame rejections count once)',
      labelNames: ['region', 'schema_version', 'outcome'],
      registers,
    });
    this.bytes = new Counter({ name: 'shoal_ingest_bytes_total', help: 'Payload bytes of the frames received', registers });
    this.frames = new Counter({ name: 'shoal_ingest_frames_total', help: 'Frames received (WebSocket messages and HTTP bodies)', labelNames: ['transport'], registers });
    this.connections = new Gauge({ name: 'shoal_ws_connections', help: 'WebSocket connections open now', registers });
    this.frameSeconds = new Histogram({
      name: 'shoal_ingest_frame_seconds',
      help: "From a frame's receipt to its ack: validation, the bus append and the DLQ write (frames refused unread excluded)",
      labelNames: ['transport'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.dlq = new Counter({
      name: 'shoal_dlq_entries_total',
      help: 'Entries written to a region DLQ, by reason (reject or error code, lower case)',
      labelNames: ['region', 'reason'],
      registers,
    });
  }

  /** How long one frame took from its receipt to its ack, seconds. */
  observeFrameSeconds(transport: Transport, seconds: number): void {
    this.frameSeconds.observe({ transport }, seconds);
  }

  /**
   * Count one frame and what its ack reported. `before` is the frame's accepted events before
   * any were refused as OVERLOADED, used only to label those refusals with their schema version.
   */
  recordFrame(transport: Transport, bytes: number, result: FrameAnswer<AcceptedRefs>, before: AcceptedRefs = result.accepted): void {
    this.frames.inc({ transport });
    this.bytes.inc(bytes);
    const tally = new Map<string, { region: string; schema_version: string; outcome: string; n: number }>();
    const add = (region: string, schema: string, outcome: string, n = 1): void => {
      if (n === 0) return;
      const key = `${region}\u0000${schema}\u0000${outcome}`;
      const t = tally.get(key);
      if (t) t.n += n;
      else tally.set(key, { region, schema_version: schema, outcome, n });
    };
    // Accepted events are tallied per run of one region (a frame usually has one): no label
    // key is built per event.
    let region: string | null = null;
    let v1 = 0;
    let v2 = 0;
    const flushRun = (): void => {
      if (region === null) return;
      add(region, '1', 'accepted', v1);
      add(region, '2', 'accepted', v2);
      v1 = v2 = 0;
    };
    const accepted = result.accepted;
    for (let i = 0; i < accepted.length; i++) {
      const r = accepted.regionAt(i);
      if (r !== region) {
        flushRun();
        region = r;
      }
      if (accepted.schemaVersionAt(i) === 1) v1++;
      else v2++;
    }
    flushRun();
    let schemaById: Map<string, string> | null = null;
    for (const r of result.rejected) {
      let schema = r.index === null ? UNKNOWN : schemaOfRaw(r.raw);
      if (schema === UNKNOWN && r.eventId !== null && result.accepted.length < before.length) {
        schemaById ??= new Map(before.toArray().map((e) => [e.eventId, String(e.schemaVersion)]));
        schema = schemaById.get(r.eventId) ?? UNKNOWN;
      }
      add(this.region(r.region), schema, r.code.toLowerCase());
    }
    for (const { n, ...labels } of tally.values()) this.events.inc(labels, n);
  }

  /** Count the DLQ entries written to `region`'s DLQ for these rejections (reason: their code). */
  recordDlq(region: string, rejections: readonly Pick<Rejection, 'code'>[]): void {
    const byCode = new Map<string, number>();
    for (const r of rejections) byCode.set(r.code, (byCode.get(r.code) ?? 0) + 1);
    for (const [code, n] of byCode) this.dlq.inc({ region: this.region(region), reason: code.toLowerCase() }, n);
  }

  connectionOpened(): void {
    this.connections.inc();
  }

  connectionClosed(): void {
    this.connections.dec();
  }

  private region(region: string | null): string {
    return region !== null && this.regions.has(region) ? region : UNKNOWN;
  }
}

/** The schema version an event declares: `schema_version: 2`, or none (v1); else unknown. */
function schemaOfRaw(raw: unknown): string {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return UNKNOWN;
  const declared = (raw as Record<string, unknown>)['schema_version'];
  if (declared === undefined) return '1';
  return declared === 1 || declared === 2 ? String(declared) : UNKNOWN;
}
