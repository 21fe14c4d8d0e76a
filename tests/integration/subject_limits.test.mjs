// One patient token must not degrade the hospital's service: limits count
// the person (the JWT sub), whatever the connections. Each is tried from the
// attacker's side with real clients (fetch, ws) and seen refused and counted:
// create and write rates (429 with Retry-After), open calls per patient,
// sessions per subject, audit rows for refusals (bounded, the rest counted),
// and the global cap on WebSocket output memory.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';

import { api, metric, sql, startSignald, token } from './lib/signald.mjs';
import { connect, createCall, eventually, sleep, tryUpgrade } from './lib/ws_client.mjs';

let open = [];
afterEach(() => {
  for (const c of open) c.close();
  open = [];
});

const rejected = (sd, reason) => metric(sd.url, `vytal_rejected_total{reason="${reason}"}`);

describe('with the shipped defaults', () => {
  let sd;
  before(async () => {
    sd = await startSignald();
  });
  after(async () => {
    await sd.stop();
    sd.cleanup();
  });

  test('a patient creating calls as fast as it can gets 429 with Retry-After after its burst of 20', async () => {
    const tok = token('p-flood', 'patient');
    const before = await rejected(sd, 'rate_limited');
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) =>
      api(sd.url, 'POST', '/webrtc/calls', { tok, body: { patientId: 'p-flood', providerId: `dr-${i}`, type: 'video' } })));
    const created = replies.filter((r) => r.status === 201);
    const limited = replies.filter((r) => r.status === 429);
    // The burst (20), plus the odd token the rate (10 a minute) adds meanwhile.
    assert.ok(created.length >= 20 && created.length <= 21, `${created.length} created`);
    assert.equal(created.length + limited.length, 60, replies.map((r) => r.status).join(','));
    for (const r of limited) {
      assert.equal(r.body.error.code, 'rate_limited');
      assert.ok(Number(r.headers.get('retry-after')) >= 1, `Retry-After: ${r.headers.get('retry-after')}`);
    }
    assert.equal(Number(sql(sd.dataDir, "SELECT count(*) FROM calls WHERE patient_id = 'p-flood'")), created.length);
    assert.equal(await rejected(sd, 'rate_limited'), before + limited.length);
    // Someone else is not affected, and the platform's service token is not limited.
    const other = await api(sd.url, 'POST', '/webrtc/calls', { tok: token('p-calm', 'patient'), body: { patientId: 'p-calm', providerId: 'dr-1', type: 'video' } });
    assert.equal(other.status, 201);
    const service = token('platform-backend', 'service');
    const svc = await Promise.all(Array.from({ length: 30 }, (_, i) =>
      api(sd.url, 'POST', '/webrtc/calls', { tok: service, body: { patientId: `p-svc-${i}`, providerId: 'dr-svc', type: 'video' } })));
    assert.ok(svc.every((r) => r.status === 201), svc.map((r) => r.status).join(','));
  });

  test('a patient holds at most 10 signaling sessions; the 11th upgrade is 429 too_many_sessions and /healthz answers', async () => {
    const before = await rejected(sd, 'too_many_sessions');
    for (let i = 0; i < 10; i++) open.push(await connect(sd, 'p-sessions', 'patient'));
    const refused = await tryUpgrade(sd, { tok: token('p-sessions', 'patient') });
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.code, 'too_many_sessions');
    assert.equal(await rejected(sd, 'too_many_sessions'), before + 1);
    assert.equal((await api(sd.url, 'GET', '/healthz')).status, 200);
    // Closing one frees its place.
    open.shift().close();
    const again = await eventually(async () => {
      try {
        const c = await connect(sd, 'p-sessions', 'patient');
        open.push(c);
        return true;
      } catch {
        return false;
      }
    }, 3000, 100);
    assert.ok(again, 'a closed session frees its place');
  });
});

