/**
 * Shared pieces of the gateway suites: a config, realistic v1/v2 events, a gateway on a free
 * port against a test Redis, a WebSocket device built on `ws`, and helpers to read streams.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { pack } from 'msgpackr';
import pino from 'pino';
import WebSocket from 'ws';
import { resolveConfig, validateUserConfig, type Config, type UserConfig } from '../../../src/config.js';
import type { CanonicalEvent } from '../../../src/contracts/canonical-event.js';
import { decodeEvents } from '../../../src/contracts/bus-codec.js';
import { issueDeviceToken } from '../../../src/contracts/device-token.js';
import { Gateway } from '../../../src/gateway/gateway.js';
import { Keys } from '../../../src/runtime/keys.js';

export const SECRET = 'test-secret-0123456789abcdef';

export function makeConfig(user: UserConfig = {}): Config {
  return resolveConfig(validateUserConfig({ partitions: 4, ...user, ingest: { port: 0, ...user.ingest }, auth: { mode: 'token', ...user.auth } }));
}

export function v1Event(deviceId: string, region: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: randomUUID(),
    device_id: deviceId,
    event_time: new Date().toISOString(),
    sensor_type: 'temperature',
    value: 21.5,
    unit: 'celsius',
    firmware_version: '1.4.2',
    region,
    ...extra,
  };
}

export function v2Event(deviceId: string, region: string, seq: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema_version: 2,
    event_id: randomUUID(),
    device_id: deviceId,
    event_time: new Date().toISOString(),
    firmware_version: '2.0.1',
    region,
    seq,
    readings: [
      { sensor_type: 'temperature', value: 22.25, unit: 'celsius' },
      { sensor_type: 'humidity', value: 41, unit: 'percent' },
      { sensor_type: 'pressure', value: 1013.2, unit: 'hPa' },
    ],
    ...extra,
  };
}

export interface Ack {
  type: 'ack';
  seq: number | null;
  accepted: number;
  rejected: { index: number | null; event_id: string | null; code: string; message: string }[];
}

export interface RunningGateway {
  gateway: Gateway;
  config: Config;
  keys: Keys;
  port: number;
  wsUrl: string;
  httpUrl: string;
  close(): Promise<void>;
}

export async function startGateway(redis: Redis, user: UserConfig = {}, prefix = `t${randomUUID().slice(0, 8)}`): Promise<RunningGateway> {
  const config = makeConfig({ ...user, redis: { keyPrefix: prefix } });
  const keys = new Keys(prefix);
  const logger = pino({ level: 'silent' });
  const gateway = new Gateway({ config, redis, keys, logger, authSecret: config.auth.mode === 'token' ? SECRET : null });
  const port = await gateway.listen();
  return {
    gateway,
    config,
    keys,
    port,
    wsUrl: `ws://127.0.0.1:${port}/v1/stream`,
    httpUrl: `http://127.0.0.1:${port}`,
    close: () => gateway.close(),
  };
}

/** A device on a WebSocket: sends frames, collects every message the gateway sends back. */
export class WsDevice {
  readonly messages: Record<string, unknown>[] = [];
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data, isBinary) => {
      this.messages.push(JSON.parse(isBinary ? '{}' : (data as Buffer).toString('utf8')) as Record<string, unknown>);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Open a socket; rejects with `HTTP <status> <body>` when the upgrade is refused. */
  static connect(url: string, headers: Record<string, string> = {}): Promise<WsDevice> {
    return new Promise((done, fail) => {
      const socket = new WebSocket(url, { headers });
      socket.once('open', () => done(new WsDevice(socket)));
      socket.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => fail(new Error(`HTTP ${res.statusCode} ${body}`)));
      });
      socket.once('error', fail);
    });
  }

  sendJson(frame: unknown): void {
    this.socket.send(JSON.stringify(frame));
  }

  sendPack(frame: unknown): void {
    this.socket.send(pack(frame));
  }

  /** The n-th ack (0-based) since connect, waiting for it with a deadline. */
  async ack(n: number, timeoutMs = 10_000): Promise<Ack> {
    const acks = (): Ack[] => this.messages.filter((m) => m['type'] === 'ack') as unknown as Ack[];
    const deadline = Date.now() + timeoutMs;
    while (acks().length <= n) {
      if (Date.now() > deadline) throw new Error(`no ack #${n} within ${timeoutMs} ms (got ${acks().length})`);
      await new Promise<void>((done) => {
        const timer = setTimeout(done, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          done();
        });
      });
    }
    return acks()[n] as Ack;
  }

  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((done) => {
      this.socket.once('close', () => done());
      this.socket.close();
    });
  }
}

export function token(deviceId: string, region: string): Promise<string> {
  return issueDeviceToken(SECRET, deviceId, region);
}

/** Every event in a stream, with the entry id it came from. */
export async function streamEvents(redis: Redis, key: string): Promise<{ id: string; events: CanonicalEvent[] }[]> {
  const entries = await redis.xrangeBuffer(key, '-', '+');
  return entries.map(([id, fields]) => ({ id: id.toString(), events: decodeEvents(fields[1] as Buffer) }));
}

/** Every DLQ entry of a region as a field map. */
export async function dlqEntries(redis: Redis, key: string): Promise<Record<string, string>[]> {
  const entries = await redis.xrange(key, '-', '+');
  return entries.map(([, fields]) => {
    const out: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i] as string] = fields[i + 1] as string;
    return out;
  });
}

/** Poll `check` until it returns a value other than undefined, or fail at the deadline. */
export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}
