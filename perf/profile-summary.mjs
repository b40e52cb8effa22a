#!/usr/bin/env node
/**
 * Summarise the .cpuprofile files of a `npm run perf -- --cpu-prof DIR` run: for each thread,
 * how busy it was, and where its time went by source (Shoal's files, each dependency, GC,
 * native code) and by function (self time).
 *
 *   node perf/profile-summary.mjs DIR [--top N]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { frameName, sourceOf } from './lib/profile-frames.mjs';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '20' } } });
const dir = positionals[0];
if (dir === undefined) {
  process.stderr.write('usage: node perf/profile-summary.mjs DIR [--top N]\n');
  process.exit(2);
}
const top = Number(values.top);

function summarise(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  // timeDeltas[i] is the time before sample i; attribute it to that sample's node.
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const total = profile.endTime - profile.startTime;
  const bySource = new Map();
  const byFunction = new Map();
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    const cf = node.callFrame;
    if (cf.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const source = sourceOf(cf);
    bySource.set(source, (bySource.get(source) ?? 0) + us);
    const fn = frameName(cf);
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  }
  const busy = total - idle;
  const lines = [`## ${file}`, `wall ${(total / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(1)} s (${((100 * busy) / total).toFixed(0)} %)`, '', 'by source (self time, % of busy):'];
  const pct = (us) => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;
  for (const [k, v] of [...bySource].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(v)}  ${k}`);
  lines.push('', 'by function (self time):');
  for (const [k, v] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(v)}  ${k}`);
  return lines.join('\n');
}

const files = readdirSync(dir)
  .filter((f) => f.endsWith('.cpuprofile'))
  .sort();
if (files.length === 0) {
  process.stderr.write(`no .cpuprofile in ${dir}\n`);
  process.exit(1);
}
process.stdout.write(`${files.map((f) => summarise(join(dir, f))).join('\n\n')}\n`);
