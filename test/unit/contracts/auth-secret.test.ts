import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUTH_SECRET_FILE, loadOrCreateSecret } from '../../../src/contracts/auth-secret.js';
import { issueDeviceToken, verifyDeviceToken } from '../../../src/contracts/device-token.js';
import { ConfigError } from '../../../src/errors.js';

describe('loadOrCreateSecret', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'shoal-secret-'));
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('creates the data dir and a private 32-byte secret on first use', () => {
    const dataDir = join(root, 'nested', 'data');
    const secret = loadOrCreateSecret(dataDir);
    expect(Buffer.from(secret, 'base64url')).toHaveLength(32);
    const file = join(dataDir, AUTH_SECRET_FILE);
    expect(readFileSync(file, 'utf8')).toBe(secret);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dataDir)).toEqual([AUTH_SECRET_FILE]);
  });

  it('returns the same secret on later calls, so issued tokens stay valid across restarts', async () => {
    const token = await issueDeviceToken(loadOrCreateSecret(root), 'thermo-0042', 'us-east');
    await expect(verifyDeviceToken(loadOrCreateSecret(root), token)).resolves.toEqual({ deviceId: 'thermo-0042', region: 'us-east' });
  });

  it('gives every data dir its own secret', () => {
    expect(loadOrCreateSecret(join(root, 'a'))).not.toBe(loadOrCreateSecret(join(root, 'b')));
  });

  it('uses an existing secret file as written, ignoring surrounding whitespace', () => {
    writeFileSync(join(root, AUTH_SECRET_FILE), '  operator-chosen-secret-value\n');
    expect(loadOrCreateSecret(root)).toBe('operator-chosen-secret-value');
  });

  it('refuses a secret file that is too short to be safe, naming the file', () => {
    writeFileSync(join(root, AUTH_SECRET_FILE), 'short\n');
    expect(() => loadOrCreateSecret(root)).toThrow(ConfigError);
    expect(() => loadOrCreateSecret(root)).toThrow(join(root, AUTH_SECRET_FILE));
  });
});
