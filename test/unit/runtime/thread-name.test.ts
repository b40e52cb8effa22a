/**
 * Thread names (src/runtime/thread-name.ts): what `top -H` and the perf harness show for a
 * shard. Run on this test's own main thread, whose name is put back afterwards.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { nameThisThread, shardThreadName } from '../../../src/runtime/thread-name.js';

const COMM = `/proc/${process.pid}/task/${process.pid}/comm`;
const original = readFileSync(COMM, 'utf8').trim();

describe('nameThisThread', () => {
  afterEach(() => {
    nameThisThread(original);
  });

  it("sets the calling thread's kernel name", () => {
    expect(nameThisThread(shardThreadName(12))).toBe(true);
    expect(readFileSync(COMM, 'utf8').trim()).toBe('shoal-shard-12');
  });

  it('keeps 15 bytes of ASCII, as the kernel would', () => {
    expect(nameThisThread('shoal-°-shard-with-a-long-name')).toBe(true);
    expect(readFileSync(COMM, 'utf8').trim()).toBe('shoal-_-shard-w');
  });

  it('leaves the name alone when there is nothing to set', () => {
    nameThisThread('before');
    expect(nameThisThread('')).toBe(false);
    expect(readFileSync(COMM, 'utf8').trim()).toBe('before');
  });
});
