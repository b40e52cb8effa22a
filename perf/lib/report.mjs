// The run's Markdown report, from the result object run.mjs also writes as JSON.
import { n0, n1, n2 } from './format.mjs';
import { designVerdicts, KEPT_UP_SHARE } from './targets.mjs';
import { describeMemory } from './memory.mjs';
import { describeThreadCores } from './threads.mjs';

const codes = (o) => {
  const e = Object.entries(o ?? {}).filter(([, v]) => v > 0);
  return e.length ? e.map(([k, v]) => `${k} ${n0(v)}`).join(', ') : 'none';
};
const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');

function summary(r) {
  const g = r.generator;
  const o = r.options;
  const p = r.probe;
  const v = r.shoal.visibilitySeconds;
  const lc = r.cpu.loadPhaseCores;
  const gens = Object.entries(lc).filter(([k]) => k.startsWith('generator-'));
  const genCores = gens.reduce((s, [, x]) => s + x, 0);
  const rss = Object.entries(r.cpu.totals).map(([k, t]) => `${k} ${n0(t.rssPeakMb)} MB`).join(', ');
  const b = r.storage?.bytesPerEvent;
  const rows = [
    ['offered', o.profile === 'ramp' ? `ramp from ${n0(o.ramp.start)}/s by ${n0(o.ramp.step)}/s, ${o.ramp.stepSec} s a step` : `${n0(o.rate)} events/s × ${o.duration} s`],
    ['fleet', `${n0(o.devices)} devices (${o.mix.v2Share * 100} % v2, ${o.mix.msgpackShare * 100} % MessagePack) on ${r.fleet.connections} WebSockets from ${o.generators} generator process(es); auth ${r.auth.mode}`],
    ['mix', `duplicates ${n0(g.duplicatesGenerated)}, late ${n0(g.lateGenerated)}, invalid ${n0(g.invalid.generated)}, every frame shuffled; ${n1(g.eventsPerFrame)} events / ${n0(g.bytesPerFrame)} B a frame on average`],
    ['offered / sent / acked', `${n0(g.offered)} offered (${n0(g.offeredPerSec)}/s), ${n0(g.sentEvents)} sent, ${n0(g.acceptedEvents)} acked as accepted (${n0(g.acceptedPerSec)}/s until the last ack; ${n0(g.acceptedPerSecLoadPhase)}/s during the load phase)`],
    ['distinct events acked', `${n0(g.distinctAcked)} by the generators + ${n0(p.acked)} probes (the audit's basis)`],
    ['refused / resent', `OVERLOADED ${n0(g.overloaded)}, resent ${n0(g.resent)}, dropped with a full device buffer ${n0(g.droppedQueueFull)}, skipped under throttle ${n0(g.throttleSkipped)} (${n0(g.throttles)} throttle messages)`],
    ['ack latency', `p50 ${n1(g.ackLatencyMs.p50)} ms, p90 ${n1(g.ackLatencyMs.p90)} ms, p99 ${n1(g.ackLatencyMs.p99)} ms, max ${n1(g.ackLatencyMs.max)} ms (${n0(g.ackLatencyMs.count)} frames)`],
    ...(r.shoal.frameSeconds?.count > 0
      ? [['gateway time per frame', `p50 ${n0(r.shoal.frameSeconds.p50 * 1000)} ms, p99 ${n0(r.shoal.frameSeconds.p99 * 1000)} ms, receipt to ack (${n0(r.shoal.frameSeconds.count)} frames)`]]
      : []),
    ['visibility, Shoal histogram', `p50 ${n2(v.p50)} s, p95 ${n2(v.p95)} s, p99 ${n2(v.p99)} s (whole run)`],
    ['flush duration, per sink', Object.entries(r.shoal.flushSeconds ?? {}).map(([sink, f]) => `${sink} p50 ${n2(f.p50)} s, p99 ${n2(f.p99)} s (${n0(f.count)} flushes)`).join('; ') || 'n/a'],
    [
      'chDB operations (call to end)',
      Object.entries(r.shoal.chdbOperationSeconds ?? {})
        .filter(([operation]) => operation === 'insert' || operation === 'archive')
        .map(([operation, o]) => `${operation} p50 ${n2(o.p50)} s, p99 ${n2(o.p99)} s (${n0(o.count)}, ${n0(o.queued)} queued behind another)`)
        .join('; ') || 'n/a',
    ],
    ['visibility, probe via query API', `p50 ${n2(p.visibilityMs.p50 / 1000)} s, p90 ${n2(p.visibilityMs.p90 / 1000)} s, p99 ${n2(p.visibilityMs.p99 / 1000)} s, max ${n2(p.visibilityMs.max / 1000)} s (${p.visibilityMs.count} probes; ${p.ackedNotSeen} acked but never seen; each poll of the query API took p50 ${n0(p.queryMs?.p50)} ms, p99 ${n0(p.queryMs?.p99)} ms)`],
    ['backlog', `consumer lag max ${n2(r.backlog.maxLagSeconds)} s / ${n0(r.backlog.maxLagEntries)} entries; unread events max ${n0(r.backlog.maxUnreadEvents)}; generator queue max ${n0(r.backlog.maxGeneratorQueue)}; backpressure level max ${r.backlog.maxBackpressure}`],
    ['bus Redis, merges', backgroundCell(r.background)],
    ['CPU, load phase (cores)', `shoal ${n2(lc.shoal)}, redis ${n2(lc.redis)}, generators ${n2(genCores)}${gens.length > 1 ? ` (${gens.map(([, x]) => n2(x)).join(' + ')})` : ''}, harness ${n2(lc.harness)}${lc.others === undefined ? '' : `; the rest of the machine ${n2(lc.others)}`}`],
    ...(r.cpu.loadPhaseShoalThreads && Object.keys(r.cpu.loadPhaseShoalThreads).length > 0 ? [['Shoal by thread, load phase (cores)', describeThreadCores(r.cpu.loadPhaseShoalThreads)]] : []),
    ['CPU per event (shoal + redis)', `${n1((r.cpu.shoalPlusRedisCpuSecondsPerEvent ?? NaN) * 1e6)} µs (load and drain, per distinct event)`],
    ['peak RSS', rss],
    ...(r.memory ? [["Shoal's memory by part", describeMemory(r.memory)]] : []),
    ['bytes per event', b ? `archive ${n1(b.archive)}, ClickHouse events ${n1(b.clickhouseEvents)}, ClickHouse all tables ${n1(b.clickhouseAll)}, all stores ${n1(b.total)} (${n0(r.storage.events)} events)` : 'n/a (status failed)'],
    ['phases', `startup ${n1(r.phases.startupSec)} s, load ${n1(r.phases.loadSec)} s, generator drain ${n1(r.phases.generatorDrainSec)} s, Shoal catch-up ${n1(r.phases.shoalDrainSec)} s${r.phases.drained ? '' : ' (did NOT catch up)'}, audit ${n1(r.phases.auditSec)} s`],
    ['Shoal', `exit code ${r.shoal.exitCode}; processed ${n0(r.shoal.processedEvents)} events, dropped ${n0(r.shoal.dedupDropped)} duplicates, ${n0(r.shoal.lateEvents)} late, ${n0(r.shoal.rowsFlushed)} rows flushed, ${n0(r.shoal.flushRetries)} flush retries, ${n0(r.shoal.shardRestarts ?? 0)} shard thread restarts, ${n0(r.shoal.sampledOutReadings)} readings sampled out`],
  ];
  return ['| measure | value |', '|---|---|', ...rows.map(([k, x]) => `| ${k} | ${cell(x)} |`)];
}

