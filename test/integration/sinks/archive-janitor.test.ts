/**
 * The archive janitor against the directory store and s3rver, with an injected clock: objects
 * whose key dates them past the retention are deleted, today's and those inside the retention
 * stay, keys outside the archive are never touched; deletes go in bounded batches; stop()
 * ends a sweep after its batch; the timer sweeps again as the clock moves; and against s3rver,
 * which refuses lifecycle rules, retention falls back to the janitor with one warning.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveJanitor, startArchiveRetention } from '../../../src/sinks/archive-janitor.js';
import { DirObjectStore } from '../../../src/sinks/dir-object-store.js';
import type { ObjectStore } from '../../../src/sinks/object-store.js';
import { archiveKey, eventDate } from '../../../src/sinks/raw-archive.js';
import { S3ObjectStore } from '../../../src/sinks/s3-object-store.js';
import { waitFor } from '../../helpers/shoal-process.js';
import { startS3rver, type S3rver } from './s3rver-process.js';

const DAY = 86_400_000;
/** Mid-morning, so "30 days ago" is a date only partly past the retention. */
const NOW = Date.UTC(2026, 2, 15, 10, 30);
const RETENTION_DAYS = 30;
const silent = pino({ level: 'silent' });

function key(region: string, daysAgo: number, partition: number, n: number): string {
  const id = `${NOW - daysAgo * DAY + n}-0`;
  return archiveKey({ region, eventDate: eventDate(NOW - daysAgo * DAY), partition, fromId: id, toId: id });
}

interface Fixture {
  expired: string[];
  kept: string[];
  /** Keys that are not archive objects of an expired date, whatever their names suggest. */
  foreign: string[];
}

/** Put a back-dated archive in two regions, plus keys the janitor must leave alone. */
async function seed(store: ObjectStore): Promise<Fixture> {
  const expired: string[] = [];
  const kept: string[] = [];
  for (const region of ['us-east', 'eu-west']) {
    for (const partition of [0, 3]) {
      for (const daysAgo of [31, 40, 400]) expired.push(key(region, daysAgo, partition, 1), key(region, daysAgo, partition, 2));
      for (const daysAgo of [0, 1, 29, 30]) kept.push(key(region, daysAgo, partition, 1));
    }
  }
  const oldDate = eventDate(NOW - 40 * DAY);
  const foreign = [
    `other/region=us-east/event_date=${oldDate}/p=0000/x.parquet`,
    `raw-not-archive/region=us-east/event_date=${oldDate}/x`,
    'raw/README',
    `raw/region=us-east/notes-${oldDate}`,
  ];
  for (const k of [...expired, ...kept, ...foreign]) await store.put(k, Buffer.from(`body of ${k}`));
  return { expired, kept, foreign };
}

async function allKeys(store: ObjectStore): Promise<string[]> {
  return (await store.list('')).map((o) => o.key);
}

function capture(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

/** A directory store that records how many deletes run at once, and can hold them at a gate. */
class WatchedDirStore extends DirObjectStore {
  inFlight = 0;
  maxInFlight = 0;
  started = 0;
  gate: Promise<void> | null = null;

  override async delete(key: string): Promise<void> {
    this.inFlight++;
    this.started++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.gate) await this.gate;
      await super.delete(key);
    } finally {
      this.inFlight--;
    }
  }
}

function janitorSuite(name: string, make: () => ObjectStore): void {
  describe(`ArchiveJanitor on ${name}`, () => {
    it('deletes what the key dates past the retention and keeps today, the retention window and foreign keys', async () => {
      const store = make();
      const { expired, kept, foreign } = await seed(store);
      const janitor = new ArchiveJanitor({ objects: store, retentionDays: RETENTION_DAYS, logger: silent, clock: () => NOW });
      const result = await janitor.sweep();
      expect((await allKeys(store)).sort()).toEqual([...kept, ...foreign].sort());
      expect(result.deletedObjects).toBe(expired.length);
      expect(result.deletedBytes).toBe(expired.reduce((s, k) => s + Buffer.byteLength(`body of ${k}`), 0));
      expect(result.keepFrom).toBe(eventDate(NOW - RETENTION_DAYS * DAY));
      expect(result.expired).toHaveLength(2 * 3);
      // A second sweep at the same time finds nothing more.
      expect((await janitor.sweep()).deletedObjects).toBe(0);
    });

    it('sweeps at start and again on its timer as the clock moves past a fresh date', async () => {
      const store = make();
      const oldKey = key('us-east', 45, 1, 1);
      const freshKey = key('us-east', 0, 1, 1);
      await store.put(oldKey, Buffer.from('old'));
      await store.put(freshKey, Buffer.from('fresh'));
      let now = NOW;
      const janitor = new ArchiveJanitor({ objects: store, retentionDays: RETENTION_DAYS, logger: silent, clock: () => now, intervalMs: 50 });
      janitor.start();
      try {
        await waitFor('the old object to be swept at start', async () => ((await store.get(oldKey)) === null ? true : undefined), 10_000, 20);
        expect(await store.get(freshKey)).not.toBeNull();
        now = NOW + (RETENTION_DAYS + 1) * DAY;
        await waitFor('the once-fresh object to be swept by the timer', async () => ((await store.get(freshKey)) === null ? true : undefined), 10_000, 20);
      } finally {
        await janitor.stop();
      }
    });
  });
}

