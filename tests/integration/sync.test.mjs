// vytal-syncd against a real PostgreSQL 15 that this file starts itself
// (lib/postgres.mjs): the call log signald writes arrives centrally column by
// column; through a PostgreSQL outage, kill -9 of syncd mid-batch, two sites
// sharing one database and a row PostgreSQL refuses, nothing is lost, nothing
// is doubled and no version goes backwards; retention removes only rows
// PostgreSQL has.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';

import { startPostgres } from './lib/postgres.mjs';
import { api, startSignald, tempDir, token } from './lib/signald.mjs';
import { databaseEnv, startSyncd } from './lib/syncd.mjs';
import { connect, sleep } from './lib/ws_client.mjs';

const SERVICE = token('platform-backend', 'service');

// The synced tables and columns (call_log/sync_tables.cc), written out again
// here so the test is an independent statement of what must arrive.
// Types: text (default), uuid, time (Unix ms in SQLite, timestamptz centrally), int, json.
const TABLES = {
  calls: ['id:uuid', 'patient_id', 'provider_id', 'appointment_id', 'type', 'status', 'scheduled_at:time', 'started_at:time',
    'ended_at:time', 'duration_ms:int', 'end_reason', 'created_by', 'created_at:time', 'updated_at:time', 'version:int'],
  call_participants: ['id:uuid', 'call_id:uuid', 'user_id', 'role', 'status', 'invited_by', 'joined_at:time', 'left_at:time',
    'duration_ms:int', 'created_at:time', 'updated_at:time', 'version:int'],
  call_recordings: ['id:uuid', 'call_id:uuid', 'status', 'storage_key', 'size_bytes:int', 'duration_ms:int', 'started_at:time',
    'ended_at:time', 'created_at:time', 'updated_at:time', 'version:int'],
  call_events: ['id:uuid', 'call_id:uuid', 'type', 'actor_id', 'detail:json', 'occurred_at:time', 'created_at:time',
    'updated_at:time', 'version:int'],
  audit_log: ['id:uuid', 'occurred_at:time', 'actor_id', 'actor_role', 'action', 'outcome', 'call_id:uuid', 'remote_addr',
    'detail:json', 'created_at:time', 'updated_at:time', 'version:int'],
  call_quality_samples: ['id:uuid', 'call_id:uuid', 'user_id', 'rtt_ms:int', 'jitter_ms:int', 'packet_loss_permille:int',
    'bitrate_kbps:int', 'sampled_at:time', 'created_at:time', 'updated_at:time', 'version:int'],
  turn_usage: ['id:uuid', 'call_id:uuid', 'user_id', 'turn_username', 'relay_address', 'transport', 'state',
    'started_at:time', 'ended_at:time', 'bytes_sent:int', 'bytes_received:int', 'packets_sent:int',
    'packets_received:int', 'created_at:time', 'updated_at:time', 'version:int'],
};
const COLUMNS = Object.fromEntries(Object.entries(TABLES).map(([t, cols]) => [t, cols.map((c) => {
  const [name, type = 'text'] = c.split(':');
  return { name, type };
})]));
const TABLE_NAMES = Object.keys(TABLES);
const CHILD_TABLES = TABLE_NAMES.filter((t) => t !== 'calls'); // every one has call_id

let pg;
const dataDirs = [];
let running = []; // signald and syncd handles of the current test

before(async () => {
  const t0 = Date.now();
  pg = await startPostgres();
  console.log(`# PostgreSQL 15 on ${pg.host}:${pg.port} in ${Date.now() - t0} ms`);
});
afterEach(async () => {
  await Promise.all(running.map((p) => p.kill()));
  running = [];
});
after(async () => {
  await Promise.all(running.map((p) => p.kill()));
  if (pg) await pg.cleanup();
  for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
});

// ---------- helpers ----------

async function signald(env = {}, dataDir) {
  const dir = dataDir ?? tempDir('vytal-sync-');
  if (!dataDirs.includes(dir)) dataDirs.push(dir);
  const sd = await startSignald({ VYTAL_GROUP_COMMIT_MAX_BATCH: '512', ...env }, { dataDir: dir });
  running.push(sd);
  return sd;
}

async function syncd(db, site, dataDir, env = {}) {
  const sy = await startSyncd({
    ...databaseEnv(pg, db),
    VYTAL_SITE_ID: site,
    VYTAL_SYNC_BACKOFF_MAX_SECONDS: '1',
    VYTAL_SYNC_POLL_MS: '50',
    ...env,
  }, { dataDir });
  running.push(sy);
  return sy;
}

// Polls fn until it returns something truthy; throws naming `what` after timeoutMs.
async function waitFor(fn, timeoutMs, what, stepMs = 50) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await sleep(stepMs);
  }
}

// Runs fn(i) for i in [0, n) with `concurrency` in flight; resolves with the results in order.
async function pool(n, concurrency, fn) {
  const out = new Array(n);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  }));
  return out;
}

const dbFile = (dataDir) => join(dataDir, 'calls.db');

// The call log through Debian's sqlite3 shell: rows as objects.
function sqliteJson(dataDir, query) {
  const out = execFileSync('sqlite3', ['-readonly', '-batch', '-json', '-cmd', '.timeout 5000', dbFile(dataDir), query], {
    encoding: 'utf8', maxBuffer: 512 * 1024 * 1024,
  }).trim();
  return out ? JSON.parse(out) : [];
}
function sqliteValue(dataDir, query) {
  return execFileSync('sqlite3', ['-readonly', '-batch', '-cmd', '.timeout 5000', dbFile(dataDir), query], { encoding: 'utf8' }).trim();
}
// Writes to the call log beside a running signald/syncd (busy timeout 5 s).
function sqliteWrite(dataDir, statements) {
  execFileSync('sqlite3', ['-batch', '-bail', '-cmd', '.timeout 5000', dbFile(dataDir), statements], { encoding: 'utf8' });
}

const maxSeq = (dataDir) => Number(sqliteValue(dataDir,
  `SELECT coalesce(max(m), 0) FROM (${TABLE_NAMES.map((t) => `SELECT max(change_seq) AS m FROM ${t}`).join(' UNION ALL ')})`));
const rowCount = (dataDir) => TABLE_NAMES.reduce((n, t) => n + Number(sqliteValue(dataDir, `SELECT count(*) FROM ${t}`)), 0);
const pgHighWater = (db, site) => Number(pg.query(`SELECT coalesce((SELECT high_water FROM sync_state WHERE site_id = '${site}'), 0)`, db));
const sqlList = (ids) => ids.map((id) => `'${id}'`).join(', ');

