/**
 * Imported first by the CLI, before anything can touch libuv's thread pool (it is sized once,
 * at its first use). The pool is shared by every thread of the process: the shards' archive
 * writes (each one a write and an fsync), chDB's inserts and queries (each holds a pool thread
 * for as long as it runs) and the spooling of insert bodies. With libuv's default of 4, four
 * inserts in flight left archive writes and spool files queued behind them (measured at 50k
 * events/s offered: spool writes of 20 MB waiting up to 650 ms). An explicit
 * UV_THREADPOOL_SIZE in the environment wins.
 */
const THREADPOOL_SIZE = 16;

process.env['UV_THREADPOOL_SIZE'] ??= String(THREADPOOL_SIZE);
