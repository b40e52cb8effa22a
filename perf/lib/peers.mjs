// Peers: the same load written straight into other stores, run after Shoal stopped so they do
// not share the machine with it. Each peer module exports
//   async ({ rate, durationSec, devices, seed, workDir, log }) =>
//     { name, writtenPerSec, writeLatencyMs: {p50, p99}, cpuCores: {server, generator}, rssMbPeak, bytesPerEvent, storedEvents }
// A missing module (or export) makes the peer `skipped` with the reason; a throw makes it `failed`.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

export const PEERS = [
  { key: 'influxdb', module: '../peers/influxdb.mjs', export: 'runInfluxPeer' },
  { key: 'clickhouse-direct', module: '../peers/clickhouse-direct.mjs', export: 'runClickHousePeer' },
];

export async function runPeers({ rate, durationSec, devices, seed, workDir, log }) {
  const results = [];
  for (const peer of PEERS) {
    let fn;
    try {
      const mod = await import(new URL(peer.module, import.meta.url).href);
      fn = mod[peer.export];
      if (typeof fn !== 'function') {
        results.push({ key: peer.key, status: 'skipped', reason: `perf/peers/${peer.module.split('/').pop()} does not export ${peer.export}` });
        continue;
      }
    } catch (err) {
      const missing = err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes(peer.module.split('/').pop());
      results.push({ key: peer.key, status: 'skipped', reason: missing ? `perf/peers/${peer.module.split('/').pop()} not found` : `import failed: ${err.message}` });
      continue;
    }
    const dir = join(workDir, peer.key);
    mkdirSync(dir, { recursive: true });
    log(`peer ${peer.key}: ${rate} events/s for ${durationSec} s, ${devices} devices`);
    const started = performance.now();
    try {
      const result = await fn({ rate, durationSec, devices, seed, workDir: dir, log: (line) => log(`[${peer.key}] ${line}`) });
      results.push({ key: peer.key, status: 'ran', wallSeconds: (performance.now() - started) / 1000, ...result });
    } catch (err) {
      results.push({ key: peer.key, status: 'failed', reason: String(err?.stack ?? err).slice(0, 2000) });
    }
  }
  return results;
}

/**
 * Shoal's ratio to each peer that ran: throughput (acked events/s ÷ written/s), CPU per event
 * (core-seconds per event; > 1 means Shoal spends more), bytes per event (> 1 means Shoal stores more).
 */
export function peerRatios(shoal, peers) {
  return peers
    .filter((p) => p.status === 'ran')
    .map((p) => {
      const peerCpuPerEvent = p.writtenPerSec > 0 && p.cpuCores?.server != null ? p.cpuCores.server / p.writtenPerSec : null;
      const div = (a, b) => (a != null && b != null && b > 0 ? a / b : null);
      return {
        key: p.key,
        name: p.name ?? p.key,
        throughput: div(shoal.ackedPerSec, p.writtenPerSec),
        cpuPerEvent: div(shoal.cpuSecondsPerEvent, peerCpuPerEvent),
        bytesPerEventAllStores: div(shoal.bytesPerEvent?.total, p.bytesPerEvent),
        bytesPerEventRawTable: div(shoal.bytesPerEvent?.clickhouseEvents, p.bytesPerEvent),
        peerCpuPerEvent,
      };
    });
}
