/**
 * The production analytics store: a ClickHouse server over HTTP, with the same DDL and SQL as
 * the embedded chDB store. Each insert carries its insert_deduplication_token as a per-query
 * setting, so a retried flush is dropped by the server.
 */
import type { Config } from '../config.js';
import { regionDatabase } from '../config.js';
import { ConfigError, SinkError } from '../errors.js';
import type { AnalyticsStore, EncodedInsert } from './analytics-store.js';
import { INSERT_COLUMNS, insertTarget, schemaStatements } from './clickhouse-schema.js';
import { ClickHouseServerTransport, type ClickHouseServerOptions } from './clickhouse-server-transport.js';

/** 64-bit integers as JSON numbers, as chDB returns them, so both stores answer alike. */
const QUERY_SETTINGS = { output_format_json_quote_64bit_integers: 0 } as const;

export class ClickHouseServerStore implements AnalyticsStore {
  readonly kind = 'server' as const;
  private readonly transport: ClickHouseServerTransport;

  /** A store over config.clickhouse.url (required) with its username and password. */
  constructor(
    private readonly config: Pick<Config, 'clickhouse'>,
    options: Pick<ClickHouseServerOptions, 'requestTimeoutMs'> = {},
  ) {
    const { url, username, password } = config.clickhouse;
    if (url === undefined) throw new ConfigError(['clickhouse.url: required by the ClickHouse server store']);
    this.transport = new ClickHouseServerTransport({ url, username, password, ...options });
  }

  async init(regions: readonly string[]): Promise<void> {
    for (const region of regions) {
      for (const sql of schemaStatements(regionDatabase(this.config, region), this.config.clickhouse)) {
        await this.transport.command(sql);
      }
    }
  }

  async insert(region: string, insert: EncodedInsert, token: string): Promise<void> {
    if (insert.rows === 0) return;
    const format = insert.format;
    // This store advertises no insertFormat, so flushes come as TabSeparated.
    if (format === 'RowBinary') throw new SinkError('clickhouse', `insert into ${insert.table}: RowBinary bodies go to chDB only`);
    await this.transport.insert({
      table: `${regionDatabase(this.config, region)}.${insertTarget(insert.table)}`,
      columns: INSERT_COLUMNS[insert.table],
      body: insert.body,
      format,
      settings: { insert_deduplication_token: token },
    });
  }

  query<T = Record<string, unknown>>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> {
    return this.transport.query<T>(sql, params, QUERY_SETTINGS);
  }

  /** Run a statement that returns no rows (DDL, OPTIMIZE, ALTER). */
  command(sql: string): Promise<void> {
    return this.transport.command(sql);
  }

  ping(): Promise<boolean> {
    return this.transport.ping();
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}