// Waits until syncd reports no backlog and its mark (and PostgreSQL's) is the call log's last change.
async function converge(sy, dataDir, db, site, timeoutMs = 30000) {
  const t0 = Date.now();
  let last = {};
  await waitFor(async () => {
    const m = await sy.metrics();
    const target = maxSeq(dataDir);
    last = { backlog: m.vytal_sync_backlog_rows, high_water: m.vytal_sync_high_water, target, connected: m.vytal_sync_connected };
    return m.vytal_sync_backlog_rows === 0 && m.vytal_sync_high_water === target;
  }, timeoutMs, () => `syncd (${site}) to converge: ${JSON.stringify(last)}\n--- syncd stderr (tail) ---\n${sy.stderr().slice(-3000)}`);
  assert.equal(pgHighWater(db, site), maxSeq(dataDir), `PostgreSQL's sync_state.high_water for ${site}`);
  return Date.now() - t0;
}

// One table's rows centrally, for one site, in the call log's units: times
// as Unix ms, uuid and jsonb as text (jsonb parsed by normalize()).
function pgRows(db, table, site) {
  const exprs = COLUMNS[table].map(({ name, type }) => {
    if (type === 'time') return `(extract(epoch from ${name}) * 1000)::bigint AS ${name}`;
    if (type === 'uuid' || type === 'json') return `${name}::text AS ${name}`;
    return name;
  });
  const out = pg.query(`SELECT row_to_json(t)::text FROM (SELECT ${exprs.join(', ')} FROM ${table} WHERE site_id = '${site}') t`, db);
  return out ? out.split('\n').map((l) => JSON.parse(l)) : [];
}
function sqliteRows(dataDir, table) {
  return sqliteJson(dataDir, `SELECT ${COLUMNS[table].map((c) => c.name).join(', ')} FROM ${table}`);
}
function normalize(table, row) {
  const out = {};
  for (const { name, type } of COLUMNS[table]) {
    const v = row[name] ?? null;
    out[name] = type === 'json' && typeof v === 'string' ? JSON.parse(v) : v;
  }
  return out;
}

// Every synced table: PostgreSQL's rows of `site` equal the call log's rows,
// column by column (ids in `exclude` are expected to be absent centrally).
// Returns { table: rows compared }.
function compareAll(dataDir, db, site, { exclude = new Set() } = {}) {
  const counts = {};
  for (const table of TABLE_NAMES) {
    const lite = new Map(sqliteRows(dataDir, table).filter((r) => !exclude.has(r.id)).map((r) => [r.id, normalize(table, r)]));
    const central = pgRows(db, table, site);
    const byId = new Map(central.map((r) => [r.id, normalize(table, r)]));
    assert.equal(byId.size, central.length, `${table}: an id appears more than once for ${site}`);
    const missing = [...lite.keys()].filter((id) => !byId.has(id));
    const extra = [...byId.keys()].filter((id) => !lite.has(id));
    const differ = [];
    const seqOf = (id) => Number(sqliteValue(dataDir, `SELECT change_seq FROM ${table} WHERE id = '${id}'`));
    for (const [id, row] of lite) {
      const other = byId.get(id);
      if (!other) continue;
      try {
        assert.deepStrictEqual(other, row);
      } catch {
        differ.push({ sqlite: { ...row, change_seq: seqOf(id) }, postgres: other });
      }
    }
    assert.deepEqual(
      { missing: missing.length, extra: extra.length, differ: differ.length },
      { missing: 0, extra: 0, differ: 0 },
      `${table} (${site}): ${lite.size} rows in the call log, ${byId.size} in PostgreSQL; ` +
      `first missing (with their change_seq): ${JSON.stringify(missing.slice(0, 3).map((id) => ({ ...lite.get(id), change_seq: seqOf(id) })))}; ` +
      `first extra: ${JSON.stringify(extra.slice(0, 3))}; first differing (PostgreSQL behind): ${JSON.stringify(differ.slice(0, 2))}`);
    counts[table] = lite.size;
  }
  return counts;
}

function assertSiteOnEveryRow(db, site) {
  for (const table of TABLE_NAMES) {
    assert.equal(pg.query(`SELECT count(*) FROM ${table} WHERE site_id IS DISTINCT FROM '${site}'`, db), '0',
      `${table}: every row carries site_id ${site}`);
  }
}

async function createCall(sd, i, prefix = 'c') {
  const body = { patientId: `${prefix}-pat-${i % 400}`, providerId: `${prefix}-dr-${i % 37}`, type: i % 3 ? 'video' : 'audio' };
  if (i % 4 === 0) body.appointmentId = `appt-${prefix}-${i}`;
  if (i % 3 === 0) body.scheduledAt = new Date(Date.now() + (i % 48) * 1800e3 + (i % 1000)).toISOString();
  const r = await api(sd.url, 'POST', '/webrtc/calls', { tok: SERVICE, body });
  assert.equal(r.status, 201, `create call ${i}: ${r.status} ${r.text}`);
  return r.body;
}
async function postOk(sd, path, body, expect = 200) {
  const r = await api(sd.url, 'POST', path, { tok: SERVICE, body });
  assert.equal(r.status, expect, `POST ${path}: ${r.status} ${r.text}`);
  return r.body;
}
const endCall = (sd, id, reason) => postOk(sd, `/webrtc/calls/${id}/end`, reason ? { reason } : {});
const cancelCall = (sd, id) => postOk(sd, `/webrtc/calls/${id}/cancel`, {});
const inviteTo = (sd, id, userId, role = 'interpreter') => postOk(sd, `/webrtc/calls/${id}/participants`, { userId, role }, 201);

