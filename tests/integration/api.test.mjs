// The REST call API as the platform and its users meet it, against a freshly
// started signald: the platform guide's own curl step, reading, listing,
// ending, inviting, CORS, health and metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { startSignald, token, api, sql, metric, runSignaldExpectingExit, JWT_SECRET } from './lib/signald.mjs';

const FRONTEND = 'https://app.vytalwatch.example';
let sd;
const service = token('platform-backend', 'service');

before(async () => {
  sd = await startSignald({ FRONTEND_URL: FRONTEND, VYTAL_MAX_PARTICIPANTS: '4' });
});
after(async () => {
  await sd.stop();
  sd.cleanup();
});

test("the platform guide's integration step: curl POST /webrtc/calls returns 201 and GET returns the call", () => {
  const out = execFileSync('curl', [
    '-sS', '-w', '\n%{http_code}', '-X', 'POST', `${sd.url}/webrtc/calls`,
    '-H', 'Content-Type: application/json',
    '-H', `Authorization: Bearer ${service}`,
    '-d', '{"patientId":"patient-uuid","providerId":"provider-uuid","type":"video"}',
  ], { encoding: 'utf8' });
  const [body, code] = [out.slice(0, out.lastIndexOf('\n')), out.slice(out.lastIndexOf('\n') + 1)];
  assert.equal(code, '201');
  const call = JSON.parse(body);
  assert.match(call.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(call.patientId, 'patient-uuid');
  assert.equal(call.providerId, 'provider-uuid');
  assert.equal(call.type, 'video');
  assert.equal(call.status, 'scheduled');
  assert.equal(call.version, 1);
  assert.ok(Math.abs(Date.parse(call.createdAt) - Date.now()) < 60000);

  const got = JSON.parse(execFileSync('curl', ['-sS', `${sd.url}/webrtc/calls/${call.id}`,
    '-H', `Authorization: Bearer ${service}`], { encoding: 'utf8' }));
  assert.deepEqual(got, call);
  // Durable: the row is in the call log file itself.
  assert.equal(sql(sd.dataDir, `SELECT status FROM calls WHERE id = '${call.id}'`), 'scheduled');
});

test('create takes scheduledAt and appointmentId and keeps them', async () => {
  const r = await api(sd.url, 'POST', '/webrtc/calls', {
    tok: service,
    body: { patientId: 'p-sched', providerId: 'dr-sched', type: 'audio', scheduledAt: '2026-12-01T09:30:00+01:00', appointmentId: 'appt-42' },
  });
  assert.equal(r.status, 201);
  assert.equal(r.body.scheduledAt, '2026-12-01T08:30:00.000Z');
  assert.equal(r.body.appointmentId, 'appt-42');
  assert.equal(r.body.type, 'audio');
});

test('a patient and a provider create, see and list only their own calls', async () => {
  const alice = token('patient-alice', 'patient');
  const bob = token('patient-bob', 'patient');
  const drX = token('dr-x', 'provider');
  const mine = await api(sd.url, 'POST', '/webrtc/calls', { tok: alice, body: { patientId: 'patient-alice', providerId: 'dr-x', type: 'video' } });
  assert.equal(mine.status, 201);
  const forBob = await api(sd.url, 'POST', '/webrtc/calls', { tok: drX, body: { patientId: 'patient-bob', providerId: 'dr-x', type: 'video' } });
  assert.equal(forBob.status, 201);
  // A patient cannot book a call for someone else.
  const spoof = await api(sd.url, 'POST', '/webrtc/calls', { tok: alice, body: { patientId: 'patient-bob', providerId: 'dr-x', type: 'video' } });
  assert.equal(spoof.status, 403);

  const aliceList = await api(sd.url, 'GET', '/webrtc/calls', { tok: alice });
  assert.equal(aliceList.status, 200);
  assert.deepEqual(aliceList.body.calls.map((c) => c.id), [mine.body.id]);
  const bobReadsAlice = await api(sd.url, 'GET', `/webrtc/calls/${mine.body.id}`, { tok: bob });
  assert.equal(bobReadsAlice.status, 403);
  assert.equal(bobReadsAlice.body.error.code, 'forbidden');
  const bobFilters = await api(sd.url, 'GET', '/webrtc/calls?patientId=patient-alice', { tok: bob });
  assert.equal(bobFilters.status, 403);
  const drList = await api(sd.url, 'GET', '/webrtc/calls?providerId=dr-x', { tok: drX });
  assert.deepEqual(new Set(drList.body.calls.map((c) => c.id)), new Set([mine.body.id, forBob.body.id]));
});

test('list filters by patient, provider, status and time range and pages without gaps or repeats', async () => {
  const ids = [];
  for (let i = 0; i < 7; i++) {
    const r = await api(sd.url, 'POST', '/webrtc/calls', { tok: service, body: { patientId: 'p-page', providerId: `dr-page-${i % 2}`, type: 'video' } });
    ids.push(r.body.id);
  }
  const seen = [];
  let cursor = null;
  for (let page = 0; page < 5; page++) {
    const q = `/webrtc/calls?patientId=p-page&limit=3${cursor ? `&cursor=${cursor}` : ''}`;
    const r = await api(sd.url, 'GET', q, { tok: service });
    assert.equal(r.status, 200);
    seen.push(...r.body.calls.map((c) => c.id));
    cursor = r.body.nextCursor;
    if (!cursor) break;
  }
  assert.deepEqual(seen, [...ids].reverse(), 'newest first, each call once');

  const byProvider = await api(sd.url, 'GET', '/webrtc/calls?patientId=p-page&providerId=dr-page-1', { tok: service });
  assert.equal(byProvider.body.calls.length, 3);
  await api(sd.url, 'POST', `/webrtc/calls/${ids[0]}/cancel`, { tok: service });
  const cancelled = await api(sd.url, 'GET', '/webrtc/calls?patientId=p-page&status=cancelled', { tok: service });
  assert.deepEqual(cancelled.body.calls.map((c) => c.id), [ids[0]]);
  const future = await api(sd.url, 'GET', `/webrtc/calls?patientId=p-page&from=${encodeURIComponent(new Date(Date.now() + 3600e3).toISOString())}`, { tok: service });
  assert.equal(future.body.calls.length, 0);
  const past = await api(sd.url, 'GET', `/webrtc/calls?patientId=p-page&to=${encodeURIComponent(new Date(Date.now() + 3600e3).toISOString())}`, { tok: service });
  assert.equal(past.body.calls.length, 7);
  const bad = await api(sd.url, 'GET', '/webrtc/calls?sort=asc', { tok: service });
  assert.equal(bad.status, 400);
});

test('end and cancel follow the state machine and are recorded in the timeline and audit log', async () => {
  const drY = token('dr-y', 'provider');
  const a = (await api(sd.url, 'POST', '/webrtc/calls', { tok: drY, body: { patientId: 'p-end', providerId: 'dr-y', type: 'video' } })).body;
  const ended = await api(sd.url, 'POST', `/webrtc/calls/${a.id}/end`, { tok: drY, body: { reason: 'no_show' } });
  assert.equal(ended.status, 200);
  assert.equal(ended.body.status, 'missed', 'hung up before anyone joined');
  assert.equal(ended.body.durationMs, 0);
  assert.equal(ended.body.endReason, 'no_show');
  assert.equal(ended.body.version, 2);
  const again = await api(sd.url, 'POST', `/webrtc/calls/${a.id}/end`, { tok: drY });
  assert.equal(again.status, 409);
  assert.equal(again.body.error.code, 'invalid_transition');

  const b = (await api(sd.url, 'POST', '/webrtc/calls', { tok: drY, body: { patientId: 'p-end', providerId: 'dr-y', type: 'video' } })).body;
  const cancelled = await api(sd.url, 'POST', `/webrtc/calls/${b.id}/cancel`, { tok: token('p-end', 'patient') });
  assert.equal(cancelled.status, 200);
  assert.equal(cancelled.body.status, 'cancelled');
  assert.equal(sql(sd.dataDir, `SELECT group_concat(type, ',') FROM (SELECT type FROM call_events WHERE call_id = '${b.id}' ORDER BY occurred_at, change_seq)`), 'created,cancelled');
  assert.equal(sql(sd.dataDir, `SELECT actor_id || ':' || actor_role || ':' || outcome || ':' || remote_addr FROM audit_log WHERE call_id = '${b.id}' AND action = 'call.cancel'`), 'p-end:patient:ok:127.0.0.1');
});

test('providers invite more participants up to the cap; patients cannot', async () => {
  const drZ = token('dr-z', 'provider');
  const c = (await api(sd.url, 'POST', '/webrtc/calls', { tok: drZ, body: { patientId: 'p-inv', providerId: 'dr-z', type: 'video' } })).body;
  const add = (tok, userId, role = 'interpreter') => api(sd.url, 'POST', `/webrtc/calls/${c.id}/participants`, { tok, body: { userId, role } });
  const first = await add(drZ, 'interp-1');
  assert.equal(first.status, 201);
  assert.deepEqual(first.body.participants.map((p) => [p.userId, p.role, p.status]), [['interp-1', 'interpreter', 'invited']]);
  assert.equal((await add(token('p-inv', 'patient'), 'cousin', 'family')).status, 403);
  assert.equal((await add(drZ, 'interp-1')).body.error.code, 'already_participant');
  assert.equal((await add(drZ, 'p-inv', 'patient')).body.error.code, 'already_participant');
  assert.equal((await add(drZ, 'family-1', 'family')).status, 201);
  const full = await add(drZ, 'family-2', 'family');
  assert.equal(full.status, 409);
  assert.equal(full.body.error.code, 'call_full', 'cap of 4 counts the patient and the provider');
  // An invited participant may read the call.
  assert.equal((await api(sd.url, 'GET', `/webrtc/calls/${c.id}`, { tok: token('interp-1', 'provider') })).status, 200);
});

test('ICE servers endpoint answers in the RTCIceServer shape', async () => {
  const r = await api(sd.url, 'GET', '/webrtc/ice-servers', { tok: service });
  assert.equal(r.status, 200);
  assert.ok(Array.isArray(r.body.iceServers));
});

test('CORS: the frontend origin is allowed, others are not', async () => {
  const pre = await fetch(`${sd.url}/webrtc/calls`, { method: 'OPTIONS', headers: { origin: FRONTEND, 'access-control-request-method': 'POST' } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), FRONTEND);
  assert.match(pre.headers.get('access-control-allow-headers'), /Authorization/);
  const foreign = await fetch(`${sd.url}/webrtc/calls`, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
  assert.equal(foreign.status, 403);
  const get = await api(sd.url, 'GET', '/webrtc/calls', { tok: service, headers: { origin: FRONTEND } });
  assert.equal(get.headers.get('access-control-allow-origin'), FRONTEND);
  const getForeign = await api(sd.url, 'GET', '/webrtc/calls', { tok: service, headers: { origin: 'https://evil.example' } });
  assert.equal(getForeign.headers.get('access-control-allow-origin'), null);
});

test('health, readiness and metrics', async () => {
  assert.deepEqual((await api(sd.url, 'GET', '/healthz')).body, { status: 'ok' });
  assert.deepEqual((await api(sd.url, 'GET', '/readyz')).body, { status: 'ready' });
  assert.ok(await metric(sd.url, 'vytal_http_requests_total{route="/webrtc/calls",method="POST",status="201"}') >= 10);
  assert.ok(await metric(sd.url, 'vytal_calls{status="scheduled"}') >= 5);
  assert.equal(await metric(sd.url, 'vytal_calls{status="cancelled"}'), Number(sql(sd.dataDir, "SELECT count(*) FROM calls WHERE status = 'cancelled'")));
  assert.ok(await metric(sd.url, 'vytal_db_commit_seconds_count') > 0);
  // Each commit's sync to disk is timed: as many more syncs as transactions
  // across a few creates (read until both counters have moved together).
  const counts = async () => [await metric(sd.url, 'vytal_db_commit_sync_seconds_count'), await metric(sd.url, 'vytal_db_transactions_total')];
  const [syncsBefore, txBefore] = await counts();
  for (let i = 0; i < 5; i++) {
    const r = await api(sd.url, 'POST', '/webrtc/calls', { tok: service, body: { patientId: `patient-sync-${i}`, providerId: 'dr-sync', type: 'audio' } });
    assert.equal(r.status, 201);
  }
  let syncs, tx;
  for (let i = 0; i < 20 && syncs - syncsBefore !== tx - txBefore; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 100));
    [syncs, tx] = await counts();
  }
  assert.ok(tx - txBefore >= 5, `${tx - txBefore} transactions for 5 creates`);
  assert.equal(syncs - syncsBefore, tx - txBefore, 'one timed sync per transaction');
  assert.ok(await metric(sd.url, 'vytal_rejected_total{reason="forbidden"}') >= 1);
});

