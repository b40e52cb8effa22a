/**
 * Deletes DLQ entries: one by id (after triage or a replay), or every entry of a region that
 * matches a code and/or came in before a time. "Before" is read from the entry's stream id,
 * whose milliseconds are Redis's clock when the entry was written, so every entry has one.
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../runtime/keys.js';
import { busCall } from './dlq-bus.js';
import { fieldOf, type DlqReader } from './dlq-reader.js';

export interface PurgeFilter {
  /** Only entries with this code. */
  code?: string;
  /** Only entries written before this time, epoch ms. */
  before?: number;
}

export class DlqPurger {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly reader: DlqReader,
  ) {}

  /** Delete one entry; false when there was none with that id. */
  async deleteOne(region: string, id: string): Promise<boolean> {
    return (await busCall(() => this.redis.xdel(this.keys.dlq(region), id))) > 0;
  }

  /** Delete the matching entries (all when the filter is empty); resolves with how many. */
  async purge(region: string, filter: PurgeFilter): Promise<number> {
    const key = this.keys.dlq(region);
    const { code, before } = filter;
    if (before !== undefined && before <= 0) return 0;
    // Without a code, one atomic XTRIM does it: MINID T drops every id below T-0.
    if (code === undefined) {
      if (before === undefined) return busCall(() => this.redis.xtrim(key, 'MAXLEN', 0));
      return busCall(() => this.redis.xtrim(key, 'MINID', before));
    }
    let deleted = 0;
    const end = before === undefined ? '+' : `(${before}-0`;
    for await (const batch of this.reader.scanNewest(region, end)) {
      const ids = batch.filter(([, flat]) => fieldOf(flat, 'code') === code).map(([id]) => id);
      if (ids.length > 0) deleted += await busCall(() => this.redis.xdel(key, ...ids));
    }
    return deleted;
  }
}