// A few real signaling sessions: joins, quality reports, an invited
// interpreter, an end through REST, one through end-call, one when all left,
// one participant dropped (reconnecting). Resolves when all is committed.
async function signalingSessions(sd, n = 6) {
  const clients = [];
  const calls = [];
  try {
    for (let k = 0; k < n; k++) {
      const call = await createCall(sd, k, `ws${k}`);
      calls.push(call);
      if (k < 2) await inviteTo(sd, call.id, `ws-interp-${k}`);
      const p = await connect(sd, call.patientId, 'patient');
      const d = await connect(sd, call.providerId, 'provider');
      clients.push(p, d);
      await p.join(call.id);
      await d.join(call.id);
      if (k < 2) {
        const i = await connect(sd, `ws-interp-${k}`, 'provider');
        clients.push(i);
        await i.join(call.id);
      }
      for (let r = 0; r < 3; r++) {
        p.send({ type: 'quality-report', rttMs: 40 + k + r, jitterMs: 3.4, packetLoss: 0.012, bitrateKbps: 1500 - r });
        d.send({ type: 'quality-report', rttMs: 60 + k, jitterMs: 1, packetLoss: 0, bitrateKbps: 900 + r });
      }
      if (k === 0) await endCall(sd, call.id, 'completed');
      if (k === 1) d.send({ type: 'end-call', reason: 'done' });
      if (k === 2) {
        p.send({ type: 'leave', requestId: 'l1' });
        d.send({ type: 'leave', requestId: 'l2' });
      }
      if (k === 3) p.close(); // dropped: reconnecting
    }
    const q = (s) => sqliteValue(sd.dataDir, s);
    const ids = sqlList(calls.map((c) => c.id));
    await waitFor(() =>
      Number(q(`SELECT count(*) FROM call_quality_samples WHERE call_id IN (${ids})`)) === 6 * n &&
      q(`SELECT group_concat(status) FROM (SELECT status FROM calls WHERE id IN (${sqlList(calls.slice(0, 3).map((c) => c.id))}))`) === 'ended,ended,ended' &&
      q(`SELECT status FROM call_participants WHERE call_id = '${calls[3].id}' AND user_id = '${calls[3].patientId}'`) === 'reconnecting',
    5000, 'the signaling sessions to be committed');
  } finally {
    for (const c of clients) c.close();
  }
  return calls;
}

// ---------- tests ----------

test('A day of calls reaches PostgreSQL with the same rows, column by column', async (t) => {
  const db = pg.createDatabase('day');
  const site = 'st-mary';
  const sd = await signald({ VYTAL_QUALITY_SAMPLE_SECONDS: '0', VYTAL_MAX_PARTICIPANTS: '5' });
  // syncd follows the call log while the day happens.
  const sy = await syncd(db, site, sd.dataDir);

  const N = 2000;
  let t0 = Date.now();
  const calls = await pool(N, 16, (i) => createCall(sd, i));
  const createMs = Date.now() - t0;
  t0 = Date.now();
  const invited = calls.filter((_, i) => i % 10 === 0);
  await pool(invited.length, 16, async (j) => {
    await inviteTo(sd, invited[j].id, `interp-${j}`);
    if (j % 2 === 0) await inviteTo(sd, invited[j].id, `family-${j}`, 'family');
  });
  const reasons = ['no_show', 'hung_up', 'completed', 'technical_issue'];
  const ended = calls.filter((_, i) => i % 5 === 1);
  const cancelled = calls.filter((_, i) => i % 5 === 3 && i % 2 === 0);
  await pool(ended.length, 16, (j) => endCall(sd, ended[j].id, reasons[j % reasons.length]));
  await pool(cancelled.length, 16, (j) => cancelCall(sd, cancelled[j].id));
  const updateMs = Date.now() - t0;
  const wsCalls = await signalingSessions(sd);

  // Rows no API writes yet (recordings, an audit detail, an event detail with
  // escapes): added straight into the call log while signald is stopped, with
  // the next change_seq, so every column type and COPY's escaping are covered.
  await sd.stop();
  let seq = maxSeq(sd.dataDir);
  const now = Date.now();
  const esc = (s) => s.replaceAll("'", "''");
  const weirdKey = `recordings/2026\\01\\N tab:' || char(9) || ' nl:' || char(10) || ' cr:' || char(13) || ' ü €`;
  sqliteWrite(sd.dataDir, `
    INSERT INTO call_recordings VALUES ('${randomUUID()}', '${calls[0].id}', 'available', '${weirdKey}', 73400320, 1830000, ${now - 1900000}, ${now - 70000}, ${now - 1900000}, ${now}, 3, ${++seq});
    INSERT INTO call_recordings VALUES ('${randomUUID()}', '${calls[1].id}', 'recording', NULL, NULL, NULL, ${now - 5000}, NULL, ${now - 5000}, ${now - 5000}, 1, ${++seq});
    INSERT INTO call_events VALUES ('${randomUUID()}', '${calls[2].id}', 'note', 'nurse-1', '${esc('{"text":"line\\nnext\\ttab \\\\N back\\\\slash","ü":[1,2.5,null,true],"nested":{"a":{}}}')}', ${now}, ${now}, ${now}, 1, ${++seq});
    INSERT INTO audit_log VALUES ('${randomUUID()}', ${now}, 'admin-1', 'admin', 'call.export', 'ok', '${calls[3].id}', '::1', '{"format":"csv","rows":12}', ${now}, ${now}, 1, ${++seq});
    INSERT INTO turn_usage VALUES ('${randomUUID()}', '${calls[4].id}', '${calls[4].patientId}', '${Math.floor(now / 1000) + 600}:${calls[4].patientId}', '198.51.100.7:49160', 'udp', 'closed', ${now - 600000}, ${now - 1000}, 73400320, 1048576, 61000, 9000, ${now - 600000}, ${now - 1000}, 4, ${++seq});
    INSERT INTO turn_usage VALUES ('${randomUUID()}', NULL, 'nurse-1', '${Math.floor(now / 1000) + 600}:nurse-1', NULL, 'tcp', 'refused', ${now}, NULL, 0, 0, 0, 0, ${now}, ${now}, 1, ${++seq});
  `);

  const convergeMs = await converge(sy, sd.dataDir, db, site, 40000);
  const counts = compareAll(sd.dataDir, db, site);
  assertSiteOnEveryRow(db, site);

  const m = await sy.metrics();
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  assert.equal(m.vytal_sync_parked_rows_total, 0);
  assert.ok(m.vytal_sync_rows_total >= total, `rows pushed ${m.vytal_sync_rows_total} >= rows in the log ${total}`);
  assert.equal(m.vytal_sync_connected, 1);
  assert.ok(m.vytal_sync_last_success_timestamp_seconds > Date.now() / 1000 - 60);
  assert.equal(m.vytal_sync_oldest_unsynced_age_seconds, 0);
  assert.deepEqual(Object.keys(m).filter((k) => k.startsWith('vytal_sync_errors_total') && m[k] > 0), [], 'no sync errors');
  for (const table of TABLE_NAMES) assert.ok(counts[table] > 0, `${table} has rows to compare`);
  assert.equal(counts.calls, N + wsCalls.length);
  const statuses = pg.query('SELECT status || \':\' || count(*) FROM calls GROUP BY status ORDER BY status', db);
  t.diagnostic(`created ${N} calls in ${createMs} ms, ${invited.length} invites + ${ended.length} ends + ${cancelled.length} cancels in ${updateMs} ms`);
  t.diagnostic(`synced ${total} rows ${JSON.stringify(counts)}; ${m.vytal_sync_rows_total} pushed in ${m.vytal_sync_batches_total} batches; ` +
    `converged ${convergeMs} ms after the last write; calls by status ${statuses.replaceAll('\n', ' ')}`);
  await sy.stop();
});

