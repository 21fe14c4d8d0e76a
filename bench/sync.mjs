// Benchmark of vytal-syncd against a PostgreSQL 15 it starts itself (fsync
// and synchronous commit on, as in production):
//  1. catch-up: a backlog of 1,000,000 changes (bench/sync_backlog.sql) pushed
//     with COPY into staging tables and with multi-row INSERTs, side by side;
//     rows/s and syncd's resident memory sampled every 0.5 s (it must stay
//     flat, not grow with the backlog);
//  2. steady state: 100 call changes per second through signald's REST API for
//     30 s; lag from the commit in SQLite (updated_at) to the commit in
//     PostgreSQL (synced_at), median and p99.
// Usage: node bench/sync.mjs [STEADY_SECONDS]
// Prints Markdown for docs/BENCHMARKS.md.
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSignald, token, api, tempDir } from '../tests/integration/lib/signald.mjs';
import { startPostgres } from '../tests/integration/lib/postgres.mjs';
import { startSyncd, databaseEnv } from '../tests/integration/lib/syncd.mjs';

const steadySeconds = Number(process.argv[2] ?? 30);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rssKiB = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

const pg = await startPostgres({ durable: true });
const out = [];

// The backlog, made once: a migrated, empty call log (signald creates it), then 1M rows.
const template = tempDir();
const sd0 = await startSignald({}, { dataDir: template });
await sd0.stop();
execFileSync('sqlite3', [join(template, 'calls.db')], { input: readFileSync(new URL('./sync_backlog.sql', import.meta.url)) });

async function catchUp(method) {
  const db = `bench_${method}`;
  pg.createDatabase(db);
  const dataDir = tempDir();
  copyFileSync(join(template, 'calls.db'), join(dataDir, 'calls.db'));
  const syncd = await startSyncd({ ...databaseEnv(pg, db), VYTAL_SITE_ID: 'bench', VYTAL_SYNC_METHOD: method, VYTAL_SYNC_BATCH_ROWS: '10000' }, { dataDir });
  const started = Date.now();
  const rss = [];
  let rows = 0;
  while (rows < 1000000 && Date.now() - started < 600000) {
    await sleep(500);
    rss.push(rssKiB(syncd.proc.pid));
    rows = await syncd.metric('vytal_sync_rows_total');
  }
  const seconds = (Date.now() - started) / 1000;
  await syncd.stop();
  const inPg = Number(pg.query('SELECT (SELECT count(*) FROM calls) + (SELECT count(*) FROM call_events) + (SELECT count(*) FROM audit_log)', db));
  const span = Number(pg.query('SELECT extract(epoch FROM max(synced_at) - min(synced_at)) FROM calls', db));
  return { method, rows, inPg, seconds, span, rss };
}

const results = [];
for (const method of ['copy', 'insert']) results.push(await catchUp(method));
out.push(`| catch-up of 1,000,000 changes | COPY + upsert | multi-row INSERT ... ON CONFLICT |
| --- | --- | --- |
| rows in PostgreSQL afterwards | ${results[0].inPg} | ${results[1].inPg} |
| time to push them (first to last commit) | ${results[0].span.toFixed(1)} s | ${results[1].span.toFixed(1)} s |
| **rows/s** | **${Math.round(1e6 / results[0].span)}** | **${Math.round(1e6 / results[1].span)}** |
| syncd RSS while catching up: min / median / max (KiB) | ${Math.min(...results[0].rss)} / ${median(results[0].rss)} / ${Math.max(...results[0].rss)} | ${Math.min(...results[1].rss)} / ${median(results[1].rss)} / ${Math.max(...results[1].rss)} |
| RSS samples, first → last (KiB) | ${results[0].rss[0]} → ${results[0].rss.at(-1)} | ${results[1].rss[0]} → ${results[1].rss.at(-1)} |`);

// Steady state: signald and syncd together, 100 creates per second.
pg.createDatabase('bench_steady');
const sd = await startSignald({});
const syncd = await startSyncd({ ...databaseEnv(pg, 'bench_steady'), VYTAL_SITE_ID: 'steady' }, { dataDir: sd.dataDir });
const tok = token('bench', 'service');
let sent = 0;
let failed = 0;
const until = Date.now() + steadySeconds * 1000;
const timer = setInterval(() => {
  if (Date.now() > until) return;
  sent++;
  api(sd.url, 'POST', '/webrtc/calls', { tok, body: { patientId: `p-${sent}`, providerId: 'dr-steady', type: 'video' } })
    .then((r) => { if (r.status !== 201) failed++; }, () => failed++);
}, 10);
await sleep(steadySeconds * 1000 + 3000);
clearInterval(timer);
const lags = pg.query("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY l), percentile_cont(0.99) WITHIN GROUP (ORDER BY l), max(l), count(*) FROM (SELECT extract(epoch FROM synced_at - updated_at) AS l FROM calls) x", 'bench_steady').split('|').map(Number);
await syncd.stop();
await sd.stop();
sd.cleanup();
out.push(`
| steady state, ${steadySeconds} s at 100 creates/s | value |
| --- | --- |
| calls created (non-201: ${failed}) | ${sent} |
| calls in PostgreSQL | ${lags[3]} |
| lag SQLite commit → PostgreSQL commit, median | ${(lags[0] * 1000).toFixed(0)} ms |
| lag, p99 | ${(lags[1] * 1000).toFixed(0)} ms |
| lag, max | ${(lags[2] * 1000).toFixed(0)} ms |`);
pg.cleanup();
console.log(out.join('\n'));
process.exit(0);
