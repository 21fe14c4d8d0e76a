// `vytalctl call end ID --reason TEXT` (issue 16): through signald's local
// channel, the call ends for both participants (each gets call-ended with
// the reason code ended_by_operator and the operator's words), and the
// audit log records the shell user as the actor and the reason. Refusals:
// no --reason (usage, exit 2), an unknown call and a call already ended
// (exit 1, signald's message).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { startSignald, sql, VYTALCTL } from './lib/signald.mjs';
import { connect, createCall } from './lib/ws_client.mjs';

let sd;
before(async () => {
  sd = await startSignald();
});
after(async () => {
  await sd.stop();
  sd.cleanup();
});

const run = (args, extraEnv = {}) => spawnSync(VYTALCTL, args, {
  env: { PATH: process.env.PATH, VYTAL_DATA_DIR: sd.dataDir, PORT: String(sd.port), VYTAL_SIGNALD_CONTROL_SOCKET: join(sd.dataDir, 'signald.sock'), ...extraEnv },
  encoding: 'utf8',
});

test('vytalctl call end: the call ends for both sides, audited with the shell user and the reason', async () => {
  const call = await createCall(sd, 'patient-cli', 'dr-cli');
  const patient = await connect(sd, 'patient-cli', 'patient');
  const provider = await connect(sd, 'dr-cli', 'provider');
  await patient.join(call.id);
  await provider.join(call.id);
  const reason = 'Ended from the shell: network maintenance';
  // As root through sudo, the actor names both; otherwise the user.
  const env = process.getuid() === 0 ? { SUDO_USER: 'alice' } : {};
  const actor = `cli:${userInfo().username}${process.getuid() === 0 ? ' via sudo by alice' : ''}`;
  const r = run(['call', 'end', call.id, '--reason', reason], env);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^call ${call.id} ended`));
  for (const c of [patient, provider]) {
    const ended = await c.next('call-ended', 5000);
    assert.equal(ended.status, 'ended');
    assert.equal(ended.reason, 'ended_by_operator');
    assert.equal(ended.endedBy, actor);
    assert.equal(ended.message, reason);
  }
  assert.equal(sql(sd.dataDir, `SELECT status || '|' || end_reason FROM calls WHERE id = '${call.id}'`), 'ended|ended_by_operator');
  assert.equal(sql(sd.dataDir, `SELECT actor_id || '|' || actor_role || '|' || detail FROM audit_log WHERE action = 'admin.call.end' AND call_id = '${call.id}'`),
    `${actor}|cli|${reason}`);
  patient.close();
  provider.close();

  // Ending it again is refused, and so is a call that does not exist.
  const again = run(['call', 'end', call.id, '--reason', 'twice']);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /a call that is ended/);
  const unknown = run(['call', 'end', '0190f0f0-0000-7000-8000-0000000000ff', '--reason', 'none']);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /no such call/);
});

test('vytalctl call end without --reason is a usage mistake and changes nothing', async () => {
  const call = await createCall(sd, 'patient-cli2', 'dr-cli2');
  const r = run(['call', 'end', call.id]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /usage: vytalctl .*call end ID --reason TEXT/);
  const blank = run(['call', 'end', call.id, '--reason', '   ']);
  assert.equal(blank.status, 2);
  assert.match(blank.stderr, /reason is required/);
  assert.equal(sql(sd.dataDir, `SELECT status FROM calls WHERE id = '${call.id}'`), 'scheduled');
});