test('PostgreSQL stopped during a sync, calls keep being created, everything arrives exactly once', async (t) => {
  const db = pg.createDatabase('outage');
  const site = 'st-outage';
  const sd = await signald();
  const sy = await syncd(db, site, sd.dataDir);
  await pool(200, 16, (i) => createCall(sd, i, 'pre'));
  await converge(sy, sd.dataDir, db, site);

  await pg.stop();
  const outageStart = Date.now();
  const results = [];
  let made = 0;
  while (Date.now() - outageStart < 3000) {
    const batch = await pool(16, 16, async (i) => {
      const r = await api(sd.url, 'POST', '/webrtc/calls', { tok: SERVICE, body: { patientId: `out-pat-${made + i}`, providerId: 'out-dr', type: 'video' } });
      results.push(r.status);
      if (r.status === 201 && i % 2 === 0) {
        const e = await api(sd.url, 'POST', `/webrtc/calls/${r.body.id}/end`, { tok: SERVICE, body: { reason: 'no_show' } });
        results.push(e.status);
      }
      return r;
    });
    made += batch.length;
  }
  const bad = results.filter((s) => s !== 201 && s !== 200);
  assert.equal(bad.length, 0, `signald answered every request during the outage (${results.length} requests, others: ${bad.slice(0, 5)})`);

  let seen = {};
  await waitFor(async () => {
    const m = await sy.metrics();
    seen = m;
    return m.vytal_sync_backlog_rows > 0 && m.vytal_sync_connected === 0 &&
      ((m['vytal_sync_errors_total{kind="pg_connect"}'] ?? 0) + (m['vytal_sync_errors_total{kind="pg_transient"}'] ?? 0)) > 0;
  }, 8000, () => `syncd to report the outage: ${JSON.stringify(seen)}`);
  const backlogAtRestart = seen.vytal_sync_backlog_rows;
  assert.ok(seen.vytal_sync_oldest_unsynced_age_seconds > 0, 'the oldest unsynced change has an age');

  await pg.start();
  const restartAt = Date.now();
  const convergeMs = await converge(sy, sd.dataDir, db, site, 30000);
  const counts = compareAll(sd.dataDir, db, site);
  for (const table of TABLE_NAMES) {
    assert.equal(pg.query(`SELECT count(*) - count(DISTINCT id) FROM ${table}`, db), '0', `${table}: every id once`);
  }
  const liteCalls = sqliteJson(sd.dataDir, 'SELECT id, version FROM calls ORDER BY id');
  const pgCalls = pg.query('SELECT id, version FROM calls ORDER BY id', db).split('\n').map((l) => {
    const [id, version] = l.split('|');
    return { id, version: Number(version) };
  });
  assert.deepEqual(pgCalls, liteCalls, 'every call once, at its latest version');
  const m = await sy.metrics();
  assert.equal(m.vytal_sync_connected, 1);
  t.diagnostic(`${made} calls created during a ${restartAt - outageStart} ms outage; backlog ${backlogAtRestart}; ` +
    `errors ${JSON.stringify(Object.fromEntries(Object.entries(seen).filter(([k]) => k.includes('errors'))))}; ` +
    `caught up ${convergeMs} ms after PostgreSQL came back; ${counts.calls} calls, ${JSON.stringify(counts)}`);
  await sy.stop();
});

test('kill -9 of syncd mid-batch: nothing lost, nothing doubled, versions never go backwards', async (t) => {
  const db = pg.createDatabase('crash');
  const site = 'st-crash';
  const sd = await signald({ VYTAL_QUALITY_SAMPLE_SECONDS: '0' });
  // A first syncd makes the central schema; then the test's trigger goes on it.
  const first = await syncd(db, site, sd.dataDir);
  await waitFor(async () => (await first.metric('vytal_sync_connected')) === 1, 10000, 'the first syncd to connect');
  await first.stop();
  pg.query(`
    CREATE TABLE test_version_regressions (tbl text, id uuid, old_version bigint, new_version bigint, at timestamptz DEFAULT clock_timestamp());
    CREATE FUNCTION test_note_regression() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.version < OLD.version THEN
        INSERT INTO test_version_regressions(tbl, id, old_version, new_version) VALUES (TG_TABLE_NAME, OLD.id, OLD.version, NEW.version);
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER test_no_regression BEFORE UPDATE ON calls FOR EACH ROW EXECUTE FUNCTION test_note_regression();
    CREATE TRIGGER test_no_regression BEFORE UPDATE ON call_participants FOR EACH ROW EXECUTE FUNCTION test_note_regression();
  `, db);

  // The backlog: calls created, some invited, some joined over signaling, all ended.
  let t0 = Date.now();
  const N = 2500;
  const calls = await pool(N, 16, (i) => createCall(sd, i, 'k'));
  await pool(N / 10, 16, (j) => inviteTo(sd, calls[j * 10].id, `k-interp-${j}`));
  await signalingSessions(sd, 4);
  await pool(N, 16, (i) => endCall(sd, calls[i].id, i % 2 ? 'hung_up' : 'no_show'));
  const backlogTarget = maxSeq(sd.dataDir);
  const buildMs = Date.now() - t0;

  // More changes keep arriving while syncd catches up and is killed.
  let loadDone = false;
  let loadCalls = 0;
  const load = (async () => {
    for (let i = 0; !loadDone; i++) {
      const c = await createCall(sd, i, 'live');
      if (i % 3 === 0) await inviteTo(sd, c.id, `live-interp-${i}`);
      await endCall(sd, c.id);
      loadCalls++;
    }
  })();
  load.catch(() => {}); // awaited below; a failure is reported there

  const kills = [];
  const env = { VYTAL_SYNC_BATCH_ROWS: '200' };
  t0 = Date.now();
  let sy;
  try {
    for (const fraction of [0.2, 0.55]) {
      const victim = await syncd(db, site, sd.dataDir, env);
      const startedAt = Date.now();
      // Killed once it is this far into the backlog (its own metric, polled fast).
      await waitFor(async () => (await victim.metric('vytal_sync_high_water')) >= fraction * backlogTarget, 20000,
        () => `syncd to pass ${fraction * 100}% of the backlog\n${victim.stderr().slice(-2000)}`, 5);
      await victim.kill();
      const hw = pgHighWater(db, site);
      kills.push({ afterMs: Date.now() - startedAt, highWater: hw, of: backlogTarget });
      assert.ok(hw > 0 && hw < backlogTarget, `killed mid-way: PostgreSQL's mark ${hw} is between 0 and ${backlogTarget}`);
    }
    sy = await syncd(db, site, sd.dataDir, env);
    await sleep(300); // the load goes on while the last syncd catches up
  } finally {
    loadDone = true;
    await load;
  }
  // signald's own timers (grace periods, sessions ending) would go on adding
  // events while the tables are compared one by one; stopped, the call log
  // holds still, and syncd catches up with its last changes too.
  await sd.stop();
  const convergeMs = await converge(sy, sd.dataDir, db, site, 40000);
  const catchUpMs = Date.now() - t0;

  assert.equal(pg.query('SELECT count(*) FROM test_version_regressions', db), '0',
    `no update lowered a version: ${pg.query('SELECT * FROM test_version_regressions LIMIT 5', db)}`);
  // The detector works: a lowered version is caught (rolled back).
  assert.equal(pg.query(`BEGIN; UPDATE calls SET version = version - 1 WHERE id = '${calls[0].id}';
    SELECT count(*) FROM test_version_regressions; ROLLBACK;`, db), '1');
  const counts = compareAll(sd.dataDir, db, site);
  for (const table of TABLE_NAMES) {
    assert.equal(pg.query(`SELECT count(*) FROM ${table}`, db), String(counts[table]), `${table}: as many rows as the call log`);
  }
  const m = await sy.metrics();
  t.diagnostic(`backlog of ${backlogTarget} changes built in ${buildMs} ms; kills ${JSON.stringify(kills)}; ` +
    `${loadCalls} more calls during the catch-up; caught up ${catchUpMs} ms after the first start (last ${convergeMs} ms); ` +
    `rows ${JSON.stringify(counts)}; the last syncd pushed ${m.vytal_sync_rows_total} rows in ${m.vytal_sync_batches_total} batches`);
  await sy.stop();
});

