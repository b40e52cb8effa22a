/**
 * Shard-side AnalyticsStore that forwards inserts and reads to the main thread, which owns the
 * embedded chDB sessions (one directory per process). Statements are not served here: they
 * run in the main thread.
 *
 * An insert's body does not cross threads: this thread writes it to a file of the store's
 * spool directory and sends the file's name (StoreInsert, StoreArchive); ClickHouse reads
 * the file. The main thread's event loop is the busiest in the process (the gateway), and
 * writing bodies there went through it once per 512 KiB chunk: spooling a flush's 3 MB took
 * 150 ms on average and up to 750 ms at 50k events/s, as long as the insert itself. A flush's
 * events body, which both the insert and the archive read, is written once for both.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { threadId, type MessagePort } from 'node:worker_threads';
import { SinkError, errorMessage } from '../errors.js';
import type { AnalyticsStore, EncodedInsert } from '../sinks/analytics-store.js';
import type { StoreArchive, StoreInsert, StoreQuery, StoreReply } from './messages.js';

/** A body on disk and how many requests still read it. */
interface Spooled {
  file: string;
  readers: number;
}

export class StoreProxy implements AnalyticsStore {
  readonly kind = 'chdb' as const;
  /** What the main thread's chDB store parses fastest (ChdbStore.insertFormat). */
  readonly insertFormat = 'RowBinary' as const;
  private nextId = 1;
  private nextFile = 1;
  private readonly waiting = new Map<number, { resolve: (rows: unknown[]) => void; reject: (err: Error) => void }>();
  /** Bodies spooled for requests still running, by body: an insert and an archive share one. */
  private readonly spooled = new Map<Uint8Array, Spooled>();

  constructor(
    private readonly port: MessagePort,
    /** The store's spool directory (ChdbStore.spoolDir). */
    private readonly spoolDir: string,
    /** An insert the main thread has not answered within this long fails (and is retried
     *  by the flush with the same token, which ClickHouse drops if the first one landed). */
    private readonly timeoutMs = 60_000,
  ) {}

  /** Route a StoreReply from the main thread to its waiting insert. */
  settle(reply: StoreReply): void {
    const waiter = this.waiting.get(reply.id);
    if (!waiter) return;
    this.waiting.delete(reply.id);
    if (reply.error) waiter.reject(new SinkError('clickhouse', reply.error.message));
    else waiter.resolve(reply.rows ?? []);
  }

  init(): Promise<void> {
    return Promise.resolve();
  }

  async insert(region: string, insert: EncodedInsert, token: string): Promise<void> {
    if (insert.rows === 0) return;
    await this.withSpooled(insert.body, (file) => {
      const msg: StoreInsert = { type: 'store-insert', id: this.nextId++, region, table: insert.table, format: insert.format, rows: insert.rows, file, token };
      return this.ask(msg, `insert into ${insert.table}`);
    });
  }

  /** The flush's archive, encoded by the main thread's chDB store (ChdbStore.archiveParquetSpooled). */
  archiveParquet(insert: EncodedInsert, days: readonly number[]): Promise<Uint8Array[]> {
    return this.withSpooled(insert.body, (file) => {
      const msg: StoreArchive = { type: 'store-archive', id: this.nextId++, file, rows: insert.rows, days: [...days] };
      return this.ask(msg, 'archive encoding') as Promise<Uint8Array[]>;
    });
  }

  /** A read, run by the main thread's store. */
  query<T = Record<string, unknown>>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> {
    const msg: StoreQuery = { type: 'store-query', id: this.nextId++, sql, params };
    return this.ask(msg, 'query') as Promise<T[]>;
  }

  /**
   * Run `op` with `body` in a spool file, written now unless a request still running has it,
   * and removed once the last request reading it has settled (answered, failed or timed out).
   */
  private async withSpooled<T>(body: Uint8Array, op: (file: string) => Promise<T>): Promise<T> {
    let spooled = this.spooled.get(body);
    if (!spooled) {
      const file = join(this.spoolDir, `${process.pid}-t${threadId}-${this.nextFile++}.body`);
      this.write(file, body);
      spooled = { file, readers: 0 };
      this.spooled.set(body, spooled);
    }
    spooled.readers++;
    try {
      return await op(spooled.file);
    } finally {
      if (--spooled.readers === 0) {
        this.spooled.delete(body);
        rmSync(spooled.file, { force: true });
      }
    }
  }

  /** Write a body to the spool, making the directory again if something removed it. */
  private write(file: string, body: Uint8Array): void {
    try {
      try {
        writeFileSync(file, body);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        mkdirSync(this.spoolDir, { recursive: true });
        writeFileSync(file, body);
      }
    } catch (err) {
      throw new SinkError('clickhouse', `cannot spool an insert body to ${file}: ${errorMessage(err)}`, { cause: err });
    }
  }

  private ask(msg: StoreInsert | StoreArchive | StoreQuery, what: string): Promise<unknown[]> {
    const { id } = msg;
    return new Promise<unknown[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new SinkError('clickhouse', `${what} not answered within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiting.set(id, {
        resolve: (rows) => {
          clearTimeout(timer);
          resolve(rows);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      this.port.postMessage(msg);
    });
  }

  command(): Promise<void> {
    return Promise.reject(new Error('StoreProxy does not run statements; run them in the main thread'));
  }

  ping(): Promise<boolean> {
    return Promise.resolve(true);
  }

  /** Fail every waiting insert (the main thread is going away). */
  close(): Promise<void> {
    for (const [id, waiter] of this.waiting) {
      this.waiting.delete(id);
      waiter.reject(new SinkError('clickhouse', 'store proxy closed'));
    }
    return Promise.resolve();
  }
}
