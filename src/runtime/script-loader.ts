/**
 * Loads the Lua scripts in ./lua once and registers them on an ioredis client as commands
 * (EVALSHA with automatic EVAL fallback after a Redis restart flushed the script cache).
 * Each script's header lists its KEYS, ARGV and result.
 */
import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';

export const SCRIPTS = {
  shoalAcquire: { file: 'acquire.lua', keys: 2 },
  shoalRead: { file: 'read.lua', keys: 2 },
  shoalIntent: { file: 'intent.lua', keys: 1 },
  shoalCommit: { file: 'commit.lua', keys: null },
  shoalAppend: { file: 'append.lua', keys: null },
  shoalProbe: { file: 'probe.lua', keys: 2 },
} as const;

export type ScriptName = keyof typeof SCRIPTS;

const sources = new Map<ScriptName, string>();

function source(name: ScriptName): string {
  let lua = sources.get(name);
  if (lua === undefined) {
    lua = readFileSync(new URL(`./lua/${SCRIPTS[name].file}`, import.meta.url), 'utf8');
    sources.set(name, lua);
  }
  return lua;
}

/** A Redis client with Shoal's scripts defined on it. */
type ScriptFn = (...args: (string | number | Buffer)[]) => Promise<unknown>;
export type ScriptedRedis = Redis & { [K in ScriptName]: ScriptFn } & { [K in ScriptName as `${K}Buffer`]: ScriptFn };

export function defineScripts(redis: Redis | Cluster): ScriptedRedis {
  for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
    const keys = SCRIPTS[name].keys;
    // keys null: the caller passes the key count first (scripts with a variable key list).
    if (!(name in redis)) redis.defineCommand(name, { ...(keys === null ? {} : { numberOfKeys: keys }), lua: source(name) });
  }
  return redis as unknown as ScriptedRedis;
}