test('Two appliances into one PostgreSQL', async (t) => {
  // The migration race alone, on fresh databases: two syncds at the same moment.
  for (let round = 0; round < 3; round++) {
    const db = pg.createDatabase(`race_${round}`);
    const dirs = [tempDir('vytal-race-'), tempDir('vytal-race-')];
    dataDirs.push(...dirs);
    const pair = await Promise.all(dirs.map((d, i) => syncd(db, `race-${i}`, d)));
    await Promise.all(pair.map((s) => waitFor(async () => (await s.metric('vytal_sync_connected')) === 1, 10000,
      () => `race round ${round}: syncd to connect\n${s.stderr()}`)));
    for (const s of pair) {
      const m = await s.metrics();
      assert.deepEqual(Object.keys(m).filter((k) => k.startsWith('vytal_sync_errors_total') && m[k] > 0), [],
        `round ${round}: no error while both migrate\n${s.stderr()}`);
    }
    assert.equal(pg.query('SELECT string_agg(version::text, \',\') FROM schema_migrations', db), '1');
    await Promise.all(pair.map((s) => s.stop()));
  }

  const db = pg.createDatabase('two_sites');
  const sites = ['site-a', 'site-b'];
  const sds = await Promise.all(sites.map(() => signald()));
  const sys = await Promise.all(sites.map((site, i) => syncd(db, site, sds[i].dataDir)));
  const t0 = Date.now();
  const made = await Promise.all(sds.map(async (sd, s) => {
    // Same patient and provider ids on both sites: only the call ids differ.
    const calls = await pool(400, 8, (i) => createCall(sd, i, 'shared'));
    await pool(100, 8, (j) => endCall(sd, calls[j * 4].id));
    await pool(40, 8, (j) => inviteTo(sd, calls[j * 4 + 1].id, `interp-${s}-${j}`));
    return calls.length;
  }));
  const convergeMs = await Promise.all(sys.map((sy, i) => converge(sy, sds[i].dataDir, db, sites[i])));
  const counts = sites.map((site, i) => compareAll(sds[i].dataDir, db, site));
  const state = pg.query('SELECT site_id, high_water FROM sync_state ORDER BY site_id', db);
  assert.equal(state, sites.map((s, i) => `${s}|${maxSeq(sds[i].dataDir)}`).join('\n'), 'each site has its own high-water mark');
  for (const table of TABLE_NAMES) {
    assert.equal(pg.query(`SELECT count(*) FROM ${table} WHERE site_id NOT IN ('site-a', 'site-b')`, db), '0', `${table}: no other site`);
    assert.equal(pg.query(`SELECT count(*) FROM ${table}`, db), String(counts[0][table] + counts[1][table]), `${table}: both sites' rows, nothing else`);
  }
  assert.equal(pg.query('SELECT count(*) FROM schema_migrations', db), '1', 'the central schema was applied once');
  for (const sy of sys) {
    const m = await sy.metrics();
    assert.deepEqual(Object.keys(m).filter((k) => k.startsWith('vytal_sync_errors_total') && m[k] > 0), [], `no sync errors\n${sy.stderr()}`);
  }
  t.diagnostic(`${made.join(' + ')} calls on two sites; converged in ${convergeMs.join(' / ')} ms (${Date.now() - t0} ms from the first call); ` +
    `sync_state ${state.replaceAll('\n', ' ')}`);
  await Promise.all(sys.map((s) => s.stop()));
});

