// Durable before acknowledged: under a bounded concurrent create-call load,
// signald is killed with SIGKILL; after a restart every call that got a 201
// is in the call log and the database passes PRAGMA integrity_check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
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
