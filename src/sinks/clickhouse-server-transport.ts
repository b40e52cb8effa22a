/**
 * HTTP transport to a ClickHouse server over @clickhouse/client: raw-body inserts, JSONEachRow
 * queries with {name:Type} parameters, statements and ping. Every failure (connection refused,
 * timeout, server error) surfaces as a SinkError carrying the client's error as its cause.
 *
 * It issues no SQL of its own, so it works against any server version; ClickHouseServerStore
 * puts Shoal's schema and dedup tokens on top of it.
 */
import { Readable } from 'node:stream';
import { ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import { SinkError, errorMessage } from '../errors.js';
import { parseJsonEachRow } from './json-each-row.js';

const SINK = 'clickhouse';

export interface ClickHouseServerOptions {
  url: string;
  username?: string;
  password?: string;
  /** Longest one request may take, ms. Default 30000. */
  requestTimeoutMs?: number;
  /** Attempts per insert when the connection fails (refused or reset). Default 3. */
  insertAttempts?: number;
}

/** Connection failures worth another attempt: the insert carries a dedup token, so a
 *  retry after a reset that did land is dropped by the server. */
const RETRYABLE = /ECONNREFUSED|ECONNRESET|EPIPE|socket hang up/i;

export interface RawInsert {
  /** Database-qualified table. */
  table: string;
  columns: readonly string[];
  body: Uint8Array;
  format: 'JSONEachRow' | 'TabSeparated';
  settings?: ClickHouseSettings;
}

export class ClickHouseServerTransport {
  private readonly client: ClickHouseClient;
  private readonly insertAttempts: number;

  constructor(options: ClickHouseServerOptions) {
    this.insertAttempts = Math.max(1, options.insertAttempts ?? 3);
    this.client = createClient({
      url: options.url,
      username: options.username ?? 'default',
      password: options.password ?? '',
      request_timeout: options.requestTimeoutMs ?? 30_000,
      log: { level: ClickHouseLogLevel.OFF },
    });
  }

  /** Send `body` as the data of `INSERT INTO table (columns) FORMAT format`. */
  async insert(insert: RawInsert): Promise<void> {
    const [first, ...rest] = insert.columns;
    if (first === undefined) throw new SinkError(SINK, `insert into ${insert.table}: no columns given`);
    const { body } = insert;
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.insert({
          table: insert.table,
          columns: [first, ...rest],
          values: Readable.from([bytes], { objectMode: false }),
          format: insert.format,
          clickhouse_settings: insert.settings ?? {},
        });
        return;
      } catch (err) {
        const message = errorMessage(err);
        const code = (err as { code?: string }).code ?? '';
        if (attempt < this.insertAttempts && RETRYABLE.test(`${code} ${message}`)) {
          await new Promise((r) => setTimeout(r, 100 * 2 ** (attempt - 1)));
          continue;
        }
        throw new SinkError(SINK, `insert into ${insert.table} failed after ${attempt} attempt(s): ${message}`, { cause: err });
      }
    }
  }

  /** Run a query and return its rows; `params` bind `{name:Type}` placeholders. */
  async query<T>(sql: string, params: Record<string, unknown> = {}, settings: ClickHouseSettings = {}): Promise<T[]> {
    try {
      const result = await this.client.query({
        query: sql,
        format: 'JSONEachRow',
        ...(Object.keys(params).length > 0 ? { query_params: params } : {}),
        clickhouse_settings: settings,
      });
      return parseJsonEachRow<T>(await result.text());
    } catch (err) {
      throw new SinkError(SINK, `query failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Run a statement that returns no rows. */
  async command(sql: string): Promise<void> {
    try {
      await this.client.command({ query: sql });
    } catch (err) {
      throw new SinkError(SINK, `statement failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  async ping(): Promise<boolean> {
    const result = await this.client.ping();
    return result.success;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
