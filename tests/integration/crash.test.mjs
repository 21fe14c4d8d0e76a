// Durable before acknowledged: under a bounded concurrent create-call load,
// signald is killed with SIGKILL; after a restart every call that got a 201
// is in the call log and the database passes PRAGMA integrity_check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { startSignald, token, api, sql, tempDir } from './lib/signald.mjs';

const CLIENTS = 32;
const KILL_AFTER_ACKS = 3000; // kill once this many 201s arrived...
const MAX_LOAD_MS = 15000;    // ...or after this long, whichever is first

test('every acknowledged call survives kill -9 and the database is intact', async () => {
  const dataDir = tempDir();
  const sd = await startSignald({}, { dataDir });
  const tok = token('platform-backend', 'service');
  const acked = new Set();
  let failures = 0;
  let stop = false;
  const started = Date.now();

  const killer = (async () => {
    while (acked.size < KILL_AFTER_ACKS && Date.now() - started < MAX_LOAD_MS) await new Promise((r) => setTimeout(r, 5));
    stop = true;
    await sd.kill();
  })();

  const client = async (n) => {
    for (let i = 0; !stop; i++) {
      try {
        const r = await api(sd.url, 'POST', '/webrtc/calls', {
          tok,
          body: { patientId: `crash-patient-${n}`, providerId: `crash-provider-${i % 7}`, type: 'video' },
        });
        if (r.status === 201) acked.add(r.body.id);
        else failures++;
      } catch {
        failures++; // the connection died with signald: never acknowledged
      }
    }
  };
  await Promise.all([...Array(CLIENTS).keys()].map(client));
  await killer;
  assert.ok(acked.size >= 100, `only ${acked.size} calls were acknowledged before the kill`);

  const again = await startSignald({}, { dataDir });
  try {
    assert.equal(sql(dataDir, 'PRAGMA integrity_check'), 'ok');
    const stored = new Set(sql(dataDir, 'SELECT id FROM calls').split('\n'));
    const lost = [...acked].filter((id) => !stored.has(id));
    assert.deepEqual(lost, [], `${lost.length} acknowledged calls were lost`);
    // Each stored call is whole: its timeline and audit rows were committed with it.
    assert.equal(sql(dataDir, "SELECT count(*) FROM calls c WHERE NOT EXISTS (SELECT 1 FROM call_events e WHERE e.call_id = c.id AND e.type = 'created') OR NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.call_id = c.id AND a.action = 'call.create')"), '0');
    // And the restarted daemon serves them.
    const sample = [...acked].slice(-5);
    for (const id of sample) assert.equal((await api(again.url, 'GET', `/webrtc/calls/${id}`, { tok })).status, 200);
    // change_seq stays unique and keeps growing after the restart.
    const created = await api(again.url, 'POST', '/webrtc/calls', { tok, body: { patientId: 'after', providerId: 'restart', type: 'audio' } });
    assert.equal(created.status, 201);
    assert.equal(sql(dataDir, `SELECT change_seq = (SELECT max(change_seq) FROM calls) FROM calls WHERE id = '${created.body.id}'`), '1');
    console.log(`acknowledged ${acked.size} calls, ${failures} requests failed at the kill, none lost`);
  } finally {
    await again.stop();
    again.cleanup();
  }
});

