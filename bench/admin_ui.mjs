// Benchmark of vytal-admin (issue 12) on a call log of 1,000,000 calls:
//  1. filtered call-log searches (the page's first page of 50), sequential,
//     p50/p95/max per filter, measured by the client (HTTP included);
//  2. the overview's data (GET /api/overview: signald's /healthz and
//     /metrics over loopback, the call log's counts, files, probes);
//  3. a streamed CSV export of 100,000 calls (and of all 1,000,000) with
//     vytal-admin's resident memory sampled every 20 ms while it streams;
//  4. vytal-admin's resident memory at rest.
// The calls are made with SQL in one transaction (a recursive CTE), spread
// over the last 365 days, the newest now; signald and vytal-admin run on them.
// Usage: node bench/admin_ui.mjs [CALLS]   (default 1000000). Prints Markdown.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { startSignald, tempDir } from '../tests/integration/lib/signald.mjs';
import { startAdmin, addAccount, login } from '../tests/integration/lib/admin.mjs';

const N = Number(process.argv[2] ?? 1000000);
const SAMPLES = 200;
const rssKiB = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);
const pct = (a, p) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor((a.length * p) / 100))];
const ms = (x) => x.toFixed(2);

const dir = tempDir('vytal-admin-bench-');
const sd0 = await startSignald({}, { dataDir: dir });
await sd0.stop();
const now = Date.now();
// One year of calls (about 2,700 a day at 1,000,000): the overview counts today's.
const spacing = Math.floor((365 * 86400000) / N);
let t = process.hrtime.bigint();
execFileSync('sqlite3', [join(dir, 'calls.db')], {
  input: `PRAGMA journal_mode=WAL;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${N})
INSERT INTO calls(id, patient_id, provider_id, appointment_id, type, status, scheduled_at, started_at, ended_at,
                  duration_ms, end_reason, created_by, created_at, updated_at, version, change_seq)
SELECT printf('%08x-%04x-7%03x-8%03x-%012x', c / 65536, c % 65536, i % 4096, i % 4096, i),
       'patient-' || (i % 20000), 'provider-' || (i % 500), NULL,
       CASE WHEN i % 10 = 0 THEN 'audio' ELSE 'video' END,
       status, NULL,
       CASE WHEN status IN ('ended', 'active') THEN c + 20000 END,
       CASE WHEN status = 'ended' THEN c + 20000 + dur END,
       CASE WHEN status = 'ended' THEN dur END,
       CASE status WHEN 'ended' THEN 'completed' WHEN 'missed' THEN 'no_answer' WHEN 'cancelled' THEN 'no_show' ELSE NULL END,
       'platform', c, c, 1, i
FROM (SELECT i, ${now} - (${N} - i) * ${spacing} AS c, 60000 + (i * 7919) % 2400000 AS dur,
             CASE WHEN i > ${N} - 20 THEN 'active' WHEN i % 501 = 0 THEN 'failed' WHEN i % 97 = 0 THEN 'cancelled'
                  WHEN i % 50 = 0 THEN 'missed' ELSE 'ended' END AS status FROM n);
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
`,
});
const genSeconds = Number(process.hrtime.bigint() - t) / 1e9;
const dbBytes = Number(execFileSync('stat', ['-c', '%s', join(dir, 'calls.db')], { encoding: 'utf8' }));

