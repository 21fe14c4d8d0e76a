// The benchmarks' one set of measuring helpers: a latency histogram that
// worker processes fill and the parent merges, percentiles and medians, and a
// server process's CPU time and resident memory read from /proc.
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

// Latency histogram in microseconds: 1 µs buckets below 1 ms, then buckets
// 1 % wide up to about a minute. Small enough to send over IPC as an array.
const LINEAR = 1000;
const STEP = Math.log(1.01);
const BUCKETS = LINEAR + Math.ceil(Math.log(60e6 / LINEAR) / STEP) + 1;

export function newHistogram() {
  return new Uint32Array(BUCKETS);
}

export function record(hist, micros) {
  const us = Math.max(0, micros);
  const i = us < LINEAR ? Math.floor(us) : LINEAR + Math.floor(Math.log(us / LINEAR) / STEP);
  hist[Math.min(i, BUCKETS - 1)]++;
}

export function merge(into, from) {
  for (let i = 0; i < BUCKETS; i++) into[i] += from[i];
  return into;
}

// The value (µs, the bucket's upper edge) below which a fraction q of the samples lie.
export function percentile(hist, q) {
  let total = 0;
  for (const n of hist) total += n;
  if (total === 0) return NaN;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    seen += hist[i];
    if (seen >= rank) return i < LINEAR ? i + 1 : LINEAR * Math.exp((i - LINEAR + 1) * STEP);
  }
  return NaN;
}

export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// Round by round ratios a[i] / b[i] (the two servers measured side by side),
// as "median (min–max)": steadier than a ratio of medians when the machine's
// speed drifts between rounds.
export function pairedRatios(a, b) {
  const r = a.map((x, i) => x / b[i]).filter((x) => Number.isFinite(x));
  if (r.length === 0) return '–';
  const f = (x) => `${x.toFixed(2)}x`;
  return `${f(median(r))} (${f(Math.min(...r))}–${f(Math.max(...r))})`;
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

// CPU times in a /proc/<pid>/stat line, in microseconds: the process's own
// (utime + stime, all its threads) and its waited-for children's (cutime + cstime).
export function statCpuMicros(stat) {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd on
  const us = (ticks) => (ticks * 1e6) / CLK_TCK;
  return { self: us(Number(f[11]) + Number(f[12])), children: us(Number(f[13]) + Number(f[14])) };
}

export const cpuMicros = (pid) => statCpuMicros(readFileSync(`/proc/${pid}/stat`, 'utf8')).self;

// CPU time the whole machine spent busy (every core, every process), in
// microseconds: to tell how much of it other work took during a measurement.
export function machineBusyMicros() {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  const idle = ticks[3] + ticks[4]; // idle, iowait
  return ((ticks.slice(0, 8).reduce((a, b) => a + b, 0) - idle) * 1e6) / CLK_TCK;
}

// Time the hypervisor gave this machine's vCPUs to others while they had work
// ("steal" in /proc/stat), per vCPU, in microseconds.
function stolenMicrosPerCpu() {
  return readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .filter((l) => /^cpu\d/.test(l))
    .map((l) => (Number(l.trim().split(/\s+/)[8]) * 1e6) / CLK_TCK);
}

// Samples the stolen time every 100 ms until stop(): the total over every
// vCPU, and the most one vCPU lost in one 100 ms (a stall that long delays
// every message due in it). /proc/stat counts in ticks of 10 ms.
export function stealSampler() {
  const first = stolenMicrosPerCpu();
  let prev = first;
  let worst = 0;
  const sample = () => {
    const now = stolenMicrosPerCpu();
    for (let i = 0; i < now.length; i++) worst = Math.max(worst, now[i] - prev[i]);
    prev = now;
  };
  const timer = setInterval(sample, 100);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { totalMicros: prev.reduce((a, b) => a + b, 0) - first.reduce((a, b) => a + b, 0), worstMicros: worst };
    },
  };
}

export function rssKiB(pid) {
  return Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);
}

// Writes `body` under `heading` in a Markdown file: replaces what an earlier
// run wrote there (up to its end marker; notes written by hand after the
// marker stay), or appends the section at the end of the file.
export function writeSection(file, heading, body) {
  const END = '<!-- end of the generated part -->';
  const text = readFileSync(file, 'utf8');
  const section = `${heading}\n\n${body.trim()}\n\n${END}\n`;
  const start = text.indexOf(`${heading}\n`);
  const end = start < 0 ? -1 : text.indexOf(END, start);
  const out =
    end < 0 ? `${text.trimEnd()}\n\n${section}` : text.slice(0, start) + section + text.slice(end + END.length + 1);
  writeFileSync(file, out);
}
