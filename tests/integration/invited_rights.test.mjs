// Invited participants take part; they do not run the call. A provider-role
// token invited as observer, interpreter or family tries, over REST and over
// signaling, to end, cancel and invite: each is refused (403 / error
// forbidden), audited and counted, and the call is unchanged. The call's
// provider and a co-provider invited as "provider" still can, and the patient
// still hangs up.
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';

import { api, metric, sql, startSignald, token } from './lib/signald.mjs';
import { connect, createCall, invite } from './lib/ws_client.mjs';

let sd;
let open = [];

before(async () => {
  sd = await startSignald({ VYTAL_MAX_PARTICIPANTS: '6' });
});
after(async () => {
  await sd.stop();
  sd.cleanup();
});
afterEach(() => {
  for (const c of open) c.close();
  open = [];
});

const status = (id) => sql(sd.dataDir, `SELECT status FROM calls WHERE id = '${id}'`);
const denied = (id, who, action) =>
  Number(sql(sd.dataDir, `SELECT count(*) FROM audit_log WHERE call_id = '${id}' AND actor_id = '${who}' AND action = '${action}' AND outcome = 'denied'`));
const forbidden = () => metric(sd.url, 'vytal_rejected_total{reason="forbidden"}');

for (const role of ['observer', 'interpreter', 'family', 'caregiver']) {
  test(`an invited ${role} holding a provider token cannot end, cancel or invite over REST`, async () => {
    const call = await createCall(sd, 'p-rights', 'dr-rights');
    const who = `${role}-1`;
    assert.equal((await invite(sd, call.id, who, role)).status, 201);
    const tok = token(who, 'provider');
    const before = await forbidden();
    for (const [path, body, action] of [
      [`/webrtc/calls/${call.id}/end`, {}, 'call.end'],
      [`/webrtc/calls/${call.id}/cancel`, {}, 'call.cancel'],
      [`/webrtc/calls/${call.id}/participants`, { userId: 'crony', role: 'observer' }, 'participant.add'],
    ]) {
      const r = await api(sd.url, 'POST', path, { tok, body });
      assert.equal(r.status, 403, `${path}: ${r.text}`);
      assert.equal(r.body.error.code, 'forbidden');
      assert.equal(denied(call.id, who, action), 1, `${action} audited`);
    }
    assert.equal(await forbidden(), before + 3);
    assert.equal(status(call.id), 'scheduled');
    // It may still read the call it takes part in.
    assert.equal((await api(sd.url, 'GET', `/webrtc/calls/${call.id}`, { tok })).status, 200);
  });
}

test('an invited observer in the call cannot end it with end-call; the provider can', async () => {
  const call = await createCall(sd, 'p-ws-rights', 'dr-ws-rights');
  assert.equal((await invite(sd, call.id, 'obs-ws', 'observer')).status, 201);
  const provider = await connect(sd, 'dr-ws-rights', 'provider');
  const observer = await connect(sd, 'obs-ws', 'provider');
  open.push(provider, observer);
  await provider.join(call.id);
  await observer.join(call.id);
  observer.send({ type: 'end-call', requestId: 'obs-end' });
  const refusal = await observer.next('error', 3000, (m) => m.requestId === 'obs-end');
  assert.equal(refusal.code, 'forbidden');
  assert.equal(denied(call.id, 'obs-ws', 'call.end'), 1);
  assert.equal(await metric(sd.url, 'vytal_rejected_total{reason="ws_end_forbidden"}'), 1, 'the refusal is counted');
  assert.equal(status(call.id), 'active');
  provider.send({ type: 'end-call' });
  const ended = await observer.next('call-ended');
  assert.equal(ended.endedBy, 'dr-ws-rights');
  assert.equal(status(call.id), 'ended');
});

test('a co-provider invited as provider runs the call; the patient hangs up but invites nobody', async () => {
  const call = await createCall(sd, 'p-co', 'dr-co');
  assert.equal((await invite(sd, call.id, 'dr-co-2', 'provider')).status, 201);
  const co = token('dr-co-2', 'provider');
  assert.equal((await invite(sd, call.id, 'interp-co', 'interpreter', co)).status, 201, 'a co-provider invites');
  const patient = token('p-co', 'patient');
  const r = await invite(sd, call.id, 'cousin', 'family', patient);
  assert.equal(r.status, 403, 'the patient does not invite');
  const end = await api(sd.url, 'POST', `/webrtc/calls/${call.id}/end`, { tok: patient, body: {} });
  assert.equal(end.status, 200, end.text);
  assert.equal(end.body.status, 'missed');
});
