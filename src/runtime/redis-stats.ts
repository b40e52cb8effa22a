/**
 * The bus's Redis on /metrics, read with INFO when Prometheus scrapes: whether it answered,
 * the memory it uses, and its AOF rewrites. A rewrite forks Redis and writes its whole dataset
 * to disk, so next to the consumer lag these gauges tell whether a slow spell came with one
 * (docs/ARCHITECTURE.md, the p99 tail). Works with an embedded or an external Redis. A field
 * the server does not report (no AOF, or a Redis before 7 for the rewrite count) reads 0, and
 * so does every gauge but shoal_redis_up while Redis does not answer.
 *
 *   shoal_redis_up                       1 when INFO answered at this scrape, else 0
 *   shoal_redis_used_memory_bytes        used_memory
 *   shoal_redis_aof_size_bytes           aof_current_size (AOF on)
 *   shoal_redis_aof_rewrites             aof_rewrites: rewrites since the server started
 *   shoal_redis_aof_rewrite_in_progress  aof_rewrite_in_progress (1 while one runs)
 */
import type { Redis } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';

/** How long an INFO answer serves the gauges of one scrape (each gauge's collect asks). */
const INFO_TTL_MS = 500;
/** An INFO that takes longer than this counts as no answer (the scrape must not hang). */
const INFO_TIMEOUT_MS = 2000;

const FIELDS = {
  used_memory: 'shoal_redis_used_memory_bytes',
  aof_current_size: 'shoal_redis_aof_size_bytes',
  aof_rewrites: 'shoal_redis_aof_rewrites',
  aof_rewrite_in_progress: 'shoal_redis_aof_rewrite_in_progress',
} as const;

const HELP: Record<keyof typeof FIELDS, string> = {
  used_memory: 'Memory the bus Redis uses (INFO used_memory)',
  aof_current_size: 'Size of the bus Redis append-only file (INFO aof_current_size)',
  aof_rewrites: 'AOF rewrites of the bus Redis since it started (INFO aof_rewrites)',
  aof_rewrite_in_progress: '1 while the bus Redis rewrites its append-only file',
};

/** The numeric `field:value` lines of an INFO reply. */
export function parseInfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0 || line.startsWith('#')) continue;
    const value = Number(line.slice(colon + 1));
    if (line.slice(colon + 1).trim() !== '' && Number.isFinite(value)) out.set(line.slice(0, colon), value);
  }
  return out;
}

export class RedisStats {
  private cached: { at: number; info: Promise<Map<string, number> | null> } | null = null;

  constructor(
    private readonly redis: Redis,
    registry: Registry,
    private readonly clock: () => number = Date.now,
  ) {
    const registers = [registry];
    const info = (): Promise<Map<string, number> | null> => this.info();
    new Gauge({
      name: 'shoal_redis_up',
      help: 'Whether the bus Redis answered INFO at this scrape',
      registers,
      async collect() {
        this.set((await info()) === null ? 0 : 1);
      },
    });
    for (const [field, name] of Object.entries(FIELDS) as [keyof typeof FIELDS, string][]) {
      new Gauge({
        name,
        help: HELP[field],
        registers,
        async collect() {
          const value = (await info())?.get(field);
          if (value === undefined) this.reset();
          else this.set(value);
        },
      });
    }
  }

  /** INFO's numbers, asked once per scrape; null when Redis did not answer. */
  private info(): Promise<Map<string, number> | null> {
    const now = this.clock();
    if (this.cached && now - this.cached.at < INFO_TTL_MS) return this.cached.info;
    let timer: NodeJS.Timeout | undefined;
    const info = Promise.race([
      this.redis.info().then(parseInfo),
      new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), INFO_TIMEOUT_MS))),
    ])
      .catch(() => null)
      .finally(() => clearTimeout(timer));
    this.cached = { at: now, info };
    return info;
  }
}
