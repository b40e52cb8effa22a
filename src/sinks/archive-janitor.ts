/**
 * Retention of the raw archive (objectStore.retentionDays, DESIGN §1 and §4).
 *
 *   startArchiveRetention   at start: on S3, a bucket lifecycle rule expiring `raw/`; where the
 *                           server refuses it (s3rver and some S3-compatible servers answer
 *                           501), and always for the directory store, the ArchiveJanitor.
 *   ArchiveJanitor          deletes every object whose event date (read from its key,
 *                           raw/region=R/event_date=D/...) is past the retention: at start, then
 *                           every hour (unref'd timer), in bounded batches, stoppable between
 *                           batches. Keys outside `raw/` are never touched.
 *
 * An event date D is expired once all of it is older than the retention: D < the UTC date of
 * (now − retentionDays). With 30 days, an object of 31 days ago goes, 30 days ago stays until
 * midnight. In the directory store the janitor finds the date folders by reading directories
 * (no stat per object), lists and deletes only expired folders, then removes the emptied
 * directories; an S3 store without lifecycle rules is listed whole under `raw/`.
 */
import { readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import { DirObjectStore } from './dir-object-store.js';
import type { ObjectInfo, ObjectStore } from './object-store.js';
import { DAY_MS, archivePrefix, eventDate } from './raw-archive.js';
import { S3ObjectStore } from './s3-object-store.js';

/** Every archive key starts with this; the janitor never deletes anything else. */
export const ARCHIVE_ROOT = 'raw/';
const DEFAULT_INTERVAL_MS = 3_600_000;
const DEFAULT_BATCH_SIZE = 100;
const REGION_DIR = /^region=([a-z][a-z0-9-]*)$/;
const DATE_DIR = /^event_date=(\d{4}-\d{2}-\d{2})$/;
const KEY_FOLDER = /^raw\/region=([^/]+)\/event_date=(\d{4}-\d{2}-\d{2})\//;

/** One (region, event date) folder of the archive. */
export interface ArchiveFolder {
  region: string;
  eventDate: string;
  /** Its key prefix, archivePrefix(region, eventDate). */
  prefix: string;
}

export interface ArchiveJanitorOptions {
  objects: ObjectStore;
  /** Days an event date is kept (objectStore.retentionDays). */
  retentionDays: number;
  logger: Logger;
  /** Wall clock, epoch ms. Default Date.now. */
  clock?: () => number;
  /** Time between sweeps, ms. Default 1 hour. */
  intervalMs?: number;
  /** Deletes in flight at once; the sweep checks for stop() between batches. Default 100. */
  batchSize?: number;
}

export interface SweepResult {
  /** The oldest event date kept (YYYY-MM-DD); older dates were deleted. */
  keepFrom: string;
  deletedObjects: number;
  deletedBytes: number;
  /** The expired folders found, as `region/YYYY-MM-DD`, in key order. */
  expired: string[];
  /** True when stop() ended the sweep before it was done. */
  interrupted: boolean;
}

/** The first event date kept at `now`: every earlier date holds only events older than the retention. */
export function firstKeptDate(now: number, retentionDays: number): string {
  return eventDate(now - retentionDays * DAY_MS);
}

/** The event date of an archive key, or null when `key` is not under raw/region=R/event_date=D/. */
export function archiveKeyDate(key: string): string | null {
  return KEY_FOLDER.exec(key)?.[2] ?? null;
}

function isExpired(key: string, keepFrom: string): boolean {
  const date = archiveKeyDate(key);
  return key.startsWith(ARCHIVE_ROOT) && date !== null && date < keepFrom;
}

async function subdirectories(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** The archive's (region, event date) folders in a directory store, read from its directory tree. */
export async function archiveFolders(store: DirObjectStore): Promise<ArchiveFolder[]> {
  const out: ArchiveFolder[] = [];
  const root = join(store.root, ARCHIVE_ROOT);
  for (const regionDir of (await subdirectories(root)).sort()) {
    const region = REGION_DIR.exec(regionDir)?.[1];
    if (region === undefined) continue;
    for (const dateDir of (await subdirectories(join(root, regionDir))).sort()) {
      const date = DATE_DIR.exec(dateDir)?.[1];
      if (date === undefined) continue;
      const prefix = archivePrefix(region, date);
      if (prefix === `${ARCHIVE_ROOT}${regionDir}/${dateDir}/`) out.push({ region, eventDate: date, prefix });
    }
  }
  return out;
}

/** Remove `dir` and the directories below it that are (or become) empty; anything holding a file stays. */
async function removeEmptyDirectories(dir: string): Promise<void> {
  for (const sub of await subdirectories(dir)) await removeEmptyDirectories(join(dir, sub));
  try {
    await rmdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOENT') throw err;
  }
}

export class ArchiveJanitor {
  private readonly clock: () => number;
  private readonly intervalMs: number;
  private readonly batchSize: number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<SweepResult> | null = null;
  private stopped = false;

  constructor(private readonly options: ArchiveJanitorOptions) {
    if (!Number.isInteger(options.retentionDays) || options.retentionDays < 1)
      throw new RangeError(`retentionDays must be a positive integer, got ${options.retentionDays}`);
    this.clock = options.clock ?? Date.now;
    this.intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.batchSize = Math.max(1, options.batchSize ?? DEFAULT_BATCH_SIZE);
  }

  /** Sweep now, then every intervalMs; a failed sweep is logged and tried again at the next one. */
  start(): void {
    if (this.timer) return;
    this.stopped = false;
    const tick = (): void => {
      void this.sweepAndLog();
    };
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
    tick();
  }

  /** Stop the timer and wait for a running sweep, which ends after its current batch. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** One sweep; while one is running, its result. */
  sweep(): Promise<SweepResult> {
    this.running ??= this.doSweep().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async sweepAndLog(): Promise<void> {
    const { logger, retentionDays } = this.options;
    try {
      const r = await this.sweep();
      const fields = { keepFrom: r.keepFrom, retentionDays, deletedObjects: r.deletedObjects, deletedBytes: r.deletedBytes, expired: r.expired };
      if (r.deletedObjects > 0) logger.info(fields, 'archive janitor deleted expired archive objects');
      else logger.debug(fields, 'archive janitor found nothing expired');
    } catch (err) {
      logger.warn({ err: errorMessage(err) }, 'archive janitor sweep failed; it runs again at the next interval');
    }
  }

  private async doSweep(): Promise<SweepResult> {
    const { objects, retentionDays } = this.options;
    const keepFrom = firstKeptDate(this.clock(), retentionDays);
    const result: SweepResult = { keepFrom, deletedObjects: 0, deletedBytes: 0, expired: [], interrupted: false };
    if (objects instanceof DirObjectStore) {
      for (const folder of await archiveFolders(objects)) {
        if (folder.eventDate >= keepFrom) continue;
        if (this.stopped) break;
        result.expired.push(`${folder.region}/${folder.eventDate}`);
        await this.deleteExpired(await objects.list(folder.prefix), keepFrom, result);
        if (!this.stopped) await removeEmptyDirectories(join(objects.root, ...folder.prefix.split('/').filter(Boolean)));
      }
    } else {
      const expired = (await objects.list(ARCHIVE_ROOT)).filter((o) => isExpired(o.key, keepFrom));
      const folders = expired.map((o) => KEY_FOLDER.exec(o.key)).map((m) => `${m?.[1] ?? ''}/${m?.[2] ?? ''}`);
      result.expired = [...new Set(folders)];
      await this.deleteExpired(expired, keepFrom, result);
    }
    result.interrupted = this.stopped;
    return result;
  }

  private async deleteExpired(found: readonly ObjectInfo[], keepFrom: string, result: SweepResult): Promise<void> {
    // Checked again per key: whatever the listing returned, only expired archive keys go.
    const doomed = found.filter((o) => isExpired(o.key, keepFrom));
    for (let i = 0; i < doomed.length && !this.stopped; i += this.batchSize) {
      const batch = doomed.slice(i, i + this.batchSize);
      await Promise.all(batch.map((o) => this.options.objects.delete(o.key)));
      result.deletedObjects += batch.length;
      result.deletedBytes += batch.reduce((sum, o) => sum + o.size, 0);
    }
  }
}

export interface ArchiveRetentionOptions {
  objects: ObjectStore;
  retentionDays: number;
  logger: Logger;
  clock?: () => number;
}

/**
 * Put the archive's retention in place for the configured store: an S3 lifecycle rule when
 * the server takes one (then returns null), else a started ArchiveJanitor, to stop on shutdown.
 * A server that refuses lifecycle rules is logged once, here.
 */
export async function startArchiveRetention(options: ArchiveRetentionOptions): Promise<ArchiveJanitor | null> {
  const { objects, retentionDays, logger } = options;
  if (objects instanceof S3ObjectStore) {
    const result = await objects.applyExpiry(ARCHIVE_ROOT, retentionDays);
    if (result.status === 'applied' || result.status === 'unchanged') {
      logger.info({ rule: result.ruleId, prefix: result.prefix, days: result.days, status: result.status }, 'raw archive expires by an S3 lifecycle rule');
      return null;
    }
    const why = { httpStatus: result.httpStatus, code: result.code, message: result.message };
    if (result.status === 'unsupported')
      logger.warn(why, 'the S3 server refuses lifecycle rules; the archive janitor deletes expired archive objects instead');
    else logger.warn(why, 'could not put the S3 lifecycle rule; the archive janitor deletes expired archive objects instead');
  }
  const janitor = new ArchiveJanitor(options);
  janitor.start();
  return janitor;
}
