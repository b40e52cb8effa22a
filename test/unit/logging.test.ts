/**
 * Pseudonymised, correlated logs: the pseudonymizer (stable, keyed, plain switch), where its
 * key comes from, the `log.deviceIds` option, and the logger createLogger builds.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig, resolveConfig, validateUserConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { DevicePseudonymizer, LOG_KEY_FILE, createLogger, deviceField, newCorrelationId, pseudonymizerOf } from '../../src/logging.js';

const deviceId = fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/);
const key = fc.string({ minLength: 16, maxLength: 64 });

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'shoal-logging-'));
}

describe('DevicePseudonymizer', () => {
  it('gives each device one stable pseudonym that does not reveal the id', () => {
    fc.assert(
      fc.property(key, deviceId, (k, id) => {
        const a = new DevicePseudonymizer(k).pseudonym(id);
        expect(new DevicePseudonymizer(k).pseudonym(id)).toBe(a);
        expect(a).toMatch(/^d_[0-9a-f]{16}$/);
        expect(a).not.toBe(id);
      }),
    );
  });

  it('is keyed: another key gives another pseudonym', () => {
    fc.assert(
      fc.property(key, key, deviceId, (k1, k2, id) => {
        fc.pre(k1 !== k2);
        expect(new DevicePseudonymizer(k1).pseudonym(id)).not.toBe(new DevicePseudonymizer(k2).pseudonym(id));
      }),
    );
  });

  it('tells devices apart', () => {
    fc.assert(
      fc.property(key, deviceId, deviceId, (k, a, b) => {
        fc.pre(a !== b);
        const p = new DevicePseudonymizer(k);
        expect(deviceField(p, a)).not.toBe(deviceField(p, b));
      }),
    );
  });

  it('writes the ids themselves in plain mode', () => {
    fc.assert(
      fc.property(deviceId, (id) => {
        expect(deviceField(new DevicePseudonymizer(null), id)).toBe(id);
      }),
    );
  });

  it('keys pseudonyms with the auth secret, so every process of a deployment agrees', () => {
    const base = resolveConfig(validateUserConfig({ auth: { secret: 'a-long-enough-secret' } }), { dataDir: tempDir() });
    const other = resolveConfig(validateUserConfig({ auth: { secret: 'a-long-enough-secret' } }), { dataDir: tempDir() });
    expect(DevicePseudonymizer.fromConfig(base).pseudonym('dev-1')).toBe(DevicePseudonymizer.fromConfig(other).pseudonym('dev-1'));
    expect(DevicePseudonymizer.fromConfig(base).pseudonym('dev-1')).toBe(new DevicePseudonymizer('a-long-enough-secret').pseudonym('dev-1'));
  });

  it('with auth none, keeps a key file per data dir: stable there, different elsewhere', () => {
    const dir = tempDir();
    const config = resolveConfig(validateUserConfig({ auth: { mode: 'none' } }), { dataDir: dir });
    const first = DevicePseudonymizer.fromConfig(config).pseudonym('dev-1');
    expect(existsSync(join(dir, LOG_KEY_FILE))).toBe(true);
    expect(DevicePseudonymizer.fromConfig(config).pseudonym('dev-1')).toBe(first);
    const elsewhere = resolveConfig(validateUserConfig({ auth: { mode: 'none' } }), { dataDir: tempDir() });
    expect(DevicePseudonymizer.fromConfig(elsewhere).pseudonym('dev-1')).not.toBe(first);
  });
});

describe('log.deviceIds option', () => {
  it('defaults to pseudonymised and accepts plain', () => {
    const cwd = tempDir();
    expect(loadConfig({ env: {}, cwd }).log.deviceIds).toBe('pseudonymised');
    expect(resolveConfig(validateUserConfig({ log: { deviceIds: 'plain' } }), {}, cwd).log.deviceIds).toBe('plain');
  });

  it('reports any other value by name', () => {
    let problems: readonly string[] = [];
    try {
      validateUserConfig({ log: { deviceIds: 'hashed' } });
    } catch (err) {
      if (err instanceof ConfigError) problems = err.problems;
    }
    expect(problems.some((p) => p.startsWith('log.deviceIds:'))).toBe(true);
  });
});

describe('createLogger', () => {
  function capture(): { dest: Writable; lines: () => Record<string, unknown>[] } {
    let text = '';
    const dest = new Writable({
      write(chunk: Buffer, _enc, done) {
        text += chunk.toString();
        done();
      },
    });
    return { dest, lines: () => text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) };
  }

  it('writes JSON lines at the configured level, and its children share its pseudonymizer', () => {
    const config = resolveConfig(validateUserConfig({ auth: { secret: 'a-long-enough-secret' }, log: { level: 'debug' } }), { dataDir: tempDir() });
    const out = capture();
    const logger = createLogger(config, out.dest);
    const child = logger.child({ shard: 1 }).child({ partition: 2 });
    expect(pseudonymizerOf(child)).toBe(pseudonymizerOf(logger));
    child.debug({ device: deviceField(pseudonymizerOf(child), 'dev-1') }, 'hello');
    logger.trace('not written');
    const lines = out.lines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ shard: 1, partition: 2, msg: 'hello', device: new DevicePseudonymizer('a-long-enough-secret').pseudonym('dev-1') });
  });

  it('follows log.deviceIds: plain', () => {
    const config = resolveConfig(validateUserConfig({ log: { deviceIds: 'plain' } }), { dataDir: tempDir() });
    expect(pseudonymizerOf(createLogger(config, capture().dest)).pseudonym('dev-1')).toBe('dev-1');
  });
});

describe('newCorrelationId', () => {
  it('gives short, distinct ids', () => {
    const ids = Array.from({ length: 1000 }, newCorrelationId);
    for (const id of ids) expect(id).toMatch(/^[0-9a-z]{8}-[0-9a-z]{1,12}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
