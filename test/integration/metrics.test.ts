/**
 * /metrics and the visibility SLO end to end with the built CLI: devices in every region and
 * partition send valid and invalid events over WebSocket (v1 and v2) and HTTP, then one scrape
 * shows the ingest counters agreeing with the acks, frames per transport and bytes, open
 * connections, DLQ entries by reason, lag and checkpoint-age gauges for every partition, the bus
 * Redis answering INFO, and a visibility histogram counting every accepted event;
 * /api/v1/stats carries the SLO block.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateSecret } from '../../src/contracts/auth-secret.js';
import { issueDeviceToken } from '../../src/contracts/device-token.js';
import { partitionOf } from '../../src/runtime/partitioning.js';
import { DeviceClient } from '../helpers/device-client.js';
import { v1Event, v2Event, type DeviceEvent } from '../helpers/events.js';
import { parseMetrics, sum, type Sample } from '../helpers/prometheus-text.js';
import { getJson, startShoal, waitFor, type ShoalProcess } from '../helpers/shoal-process.js';

const PARTITIONS = 2;

function deviceIn(region: string, partition: number): string {
  for (let i = 0; ; i++) {
    const id = `metrics-${region}-${i}`;
    if (partitionOf(id, PARTITIONS) === partition) return id;
  }
}

let shoal: ShoalProcess | undefined;

describe('metrics and the visibility SLO', () => {
  afterAll(async () => {
    await shoal?.cleanup();
  });

  it('one scrape shows the whole process, agreeing with what the devices were told', async () => {
    shoal = await startShoal({
      shards: 2,
      config: { partitions: PARTITIONS, flush: { intervalMs: 200 }, backpressure: { checkIntervalMs: 200 } },
    });
    const s = shoal;
    const secret = loadOrCreateSecret(s.dataDir);
    const { regions } = await getJson<{ regions: string[] }>(`${s.opsUrl}/api/v1/stats`);
    expect(regions.length).toBeGreaterThan(0);

    let accepted = 0;
    const acceptedBy = new Map<string, number>(); // `${region}/${schema}` → events acked as accepted
    const rejectedBy = new Map<string, number>(); // code → events rejected
    const frames = { ws: 0, http: 0 };
    let bytes = 0;
    const count = (ack: { accepted: number; rejected: { code: string }[] }, region: string, events: DeviceEvent[], bad: number): void => {
      expect(ack.accepted).toBe(events.length - bad);
      accepted += ack.accepted;
      for (const e of events.slice(0, events.length - bad)) {
        const key = `${region}/${e['schema_version'] === 2 ? 2 : 1}`;
        acceptedBy.set(key, (acceptedBy.get(key) ?? 0) + 1);
      }
      for (const r of ack.rejected) rejectedBy.set(r.code, (rejectedBy.get(r.code) ?? 0) + 1);
    };

    const clients: DeviceClient[] = [];
    for (const region of regions) {
      for (let partition = 0; partition < PARTITIONS; partition++) {
        const id = deviceIn(region, partition);
        const token = await issueDeviceToken(secret, id, region);
        const client = await DeviceClient.connect(s.ingestUrl, token);
        clients.push(client);
        const now = Date.now();
        // Valid v1 and v2 events first, then the invalid ones (so acked counts line up).
        const events: DeviceEvent[] = [
          v1Event(id, region, now - 2000, 'temperature', 21),
          v1Event(id, region, now - 1000, 'humidity', 40),
          v2Event(id, region, now, 1, [{ sensor_type: 'temperature', value: 22, unit: 'C' }]),
          { ...v1Event(id, region, now, 'temperature', 1), value: 'hot' },
          (({ event_time: _t, ...rest }) => rest)(v1Event(id, region, now, 'temperature', 1)) as DeviceEvent,
        ];
        const seq = 100 + partition;
        bytes += Buffer.byteLength(JSON.stringify({ seq, events }));
        frames.ws++;
        count(await client.send(events, 'json', seq), region, events, 2);

        const httpEvents: DeviceEvent[] = [v1Event(id, region, now - 500, 'temperature', 23), { ...v1Event(id, region, now, 'temperature', 1), value: 'cold' }];
        const body = JSON.stringify({ seq: 1, events: httpEvents });
        bytes += Buffer.byteLength(body);
        frames.http++;
        const res = await fetch(`${s.ingestUrl.replace(/^ws/, 'http').replace(/\/v1\/stream$/, '')}/v1/events`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
          body,
        });
        expect(res.status).toBe(200);
        count((await res.json()) as { accepted: number; rejected: { code: string }[] }, region, httpEvents, 1);
      }
    }
    expect(accepted).toBeGreaterThan(0);

    const partitions = regions.flatMap((region) => Array.from({ length: PARTITIONS }, (_, p) => ({ region, partition: String(p) })));
    const scrape = async (): Promise<Sample[]> => parseMetrics(await (await fetch(`${s.opsUrl}/metrics`)).text());
    // ClickHouse's gauges report the reading the previous scrape started: wait for one too.
    const samples = await waitFor('every accepted event visible, every partition checkpointed and a ClickHouse reading', async () => {
      const m = await scrape();
      const visible = sum(m, 'shoal_visibility_latency_seconds_count');
      const aged = partitions.every((p) => m.some((x) => x.name === 'shoal_checkpoint_age_seconds' && x.labels['region'] === p.region && x.labels['partition'] === p.partition));
      return visible >= accepted && aged && sum(m, 'shoal_clickhouse_memory_bytes') > 0 ? m : undefined;
    });

    // Each shard's thread carries its name, for `top -H` and the perf harness's CPU by thread.
    const task = `/proc/${s.child.pid}/task`;
    const threadNames = readdirSync(task).map((tid) => readFileSync(`${task}/${tid}/comm`, 'utf8').trim());
    expect(threadNames).toEqual(expect.arrayContaining(['shoal-shard-0', 'shoal-shard-1']));

    // Ingest counters, by outcome, region and schema version, as the acks reported.
    expect(sum(samples, 'shoal_ingest_events_total', { outcome: 'accepted' })).toBe(accepted);
    for (const [key, n] of acceptedBy) {
      const [region, schema] = key.split('/') as [string, string];
      expect(sum(samples, 'shoal_ingest_events_total', { outcome: 'accepted', region, schema_version: schema })).toBe(n);
    }
    for (const [code, n] of rejectedBy) expect(sum(samples, 'shoal_ingest_events_total', { outcome: code.toLowerCase() })).toBe(n);
    expect(sum(samples, 'shoal_ingest_frames_total', { transport: 'ws' })).toBe(frames.ws);
    expect(sum(samples, 'shoal_ingest_frames_total', { transport: 'http' })).toBe(frames.http);
    expect(sum(samples, 'shoal_ingest_bytes_total')).toBe(bytes);
    // Every frame read is timed from its receipt to its ack.
    expect(sum(samples, 'shoal_ingest_frame_seconds_count', { transport: 'ws' })).toBe(frames.ws);
    expect(sum(samples, 'shoal_ingest_frame_seconds_count', { transport: 'http' })).toBe(frames.http);
    expect(sum(samples, 'shoal_ingest_frame_seconds_sum')).toBeGreaterThan(0);
    expect(sum(samples, 'shoal_ingest_frame_seconds_bucket', { le: '+Inf' })).toBe(frames.ws + frames.http);
    expect(sum(samples, 'shoal_ws_connections')).toBe(clients.length);
    // The embedded bus Redis, as INFO reports it.
    expect(sum(samples, 'shoal_redis_up')).toBe(1);
    expect(sum(samples, 'shoal_redis_used_memory_bytes')).toBeGreaterThan(100_000);

    // Every rejected event went to its region's DLQ, counted by reason.
    for (const [code, n] of rejectedBy) expect(sum(samples, 'shoal_dlq_entries_total', { reason: code.toLowerCase() })).toBe(n);
    for (const region of regions) expect(sum(samples, 'shoal_dlq_entries_total', { region })).toBeGreaterThan(0);

    // Lag, backpressure, checkpoint age and the throttle's sample rate for every partition.
    for (const p of partitions) {
      for (const name of ['shoal_consumer_lag_entries', 'shoal_consumer_lag_seconds', 'shoal_backpressure_level', 'shoal_checkpoint_age_seconds', 'shoal_throttle_sample_rate']) {
        const found = samples.filter((x) => x.name === name && x.labels['region'] === p.region && x.labels['partition'] === p.partition);
        expect(found, `${name} ${p.region}/${p.partition}`).toHaveLength(1);
        expect(found[0]!.value).toBeGreaterThanOrEqual(0);
      }
      const rate = samples.find((x) => x.name === 'shoal_throttle_sample_rate' && x.labels['region'] === p.region && x.labels['partition'] === p.partition);
      expect(rate!.value).toBeGreaterThan(0);
      expect(rate!.value).toBeLessThanOrEqual(1);
    }

    // The visibility histogram (aggregated across shard threads) counts each accepted event once.
    expect(sum(samples, 'shoal_visibility_latency_seconds_count')).toBe(accepted);
    expect(sum(samples, 'shoal_aggregation_latency_seconds_count')).toBeGreaterThan(0);
    // Each flush that stored rows made two chDB inserts (events, minute partials) and one
    // archive encoding, each timed from the shard's call (through StoreProxy) to its end.
    const archives = sum(samples, 'shoal_chdb_operation_seconds_count', { operation: 'archive' });
    expect(archives).toBeGreaterThan(0);
    expect(sum(samples, 'shoal_chdb_operation_seconds_count', { operation: 'insert' })).toBe(2 * archives);
    expect(sum(samples, 'shoal_chdb_operation_seconds_sum', { operation: 'insert' })).toBeGreaterThan(0);
    expect(sum(samples, 'shoal_chdb_operation_seconds_count', { operation: 'query' })).toBeGreaterThan(0);
    // Every accepted id is remembered for dedup, none forgotten early (far below dedup.maxIds).
    expect(sum(samples, 'shoal_dedup_ids')).toBeGreaterThan(0);
    expect(sum(samples, 'shoal_dedup_ids')).toBeLessThanOrEqual(accepted);
    expect(sum(samples, 'shoal_dedup_evicted_total')).toBe(0);
    expect(sum(samples, 'shoal_actors_active')).toBeGreaterThan(0);
    // The dedup index's typed arrays: at least 12 B (ring) + 8 B (table) per remembered id.
    expect(sum(samples, 'shoal_dedup_bytes')).toBeGreaterThanOrEqual(20 * sum(samples, 'shoal_dedup_ids'));
    expect(sum(samples, 'shoal_shard_heap_used_bytes', { shard: '0' })).toBeGreaterThan(0);
    expect(sum(samples, 'shoal_shard_heap_total_bytes', { shard: '0' })).toBeGreaterThanOrEqual(sum(samples, 'shoal_shard_heap_used_bytes', { shard: '0' }));
    expect(sum(samples, 'shoal_process_start_time_seconds')).toBeGreaterThan(0);
    // Mapped files (code) are part of the RSS: Node's binary at least, libchdb.so once chDB ran.
    expect(sum(samples, 'shoal_process_resident_file_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    expect(sum(samples, 'shoal_process_resident_file_bytes')).toBeLessThan(sum(samples, 'shoal_process_resident_memory_bytes'));

    // The SLO: as gauges and in /api/v1/stats.
    const stats = await getJson<{ slo: { objective: number; threshold_s: number; windows: Record<string, { good: number; total: number; ratio: number; burn_rate: number }> } }>(
      `${s.opsUrl}/api/v1/stats`,
    );
    expect(stats.slo).toMatchObject({ objective: 0.99, threshold_s: 30 });
    for (const window of ['5m', '1h']) {
      const w = stats.slo.windows[window]!;
      expect(w.total).toBe(accepted);
      expect(w.good).toBeLessThanOrEqual(w.total);
      expect(w.burn_rate).toBeCloseTo((1 - w.ratio) / (1 - 0.99), 6);
      expect(sum(await scrape(), 'shoal_slo_burn_rate', { window })).toBeGreaterThanOrEqual(0);
    }
    await Promise.all(clients.map((c) => c.close()));
    await waitFor('connections gauge back to zero', async () => (sum(await scrape(), 'shoal_ws_connections') === 0 ? true : undefined));
  });
});
