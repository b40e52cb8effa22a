/**
 * The shipped monitoring setup against real Debian binaries: `promtool check config` accepts
 * deploy/prometheus.yml; a real `prometheus` scraping a running shoal every second sees it up,
 * stores its shoal_ metrics (the visibility histogram counts the events sent), and every
 * PromQL query of the provisioned Grafana dashboard is accepted by that server and answers
 * with data once shoal has taken good and bad events.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadOrCreateSecret } from '../../src/contracts/auth-secret.js';
import { issueDeviceToken } from '../../src/contracts/device-token.js';
import { DeviceClient } from '../helpers/device-client.js';
import { v1Event } from '../helpers/events.js';
import { startShoal, waitFor, type ShoalProcess } from '../helpers/shoal-process.js';

const run = promisify(execFile);
const PROMETHEUS_CONFIG = new URL('../../deploy/prometheus.yml', import.meta.url).pathname;
const GRAFANA_DASHBOARD = new URL('../../deploy/grafana/dashboards/shoal.json', import.meta.url).pathname;

interface QueryAnswer {
  status: 'success' | 'error';
  error?: string;
  data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

let shoal: ShoalProcess | undefined;
let prometheus: ChildProcess | undefined;
let prometheusLog = '';
let workDir: string | undefined;
let promUrl = '';

/** An instant query against the test's Prometheus (the HTTP status is not checked: errors are JSON too). */
async function query(expr: string): Promise<QueryAnswer> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(5000) });
  return (await res.json()) as QueryAnswer;
}

/** What Prometheus says about the shoal target, and its own state: for a failure's message. */
async function scrapeState(): Promise<string> {
  const p = prometheus;
  const exited = p && (p.exitCode !== null || p.signalCode !== null) ? `prometheus exited (${p.exitCode ?? p.signalCode})` : 'prometheus running';
  let target = 'no target state';
  try {
    const res = await fetch(`${promUrl}/api/v1/targets`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { data?: { activeTargets?: { health: string; lastError: string; lastScrapeDuration: number }[] } };
    const t = body.data?.activeTargets?.[0];
    if (t) target = `target ${t.health}, last scrape ${t.lastScrapeDuration} s, last error ${JSON.stringify(t.lastError)}`;
  } catch (err) {
    target = `targets API: ${String(err)}`;
  }
  return `${exited}; ${target}\nprometheus log:\n${prometheusLog.slice(-2000)}`;
}

/** Rethrow a wait's failure with Prometheus's view of the scrape appended. */
async function withScrapeState(err: unknown): Promise<never> {
  throw new Error(`${err instanceof Error ? err.message : String(err)}\n${await scrapeState()}`);
}

async function scalar(expr: string): Promise<number | undefined> {
  const answer = await query(expr);
  const first = answer.data?.result[0];
  return first ? Number(first.value[1]) : undefined;
}

describe('Prometheus scraping shoal', () => {
  beforeAll(async () => {
    shoal = await startShoal({ config: { flush: { intervalMs: 200 } } });
    workDir = mkdtempSync(join(tmpdir(), 'shoal-prometheus-'));
    const target = new URL(shoal.opsUrl).host;
    const configFile = join(workDir, 'prometheus.yml');
    writeFileSync(
      configFile,
      stringify({
        global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
        scrape_configs: [{ job_name: 'shoal', metrics_path: '/metrics', static_configs: [{ targets: [target] }] }],
      }),
    );
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      'prometheus',
      [`--config.file=${configFile}`, `--storage.tsdb.path=${join(workDir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    prometheus.stderr?.on('data', (d: Buffer) => (prometheusLog += d.toString()));
  });

  afterAll(async () => {
    const p = prometheus;
    if (p && p.exitCode === null && p.signalCode === null) {
      const exited = new Promise((resolve) => p.once('exit', resolve));
      p.kill('SIGTERM');
      await exited;
    }
    await shoal?.cleanup();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('promtool accepts the shipped deploy/prometheus.yml', async () => {
    const { stdout } = await run('promtool', ['check', 'config', PROMETHEUS_CONFIG]);
    expect(stdout).toMatch(/SUCCESS/);
  });

  it('scrapes a running shoal: the target is up and shoal_ metrics carry the events sent', async () => {
    const s = shoal!;
    await waitFor(
      'prometheus to report the shoal target up',
      async () => ((await scalar('up{job="shoal"}')) === 1 ? true : undefined),
      45_000,
      250,
    ).catch(withScrapeState);
    expect(await scalar('shoal_process_resident_memory_bytes')).toBeGreaterThan(0);

    const device = 'prom-device';
    const client = await DeviceClient.connect(s.ingestUrl, await issueDeviceToken(loadOrCreateSecret(s.dataDir), device, 'eu-west'));
    const now = Date.now();
    const sent = Array.from({ length: 10 }, (_, i) => v1Event(device, 'eu-west', now - 1000 + i, 'humidity', i));
    expect((await client.send(sent)).accepted).toBe(sent.length);
    // One event without a value: a rejection by code and a DLQ entry for those panels.
    expect((await client.send([v1Event(device, 'eu-west', now, 'humidity', Number.NaN)])).rejected).toHaveLength(1);
    await client.close();

    const visible = await waitFor(
      'the visibility histogram in prometheus to count the events',
      async () => {
        const n = await scalar('sum(shoal_visibility_latency_seconds_count)');
        return n !== undefined && n >= sent.length ? n : undefined;
      },
      45_000,
      250,
    ).catch(withScrapeState);
    expect(visible).toBe(sent.length);
  }, 120_000);

  it('answers every PromQL query of the provisioned Grafana dashboard with data', async () => {
    const dashboard = JSON.parse(readFileSync(GRAFANA_DASHBOARD, 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })));
    expect(exprs.length).toBeGreaterThanOrEqual(6);
    for (const { panel, expr } of exprs) {
      const promql = expr.replaceAll('$__rate_interval', '1m');
      const answer = await query(promql);
      expect({ panel, expr, status: answer.status, error: answer.error }).toEqual({ panel, expr, status: 'success', error: undefined });
      await waitFor(`data for "${panel}": ${promql}`, async () => ((await query(promql)).data?.result.length ? true : undefined), 30_000, 250);
    }
  });
});