describe('with small limits', () => {
  let sd;
  before(async () => {
    sd = await startSignald({
      VYTAL_SUBJECT_CREATES_PER_MINUTE: '1000',
      VYTAL_SUBJECT_CREATE_BURST: '1000',
      VYTAL_SUBJECT_WRITES_PER_MINUTE: '6',
      VYTAL_SUBJECT_WRITE_BURST: '3',
      VYTAL_MAX_OPEN_CALLS_PER_PATIENT: '5',
      VYTAL_DENIED_AUDITS_PER_MINUTE: '4',
    });
  });
  after(async () => {
    await sd.stop();
    sd.cleanup();
  });

  test('a patient gets at most 5 open calls; ending one makes room', async () => {
    const tok = token('p-open', 'patient');
    const post = () => api(sd.url, 'POST', '/webrtc/calls', { tok, body: { patientId: 'p-open', providerId: 'dr-open', type: 'video' } });
    const before = await rejected(sd, 'too_many_open_calls');
    const ids = [];
    for (let i = 0; i < 5; i++) {
      const r = await post();
      assert.equal(r.status, 201, r.text);
      ids.push(r.body.id);
    }
    const sixth = await post();
    assert.equal(sixth.status, 429, sixth.text);
    assert.equal(sixth.body.error.code, 'too_many_open_calls');
    assert.equal(await rejected(sd, 'too_many_open_calls'), before + 1);
    // A provider token cannot fill the patient's list either.
    const byProvider = await api(sd.url, 'POST', '/webrtc/calls', { tok: token('dr-open', 'provider'), body: { patientId: 'p-open', providerId: 'dr-open', type: 'video' } });
    assert.equal(byProvider.status, 429);
    const cancel = await api(sd.url, 'POST', `/webrtc/calls/${ids[0]}/cancel`, { tok, body: {} });
    assert.equal(cancel.status, 200);
    assert.equal((await post()).status, 201, 'a cancelled call is no longer open');
  });

  test('ends, cancels and invitations share the write rate: 429 with Retry-After past the burst', async () => {
    const calls = await Promise.all(Array.from({ length: 5 }, () => createCall(sd, 'p-writes', 'dr-writes')));
    const tok = token('dr-writes', 'provider');
    const replies = [];
    for (const c of calls) replies.push(await api(sd.url, 'POST', `/webrtc/calls/${c.id}/end`, { tok, body: {} }));
    assert.deepEqual(replies.map((r) => r.status), [200, 200, 200, 429, 429]);
    assert.equal(replies[3].body.error.code, 'rate_limited');
    assert.equal(replies[3].headers.get('retry-after'), '10');
    assert.equal(sql(sd.dataDir, `SELECT count(*) FROM calls WHERE provider_id = 'dr-writes' AND status = 'missed'`), '3');
  });

  test('a join-and-close storm from many connections of one subject is rate limited across them', async () => {
    const call = await createCall(sd, 'p-storm', 'dr-storm');
    const results = [];
    for (let i = 0; i < 3; i++) {
      const clients = await Promise.all(Array.from({ length: 3 }, () => connect(sd, 'p-storm', 'patient')));
      open.push(...clients);
      for (const c of clients) c.send({ type: 'join', callId: call.id, requestId: 'j' });
      results.push(...await Promise.all(clients.map((c) => c.next(['joined', 'error'], 5000))));
      for (const c of clients) c.close();
    }
    const joined = results.filter((m) => m.type === 'joined').length;
    const limited = results.filter((m) => m.type === 'error' && m.code === 'rate_limited');
    assert.equal(joined, 3, `joins: ${results.map((m) => m.code ?? m.type).join(',')}`);
    assert.equal(limited.length, 6);
    assert.ok(limited.every((m) => m.retryAfterSeconds >= 1));
    // The first join is in the call log; the refused ones wrote nothing (a
    // join by a subject already in the call may be a takeover, not a new row).
    const joinRows = Number(sql(sd.dataDir, `SELECT count(*) FROM call_events WHERE call_id = '${call.id}' AND type = 'participant_joined'`));
    assert.ok(joinRows >= 1 && joinRows <= 3, `participant_joined rows: ${joinRows}`);
  });

  test('refusals are audited at most 4 times a minute per subject; the rest are counted, not written', async () => {
    const victim = await createCall(sd, 'p-victim', 'dr-victim');
    const tok = token('p-snoop', 'patient');
    const before = await rejected(sd, 'audit_suppressed');
    const writesBefore = await metric(sd.url, 'vytal_db_writes_total');
    const replies = await Promise.all(Array.from({ length: 50 }, () => api(sd.url, 'GET', `/webrtc/calls/${victim.id}`, { tok })));
    assert.ok(replies.every((r) => r.status === 403));
    const suppressed = await eventually(async () => (await rejected(sd, 'audit_suppressed')) - before >= 46 && (await rejected(sd, 'audit_suppressed')) - before);
    assert.equal(suppressed, 46);
    assert.equal(sql(sd.dataDir, "SELECT count(*) FROM audit_log WHERE actor_id = 'p-snoop' AND outcome = 'denied'"), '4');
    // The suppressed ones never reached the commit queue everyone shares: the
    // call log took the 4 audit rows (and at most a readiness heartbeat or two).
    const writes = (await metric(sd.url, 'vytal_db_writes_total')) - writesBefore;
    assert.ok(writes >= 4 && writes <= 8, `${writes} writes for 50 refused reads`);
  });
});

describe('the global cap on WebSocket output memory', () => {
  let sd;
  before(async () => {
    sd = await startSignald({ VYTAL_WS_MAX_TOTAL_OUTPUT_BYTES: '300000', VYTAL_WS_MESSAGE_RATE: '10000', VYTAL_WS_MESSAGE_BURST: '10000' });
  });
  after(async () => {
    await sd.stop();
    sd.cleanup();
  });

  test('clients that stop reading are dropped once all output together passes the cap; the sender stays', async () => {
    const before = await rejected(sd, 'ws_output_memory');
    const call = await createCall(sd, 'p-mem', 'dr-mem');
    const sender = await connect(sd, 'p-mem', 'patient');
    const reader = await connect(sd, 'dr-mem', 'provider');
    open.push(sender, reader);
    await sender.join(call.id);
    await reader.join(call.id);
    reader.ws._socket.pause(); // it stops reading: its bytes pile up in signald
    const big = 'a'.repeat(60000);
    // The kernel takes what fits first (loopback buffers here grow to tens of
    // MB: tcp_rmem's maximum), so send until signald itself has to hold bytes.
    for (let i = 0; i < 1500 && reader.closeInfo === null; i++) {
      sender.send({ type: 'offer', to: 'dr-mem', sdp: { type: 'offer', sdp: big } });
      await sleep(i < 100 ? 20 : 2);
    }
    reader.ws._socket.resume();
    const closed = await reader.waitClosed(5000);
    assert.ok(closed, 'the non-reader was dropped');
    assert.equal(await rejected(sd, 'ws_output_memory'), before + 1);
    assert.equal(await rejected(sd, 'ws_slow_consumer'), 0, 'the global cap (300 kB) acted before the per-client one (1 MiB)');
    assert.ok(await metric(sd.url, 'vytal_ws_output_bytes') < 300000);
    // The sender is still served: a request gets its answer.
    sender.send({ type: 'nope', requestId: 'still-here' });
    assert.equal((await sender.next('error', 3000, (m) => m.requestId === 'still-here')).code, 'unknown_type');
    assert.equal(sender.closeInfo, null, 'the sender is still connected');
    assert.equal((await api(sd.url, 'GET', '/healthz')).status, 200);
  });
});
