import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UnrecoverableError } from '../../../src/errors.js';
import { DirObjectStore } from '../../../src/sinks/dir-object-store.js';
import { objectStoreContract } from './object-store-contract.js';

const root = mkdtempSync(join(tmpdir(), 'shoal-objects-'));
const store = new DirObjectStore(join(root, 'objects'));

afterAll(() => rmSync(root, { recursive: true, force: true }));

objectStoreContract('DirObjectStore', () => store);

describe('DirObjectStore', () => {
  it('leaves no temporary files behind and maps keys to paths under its root', async () => {
    await store.put('raw/x/y.parquet', Buffer.from('data'));
    expect(readdirSync(join(root, 'objects', 'raw', 'x'))).toEqual(['y.parquet']);
  });

  it('never shows a torn object: concurrent writers of one key leave exactly one of their bodies', async () => {
    const bodies = Array.from({ length: 10 }, (_, i) => Buffer.alloc(256 * 1024, i));
    await Promise.all(bodies.map((b) => store.put('race/key', b)));
    const back = Buffer.from((await store.get('race/key'))!);
    expect(bodies.some((b) => b.equals(back))).toBe(true);
    expect(readdirSync(join(root, 'objects', 'race'))).toEqual(['key']);
  });

  it('rejects keys that would escape the root', async () => {
    for (const key of ['../evil', 'a/../../b', '/abs', 'a//b', '']) {
      await expect(store.put(key, Buffer.from('x'))).rejects.toBeInstanceOf(UnrecoverableError);
    }
  });
});