function backgroundCell(x) {
  if (!x) return 'n/a (Shoal exports no Redis gauges)';
  const rewrites = x.aofRewrites === null ? 'AOF rewrites not reported' : `${n0(x.aofRewrites)} AOF rewrites, one running at ${n0(x.scrapesRewriting)} of ${n0(x.scrapes)} scrapes (~1 a second)`;
  return `used memory peak ${n0(x.usedMemoryPeakMb)} MB; ${rewrites}; ClickHouse merging at ${n0(x.scrapesMerging)} scrapes (largest ${n0(x.mergeBytesMaxMb)} MB); consumer lag over ${x.slowLagSec} s at ${n0(x.scrapesSlow)} scrapes, ${n0(x.scrapesSlowRewriting)} of them during a rewrite, ${n0(x.scrapesSlowMerging)} during a merge`;
}

function targetsSection(r) {
  const { keptUp, ackedShare, verdicts } = designVerdicts(r);
  const out = ['## Against DESIGN §1', ''];
  if (keptUp === false)
    out.push(`**This run did not keep up with its offered rate**: ${(ackedShare * 100).toFixed(0)} % of it acked during the load (under ${KEPT_UP_SHARE * 100} %). Its latencies describe a backlog, and its acked rate is what this machine sustained.`, '');
  out.push('| target | this run | verdict |', '|---|---|---|');
  for (const v of verdicts) out.push(`| ${cell(v.target)} | ${cell(v.detail)} | ${v.verdict === 'met' ? 'met' : v.verdict === 'not met' ? '**not met**' : 'not measured'} |`);
  return out;
}

