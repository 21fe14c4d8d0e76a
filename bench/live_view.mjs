// Benchmark: what the admin page's live view costs signald. CALLS two-party
// calls, both participants joined, each having sent QUALITY quality reports
// (the history the view keeps is 30); then GET /internal/live on signald's
// local channel REQUESTS times, one at a time: the time to the whole answer
// (the event loop builds it in one go, so it is also how long relayed
// messages wait behind it), the answer's size and how many calls it lists.
//
// Usage: node bench/live_view.mjs [CALLS] [REQUESTS] [QUALITY]   (defaults 1000 20 30)
// Needs a built signald (VYTAL_BUILD_DIR, default build/) and `npm ci` (ws).
import { request } from 'node:http';
import { join } from 'node:path';

import { startSignald } from '../tests/integration/lib/signald.mjs';
import { joinedCall, sleep } from '../tests/integration/lib/ws_client.mjs';

const CALLS = Number(process.argv[2] ?? 1000);
const REQUESTS = Number(process.argv[3] ?? 20);
const QUALITY = Number(process.argv[4] ?? 30);

const live = (socketPath) =>
  new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request({ socketPath, path: '/internal/live', method: 'GET' }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ ms: performance.now() - t0, bytes: body.length, status: res.statusCode, doc: JSON.parse(body) });
      });
    });
    req.on('error', reject);
    req.end();
  });

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const sd = await startSignald({
  VYTAL_WS_MESSAGE_RATE: '10000',
  VYTAL_MAX_CONNECTIONS_PER_IP: '100000',
  VYTAL_MAX_CONNECTIONS: '100000',
});
const clients = [];
try {
  for (let i = 0; i < CALLS; i++) {
    const { patient, provider } = await joinedCall(sd, `patient-live-${i}`, `dr-live-${i}`);
    clients.push(patient, provider);
  }
  for (let q = 0; q < QUALITY; q++)
    for (const c of clients) c.send({ type: 'quality-report', rttMs: 40 + q, jitterMs: 3, packetLoss: 0.01, bitrateKbps: 900 + q });
  await sleep(2000);
  const socketPath = join(sd.dataDir, 'signald.sock');
  const runs = [];
  for (let i = 0; i < REQUESTS; i++) runs.push(await live(socketPath));
  if (runs.some((r) => r.status !== 200)) throw new Error(`live answered ${runs.map((r) => r.status)}`);
  const last = runs.at(-1).doc;
  const members = last.calls.reduce((n, c) => n + c.members.length, 0);
  const history = last.calls[0]?.members[0]?.history.length ?? 0;
  console.log(`| calls with someone in them | calls listed | members listed | history points each | answer bytes | median ms | max ms |`);
  console.log(`| --- | --- | --- | --- | --- | --- | --- |`);
  console.log(`| ${CALLS} | ${last.calls.length} | ${members} | ${history} | ${runs.at(-1).bytes} | ${median(runs.map((r) => r.ms)).toFixed(1)} | ${Math.max(...runs.map((r) => r.ms)).toFixed(1)} |`);
} finally {
  for (const c of clients) c.ws.terminate();
  await sd.stop();
  sd.cleanup();
}
