// Child process of perf/peers/clickhouse-direct.mjs: owns one chDB Session (chDB binds one
// data directory per process) and inserts the TabSeparated batches its parent streams to it.
//
// Control and replies over the IPC channel (JSON):
//   → {type:'init', dir, statements, table, columns, dedupTokens, concurrency}
//   ← {type:'ready', version, openMs}
//   ← {type:'ack', id, ok, ms, rowsWritten, error?}          one per batch
//   → {type:'stats'}   ← {type:'stats', count, activeParts, rows, bytesOnDisk, uncompressedBytes}
//   → {type:'close'}   ← {type:'closed'}, then exit 0
// Data on fd 4 (not stdin: chDB's engine may read fd 0): frames of
// [u32le MAGIC][u32le id][u32le length][payload: TabSeparated rows].
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const MAGIC = 0x53484f41;
const DATA_FD = 4;

let session = null;
let cfg = null;
const queue = [];
let running = 0;
let pending = Buffer.alloc(0);

function reply(msg) {
  if (process.connected) process.send(msg);
}

function errorText(err) {
  return String(err?.message ?? err).slice(0, 500);
}

async function runQuery(sql) {
  const res = await session.queryAsync(sql, { format: 'JSONEachRow' });
  return res
    .text()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

function pump() {
  while (session && cfg && running < cfg.concurrency && queue.length > 0) {
    const { id, payload } = queue.shift();
    running++;
    const t = performance.now();
    const settings = { async_insert: 0 };
    if (cfg.dedupTokens) settings.insert_deduplication_token = `peer-${process.pid}-${id}`;
    session
      .insert({ table: cfg.table, values: payload, format: 'TabSeparated', columns: cfg.columns, settings })
      .then(
        (sum) => reply({ type: 'ack', id, ok: true, ms: performance.now() - t, rowsWritten: sum?.rowsWritten ?? null }),
        (err) => reply({ type: 'ack', id, ok: false, ms: performance.now() - t, error: errorText(err) }),
      )
      .finally(() => {
        running--;
        pump();
      });
  }
}

// A libuv pipe stream, not fs.createReadStream: a blocking fs read of a pipe sits in the
// threadpool and keeps process.exit from finishing.
new net.Socket({ fd: DATA_FD, readable: true, writable: false }).on('data', (chunk) => {
  pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
  while (pending.length >= 12) {
    if (pending.readUInt32LE(0) !== MAGIC) {
      reply({ type: 'fatal', error: 'data stream out of frame' });
      process.exit(3);
    }
    const id = pending.readUInt32LE(4);
    const len = pending.readUInt32LE(8);
    if (pending.length < 12 + len) break;
    // A copy: the payload must not change until chDB's insert settles.
    const payload = Buffer.from(pending.subarray(12, 12 + len));
    pending = pending.subarray(12 + len);
    queue.push({ id, payload });
  }
  pump();
});

process.on('message', async (msg) => {
  try {
    if (msg.type === 'init') {
      cfg = { concurrency: 1, ...msg };
      const t = performance.now();
      const { Session } = await import('chdb');
      session = new Session(msg.dir);
      for (const sql of msg.statements) await session.queryAsync(sql, { format: 'TabSeparated' });
      const [{ v }] = await runQuery('SELECT version() AS v');
      reply({ type: 'ready', version: v, openMs: performance.now() - t });
      pump();
    } else if (msg.type === 'stats') {
      const [db, table] = cfg.table.split('.');
      const [{ c, units }] = await runQuery(`SELECT count() AS c, groupUniqArray(unit) AS units FROM ${cfg.table}`);
      const [p] = await runQuery(
        `SELECT count() AS activeParts, sum(rows) AS rows, sum(bytes_on_disk) AS bytesOnDisk, sum(data_uncompressed_bytes) AS uncompressedBytes
         FROM system.parts WHERE active AND database = '${db}' AND table = '${table}'`,
      );
      const cols = await runQuery(
        `SELECT name, sum(data_compressed_bytes) AS compressed, sum(data_uncompressed_bytes) AS uncompressed
         FROM system.columns WHERE database = '${db}' AND table = '${table}' GROUP BY name ORDER BY compressed DESC`,
      );
      reply({
        type: 'stats',
        count: Number(c),
        units,
        activeParts: Number(p.activeParts),
        rows: Number(p.rows),
        bytesOnDisk: Number(p.bytesOnDisk),
        uncompressedBytes: Number(p.uncompressedBytes),
        columns: cols.map((r) => ({ name: r.name, compressed: Number(r.compressed), uncompressed: Number(r.uncompressed) })),
      });
    } else if (msg.type === 'close') {
      try {
        session?.close();
      } finally {
        session = null;
        process.send({ type: 'closed' }, () => process.exit(0));
      }
    }
  } catch (err) {
    reply({ type: 'error', for: msg.type, error: errorText(err) });
  }
});

process.on('disconnect', () => {
  // The parent went away: release the data directory and leave.
  try {
    session?.close();
  } catch {
    // closing anyway
  }
  process.exit(0);
});