const sd = await startSignald({}, { dataDir: dir });
process.on('exit', () => sd.proc.kill('SIGKILL'));
const admin = await startAdmin(sd);
addAccount(sd, 'bench', 'admin', 'long enough passphrase 7');
const { cookie } = await login(admin, 'bench', 'long enough passphrase 7');
const get = async (path) => {
  const start = process.hrtime.bigint();
  const res = await fetch(`${admin.url}/api/${path}`, { headers: { cookie } });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${body}`);
  const server = Number(res.headers.get('server-timing')?.match(/dur=([\d.]+)/)?.[1]);
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, server, body };
};

const week = now - 7 * 86400000;
const searches = [
  ['newest 50, no filter', 'calls?limit=50'],
  ['status=ended, last 7 days', `calls?status=ended&from=${week}&to=${now}&limit=50`],
  ['patientId (≈50 calls)', 'calls?patientId=patient-4242&limit=50'],
  ['providerId + status=missed', 'calls?providerId=provider-50&status=missed&limit=50'],
  ['status=failed (rare: 0.2 %)', 'calls?status=failed&limit=50'],
  ['a call id', null],
  ['page 100 of status=ended (keyset cursor)', null],
];
// The cursor of the 100th page and a call id, found once.
let cursor = null;
for (let p = 0; p < 99; p++) cursor = JSON.parse((await get(`calls?status=ended&limit=50${cursor ? `&cursor=${cursor}` : ''}`)).body).nextCursor;
searches[5][1] = `calls?callId=${JSON.parse((await get('calls?limit=1')).body).calls[0].id}`;
searches[6][1] = `calls?status=ended&limit=50&cursor=${cursor}`;

const lines = [];
lines.push(`Machine: ${cpus().length} × ${cpus()[0].model}, Debian 12; ${N.toLocaleString('en')} calls (${(dbBytes / 2 ** 20).toFixed(0)} MiB call log) made in ${genSeconds.toFixed(1)} s with one SQL transaction.`, '');
lines.push(`Load average when it started: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}.`, '');
lines.push('Client: the request as the browser sees it (HTTP included). Server: vytal-admin\'s own time (its Server-Timing header).', '');
lines.push('| request | client p50 ms | client p95 ms | server p50 ms | server p95 ms | rows |', '| --- | ---: | ---: | ---: | ---: | ---: |');
async function measure(name, path, rowsOf) {
  const client = [];
  const server = [];
  let rows = '';
  for (let i = 0; i < SAMPLES; i++) {
    const r = await get(path);
    client.push(r.ms);
    server.push(r.server);
    rows = rowsOf(r.body);
  }
  lines.push(`| ${name} | ${ms(pct(client, 50))} | ${ms(pct(client, 95))} | ${ms(pct(server, 50))} | ${ms(pct(server, 95))} | ${rows} |`);
}
for (const [name, path] of searches) await measure(`search: ${name}`, path, (b) => JSON.parse(b).calls.length);
await measure('overview (services, calls now and today, sync, certificates, key ring, clock, disk)', 'overview', () => '');

async function exportCsv(name, path) {
  const pid = admin.proc.pid;
  const before = rssKiB(pid);
  let peak = before;
  const samples = [];
  const timer = setInterval(() => {
    const r = rssKiB(pid);
    samples.push(r);
    peak = Math.max(peak, r);
  }, 20);
  const start = process.hrtime.bigint();
  const res = await fetch(`${admin.url}/api/${path}`, { headers: { cookie } });
  let bytes = 0;
  let newlines = 0;
  for await (const chunk of res.body) {
    bytes += chunk.length;
    for (const b of chunk) if (b === 10) newlines++;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  clearInterval(timer);
  return `| ${name} | ${(newlines - 1).toLocaleString('en')} | ${(bytes / 2 ** 20).toFixed(1)} MiB | ${seconds.toFixed(2)} s | ${Math.round((newlines - 1) / seconds).toLocaleString('en')} | ${(before / 1024).toFixed(1)} | ${(peak / 1024).toFixed(1)} | ${samples.length} |`;
}
const hundredK = now - 100000 * spacing;
lines.push('', '| CSV export | rows | size | time | rows/s | RSS before MiB | RSS peak MiB | RSS samples |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
lines.push(await exportCsv('100,000 calls (from= the newest 100,000)', `calls.csv?from=${hundredK + 1}`));
lines.push(await exportCsv(`all ${N.toLocaleString('en')} calls`, 'calls.csv'));
lines.push('', `vytal-admin resident memory at rest after the runs: ${(rssKiB(admin.proc.pid) / 1024).toFixed(1)} MiB.`);
console.log(lines.join('\n'));
await admin.stop();
await sd.stop();
sd.cleanup();
