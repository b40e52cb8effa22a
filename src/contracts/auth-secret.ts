/**
 * The embedded default's device-token secret: `<dataDir>/auth-secret`, 32 random bytes in
 * base64url, mode 0600, created on first use. (SHOAL_AUTH_SECRET / auth.secret, when set,
 * win; config decides that and only falls back to this file.)
 *
 * Creation is atomic and race-free: the secret is written and fsynced to a private temp file,
 * then hard-linked into place, which fails if another process got there first — the loser
 * then reads the winner's secret. A crash never leaves a half-written secret behind.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';

export const AUTH_SECRET_FILE = 'auth-secret';
/** The same floor config applies to auth.secret. */
const MIN_SECRET_LENGTH = 16;

function readSecret(path: string): string {
  const secret = readFileSync(path, 'utf8').trim();
  if (secret.length < MIN_SECRET_LENGTH)
    throw new ConfigError([`${path}: the auth secret must be at least ${MIN_SECRET_LENGTH} characters; delete the file to generate a new one`]);
  return secret;
}

function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === code;
}

/** Read the data dir's secret, creating the directory and the secret if needed. */
export function loadOrCreateSecret(dataDir: string): string {
  const path = join(dataDir, AUTH_SECRET_FILE);
  try {
    return readSecret(path);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(temp, 'wx', 0o600);
  try {
    writeSync(fd, secret);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, path);
    return secret;
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
    return readSecret(path);
  } finally {
    rmSync(temp, { force: true });
  }
}
