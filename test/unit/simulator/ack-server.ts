/**
 * A tiny stand-in gateway for simulator tests: a `ws` server on a free loopback port at
 * /v1/stream that checks device tokens, validates every frame with the real contract
 * (processFrame) and answers with the contract's ack — or, when a test's policy says so,
 * drops the connection, rejects the frame as OVERLOADED, rejects one event, or throttles.
 */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { EventValidator } from '../../../src/contracts/event-validator.js';
import { ackMessage, processFrame, type DeviceIdentity, type FrameResult } from '../../../src/contracts/frame.js';
import { verifyDeviceToken } from '../../../src/contracts/device-token.js';

export type FrameAction =
  | { kind: 'ack' }
  | { kind: 'drop' }
  | { kind: 'overloaded' }
  | { kind: 'reject-first'; code: string }
  | { kind: 'throttle'; sampleRate: number; retryAfterMs: number };

export interface FrameInfo {
  deviceId: string;
  /** 1-based frame number on this connection. */
  frameOnConnection: number;
  /** 1-based connection number of this device. */
  connection: number;
  result: FrameResult;
}

export interface AckServerOptions {
  regions: readonly string[];
  secret: string | null;
  policy?: (frame: FrameInfo) => FrameAction;
}

export interface AckServer {
  url: string;
  /** Every accepted event id received, with how many times it arrived. */
  received: Map<string, number>;
  /** Per device: number of connections opened. */
  connections: Map<string, number>;
  /** Per device: receipt times (Date.now) of its frames. */
  frameTimes: Map<string, number[]>;
  /** Per device: when the server sent it a throttle. */
  throttledAt: Map<string, number>;
  rejectedFrames: number;
  unauthorized: number;
  close(): Promise<void>;
}

export async function startAckServer(options: AckServerOptions): Promise<AckServer> {
  const validator = new EventValidator();
  const identities = new WeakMap<IncomingMessage, DeviceIdentity | null>();
  const server: AckServer = {
    url: '',
    received: new Map(),
    connections: new Map(),
    frameTimes: new Map(),
    throttledAt: new Map(),
    rejectedFrames: 0,
    unauthorized: 0,
    close: () => Promise.resolve(),
  };
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    path: '/v1/stream',
    verifyClient: (info, cb) => {
      if (options.secret === null) {
        identities.set(info.req, null);
        cb(true);
        return;
      }
      const header = info.req.headers.authorization ?? '';
      const token = header.startsWith('Bearer ') ? header.slice(7) : '';
      verifyDeviceToken(options.secret, token).then(
        (identity) => {
          identities.set(info.req, identity);
          cb(true);
        },
        () => {
          server.unauthorized++;
          cb(false, 401, 'Unauthorized');
        },
      );
    },
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const port = (wss.address() as AddressInfo).port;
  server.url = `ws://127.0.0.1:${port}/v1/stream`;

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const identity = identities.get(req) ?? null;
    let deviceId = identity?.deviceId ?? '';
    let frameOnConnection = 0;
    let connection = 0;
    const countConnection = (id: string): void => {
      connection = (server.connections.get(id) ?? 0) + 1;
      server.connections.set(id, connection);
    };
    if (identity) countConnection(identity.deviceId);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const result = processFrame(new Uint8Array(data), isBinary, {
        now: Date.now(),
        regions: options.regions,
        identity,
        maxFrameBytes: 1 << 20,
        maxEventsPerFrame: 1000,
        maxEventAgeMs: 7 * 24 * 3_600_000,
        maxEventAheadMs: 5 * 60_000,
      }, validator);
      if (!deviceId && result.accepted[0]) {
        deviceId = result.accepted[0].deviceId;
        countConnection(deviceId);
      }
      frameOnConnection++;
      const times = server.frameTimes.get(deviceId) ?? [];
      times.push(Date.now());
      server.frameTimes.set(deviceId, times);
      if (result.rejected.length > 0) server.rejectedFrames++;
      const action = options.policy?.({ deviceId, frameOnConnection, connection, result }) ?? { kind: 'ack' };
      if (action.kind === 'drop') {
        ws.terminate();
        return;
      }
      if (action.kind === 'overloaded') {
        const rejected = result.accepted.map((e, index) => ({ index, event_id: e.eventId, code: 'OVERLOADED', message: 'bus unavailable' }));
        ws.send(JSON.stringify({ type: 'ack', seq: result.seq, accepted: 0, rejected }));
        return;
      }
      let accepted = result.accepted;
      let reply = ackMessage(result);
      if (action.kind === 'reject-first' && accepted.length > 0) {
        const first = accepted[0];
        accepted = accepted.slice(1);
        reply = JSON.stringify({
          type: 'ack',
          seq: result.seq,
          accepted: accepted.length,
          rejected: [{ index: 0, event_id: first?.eventId ?? null, code: action.code, message: 'rejected by test policy' }],
        });
      }
      for (const e of accepted) server.received.set(e.eventId, (server.received.get(e.eventId) ?? 0) + 1);
      if (action.kind === 'throttle') {
        server.throttledAt.set(deviceId, Date.now());
        ws.send(JSON.stringify({ type: 'throttle', sample_rate: action.sampleRate, retry_after_ms: action.retryAfterMs }));
      }
      ws.send(reply);
    });
  });

  server.close = () =>
    new Promise<void>((resolve) => {
      for (const c of wss.clients) c.terminate();
      wss.close(() => resolve());
    });
  return server;
}