// signald stops (here: kill -9, as a crash or an upgrade's stop would leave
// it) in the middle of a call. At the next start nobody is connected: the
// participants get the reconnect grace period again; one who comes back
// keeps the call going, and a call nobody comes back to ends (all_left).
test('calls open when signald died: reconnect within the grace period, or the call ends', async () => {
  const { connect, createCall, eventually, sleep } = await import('./lib/ws_client.mjs');
  const dataDir = tempDir();
  const env = { VYTAL_RECONNECT_GRACE_SECONDS: '3' };
  let sd = await startSignald(env, { dataDir });
  const kept = await createCall(sd, 'pat-r1', 'dr-r1');
  const lost = await createCall(sd, 'pat-r2', 'dr-r2');
  const orphan = await createCall(sd, 'pat-r3', 'dr-r3');
  const clients = [];
  for (const [call, p, d] of [[kept, 'pat-r1', 'dr-r1'], [lost, 'pat-r2', 'dr-r2'], [orphan, 'pat-r3', 'dr-r3']]) {
    const pc = await connect(sd, p, 'patient');
    await pc.join(call.id);
    const dc = await connect(sd, d, 'provider');
    await dc.join(call.id);
    clients.push(pc, dc);
  }
  const q = (query) => sql(dataDir, query);
  assert.equal(q(`SELECT status FROM calls WHERE id = '${kept.id}'`), 'active');
  await sleep(200);
  await sd.kill();
  for (const c of clients) c.close();
  // The third call as a crash between its last leave and its all_left end
  // leaves it: active, with nobody in it.
  execFileSync('sqlite3', [`${dataDir}/calls.db`,
    `UPDATE call_participants SET status = 'left', left_at = joined_at WHERE call_id = '${orphan.id}'`]);
  // signald's last heartbeat said it was alive until 500 ms after the last
  // join (a heartbeat is taken as 30 s of life); it stays down 1.5 s more.
  // That downtime is not time in the call.
  const lastJoin = Number(q(`SELECT max(joined_at) FROM call_participants WHERE call_id = '${kept.id}'`));
  execFileSync('sqlite3', [`${dataDir}/calls.db`,
    `INSERT OR REPLACE INTO readiness_probe(id, checked_at) VALUES (1, ${lastJoin + 500 - 30000})`]);
  await sleep(1500);

  sd = await startSignald(env, { dataDir });
  try {
    // Recorded at start: nobody is connected any more, time stopped.
    // The call nobody is in ends at once.
    await eventually(() => q(`SELECT status FROM calls WHERE id = '${orphan.id}'`) === 'ended');
    assert.equal(q(`SELECT status || '|' || end_reason FROM calls WHERE id = '${orphan.id}'`), 'ended|all_left');
    const statuses = () =>
      q(`SELECT group_concat(status) FROM call_participants WHERE call_id IN ('${kept.id}', '${lost.id}')`);
    await eventually(() => statuses() === 'reconnecting,reconnecting,reconnecting,reconnecting');
    assert.equal(statuses(), 'reconnecting,reconnecting,reconnecting,reconnecting');
    assert.equal(q(`SELECT group_concat(left_at) FROM call_participants WHERE call_id = '${kept.id}'`),
      `${lastJoin + 500},${lastJoin + 500}`, 'sessions stop at the last sign of life, not at the restart');
    assert.equal(q(`SELECT count(*) FROM call_events WHERE type = 'participant_disconnected' AND detail LIKE '%signald_restart%'`), '4');
    // Logged once the recovery's commit is back on the event loop.
    const recovered = /4 participant\(s\) of 2 call\(s\) open when signald last stopped have 3 s to reconnect/;
    await eventually(() => recovered.test(sd.stderr()));
    assert.match(sd.stderr(), recovered);

    // The patient of the first call comes back in time: the call goes on.
    const back = await connect(sd, 'pat-r1', 'patient');
    const joined = await back.join(kept.id);
    assert.equal(joined.callStatus, 'active');
    assert.deepEqual(joined.participants.map((p) => `${p.userId}:${p.state}`), ['dr-r1:reconnecting']);
    // The provider does not: timed out after the grace period.
    const left = await back.next('participant-left', 6000);
    assert.equal(left.userId, 'dr-r1');
    assert.equal(left.reason, 'timeout');
    await eventually(() => q(`SELECT status FROM calls WHERE id = '${lost.id}'`) === 'ended', 6000);
    assert.equal(q(`SELECT status FROM calls WHERE id = '${lost.id}'`), 'ended');
    assert.equal(q(`SELECT end_reason FROM calls WHERE id = '${lost.id}'`), 'all_left');
    assert.equal(q(`SELECT status FROM calls WHERE id = '${kept.id}'`), 'active');
    assert.equal(q(`SELECT status FROM call_participants WHERE call_id = '${kept.id}' AND user_id = 'pat-r1'`), 'joined');
    back.close();
  } finally {
    await sd.stop();
    sd.cleanup();
  }
});