test('A poison row is parked and reported while the rows after it arrive', async (t) => {
  const db = pg.createDatabase('poison');
  const site = 'st-poison';
  let sd = await signald();
  const dataDir = sd.dataDir;
  let sy = await syncd(db, site, dataDir);
  await pool(50, 16, (i) => createCall(sd, i, 'before'));
  await converge(sy, dataDir, db, site);

  // signald hands out change_seq from max(change_seq) read at start
  // (CallWriter's constructor): with signald and syncd stopped, the poison
  // takes the next number, and the restarted signald continues after it.
  await sy.stop();
  await sd.stop();
  const poisonSeq = maxSeq(dataDir) + 1;
  const poisonId = randomUUID();
  const now = Date.now();
  sqliteWrite(dataDir, `INSERT INTO audit_log(id, occurred_at, actor_id, actor_role, action, outcome, call_id, remote_addr, detail, created_at, updated_at, version, change_seq)
    VALUES ('${poisonId}', ${now}, 'poison-test', 'service', 'call.create', 'ok', NULL, '127.0.0.1', '{not json', ${now}, ${now}, 1, ${poisonSeq})`);
  sd = await signald({}, dataDir);
  const afterPoison = await pool(100, 16, (i) => createCall(sd, i, 'after'));
  assert.ok(Number(sqliteValue(dataDir, `SELECT min(change_seq) FROM calls WHERE id IN (${sqlList(afterPoison.map((c) => c.id))})`)) > poisonSeq,
    'the calls created afterwards come after the poison row');

  // The poison and the rows after it are in the same batch.
  sy = await syncd(db, site, dataDir);
  await converge(sy, dataDir, db, site);
  assert.equal(pg.query('SELECT count(*) FROM sync_parked', db), '1', 'one parked row centrally');
  const [parkedCentral] = JSON.parse(pg.query('SELECT json_agg(p) FROM sync_parked p', db));
  assert.deepEqual([parkedCentral.site_id, parkedCentral.table_name, parkedCentral.row_id, parkedCentral.change_seq],
    [site, 'audit_log', poisonId, poisonSeq]);
  assert.match(parkedCentral.error, /json/i, 'the error names the JSON problem');
  const parkedLocal = sqliteJson(dataDir, 'SELECT table_name, row_id, change_seq, error FROM sync_parked');
  assert.equal(parkedLocal.length, 1);
  assert.deepEqual([parkedLocal[0].table_name, parkedLocal[0].row_id, parkedLocal[0].change_seq], ['audit_log', poisonId, poisonSeq]);
  assert.match(parkedLocal[0].error, /json/i);
  assert.equal(await sy.metric('vytal_sync_parked_rows_total'), 1);
  assert.equal(pg.query(`SELECT count(*) FROM audit_log WHERE id = '${poisonId}'`, db), '0', 'the poison row is not in audit_log');
  assert.equal(pg.query(`SELECT count(*) FROM calls WHERE id IN (${sqlList(afterPoison.map((c) => c.id))})`, db), String(afterPoison.length),
    'every call created after the poison row arrived');

  // Not stuck: new calls keep arriving.
  const later = await pool(50, 16, (i) => createCall(sd, i, 'later'));
  const convergeMs = await converge(sy, dataDir, db, site);
  assert.equal(pg.query(`SELECT count(*) FROM calls WHERE id IN (${sqlList(later.map((c) => c.id))})`, db), String(later.length));
  const counts = compareAll(dataDir, db, site, { exclude: new Set([poisonId]) });
  assert.equal(await sy.metric('vytal_sync_parked_rows_total'), 1, 'parked once, not again');
  t.diagnostic(`poison change ${poisonSeq} parked (${parkedCentral.error.split('\n')[0]}); ${counts.calls} calls synced; later calls in ${convergeMs} ms`);
  await sy.stop();
});