test('keep-alive with pipelining answers in order on one connection', async () => {
  const req = (path) => `GET ${path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${service}\r\n\r\n`;
  const payload = req('/healthz') + req('/readyz') + req('/webrtc/calls?limit=1') + req('/healthz');
  const text = await new Promise((resolve, reject) => {
    const s = net.connect(sd.port, '127.0.0.1', () => s.write(payload));
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d) => {
      buf += d;
      if ((buf.match(/HTTP\/1\.1 200/g) || []).length === 4 && buf.trimEnd().endsWith('{"status":"ok"}')) {
        s.end();
        resolve(buf);
      }
    });
    s.on('error', reject);
    setTimeout(() => reject(new Error(`timeout, got: ${buf}`)), 5000);
  });
  const bodies = text.split('HTTP/1.1 ').slice(1).map((r) => r.slice(r.indexOf('\r\n\r\n') + 4));
  assert.equal(bodies[0], '{"status":"ok"}');
  assert.equal(bodies[1], '{"status":"ready"}');
  assert.match(bodies[2], /^\{"calls":\[/);
  assert.equal(bodies[3], '{"status":"ok"}');
});

// A client may stop sending once its requests are out (a half-close): each
// still gets its answer, the durable creates after their commit, in order,
// and then the connection closes.
test('a client that half-closes after pipelined creates gets every answer, then the close', async () => {
  const body = JSON.stringify({ patientId: 'pat-half', providerId: 'dr-half', type: 'video' });
  const post = `POST /webrtc/calls HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${service}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  const text = await new Promise((resolve, reject) => {
    const s = net.connect(sd.port, '127.0.0.1', () => s.end(post + post + 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d) => (buf += d));
    s.on('end', () => resolve(buf));
    s.on('error', reject);
    setTimeout(() => reject(new Error(`timeout, got: ${buf}`)), 5000);
  });
  const statuses = [...text.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1]);
  assert.deepEqual(statuses, ['201', '201', '200']);
  const ids = [...text.matchAll(/"id":"([0-9a-f-]{36})"/g)].map((m) => m[1]);
  assert.equal(new Set(ids).size, 2);
  for (const id of ids) assert.equal(sql(sd.dataDir, `SELECT patient_id FROM calls WHERE id = '${id}'`), 'pat-half');
});

// Behind nginx every request comes from 127.0.0.1; nginx names the client in
// X-Real-IP. signald believes it only from VYTAL_TRUSTED_PROXIES, and only
// when it is an address: the audit log keeps who made each change.
test('the audit log keeps the client address a trusted proxy names, and only that', async () => {
  const create = (base, headers) =>
    api(base, 'POST', '/webrtc/calls', {
      tok: token('platform-backend', 'service'),
      body: { patientId: 'pat-proxy', providerId: 'dr-proxy', type: 'video' },
      headers,
    });
  const audited = (s, id) => sql(s.dataDir, `SELECT remote_addr FROM audit_log WHERE call_id = '${id}'`);
  const behind = await startSignald({ VYTAL_TRUSTED_PROXIES: '127.0.0.1, ::1' });
  const direct = await startSignald({});
  try {
    let r = await create(behind.url, { 'X-Real-IP': '203.0.113.7' });
    assert.equal(r.status, 201);
    assert.equal(audited(behind, r.body.id), '203.0.113.7');
    r = await create(behind.url, { 'X-Real-IP': '2001:db8::7' });
    assert.equal(audited(behind, r.body.id), '2001:db8::7');
    r = await create(behind.url, { 'X-Real-IP': '203.0.113.7, 198.51.100.1' });  // not one address
    assert.equal(audited(behind, r.body.id), '127.0.0.1');
    r = await create(direct.url, { 'X-Real-IP': '203.0.113.7' });  // nobody is trusted
    assert.equal(audited(direct, r.body.id), '127.0.0.1');
  } finally {
    for (const s of [behind, direct]) {
      await s.stop();
      s.cleanup();
    }
  }
  const bad = await runSignaldExpectingExit({ JWT_SECRET, VYTAL_TRUSTED_PROXIES: 'nginx' });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /VYTAL_TRUSTED_PROXIES: 'nginx' is not an IP address/);
});
