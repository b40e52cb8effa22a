/**
 * Main-thread side of one shard worker: starts the thread, serves its embedded-store inserts
 * (bodies the shard spooled to files, StoreProxy), keeps its latest stats, stops it within a
 * bounded time, and reports a thread that ended on its own (the pipeline restarts it).
 */
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { errorMessage } from '../errors.js';
import type { ChdbStore } from '../sinks/chdb-store.js';
import type { MainToShard, ShardInit, ShardStats, ShardToMain, StoreArchive, StoreInsert, StoreQuery } from './messages.js';
import { youngGenerationMb } from './young-generation.js';

/**
 * A shard thread's heap: the old generation's limit also sets how far V8 lets it grow past its
 * live objects (config.ts), the young generation is where an entry's events should die
 * (young-generation.ts).
 */
export function shardResourceLimits(config: Pick<Config, 'shardHeapMb' | 'semiSpaceMb'>): ResourceLimits {
  const young = youngGenerationMb(config.semiSpaceMb);
  return { maxOldGenerationSizeMb: config.shardHeapMb, ...(young === undefined ? {} : { maxYoungGenerationSizeMb: young }) };
}

/** Why a shard thread ended without being asked to stop. */
export type ShardExitReason = 'out_of_memory' | 'crashed';

export interface ShardHostEvents {
  /** The shard failed to start (it reported a fatal error). */
  onFatal: (shard: number, message: string) => void;
  /** The thread ended, after it was ready, without being asked to stop; the host is dead after this. */
  onUnexpectedExit: (shard: number, reason: ShardExitReason, message: string) => void;
}

export class ShardHost {
  private readonly worker: Worker;
  private readyPromise: Promise<void>;
  private stoppedPromise: Promise<void>;
  private exited = false;
  private stopRequested = false;
  private started = false;
  /** The error the thread ended with, if any ('error' comes before 'exit'). */
  private failure: Error | null = null;
  latestStats: ShardStats | null = null;

  constructor(
    readonly init: ShardInit,
    /** The embedded store whose requests the shard forwards; null with a ClickHouse server. */
    private readonly store: ChdbStore | null,
    private readonly logger: Logger,
    events: ShardHostEvents,
  ) {
    this.worker = new Worker(new URL('./shard-worker.js', import.meta.url), { workerData: init, resourceLimits: shardResourceLimits(init.config) });
    let readyResolve!: () => void;
    let readyReject!: (err: Error) => void;
    let stoppedResolve!: () => void;
    this.readyPromise = new Promise((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    // A host whose start failed is also awaited elsewhere (stop): never an unhandled rejection.
    this.readyPromise.catch(() => undefined);
    this.stoppedPromise = new Promise((res) => (stoppedResolve = res));
    this.worker.on('message', (msg: ShardToMain) => {
      switch (msg.type) {
        case 'ready':
          this.started = true;
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
          events.onFatal(msg.shard, msg.message);
          break;
      }
    });
    this.worker.on('error', (err) => {
      this.failure = err;
      const oom = (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY';
      this.logger.error({ shard: init.shard, err: err.message, ...(oom ? { shardHeapMb: init.config.shardHeapMb } : {}) }, oom ? 'shard thread ran out of heap' : 'shard thread crashed');
      readyReject(err);
    });
    this.worker.on('exit', (code) => {
      this.exited = true;
      stoppedResolve();
      readyReject(new Error(`shard ${init.shard} exited with code ${code}`));
      // Before 'ready', whoever started the thread learns of it from ready() and decides.
      if (this.stopRequested || !this.started) return;
      const failure = this.failure;
      const reason: ShardExitReason = (failure as { code?: string } | null)?.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'out_of_memory' : 'crashed';
      events.onUnexpectedExit(init.shard, reason, failure?.message ?? `the thread exited with code ${code}`);
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
    this.stopRequested = true;
    if (this.exited) return;
    this.post({ type: 'stop', flush });
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    if ((await Promise.race([this.stoppedPromise.then(() => 'ok' as const), timer])) === 'timeout')
      this.logger.warn({ shard: this.init.shard }, 'shard did not stop in time; terminating');
    await this.worker.terminate();
  }
}
