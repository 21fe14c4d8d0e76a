// Benchmark: how many authenticated, idle WebSocket connections one signald
// holds, and its resident memory per connection. The clients are spread over
// several processes (20,000 descriptors per process here) and several
// 127.0.0.x source addresses.
// Usage: node bench/ws_connections.mjs [CONNECTIONS] [PROCESSES] [HOLD_SECONDS]
// Prints a Markdown table for docs/BENCHMARKS.md.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startSignald, token } from '../tests/integration/lib/signald.mjs';

const total = Number(process.argv[2] ?? 19000);
const processes = Number(process.argv[3] ?? 4);
const holdSeconds = Number(process.argv[4] ?? 30);
const rssKiB = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const sd = await startSignald({
  VYTAL_MAX_CONNECTIONS: String(total + 500),
  VYTAL_MAX_CONNECTIONS_PER_IP: String(total),
  VYTAL_WS_PING_INTERVAL_SECONDS: '10', // the held connections answer pings during the hold
  VYTAL_MAX_SESSIONS_PER_SUBJECT: '0', // one token holds every connection here
});
const pid = sd.proc.pid;
await sleep(500);
const idle = rssKiB(pid);
const tok = token('bench-user', 'patient', { exp: Math.floor(Date.now() / 1000) + 3600 });
const started = Date.now();
const workers = [];
const ready = [];
for (let w = 0; w < processes; w++) {
  const count = Math.floor(total / processes) + (w < total % processes ? 1 : 0);
  // Each worker gets its own few source addresses.
  const sources = [0, 1, 2].map((k) => `127.0.${1 + w}.${10 + k}`).join(',');
  const child = spawn(process.execPath, [new URL('./ws_hold_worker.mjs', import.meta.url).pathname,
    `ws://127.0.0.1:${sd.port}/webrtc/ws`, String(count), tok, sources, String(holdSeconds + 120)], { stdio: ['ignore', 'pipe', 'inherit'] });
  workers.push(child);
  ready.push(new Promise((resolve) => {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      const m = d.match(/ready (\d+) failed (\d+)/);
      if (m) resolve({ open: Number(m[1]), failed: Number(m[2]) });
    });
  }));
}
const results = await Promise.all(ready);
const openAll = results.reduce((a, r) => a + r.open, 0);
const failedAll = results.reduce((a, r) => a + r.failed, 0);
const connectSeconds = (Date.now() - started) / 1000;
await sleep(3000);
const loaded = rssKiB(pid);
const metricsText = await (await fetch(`${sd.url}/metrics`)).text();
const sessions = Number(metricsText.match(/^vytal_ws_sessions (\d+)/m)[1]);
await sleep(holdSeconds * 1000); // through several ping rounds
const afterHold = rssKiB(pid);
const sessionsAfter = Number((await (await fetch(`${sd.url}/metrics`)).text()).match(/^vytal_ws_sessions (\d+)/m)[1]);
for (const w of workers) w.kill('SIGTERM');
await sleep(1000);
await sd.stop();
sd.cleanup();

const perConn = ((loaded - idle) * 1024) / sessions;
console.log(`| measure | value |
| --- | --- |
| connections asked for | ${total} (${processes} client processes) |
| connections open (clients) | ${openAll}, ${failedAll} failed |
| signaling sessions (signald /metrics) | ${sessions} after connecting, ${sessionsAfter} after holding ${holdSeconds} s with 10 s pings |
| time to open all | ${connectSeconds.toFixed(1)} s |
| signald RSS idle | ${idle} KiB |
| signald RSS holding them | ${loaded} KiB (${afterHold} KiB after the hold) |
| **resident memory per connection** | **${perConn.toFixed(0)} bytes (${(perConn / 1024).toFixed(2)} KiB)** |`);
