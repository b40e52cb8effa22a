/**
 * Shard-side AnalyticsStore that forwards inserts and reads to the main thread, which owns the
 * embedded chDB session (one per process). Statements are not served here: they run in the
 * main thread.
 */
import type { MessagePort } from 'node:worker_threads';
import { SinkError } from '../errors.js';
import type { AnalyticsStore, EncodedInsert } from '../sinks/analytics-store.js';
import type { StoreArchive, StoreInsert, StoreQuery, StoreReply } from './messages.js';

export class StoreProxy implements AnalyticsStore {
  readonly kind = 'chdb' as const;
  /** What the main thread's chDB store parses fastest (ChdbStore.insertFormat). */
  readonly insertFormat = 'RowBinary' as const;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (rows: unknown[]) => void; reject: (err: Error) => void }>();

  constructor(
    private readonly port: MessagePort,
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

  insert(region: string, insert: EncodedInsert, token: string): Promise<void> {
    const id = this.nextId++;
    // Copy into a fresh ArrayBuffer we can transfer: the caller keeps its bytes for retries.
    const body = new Uint8Array(insert.body);
    const msg: StoreInsert = {
      type: 'store-insert',
      id,
      region,
      table: insert.table,
      format: insert.format,
      rows: insert.rows,
      body,
      token,
    };
    return this.ask(msg, `insert into ${insert.table}`, [body.buffer]).then(() => undefined);
  }

  /** The flush's archive, encoded by the main thread's chDB store (ChdbStore.archiveParquet). */
  archiveParquet(insert: EncodedInsert, days: readonly number[]): Promise<Uint8Array[]> {
    const body = new Uint8Array(insert.body);
    const msg: StoreArchive = { type: 'store-archive', id: this.nextId++, body, rows: insert.rows, days: [...days] };
    return this.ask(msg, 'archive encoding', [body.buffer]) as Promise<Uint8Array[]>;
  }

  /** A read, run by the main thread's store. */
  query<T = Record<string, unknown>>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> {
    const msg: StoreQuery = { type: 'store-query', id: this.nextId++, sql, params };
    return this.ask(msg, 'query') as Promise<T[]>;
  }

  private ask(msg: StoreInsert | StoreArchive | StoreQuery, what: string, transfer: ArrayBuffer[] = []): Promise<unknown[]> {
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
      this.port.postMessage(msg, transfer);
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
