// How fast one core of this machine is right now, so runs on different days (or hosts) can be
// compared: the CPU time of a fixed piece of JavaScript shaped like Shoal's own work (parse
// a frame of events, build objects, serialise them), taken before Shoal starts. Shared cloud
// hosts differ by more than the changes a run is meant to show (the same build has run
// 1.7× slower on one day than the day before): a report whose reference work took longer
// ran on a slower core. CPU time, not wall time, so a busy machine stretches it less.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

const EVENTS = 250;
const ROUNDS = 200;
const TRIALS = 5;

/** A deterministic frame of v2-like events as JSON text. */
function referenceFrame() {
  const events = [];
  let x = 12345;
  const next = () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let i = 0; i < EVENTS; i++) {
    events.push({
      schema_version: 2,
      event_id: `0b6c4e1a-8f4e-4d2c-9a57-${String(100000000000 + i)}`,
      device_id: `sim-us-east-${String(i % 97).padStart(6, '0')}`,
      event_time: new Date(1_780_000_000_000 + i * 1000).toISOString(),
      firmware_version: '2.4.1',
      region: 'us-east',
      seq: i,
      readings: [
        { sensor_type: 'temperature', value: 20 + next() * 5, unit: 'C' },
        { sensor_type: 'humidity', value: 40 + next() * 20, unit: '%' },
      ],
    });
  }
  return JSON.stringify(events);
}

/** os.cpus() says 0 MHz inside some VMs where /proc/cpuinfo still knows. */
function cpuinfoMhz() {
  try {
    const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return m ? Math.round(Number(m[1])) : null;
  } catch {
    return null;
  }
}

function once(frame) {
  const start = process.cpuUsage();
  let sum = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const events = JSON.parse(frame);
    const rows = [];
    for (const e of events) for (const reading of e.readings) rows.push({ id: e.event_id, device: e.device_id, t: Date.parse(e.event_time), sensor: reading.sensor_type, value: reading.value });
    sum += JSON.stringify(rows).length;
  }
  const used = process.cpuUsage(start);
  if (sum === 0) throw new Error('reference work produced nothing');
  return (used.user + used.system) / 1000;
}

/**
 * The machine's CPU model and clock as the kernel reports them, and the best of five
 * timings of the reference work (ms of CPU; lower is a faster core).
 */
export function calibrate() {
  const frame = referenceFrame();
  once(frame); // warm up: compiled code, not the interpreter, is what is compared
  const trials = Array.from({ length: TRIALS }, () => once(frame));
  const cpu = cpus()[0];
  return { cpuModel: cpu?.model ?? null, cpuMhz: cpu?.speed || cpuinfoMhz(), referenceWorkMs: Math.min(...trials), referenceWorkTrialsMs: trials };
}
