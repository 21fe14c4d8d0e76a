// What signald's log tells a support engineer, checked through the
// journald-less fallback (standard error): one line per call lifecycle event
// at info, each carrying call=<id> (and user=<id>), the same ids journald
// gets as CALL_ID= and USER_ID=; no token ever; repeated identical errors
// written once and counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startSignald, api } from './lib/signald.mjs';
import { connect, createCall, SERVICE } from './lib/ws_client.mjs';

test('a call\'s story, line by line, with its ids and nothing else', { timeout: 60000 }, async () => {
  const sd = await startSignald({ VYTAL_RECONNECT_GRACE_SECONDS: '30' });
  try {
    const call = await createCall(sd, 'patient-log', 'provider-log');
    const patient = await connect(sd, 'patient-log', 'patient');
    let provider = await connect(sd, 'provider-log', 'provider');
    await patient.join(call.id);
    await provider.join(call.id);
    provider.close(); // drops: reconnecting
    await patient.next('participant-reconnecting');
    provider = await connect(sd, 'provider-log', 'provider');
    await provider.join(call.id);
    provider.send({ type: 'leave', requestId: 'bye' });
    await provider.next('left');
    const end = await api(sd.url, 'POST', `/webrtc/calls/${call.id}/end`, { tok: SERVICE, body: { reason: 'completed' } });
    assert.equal(end.status, 200);
    await patient.next('call-ended');
    patient.close();
    // A commit batch's lines go out in one write just after its answers.
    for (let i = 0; i < 250 && !sd.stderr().includes(`call ended reason=completed duration_ms`); i++)
      await new Promise((r) => setTimeout(r, 20));

    const story = sd.stderr().split('\n').filter((l) => l.includes(`call=${call.id}`));
    const expected = [
      /^info: call created type=video call=\S+ user=platform-backend$/,
      /^info: participant joined role=patient call=\S+ user=patient-log$/,
      /^info: participant joined role=provider call=\S+ user=provider-log$/,
      /^info: call started participants=2 call=\S+$/,
      /^info: participant reconnecting role=provider call=\S+ user=provider-log$/,
      /^info: participant joined role=provider call=\S+ user=provider-log$/,
      /^info: participant left reason=left role=provider duration_ms=\d+ call=\S+ user=provider-log$/,
      /^info: call ended reason=completed duration_ms=\d+ call=\S+ user=platform-backend$/,
    ];
    assert.equal(story.length, expected.length, `the call's lines:\n${story.join('\n')}`);
    story.forEach((line, i) => assert.match(line, expected[i]));
    // Ids only: no token, no secret.
    assert.doesNotMatch(sd.stderr(), /eyJ|Bearer|integration-test-secret/);
  } finally {
    await sd.stop();
    sd.cleanup();
  }
});

test('a repeated error is written once, then counted', { timeout: 60000 }, async () => {
  // Revocations go to a directory that does not exist: every write of the
  // file (coalesced, at most one per RevocationFile::kCoalesceMs) fails with
  // the same line. Leaves spaced beyond that make several writes.
  const sd = await startSignald({ VYTAL_TURN_REVOKED_FILE: '/nonexistent-vytal-dir/revoked' });
  const call = await createCall(sd, 'patient-rep', 'provider-rep');
  const patient = await connect(sd, 'patient-rep', 'patient');
  const failures = () => sd.stderr().split('\n').filter((l) => l.includes('cannot write the revocations file')).length;
  for (let i = 0; i < 5; i++) {
    await patient.join(call.id, `join-${i}`);
    patient.send({ type: 'leave', requestId: `leave-${i}` });
    await patient.next('left', 3000, (m) => m.requestId === `leave-${i}`);
    await new Promise((r) => setTimeout(r, 400));
  }
  assert.equal(failures(), 1, 'written once while it repeats');
  patient.close();
  await sd.stop(); // the count is told at exit at the latest
  sd.cleanup();
  const lines = sd.stderr().split('\n').filter((l) => l.includes('cannot write the revocations file'));
  assert.equal(lines.filter((l) => !l.includes('(repeated')).length, 1, lines.join('\n'));
  const counted = lines.filter((l) => l.includes('(repeated'));
  assert.equal(counted.length, 1, lines.join('\n'));
  assert.match(counted[0], /^error: turn: cannot write the revocations file: .*\/nonexistent-vytal-dir\/revoked.* \(repeated [1-9]\d* times\)$/);
});
