// Benchmark: resident memory of one signald per idle connection that has
// joined a call (each call's two participants, patient and provider), beside
// connections that only authenticated (bench/ws_connections.mjs measures
// those at scale). Each connection costs its session, and once joined also
// its place in the call's room and its call id.
// Usage: node bench/joined_connections.mjs [CALLS] [HOLD_SECONDS]   (defaults 9500 30)
// The calls are created first (POST /webrtc/calls); "before" is signald's RSS
// with the calls created and nobody connected. Then one client process (the
// `ws` package) opens both participants' connections, 100 at a time, and
// each joins its call; the connections are held HOLD_SECONDS with a 10 s ping
// interval (the `ws` package answers the pings), then measured again.
// Prints a Markdown table for docs/BENCHMARKS.md.
import { readFileSync } from 'node:fs';
import { startSignald } from '../tests/integration/lib/signald.mjs';
import { connect, createCall, sleep } from '../tests/integration/lib/ws_client.mjs';
import { rssKiB } from './relay/stats.mjs';

const CALLS = Number(process.argv[2] ?? 9500);
const HOLD_SECONDS = Number(process.argv[3] ?? 30);
const BATCH = 50;
const heapKiB = (pid) => {
  const smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  const at = smaps.indexOf('[heap]');
  return at < 0 ? 0 : Number(smaps.slice(at).match(/\nRss:\s+(\d+)/)[1]);
};

const sd = await startSignald({
  VYTAL_MAX_CONNECTIONS: String(CALLS * 2 + 500),
  VYTAL_MAX_CONNECTIONS_PER_IP: String(CALLS * 2 + 100),
  VYTAL_MAX_SESSIONS_PER_SUBJECT: '0',
  VYTAL_WS_PING_INTERVAL_SECONDS: '10',
});
const pid = sd.proc.pid;
const calls = [];
for (let i = 0; i < CALLS; i += BATCH) {
  const n = Math.min(BATCH, CALLS - i);
  calls.push(...(await Promise.all(Array.from({ length: n }, (_, k) => createCall(sd, `pat-${i + k}`, `doc-${i + k}`)))));
}
await sleep(1000);
const before = { rss: rssKiB(pid), heap: heapKiB(pid) };
const started = Date.now();
const clients = [];
for (let i = 0; i < CALLS; i += BATCH) {
  const batch = await Promise.all(
    calls.slice(i, i + BATCH).flatMap((c, k) => [connect(sd, `pat-${i + k}`, 'patient'), connect(sd, `doc-${i + k}`, 'provider')]),
  );
  batch.forEach((cl, j) => cl.send({ type: 'join', callId: calls[i + (j >> 1)].id, requestId: 'j' }));
  await Promise.all(batch.map((cl) => cl.next('joined', 10000)));
  clients.push(...batch);
}
const joinSeconds = (Date.now() - started) / 1000;
await sleep(2000);
const joined = { rss: rssKiB(pid), heap: heapKiB(pid) };
await sleep(HOLD_SECONDS * 1000);
const held = { rss: rssKiB(pid), heap: heapKiB(pid) };
const open = clients.filter((c) => c.ws.readyState === 1).length;
const per = (a, key) => Math.round(((a[key] - before[key]) * 1024) / clients.length);
console.log(`| measure | value |
| --- | --- |
| calls created, then both participants joined | ${CALLS} calls, ${clients.length} connections in ${joinSeconds.toFixed(1)} s; ${open} still open after the hold |
| signald RSS, calls created, nobody connected | ${before.rss} KiB |
| signald RSS, all joined (2 s later) | ${joined.rss} KiB |
| signald RSS after holding them ${HOLD_SECONDS} s with 10 s pings | ${held.rss} KiB |
| **resident memory per joined connection** | **${per(joined, 'rss')} bytes after joining, ${per(held, 'rss')} bytes after the hold** |
| of which signald's main heap (\`[heap]\` in \`/proc/<pid>/smaps\`) | ${per(joined, 'heap')} bytes, ${per(held, 'heap')} bytes |`);
for (const c of clients) c.ws.terminate();
process.exit(open === clients.length ? 0 : 1);