function auditSection(r) {
  const a = r.audit;
  const g = r.generator;
  const out = [`## Loss audit: ${a.ok ? 'PASSED' : '**FAILED**'}`, ''];
  out.push(`Window ${a.from} … ${a.to} (event time). Client side: distinct events acked as accepted, counted by the generators per device (intentional duplicates and rejected invalid events excluded) plus the probe's.`, '');
  out.push('| check | ok | detail |', '|---|---|---|');
  for (const c of a.checks) out.push(`| ${cell(c.name)} | ${c.ok ? '✓' : '✗'} | ${cell(c.detail)} |`);
  if (a.totals) {
    const t = a.totals;
    out.push('', `Audit totals: expected ${n0(t.expected_events)} events / ${n0(t.expected_readings)} readings, archived ${n0(t.archived_events)}, stored ${n0(t.stored_events)}, rolled up ${n0(t.rolled_up_readings)} readings, sampled out ${n0(t.sampled_out_readings)} readings; ${n0(a.checked)} (device, hour) rows checked.`);
  }
  if (a.differences?.length) {
    out.push('', `First ${a.differences.length} of ${a.differenceCount} differences:`, '', '| region | device | hour | accepted | dupes | expected | archived | stored | rolled up (readings) / expected readings |', '|---|---|---|---|---|---|---|---|---|');
    for (const d of a.differences) out.push(`| ${d.region} | ${d.device_id} | ${d.hour} | ${d.accepted_events} | ${d.duplicate_events} | ${d.expected_events} | ${d.archived_events} | ${d.stored_events} | ${d.rolled_up_readings} / ${d.expected_readings} |`);
  }
  out.push(
    '',
    `Contract side: invalid events rejected as expected ${n0(g.invalid.rejectedAsExpected)} of ${n0(g.invalid.generated)}, accepted ${n0(g.invalid.accepted)}${g.invalid.accepted ? ' (**a contract bug**)' : ''}, other code ${n0(g.invalid.otherCode)}; valid events rejected other than OVERLOADED: ${codes(g.unexpectedRejected)}; acks whose \`accepted\` disagreed with their \`rejected\` list: ${n0(g.ackCountMismatch)}; acks for unknown seq: ${n0(g.unknownAcks)}; reconnects ${n0(g.reconnects)}; events left unanswered ${n0(g.leftover.unansweredEvents + g.leftover.inflightEvents)}, unsent ${n0(g.leftover.unsent)}.`,
    `Probe: ${r.probe.sent} sent, ${r.probe.acked} acked, ${r.probe.seen} seen through the query API, ${r.probe.duplicateRows} duplicate rows, ${r.probe.pollErrors} failed polls of ${r.probe.polls}.`,
  );
  return out;
}