// A signald whose call-log queue holds one write, calls with both
// participants joined, and another process that can hold SQLite's write lock
// (the queue then fills and signald defers what it cannot queue).
async function oneDeepQueue() {
  const { connect, createCall, sleep } = await import('./lib/ws_client.mjs');
  const { metric } = await import('./lib/signald.mjs');
  const dataDir = tempDir();
  const sd = await startSignald({ VYTAL_MAX_PENDING_WRITES: '1' }, { dataDir });
  // The queue may be held by signald's own heartbeat: the setup retries.
  const retried = async (fn) => {
    for (let i = 0; ; i++) {
      try {
        return await fn();
      } catch (e) {
        if (i >= 40 || !/overloaded/.test(String(e))) throw e;
        await sleep(50);
      }
    }
  };
  let locker = null;
  return {
    sd,
    q: (query) => sql(dataDir, query),
    deferred: () => metric(sd.url, 'vytal_rejected_total{reason="call_log_write_deferred"}'),
    lost: () => metric(sd.url, 'vytal_rejected_total{reason="call_log_write_lost"}'),
    async callInProgress(patient, provider) {
      const call = await retried(() => createCall(sd, patient, provider));
      const clients = [];
      for (const [user, role] of [[patient, 'patient'], [provider, 'provider']]) {
        const c = await connect(sd, user, role);
        await retried(() => c.join(call.id));
        clients.push(c);
      }
      return { call, clients };
    },
    async lock() {
      locker = spawn('sqlite3', [`${dataDir}/calls.db`], { stdio: ['pipe', 'ignore', 'inherit'] });
      locker.stdin.write('BEGIN IMMEDIATE;\n');
      await sleep(300);
    },
    unlock: () => locker?.stdin.end('COMMIT;\n'),
    async close() {
      locker?.kill();
      await sd.stop();
      sd.cleanup();
    },
  };
}

// Writes nobody waits for (a participant's drop) must not be lost when the
// call log's queue is full: they wait in signald until it drains.
test('drops recorded while the call log queue is full are deferred, not lost', async () => {
  const { eventually } = await import('./lib/ws_client.mjs');
  const f = await oneDeepQueue();
  try {
    const calls = [];
    for (let i = 0; i < 3; i++) calls.push(await f.callInProgress(`pat-q${i}`, `dr-q${i}`));
    const ids = calls.map(({ call }) => `'${call.id}'`).join(',');
    const count = (status) =>
      f.q(`SELECT count(*) FROM call_participants WHERE call_id IN (${ids}) AND status = '${status}'`);
    assert.equal(count('joined'), '6');

    await f.lock();
    for (const { clients } of calls) for (const c of clients) c.close();  // six drops while the log is locked
    await eventually(async () => (await f.deferred()) >= 1, 3000);
    assert.ok((await f.deferred()) >= 1, 'no write was deferred: the queue never filled');
    f.unlock();
    await eventually(() => count('reconnecting') === '6', 8000);
    assert.equal(count('reconnecting'), '6', f.sd.stderr());
    assert.equal(await f.lost(), 0);
  } finally {
    await f.close();
  }
});

// signald stopped (SIGTERM) while drops wait for room in a full queue: they
// are recorded before it exits.
test('deferred drops are recorded when signald stops', async () => {
  const { eventually, sleep } = await import('./lib/ws_client.mjs');
  const f = await oneDeepQueue();
  try {
    const { call, clients } = await f.callInProgress('pat-s', 'dr-s');
    await f.lock();
    for (const c of clients) c.close();
    await eventually(async () => (await f.deferred()) >= 1, 3000);
    assert.ok((await f.deferred()) >= 1, 'no drop was deferred: the queue never filled');
    const stopped = f.sd.stop();  // SIGTERM while the log is still locked
    await sleep(300);
    f.unlock();
    await stopped;
    assert.match(f.sd.stderr(), /recording \d+ deferred write\(s\) before stopping/);
    assert.equal(f.q(`SELECT group_concat(status) FROM call_participants WHERE call_id = '${call.id}'`),
      'reconnecting,reconnecting');
  } finally {
    await f.close();
  }
});
