/**
 * ObjectStore over a local directory (the embedded default): a key is a relative path under
 * the root. put writes and fsyncs a temporary file, then renames it over the key, so a reader
 * or a crash sees the old object or the new one, never a torn one.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SinkError, UnrecoverableError, errorMessage } from '../errors.js';
import type { ObjectInfo, ObjectStore } from './object-store.js';

const SINK = 'object-store';
const TEMP_MARK = '.tmp-';

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

/** Throw unless `key` is a relative, '/'-separated path with no empty, '.' or '..' segments. */
function assertKey(key: string): void {
  const bad =
    key === '' ||
    key.includes('\\') ||
    key.includes('\0') ||
    key.includes(TEMP_MARK) ||
    key.split('/').some((s) => s === '' || s === '.' || s === '..');
  if (bad) throw new UnrecoverableError('OBJECT_KEY_INVALID', `invalid object key: ${JSON.stringify(key)}`);
}

export class DirObjectStore implements ObjectStore {
  readonly kind = 'dir' as const;

  constructor(readonly root: string) {}

  private path(key: string): string {
    assertKey(key);
    return join(this.root, ...key.split('/'));
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    const target = this.path(key);
    const temp = `${target}${TEMP_MARK}${randomBytes(6).toString('hex')}`;
    try {
      await mkdir(dirname(target), { recursive: true });
      const file = await open(temp, 'w');
      try {
        await file.writeFile(body);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true });
      throw new SinkError(SINK, `put ${key} failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  async get(key: string): Promise<Uint8Array | null> {
    const path = this.path(key);
    try {
      return new Uint8Array(await readFile(path));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return null;
      throw new SinkError(SINK, `get ${key} failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    // Walk only the deepest directory the prefix names completely.
    const slash = prefix.lastIndexOf('/');
    const base = slash < 0 ? '' : prefix.slice(0, slash);
    if (base !== '') assertKey(base);
    const out: ObjectInfo[] = [];
    try {
      await this.walk(base, prefix, out);
    } catch (err) {
      throw new SinkError(SINK, `list ${prefix} failed: ${errorMessage(err)}`, { cause: err });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  private async walk(dirKey: string, prefix: string, out: ObjectInfo[]): Promise<void> {
    const dir = dirKey === '' ? this.root : join(this.root, ...dirKey.split('/'));
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return;
      throw err;
    }
    for (const entry of entries) {
      const key = dirKey === '' ? entry.name : `${dirKey}/${entry.name}`;
      if (entry.isDirectory()) {
        if (prefix.startsWith(`${key}/`) || key.startsWith(prefix)) await this.walk(key, prefix, out);
      } else if (entry.isFile() && key.startsWith(prefix) && !entry.name.includes(TEMP_MARK)) {
        try {
          const st = await stat(join(dir, entry.name));
          out.push({ key, size: st.size, lastModified: st.mtime });
        } catch (err) {
          if (!isErrno(err, 'ENOENT')) throw err; // deleted while listing
        }
      }
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.path(key);
    try {
      await unlink(path);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      throw new SinkError(SINK, `delete ${key} failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  async ping(): Promise<boolean> {
    try {
      await mkdir(this.root, { recursive: true });
      return (await stat(this.root)).isDirectory();
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