function rampSection(r) {
  if (!r.steps) return [];
  const out = ['## Ramp', '', `Highest passing rate: **${r.ramp.maxPassingRate === null ? 'none (the first step failed)' : `${n0(r.ramp.maxPassingRate)} events/s`}**${r.ramp.firstFailingRate ? `; first failing step ${n0(r.ramp.firstFailingRate)}/s` : ' (no step failed)'}. A step passes when, over its second half, ≥ ${r.options.ramp.minAckedShare * 100} % of the rate is acked, p99 visibility (Shoal's histogram and the probe) < ${r.options.ramp.maxVisibilityP99Sec} s and the backlog stops growing (over the half step, lag rising by < 2 s and < 1 s of events piling up unread, or lag ≤ 2 s).`, ''];
  out.push('| rate | acked/s | visibility p99 (Shoal) | probe p99 | unread slope /s | lag at end | result |', '|---|---|---|---|---|---|---|');
  for (const s of r.steps) out.push(`| ${n0(s.rate)} | ${n0(s.acceptedPerSec)} | ${n2(s.visibilityP99Sec)} s | ${n2(s.probeP99Sec)} s | ${n0(s.unreadSlopePerSec)} | ${n2(s.lagSecondsEnd)} s | ${s.pass ? 'pass' : `fail: ${cell(s.failures.join('; '))}`} |`);
  return out;
}

function peersSection(r) {
  if (!r.options.peers) return ['## Peers', '', 'Not run (`--peers` to run them).'];
  const out = ['## Peers', '', 'Run after Shoal stopped, at the same offered rate and duration.', ''];
  out.push('| peer | status | written/s | write p50 / p99 | CPU server / generator (cores) | peak RSS | bytes/event | stored events |', '|---|---|---|---|---|---|---|---|');
  for (const p of r.peers) {
    if (p.status !== 'ran') out.push(`| ${p.key} | ${p.status}: ${cell(p.reason.split('\n')[0])} | | | | | | |`);
    else out.push(`| ${p.name ?? p.key} | ran | ${n0(p.writtenPerSec)} | ${n1(p.writeLatencyMs?.p50)} / ${n1(p.writeLatencyMs?.p99)} ms | ${n2(p.cpuCores?.server)} / ${n2(p.cpuCores?.generator)} | ${n0(p.rssMbPeak)} MB | ${n1(p.bytesPerEvent)} | ${n0(p.storedEvents)} |`);
  }
  if (r.peerRatios?.length) {
    out.push('', "Shoal's ratio to each peer (Shoal ÷ peer): throughput > 1 is faster; CPU and bytes per event > 1 cost more. Shoal's CPU counts shoal + redis over load and drain per distinct event; the peer's, its server cores ÷ written/s. Shoal's bytes: all stores (ClickHouse raw + rollups + Parquet archive), and the raw table alone.", '');
    out.push('| peer | acked events/s | CPU per event | bytes per event (all stores) | bytes per event (raw table) |', '|---|---|---|---|---|');
    for (const x of r.peerRatios) out.push(`| ${x.name} | ${n2(x.throughput)}× | ${n2(x.cpuPerEvent)}× | ${n2(x.bytesPerEventAllStores)}× | ${n2(x.bytesPerEventRawTable)}× |`);
  }
  return out;
}

export function renderMarkdown(r) {
  const git = r.git ? `commit ${r.git.commit}${r.git.srcDirty ? ' + uncommitted src changes' : ''}` : 'commit unknown';
  const lines = [
    `# Shoal perf — ${r.profile} — ${r.date}`,
    '',
    `${r.machine.cores} cores${r.machine.cpuModel ? ` (${r.machine.cpuModel}${r.machine.cpuMhz ? `, ${r.machine.cpuMhz} MHz` : ''})` : ''}, Node ${r.machine.node}, load average at start ${r.machine.loadavgStart.map((x) => x.toFixed(2)).join(' ')} (shared machine: figures are noisy); ${git}; auth ${r.auth.mode} (${r.auth.reason}).`,
    ...(r.machine.referenceWorkMs === undefined
      ? []
      : ['', `Reference work (perf/lib/calibrate.mjs, before Shoal started): ${n0(r.machine.referenceWorkMs)} ms of CPU, best of ${r.machine.referenceWorkTrialsMs.length}. Compare it before comparing runs: a longer one ran on a slower core.`]),
    '',
    ...summary(r),
    '',
    ...targetsSection(r),
    '',
    ...auditSection(r),
    '',
    ...rampSection(r),
    ...(r.steps ? [''] : []),
    ...peersSection(r),
    '',
    '## Charts',
    '',
    ...Object.entries(r.charts).map(([name, file]) => `![${name}](${file})`),
    '',
  ];
  return lines.join('\n');
}
