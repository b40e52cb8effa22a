/**
 * Main-thread side of one shard worker: starts the thread, serves its embedded-store inserts
 * (bodies the shard spooled to files, StoreProxy), keeps its latest stats, and stops it
 * within a bounded time.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import type { ChdbStore } from '../sinks/chdb-store.js';
import type { MainToShard, ShardInit, ShardStats, ShardToMain, StoreArchive, StoreInsert, StoreQuery } from './messages.js';

export class ShardHost {
  private readonly worker: Worker;
  private readyPromise: Promise<void>;
  private stoppedPromise: Promise<void>;
  private exited = false;
  latestStats: ShardStats | null = null;

  constructor(
    readonly init: ShardInit,
    /** The embedded store whose requests the shard forwards; null with a ClickHouse server. */
    private readonly store: ChdbStore | null,
    private readonly logger: Logger,
    onFatal: (shard: number, message: string) => void,
  ) {
    this.worker = new Worker(new URL('./shard-worker.js', import.meta.url), { workerData: init });
    let readyResolve!: () => void;
    let readyReject!: (err: Error) => void;
    let stoppedResolve!: () => void;
    this.readyPromise = new Promise((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.stoppedPromise = new Promise((res) => (stoppedResolve = res));
    this.worker.on('message', (msg: ShardToMain) => {
      switch (msg.type) {
        case 'ready':
          readyResolve();
          break;
        case 'store-insert':
        case 'store-archive':
        case 'store-query':
          this.answer(msg.id, this.serve(msg));
          break;
        case 'stats':
          this.latestStats = msg;
          break;
        case 'stopped':
          stoppedResolve();
          break;
        case 'fatal':
          readyReject(new Error(`shard ${msg.shard}: ${msg.message}`));
          onFatal(msg.shard, msg.message);
          break;
      }
    });
    this.worker.on('error', (err) => {
      this.logger.error({ shard: init.shard, err: err.message }, 'shard thread crashed');
      readyReject(err);
      onFatal(init.shard, err.message);
    });
    this.worker.on('exit', () => {
      this.exited = true;
      stoppedResolve();
    });
  }

  get alive(): boolean {
    return !this.exited;
  }

  ready(): Promise<void> {
    return this.readyPromise;
  }

  /** Run a shard's store request on the embedded store. */
  private async serve(msg: StoreInsert | StoreArchive | StoreQuery): Promise<unknown[] | undefined> {
    const store = this.store;
    if (store === null) throw new Error('no embedded store in this process: the shard talks to ClickHouse itself');
    switch (msg.type) {
      case 'store-insert':
        await store.insertSpooled(msg.region, { table: msg.table, format: msg.format, rows: msg.rows, file: msg.file }, msg.token);
        return undefined;
      case 'store-archive':
        return store.archiveParquetSpooled({ table: 'events', format: 'RowBinary', rows: msg.rows, file: msg.file }, msg.days);
      case 'store-query':
        return store.query(msg.sql, msg.params);
    }
  }

  /** Reply to a store request with its rows (none for an insert) or its error. */
  private answer(id: number, request: Promise<unknown[] | undefined>): void {
    request.then(
      (rows) => this.post(rows === undefined ? { type: 'store-reply', id, error: null } : { type: 'store-reply', id, error: null, rows }),
      (err: unknown) =>
        this.post({ type: 'store-reply', id, error: { message: errorMessage(err), code: (err as { code?: string }).code ?? 'SINK_FAILED' } }),
    );
  }

  private post(msg: MainToShard): void {
    if (!this.exited) this.worker.postMessage(msg);
  }

  /** Ask the shard to flush and stop; terminate it if it has not stopped within `timeoutMs`. */
  async stop(flush: boolean, timeoutMs = 20_000): Promise<void> {
    if (this.exited) return;
    this.post({ type: 'stop', flush });
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    if ((await Promise.race([this.stoppedPromise.then(() => 'ok' as const), timer])) === 'timeout')
      this.logger.warn({ shard: this.init.shard }, 'shard did not stop in time; terminating');
    await this.worker.terminate();
  }
}
