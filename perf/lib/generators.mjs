// The parent's side of the load generators: forks perf/generator.mjs N times, hands each its
// slice of the fleet and share of the rate, and sums their per-second reports.
import { fork } from 'node:child_process';
import { LogHistogram } from './histogram.mjs';

const GENERATOR = new URL('../generator.mjs', import.meta.url).pathname;

function addCounters(into, c) {
  for (const [k, v] of Object.entries(c)) {
    if (typeof v === 'number') into[k] = (into[k] ?? 0) + v;
    else if (v && typeof v === 'object') {
      into[k] ??= {};
      for (const [code, n] of Object.entries(v)) into[k][code] = (into[k][code] ?? 0) + n;
    }
  }
  return into;
}

export class GeneratorPool {
  /**
   * @param {object} o
   * @param {number} o.count generator processes
   * @param {object} o.config shared part of each generator's init message (url, devices, regions, tokens, mix, ...)
   * @param {number} o.rate total events/s
   * @param {string | null} [o.cpuProfDir] run each generator under `node --cpu-prof`, its profile in this directory
   */
  constructor({ count, config, rate, log, cpuProfDir = null }) {
    this.count = count;
    this.execArgv = ['--max-old-space-size=2048', ...(cpuProfDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`])];
    this.config = config;
    this.rate = rate;
    this.log = log;
    this.children = [];
    this.latest = [];
    this.finals = [];
    this.ackHistSec = new LogHistogram();
  }

  get pids() {
    return this.children.map((c) => c.pid);
  }

  /** Fork the generators and wait until every one has all its connections open. */
  async start() {
    const ready = [];
    for (let index = 0; index < this.count; index++) {
      const child = fork(GENERATOR, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: this.execArgv });
      this.children.push(child);
      this.latest.push(null);
      ready.push(
        new Promise((resolve, reject) => {
          child.on('message', (m) => {
            if (m.type === 'ready') resolve(m);
            else if (m.type === 'fatal') reject(new Error(`generator ${index}: ${m.message}`));
            else if (m.type === 'progress') {
              this.latest[index] = m;
              this.ackHistSec.merge(m.ackHist);
            } else if (m.type === 'final') {
              this.finals[index] = m;
              // From now on this generator holds only what it could not deliver.
              this.latest[index] = { counters: m.counters, inflightFrames: 0, inflightEvents: m.leftover.inflightEvents, queued: m.leftover.unsent, connsOpen: 0, conns: 0 };
            }
          });
          child.on('exit', (code) => {
            if (this.finals[index] === undefined) reject(new Error(`generator ${index} exited with ${code} before its final report`));
            this.onExit?.(index, code);
          });
        }),
      );
      const { tokensByIndex, ...shared } = this.config;
      child.send({ type: 'init', ...shared, tokens: tokensByIndex?.[index] ?? null, index, generators: this.count, rate: this.rate / this.count, totalRate: this.rate });
    }
    const answers = await Promise.all(ready);
    return { connections: answers.reduce((a, m) => a + m.conns, 0), devices: answers.reduce((a, m) => a + m.devices, 0) };
  }

  go() {
    for (const c of this.children) c.send({ type: 'go', t0: Date.now() });
  }

  setRate(rate) {
    this.rate = rate;
    for (const c of this.children) c.send({ type: 'rate', rate: rate / this.count });
  }

  /** Summed cumulative counters and current queue state of the latest reports. */
  snapshot() {
    const counters = {};
    const state = { inflightFrames: 0, inflightEvents: 0, queued: 0, connsOpen: 0, conns: 0 };
    for (const m of this.latest) {
      if (!m) continue;
      addCounters(counters, m.counters);
      for (const k of Object.keys(state)) state[k] += m[k];
    }
    return { counters, ...state };
  }

  /** Ack-latency samples received since the last call. */
  takeAckHist() {
    const h = this.ackHistSec;
    this.ackHistSec = new LogHistogram();
    return h;
  }

  /** Stop generating, let every generator drain (up to drainMs), collect the finals. */
  async stop(drainMs) {
    const exits = this.children.map((c) => (c.exitCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r))));
    for (const c of this.children) if (c.connected) c.send({ type: 'stop', drainMs });
    await Promise.all(exits);
    const counters = {};
    const ackHist = new LogHistogram();
    const ackedPerDevice = {};
    const leftover = { unsent: 0, inflightEvents: 0, unansweredEvents: 0 };
    let missing = 0;
    for (const f of this.finals) {
      if (!f) {
        missing++;
        continue;
      }
      addCounters(counters, f.counters);
      ackHist.merge(f.ackHist);
      for (const [d, n] of Object.entries(f.ackedPerDevice)) ackedPerDevice[d] = (ackedPerDevice[d] ?? 0) + n;
      for (const k of Object.keys(leftover)) leftover[k] += f.leftover[k];
    }
    return { counters, ackHist, ackedPerDevice, leftover, missingFinals: missing + (this.count - this.finals.length) };
  }

  kill() {
    for (const c of this.children) if (c.exitCode === null) c.kill('SIGKILL');
  }
}