describe('archive retention', () => {
  const root = mkdtempSync(join(tmpdir(), 'shoal-janitor-'));
  let server: S3rver;
  let s3Stores: S3ObjectStore[] = [];
  let dirs = 0;
  const s3Config = (prefix: string) => ({
    endpoint: server.endpoint,
    bucket: server.bucket,
    prefix,
    region: 'us-east-1',
    forcePathStyle: true,
    serverSideEncryption: undefined,
  });
  const newS3 = (): S3ObjectStore => {
    const store = new S3ObjectStore(s3Config(`janitor-${s3Stores.length}/`), { credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    s3Stores.push(store);
    return store;
  };

  beforeAll(async () => {
    server = await startS3rver('shoal-janitor');
  });

  afterAll(async () => {
    await Promise.all(s3Stores.map((s) => s.close()));
    s3Stores = [];
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  janitorSuite('the directory store', () => new DirObjectStore(join(root, `dir-${dirs++}`)));
  janitorSuite('S3 (s3rver)', newS3);

  it('removes the emptied event_date directories of the directory store, and only those', async () => {
    const dir = join(root, 'emptied');
    const store = new DirObjectStore(dir);
    await seed(store);
    await new ArchiveJanitor({ objects: store, retentionDays: RETENTION_DAYS, logger: silent, clock: () => NOW }).sweep();
    for (const daysAgo of [31, 40, 400]) expect(existsSync(join(dir, 'raw', 'region=us-east', `event_date=${eventDate(NOW - daysAgo * DAY)}`))).toBe(false);
    for (const daysAgo of [0, 29, 30]) expect(existsSync(join(dir, 'raw', 'region=eu-west', `event_date=${eventDate(NOW - daysAgo * DAY)}`))).toBe(true);
  });

  it('deletes in batches of at most batchSize, and stop() ends a sweep after its current batch', async () => {
    const store = new WatchedDirStore(join(root, 'batches'));
    const keys = Array.from({ length: 25 }, (_, i) => key('us-east', 50, i % 4, i));
    for (const k of keys) await store.put(k, Buffer.from('x'));

    const full = await new ArchiveJanitor({ objects: store, retentionDays: RETENTION_DAYS, logger: silent, clock: () => NOW, batchSize: 4 }).sweep();
    expect(full.deletedObjects).toBe(keys.length);
    expect(store.maxInFlight).toBe(4);

    for (const k of keys) await store.put(k, Buffer.from('x'));
    let open = (): void => undefined;
    store.gate = new Promise((resolve) => (open = resolve));
    store.started = 0;
    const janitor = new ArchiveJanitor({ objects: store, retentionDays: RETENTION_DAYS, logger: silent, clock: () => NOW, batchSize: 4 });
    const sweeping = janitor.sweep();
    await waitFor('the first batch to be in flight', () => Promise.resolve(store.inFlight === 4 ? true : undefined), 10_000, 5);
    const stopped = janitor.stop();
    open();
    await stopped;
    const result = await sweeping;
    expect(result.interrupted).toBe(true);
    expect(result.deletedObjects).toBe(4);
    expect(store.started).toBe(4);
    expect(await allKeys(store)).toHaveLength(keys.length - 4);
  });

  it('with s3rver, which refuses lifecycle rules, starts the janitor and says so once', async () => {
    const store = newS3();
    const old = key('eu-west', 60, 2, 1);
    const fresh = key('eu-west', 2, 2, 1);
    await store.put(old, Buffer.from('old'));
    await store.put(fresh, Buffer.from('fresh'));
    const { logger, lines } = capture();
    const janitor = await startArchiveRetention({ objects: store, retentionDays: RETENTION_DAYS, logger, clock: () => NOW });
    try {
      expect(janitor).toBeInstanceOf(ArchiveJanitor);
      const refusals = lines.filter((l) => String(l['msg']).includes('refuses lifecycle rules'));
      expect(refusals).toHaveLength(1);
      expect(refusals[0]).toMatchObject({ httpStatus: 501, code: 'NotImplemented' });
      await waitFor('the janitor to sweep the old object', async () => ((await store.get(old)) === null ? true : undefined), 10_000, 20);
      expect(await store.get(fresh)).not.toBeNull();
    } finally {
      await janitor?.stop();
    }
  });

  it('for the directory store, starts the janitor without touching lifecycle rules', async () => {
    const store = new DirObjectStore(join(root, 'retention-dir'));
    const { logger, lines } = capture();
    const janitor = await startArchiveRetention({ objects: store, retentionDays: RETENTION_DAYS, logger, clock: () => NOW });
    try {
      expect(janitor).toBeInstanceOf(ArchiveJanitor);
      expect(lines.filter((l) => String(l['msg']).includes('lifecycle'))).toEqual([]);
    } finally {
      await janitor?.stop();
    }
  });
});
