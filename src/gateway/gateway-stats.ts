/**
 * The gateway's counters, kept as plain numbers on the hot path; the metrics module reads
 * them (snapshot()) and exports them.
 */
import type { FrameAnswer } from '../contracts/frame.js';
import { REJECT_CODES, type RejectCode } from '../errors.js';

export interface GatewayStatsSnapshot {
  /** Frames (WebSocket messages and HTTP bodies) processed. */
  frames: number;
  /** Payload bytes received in those frames. */
  bytes: number;
  /** Events acked as accepted. */
  accepted: number;
  /** Events (or whole frames, index null) rejected, per code. */
  rejected: Record<RejectCode, number>;
  /** WebSocket connections open now, and opened since start. */
  connections: number;
  connectionsTotal: number;
  /** Upgrades and requests refused for a missing or bad token. */
  unauthorized: number;
  httpRequests: number;
  /** Throttle messages sent to devices behind a lagging partition. */
  throttles: number;
  /** Readings of accepted events sampled away under backpressure (acked, never on the bus). */
  sampledOut: number;
}

export class GatewayStats {
  frames = 0;
  bytes = 0;
  accepted = 0;
  readonly rejected: Record<RejectCode, number>;
  connections = 0;
  connectionsTotal = 0;
  unauthorized = 0;
  httpRequests = 0;
  throttles = 0;
  sampledOut = 0;

  constructor() {
    this.rejected = Object.fromEntries(REJECT_CODES.map((c) => [c, 0])) as Record<RejectCode, number>;
  }

  /** Count one processed frame and what its ack reported. */
  recordFrame(bytes: number, result: FrameAnswer): void {
    this.frames++;
    this.bytes += bytes;
    this.accepted += result.accepted.length;
    for (const r of result.rejected) this.rejected[r.code]++;
  }

  snapshot(): GatewayStatsSnapshot {
    return {
      frames: this.frames,
      bytes: this.bytes,
      accepted: this.accepted,
      rejected: { ...this.rejected },
      connections: this.connections,
      connectionsTotal: this.connectionsTotal,
      unauthorized: this.unauthorized,
      httpRequests: this.httpRequests,
      throttles: this.throttles,
      sampledOut: this.sampledOut,
    };
  }
}