test('retention prunes only synced rows', async (t) => {
  const db = pg.createDatabase('retention');
  const site = 'st-retention';
  const sd = await signald();
  const dataDir = sd.dataDir;
  let sy = await syncd(db, site, dataDir);
  const old = await pool(60, 16, (i) => createCall(sd, i, 'old'));
  await pool(20, 16, (j) => inviteTo(sd, old[j].id, `old-interp-${j}`));
  await pool(30, 16, (j) => endCall(sd, old[j * 2].id));
  await pool(30, 16, (j) => cancelCall(sd, old[j * 2 + 1].id)); // retention takes only finished calls
  const booked = await pool(3, 3, (i) => createCall(sd, i, 'booked')); // still scheduled: kept however old
  const guarded = await pool(5, 5, (i) => createCall(sd, i, 'guarded'));
  await pool(5, 5, (j) => cancelCall(sd, guarded[j].id));
  const fresh = await pool(40, 16, (i) => createCall(sd, i, 'fresh'));
  await converge(sy, dataDir, db, site);
  await sy.stop();

  const threeDaysAgo = Date.now() - 3 * 86400e3;
  const age = (ids, tables = TABLE_NAMES) => sqliteWrite(dataDir, tables.map((tb) =>
    `UPDATE ${tb} SET created_at = ${threeDaysAgo}, updated_at = ${threeDaysAgo} WHERE ${tb === 'calls' ? 'id' : 'call_id'} IN (${sqlList(ids)});`).join('\n'));
  const countFor = (ids) => Object.fromEntries(TABLE_NAMES.map((tb) => [tb,
    Number(sqliteValue(dataDir, `SELECT count(*) FROM ${tb} WHERE ${tb === 'calls' ? 'id' : 'call_id'} IN (${sqlList(ids)})`))]));
  const pgCountFor = (ids) => Object.fromEntries(TABLE_NAMES.map((tb) => [tb,
    Number(pg.query(`SELECT count(*) FROM ${tb} WHERE ${tb === 'calls' ? 'id' : 'call_id'} IN (${sqlList(ids)})`, db))]));
  const none = Object.fromEntries(TABLE_NAMES.map((tb) => [tb, 0]));

  // Below the mark and old: the whole of `old`; for `guarded` the call row and
  // its events only (its audit rows stay recent, so the call must stay too).
  age(old.map((c) => c.id));
  age(booked.map((c) => c.id));
  age(guarded.map((c) => c.id), ['calls', 'call_events']);
  const oldRows = countFor(old.map((c) => c.id));
  const guardedRows = countFor(guarded.map((c) => c.id));
  assert.ok(guardedRows.call_events > 0 && guardedRows.audit_log > 0, JSON.stringify(guardedRows));
  assert.deepEqual(pgCountFor(old.map((c) => c.id)), oldRows, 'PostgreSQL has every old row before the prune');

  // Above the mark and old: made while PostgreSQL is away.
  await pg.stop();
  const unsynced = await pool(30, 16, (i) => createCall(sd, i, 'unsynced'));
  await pool(30, 16, (j) => cancelCall(sd, unsynced[j].id));
  age(unsynced.map((c) => c.id));
  const unsyncedRows = countFor(unsynced.map((c) => c.id));
  const finalSeq = maxSeq(dataDir);

  sy = await syncd(db, site, dataDir, { VYTAL_SYNC_RETENTION_DAYS: '1' });
  await sleep(2500); // several connection attempts: no prune pass may touch unsynced rows
  let m = await sy.metrics();
  assert.equal(m.vytal_sync_connected, 0);
  // Before its first connect, syncd counts its backlog from the call log's own
  // copy of the mark: the rows made while PostgreSQL was away, not the whole log.
  const localMark = Number(sqliteValue(dataDir, 'SELECT high_water FROM sync_state'));
  const aboveMark = TABLE_NAMES.reduce((n, tb) => n + Number(sqliteValue(dataDir, `SELECT count(*) FROM ${tb} WHERE change_seq > ${localMark}`)), 0);
  assert.ok(localMark > 0 && aboveMark > 0, `mark ${localMark}, ${aboveMark} rows above it`);
  assert.equal(m.vytal_sync_backlog_rows, aboveMark, 'the backlog is what is above the local mark');
  assert.equal(m.vytal_sync_pruned_rows_total, 0, 'nothing pruned while PostgreSQL is away');
  assert.deepEqual(countFor(unsynced.map((c) => c.id)), unsyncedRows, 'old rows above the mark are still in the call log');

  // PostgreSQL back: the old rows arrive, then syncd's first prune pass runs.
  await pg.start();
  await waitFor(async () => {
    m = await sy.metrics();
    return m.vytal_sync_high_water === finalSeq && m.vytal_sync_pruned_rows_total > 0;
  }, 20000, () => `catch-up and the prune pass: ${JSON.stringify(m)}\n${sy.stderr().slice(-2000)}`);
  await sleep(300); // the prune pass finishes its last tables
  m = await sy.metrics();
  assert.deepEqual(pgCountFor(unsynced.map((c) => c.id)), unsyncedRows, 'the old unsynced rows reached PostgreSQL before any prune');
  assert.deepEqual(countFor(old.map((c) => c.id)), none, 'old synced rows are gone from the call log');
  assert.deepEqual(pgCountFor(old.map((c) => c.id)), oldRows, '... and still in PostgreSQL');
  assert.deepEqual(countFor(unsynced.map((c) => c.id)), none, 'once synced, the old rows made during the outage are pruned too');
  assert.equal(countFor(booked.map((c) => c.id)).calls, 3, 'calls still scheduled are kept, however old');
  const g = countFor(guarded.map((c) => c.id));
  assert.equal(g.calls, 5, 'an old call whose audit rows are recent stays');
  assert.equal(g.call_events, 0, "... while its old events go");
  assert.equal(g.audit_log, guardedRows.audit_log, 'its audit rows (created, cancelled) stay');
  assert.equal(countFor(fresh.map((c) => c.id)).calls, 40, 'recent rows stay');
  const prunedRows = Object.values(oldRows).reduce((a, b) => a + b, 0) + Object.values(unsyncedRows).reduce((a, b) => a + b, 0) + guardedRows.call_events;
  assert.equal(m.vytal_sync_pruned_rows_total, prunedRows, 'pruned_rows_total counts what was removed');
  await sy.stop();

  // Rows PostgreSQL has but syncd has not recorded locally (the window
  // between PostgreSQL's COMMIT and the local copy, e.g. kill -9 there; the
  // local mark is set back by hand) are sent again at the next connect, and
  // pruned only once the local mark has moved past them.
  const below = await pool(20, 16, (i) => createCall(sd, i, 'below'));
  await pool(20, 16, (j) => cancelCall(sd, below[j].id));
  const markAt = maxSeq(dataDir);
  const above = await pool(20, 16, (i) => createCall(sd, i, 'above'));
  await pool(20, 16, (j) => cancelCall(sd, above[j].id));
  sy = await syncd(db, site, dataDir);
  await converge(sy, dataDir, db, site);
  await sy.stop();
  sqliteWrite(dataDir, `UPDATE sync_state SET high_water = ${markAt} WHERE id = 1`);
  age(below.map((c) => c.id));
  age(above.map((c) => c.id));
  const aboveRows = countFor(above.map((c) => c.id));
  const aboveTotal = Object.values(aboveRows).reduce((a, b) => a + b, 0);
  const resend = TABLE_NAMES.reduce((n, tb) => n + Number(sqliteValue(dataDir, `SELECT count(*) FROM ${tb} WHERE change_seq > ${markAt}`)), 0);
  sy = await syncd(db, site, dataDir, { VYTAL_SYNC_RETENTION_DAYS: '1' });
  await waitFor(async () => (await sy.metric('vytal_sync_pruned_rows_total')) > 0, 10000, 'the second prune pass');
  await sleep(300);
  m = await sy.metrics();
  assert.equal(m.vytal_sync_rows_total, resend, `the ${resend} rows above the local mark are sent again first`);
  assert.match(sy.stderr(), new RegExp(`is above this call log's own \\(${markAt}\\); resending the changes after ${markAt}`));
  assert.deepEqual(countFor(below.map((c) => c.id)), none, 'old rows at or below the local mark are pruned');
  assert.deepEqual(countFor(above.map((c) => c.id)), none, '... and those above it, once sent again');
  assert.deepEqual(pgCountFor(above.map((c) => c.id)), aboveRows, '... which PostgreSQL still has');
  await sy.stop();

  // The guard itself: when the local record cannot be written (here a
  // trigger refuses it), rows PostgreSQL confirmed but the call log does not
  // know were sent stay, however old; the failure is counted.
  const first = await pool(10, 10, (i) => createCall(sd, i, 'first'));
  await pool(10, 10, (j) => cancelCall(sd, first[j].id));
  sy = await syncd(db, site, dataDir);
  await converge(sy, dataDir, db, site);
  await sy.stop();
  sqliteWrite(dataDir, `CREATE TRIGGER frozen_mark BEFORE UPDATE ON sync_state BEGIN SELECT RAISE(ABORT, 'frozen by the test'); END;`);
  const kept = await pool(10, 10, (i) => createCall(sd, i, 'kept'));
  await pool(10, 10, (j) => cancelCall(sd, kept[j].id));
  age(first.map((c) => c.id));
  age(kept.map((c) => c.id));
  const keptRows = countFor(kept.map((c) => c.id));
  sy = await syncd(db, site, dataDir, { VYTAL_SYNC_RETENTION_DAYS: '1' });
  await waitFor(async () => (await sy.metric('vytal_sync_pruned_rows_total')) > 0, 10000, 'the third prune pass');
  await sleep(300);
  assert.deepEqual(pgCountFor(kept.map((c) => c.id)), keptRows, 'PostgreSQL has the rows');
  assert.deepEqual(countFor(first.map((c) => c.id)), none, 'old rows at or below the local mark are pruned');
  assert.deepEqual(countFor(kept.map((c) => c.id)), keptRows, 'old rows above it stay, though PostgreSQL has them');
  assert.ok((await sy.metric('vytal_sync_errors_total{kind="sqlite"}')) > 0, 'the failed local record is counted');
  assert.match(sy.stderr(), /could not record the high-water mark in the call log: frozen by the test/);
  t.diagnostic(`pruned ${prunedRows} rows after catch-up (${JSON.stringify(oldRows)} synced before, ${JSON.stringify(unsyncedRows)} during the outage); ` +
    `${resend} rows above a local mark set back were sent again before ${aboveTotal} of them were pruned; ` +
    `with the local record refused, ${Object.values(keptRows).reduce((a, b) => a + b, 0)} old rows PostgreSQL has stayed`);
  await sy.stop();
});

