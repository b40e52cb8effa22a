/**
 * Main-thread side of one shard worker: starts the thread, serves its embedded-store inserts,
 * keeps its latest stats, and stops it within a bounded time.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import type { AnalyticsStore } from '../sinks/analytics-store.js';
import type { MainToShard, ShardInit, ShardStats, ShardToMain } from './messages.js';

export class ShardHost {
  private readonly worker: Worker;
  private readyPromise: Promise<void>;
  private stoppedPromise: Promise<void>;
  private exited = false;
  latestStats: ShardStats | null = null;

  constructor(
    readonly init: ShardInit,
    private readonly store: AnalyticsStore,
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
          this.answer(
            msg.id,
            this.store.insert(msg.region, { table: msg.table, format: msg.format, rows: msg.rows, body: msg.body }, msg.token).then(() => undefined),
          );
          break;
        case 'store-archive': {
          const store = this.store;
          const insert = { table: 'events' as const, format: 'RowBinary' as const, rows: msg.rows, body: msg.body };
          this.answer(
            msg.id,
            store.archiveParquet ? store.archiveParquet(insert, msg.days) : Promise.reject(new Error(`the ${store.kind} store does not encode archives`)),
          );
          break;
        }
        case 'store-query':
          this.answer(msg.id, this.store.query(msg.sql, msg.params));
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
