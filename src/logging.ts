/**
 * Shoal's logs: pino JSON on stderr, correlation ids, and device ids pseudonymised.
 *
 *   createLogger(config)   the process's root logger; carries the process's DevicePseudonymizer,
 *                          which every child logger inherits (pseudonymizerOf)
 *   deviceField(p, id)     what a log line writes where it names a device
 *   newCorrelationId()     the `cid` the gateway gives each frame; it travels with the frame's
 *                          events through the bus to the shard's apply, flush and DLQ lines
 *
 * A pseudonym is `d_` + the first 16 hex digits of HMAC-SHA256(key, device id): stable, so one
 * device's lines can be followed, and keyed, so a reader of the logs cannot test guesses
 * without the key. The key is the device-token secret, or with `auth: none` a per-data-dir key
 * file. `log.deviceIds: plain` writes the ids themselves (local debugging).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';
import { loadOrCreateSecret } from './contracts/auth-secret.js';

/** The key file of pseudonyms when there is no auth secret (`auth: none`). */
export const LOG_KEY_FILE = 'log-key';
/** Most correlation ids one log line lists. */
export const MAX_LOGGED_CIDS = 1000;

const PSEUDONYMIZER = Symbol('shoal.pseudonymizer');

export class DevicePseudonymizer {
  private readonly key: Buffer | null;

  /** `key` null: device ids are logged as they are. */
  constructor(key: string | Buffer | null) {
    this.key = key === null ? null : Buffer.from(key);
  }

  /** A random key: pseudonyms stable in this process only (loggers not made by createLogger). */
  static ephemeral(): DevicePseudonymizer {
    return new DevicePseudonymizer(randomBytes(32));
  }

  /** The pseudonymizer `config` asks for; reads (or creates) the key file when needed. */
  static fromConfig(config: Pick<Config, 'auth' | 'dataDir' | 'log'>): DevicePseudonymizer {
    if (config.log.deviceIds === 'plain') return new DevicePseudonymizer(null);
    if (config.auth.secret !== undefined) return new DevicePseudonymizer(config.auth.secret);
    if (config.auth.mode === 'token') return new DevicePseudonymizer(loadOrCreateSecret(config.dataDir));
    return new DevicePseudonymizer(loadOrCreateKey(join(config.dataDir, LOG_KEY_FILE)));
  }

  get plain(): boolean {
    return this.key === null;
  }

  /** `d_` + 16 hex digits of HMAC-SHA256(key, id), or the id itself in plain mode. */
  pseudonym(deviceId: string): string {
    if (this.key === null) return deviceId;
    return `d_${createHmac('sha256', this.key).update(deviceId).digest('hex').slice(0, 16)}`;
  }
}

/** What a log line writes for a device: its pseudonym, or the id in plain mode. */
export function deviceField(p: DevicePseudonymizer, deviceId: string): string {
  return p.pseudonym(deviceId);
}

/** The root logger of a process: JSON lines on `dest` (default stderr; stdout is the CLI's answer). */
export function createLogger(config: Pick<Config, 'auth' | 'dataDir' | 'log'>, dest: DestinationStream = pino.destination(2)): Logger {
  const logger = pino({ level: config.log.level }, dest);
  Object.defineProperty(logger, PSEUDONYMIZER, { value: DevicePseudonymizer.fromConfig(config) });
  return logger;
}

const fallbacks = new WeakMap<Logger, DevicePseudonymizer>();

/**
 * The pseudonymizer of a logger made by createLogger, or of any child of it (pino children
 * inherit from their parent). Other loggers (tests) get a random-key one: never raw ids.
 */
export function pseudonymizerOf(logger: Logger): DevicePseudonymizer {
  const own = (logger as unknown as Record<symbol, unknown>)[PSEUDONYMIZER];
  if (own instanceof DevicePseudonymizer) return own;
  let p = fallbacks.get(logger);
  if (!p) fallbacks.set(logger, (p = DevicePseudonymizer.ephemeral()));
  return p;
}

/** This process's cid prefix: 8 random base36 characters, so cids of processes never collide. */
const CID_PREFIX = randomBytes(6).readUIntBE(0, 6).toString(36).padStart(10, '0').slice(-8);
let cidCounter = 0;

/**
 * A frame's correlation id: the process prefix and a base36 counter (e.g. `k3x9q0zt-1b4`).
 * Unique per process run and cheap: one per frame on the gateway's hot path.
 */
export function newCorrelationId(): string {
  cidCounter++;
  return `${CID_PREFIX}-${cidCounter.toString(36)}`;
}

/** The distinct cids of `events` (those that have one), at most MAX_LOGGED_CIDS. */
export function cidsOf(events: Iterable<{ cid?: string }>, into: Set<string> = new Set()): Set<string> {
  for (const e of events) {
    if (into.size >= MAX_LOGGED_CIDS) break;
    if (e.cid !== undefined) into.add(e.cid);
  }
  return into;
}

/** Read a key file, creating it (32 random bytes, base64url, mode 0600) race-free if absent. */
function loadOrCreateKey(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(join(path, '..'), { recursive: true });
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(temp, 'wx', 0o600);
  try {
    writeSync(fd, randomBytes(32).toString('base64url'));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(temp, { force: true });
  }
  return readFileSync(path, 'utf8').trim();
}
