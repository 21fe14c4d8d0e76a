// TURN access ends with the place in the call, and stays ended across a
// restart of signald. GET /webrtc/ice-servers mints credentials for one call
// the caller takes part in ("<user>@<call>"), revocable like the join's; the
// revocations file is written off the event loop, coalesced, and loaded again
// at start (the TURN plugin's refusals themselves are tested with the TURN
// server in turn*.test.mjs).
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';

import { api, metric, startSignald, tempDir, token } from './lib/signald.mjs';
import { connect, createCall, eventually } from './lib/ws_client.mjs';

const dir = tempDir('vytal-revocations-');
const revokedPath = join(dir, 'revoked');
const env = {
  TURN_SHARED_SECRET: 'turn-secret-for-revocation-tests',
  WEBRTC_TURN_SERVERS: 'turn:127.0.0.1:3478?transport=udp',
  VYTAL_TURN_REVOKED_FILE: revokedPath,
};
const dataDir = tempDir('vytal-revocations-data-');
let sd;
let open = [];

before(async () => {
  sd = await startSignald(env, { dataDir });
});
after(async () => {
  await sd.stop();
  sd.cleanup();
});
afterEach(() => {
  for (const c of open) c.close();
  open = [];
});

const revoked = () => {
  if (!existsSync(revokedPath)) return new Map();
  return new Map(readFileSync(revokedPath, 'utf8').split('\n').filter(Boolean).map((l) => {
    const [user, until] = l.split(' ');
    return [user, Number(until)];
  }));
};
const turnUser = (body) => body.iceServers.find((s) => s.username).username.replace(/^\d+:/, '');

async function joinAndLeave(callId, sub, role) {
  const c = await connect(sd, sub, role);
  open.push(c);
  await c.join(callId);
  c.send({ type: 'leave', requestId: 'bye' });
  await c.next('left');
  c.close();
}

test('ice-servers: a patient or provider names its call and gets "<user>@<call>"; otherwise 400 or 403', async () => {
  const call = await createCall(sd, 'p-ice', 'dr-ice');
  const patient = token('p-ice', 'patient');
  const missing = await api(sd.url, 'GET', '/webrtc/ice-servers', { tok: patient });
  assert.equal(missing.status, 400);
  assert.equal(missing.body.error.code, 'validation');
  const mine = await api(sd.url, 'GET', `/webrtc/ice-servers?callId=${call.id}`, { tok: patient });
  assert.equal(mine.status, 200, mine.text);
  assert.equal(turnUser(mine.body), `p-ice@${call.id}`);
  const stranger = await api(sd.url, 'GET', `/webrtc/ice-servers?callId=${call.id}`, { tok: token('p-other', 'patient') });
  assert.equal(stranger.status, 403);
  assert.equal(stranger.body.error.code, 'forbidden');
  const unknown = await api(sd.url, 'GET', '/webrtc/ice-servers?callId=0190e5a0-0000-7000-8000-000000000000', { tok: patient });
  assert.equal(unknown.status, 404);
  const bad = await api(sd.url, 'GET', '/webrtc/ice-servers?callId=nope', { tok: patient });
  assert.equal(bad.status, 400);
  // The platform's service token may still have a plain credential.
  const service = await api(sd.url, 'GET', '/webrtc/ice-servers', { tok: token('platform-backend', 'service') });
  assert.equal(service.status, 200);
  assert.equal(turnUser(service.body), 'platform-backend');
  // A call that is over gets no credentials.
  assert.equal((await api(sd.url, 'POST', `/webrtc/calls/${call.id}/cancel`, { tok: patient, body: {} })).status, 200);
  const over = await api(sd.url, 'GET', `/webrtc/ice-servers?callId=${call.id}`, { tok: patient });
  assert.equal(over.status, 409);
});

test('leaving revokes the call credentials from ice-servers too, within a second', async () => {
  const call = await createCall(sd, 'p-rev', 'dr-rev');
  const ice = await api(sd.url, 'GET', `/webrtc/ice-servers?callId=${call.id}`, { tok: token('p-rev', 'patient') });
  const user = turnUser(ice.body);
  await joinAndLeave(call.id, 'p-rev', 'patient');
  const seen = await eventually(() => revoked().has(user), 1000, 20);
  assert.ok(seen, `${user} not in ${revokedPath}`);
  assert.ok(revoked().get(user) > Date.now() / 1000 + 600, 'revoked until every credential minted for it has expired');
});

test('a burst of leaves is a few file writes, not one each', async () => {
  const calls = await Promise.all(Array.from({ length: 12 }, (_, i) => createCall(sd, `p-burst-${i}`, 'dr-burst')));
  const writesBefore = await metric(sd.url, 'vytal_turn_revocation_writes_total');
  const started = Date.now();
  await Promise.all(calls.map((c, i) => joinAndLeave(c.id, `p-burst-${i}`, 'patient')));
  const elapsedMs = Date.now() - started;
  assert.ok(await eventually(() => calls.every((c, i) => revoked().has(`p-burst-${i}@${c.id}`)), 2000, 20));
  const writes = (await metric(sd.url, 'vytal_turn_revocation_writes_total')) - writesBefore;
  // At most one write per 200 ms window (and one for the window still open).
  assert.ok(writes <= Math.ceil(elapsedMs / 200) + 2, `${writes} writes for 12 leaves in ${elapsedMs} ms`);
  assert.ok(writes >= 1 && writes < 12, `${writes} writes for 12 leaves`);
});

test('revocations survive a restart of signald: the next write keeps them', async () => {
  const call = await createCall(sd, 'p-restart', 'dr-restart');
  await joinAndLeave(call.id, 'p-restart', 'patient');
  assert.ok(await eventually(() => revoked().has(`p-restart@${call.id}`), 1000, 20));
  await sd.stop();
  sd = await startSignald(env, { dataDir });
  assert.match(sd.stderr(), /revocation\(s\) of the previous run still in force/);
  assert.ok(revoked().has(`p-restart@${call.id}`), 'the file is intact after the restart');
  // The first revocation of the new run rewrites the file: the old one stays.
  const second = await createCall(sd, 'p-after', 'dr-after');
  await joinAndLeave(second.id, 'p-after', 'patient');
  assert.ok(await eventually(() => revoked().has(`p-after@${second.id}`), 1000, 20));
  assert.ok(revoked().has(`p-restart@${call.id}`), 'a revocation of the previous run was lost by the first write after the restart');
  assert.ok(await metric(sd.url, 'vytal_turn_revocations') >= 2);
});