test('after retention has pruned the newest rows, a restarted signald\'s calls still reach PostgreSQL', async (t) => {
  // A quiet site: every row is older than the retention, all synced, all pruned.
  const db = pg.createDatabase('quiet_site');
  const site = 'st-quiet';
  let sd = await signald();
  const dataDir = sd.dataDir;
  let sy = await syncd(db, site, dataDir);
  const quiet = await pool(20, 16, (i) => createCall(sd, i, 'quiet'));
  await pool(20, 16, (j) => cancelCall(sd, quiet[j].id)); // finished calls: retention may take them
  await converge(sy, dataDir, db, site);
  await sy.stop();
  await sd.stop();
  const markBefore = pgHighWater(db, site);
  const total = rowCount(dataDir);
  const threeDaysAgo = Date.now() - 3 * 86400e3;
  sqliteWrite(dataDir, TABLE_NAMES.map((tb) => `UPDATE ${tb} SET created_at = ${threeDaysAgo}, updated_at = ${threeDaysAgo};`).join('\n'));
  sy = await syncd(db, site, dataDir, { VYTAL_SYNC_RETENTION_DAYS: '1' });
  await waitFor(async () => (await sy.metric('vytal_sync_pruned_rows_total')) === total, 10000, `all ${total} rows to be pruned`);
  assert.equal(rowCount(dataDir), 0);

  // Monday: signald starts again and the day's first calls are made.
  sd = await signald({}, dataDir);
  const monday = await pool(5, 5, (i) => createCall(sd, i, 'monday'));
  const seqs = sqliteValue(dataDir, 'SELECT group_concat(change_seq) FROM calls');
  let arrived = '0';
  try {
    await waitFor(() => {
      arrived = pg.query(`SELECT count(*) FROM calls WHERE id IN (${sqlList(monday.map((c) => c.id))})`, db);
      return arrived === '5';
    }, 8000, 'the new calls in PostgreSQL');
  } catch (e) {
    const m = await sy.metrics();
    assert.fail(`new calls never reach PostgreSQL: ${arrived} of 5 arrived. PostgreSQL's mark is ${markBefore}; the call log was ` +
      `emptied by retention, so the restarted signald numbered its changes from 0 again (change_seq ${seqs}), all at or ` +
      `below the mark, and syncd reads only change_seq > mark (its backlog metric says ${m.vytal_sync_backlog_rows}).`);
  }
  t.diagnostic(`new calls arrived after a full prune (change_seq ${seqs}, mark was ${markBefore})`);
  await sy.stop();
});

test('a call log restored from an older backup: the changes numbered between the backup and PostgreSQL\'s mark still arrive', async (t) => {
  // Monday: the old machine syncs, and the admin takes a backup.
  const db = pg.createDatabase('restored_site');
  const site = 'st-restored';
  let sd = await signald();
  const dataDir = sd.dataDir;
  let sy = await syncd(db, site, dataDir);
  await pool(10, 10, (i) => createCall(sd, i, 'monday'));
  await converge(sy, dataDir, db, site);
  await sy.stop();
  await sd.stop();
  const backup = join(tempDir('vytal-sync-backup-'), 'calls.db');
  dataDirs.push(dirname(backup));
  execFileSync('sqlite3', ['-batch', '-bail', dbFile(dataDir), `.backup '${backup}'`]);
  const backupSeq = maxSeq(dataDir);

  // Tuesday: the old machine goes on and syncs past the backup, then its disk fails.
  sd = await signald({}, dataDir);
  sy = await syncd(db, site, dataDir);
  await pool(10, 10, (i) => createCall(sd, i, 'tuesday'));
  await converge(sy, dataDir, db, site);
  await sy.stop();
  await sd.stop();
  const mark = pgHighWater(db, site);
  assert.ok(mark > backupSeq, `PostgreSQL's mark ${mark} is past the backup's last change ${backupSeq}`);

  // The new machine: the backup restored; signald takes calls before syncd
  // first reaches PostgreSQL, numbering changes from the backup's last one
  // up past PostgreSQL's mark.
  for (const suffix of ['', '-wal', '-shm']) rmSync(dbFile(dataDir) + suffix, { force: true });
  copyFileSync(backup, dbFile(dataDir));
  sd = await signald({}, dataDir);
  const restored = [];
  for (let i = 0; maxSeq(dataDir) <= mark + 5; i++) restored.push(await createCall(sd, i, 'restored'));
  const seqs = sqliteValue(dataDir, `SELECT group_concat(change_seq) FROM calls WHERE id IN (${sqlList(restored.map((c) => c.id))})`);
  const below = seqs.split(',').map(Number).filter((s) => s <= mark).length;
  assert.ok(below > 0, `some of the new calls' changes (${seqs}) are numbered at or below the mark ${mark}`);

  sy = await syncd(db, site, dataDir);
  let arrived = '0';
  try {
    await waitFor(() => {
      arrived = pg.query(`SELECT count(*) FROM calls WHERE id IN (${sqlList(restored.map((c) => c.id))})`, db);
      return arrived === String(restored.length);
    }, 10000, 'the restored machine\'s calls in PostgreSQL');
  } catch (e) {
    assert.fail(`${arrived} of ${restored.length} calls made on the restored machine reached PostgreSQL; ${below} of them ` +
      `were numbered at or below PostgreSQL's mark ${mark} (change_seq ${seqs}).\n--- syncd stderr ---\n${sy.stderr().slice(-2000)}`);
  }
  await converge(sy, dataDir, db, site);
  // Tuesday's calls, which the restore lost, stay in PostgreSQL; without
  // them, PostgreSQL holds the restored call log row for row.
  const tuesday = `SELECT id FROM calls WHERE site_id = '${site}' AND patient_id LIKE 'tuesday-%'`;
  assert.equal(pg.query(`SELECT count(*) FROM (${tuesday}) t`, db), '10', 'Tuesday\'s calls are still in PostgreSQL');
  pg.query(`${CHILD_TABLES.map((tb) => `DELETE FROM ${tb} WHERE call_id IN (${tuesday});`).join(' ')} DELETE FROM calls WHERE id IN (${tuesday})`, db);
  const counts = compareAll(dataDir, db, site);
  t.diagnostic(`backup at change ${backupSeq}, PostgreSQL's mark ${mark}; ${restored.length} calls on the restored machine, ` +
    `${below} numbered at or below the mark, all arrived; rows compared: ${JSON.stringify(counts)}`);
});
