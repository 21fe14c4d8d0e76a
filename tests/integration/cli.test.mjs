// The command-line conventions of every program, checked as an admin would
// meet them: --version names the version CMake builds and a commit; --help
// (and vytalctl COMMAND --help) prints to standard output and exits 0; a
// mistake prints one line and the short usage on standard error and exits 2.
// Then vytalctl's read-only views against a real signald's call log:
// `calls`, `calls --active`, `call show ID`, and `sync status` with syncd
// absent, then running against a real PostgreSQL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SIGNALD, VYTALCTL, startSignald, api, sql } from './lib/signald.mjs';
import { SYNCD, startSyncd, databaseEnv } from './lib/syncd.mjs';
import { startPostgres, createDatabase, freePort } from './lib/postgres.mjs';
import { connect, createCall, SERVICE } from './lib/ws_client.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const VERSION = readFileSync(join(ROOT, 'CMakeLists.txt'), 'utf8').match(/project\(\S+ VERSION (\S+)/)[1];

function run(bin, args, env = {}) {
  const r = spawnSync(bin, args, { encoding: 'utf8', env: { PATH: process.env.PATH, ...env }, timeout: 20000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const ctl = (dataDir, args, env = {}) => run(VYTALCTL, args, { VYTAL_DATA_DIR: dataDir, ...env });

test('--version on every program names the version and the commit it was built from', () => {
  for (const [bin, name] of [[SIGNALD, 'vytal-signald'], [SYNCD, 'vytal-syncd'], [VYTALCTL, 'vytalctl']]) {
    const r = run(bin, ['--version']);
    assert.equal(r.code, 0, `${name} --version: ${r.stderr}`);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, new RegExp(`^${name} ${VERSION.replaceAll('.', '\\.')} \\(commit ([0-9a-f]{7,}(-dirty)?|unknown)\\)\\n$`));
  }
});

test('--help prints the usage on standard output and exits 0', () => {
  for (const [bin, name] of [[SIGNALD, 'vytal-signald'], [SYNCD, 'vytal-syncd'], [VYTALCTL, 'vytalctl']]) {
    const r = run(bin, ['--help']);
    assert.equal(r.code, 0, name);
    assert.equal(r.stderr, '', name);
    assert.match(r.stdout, new RegExp(`^usage: ${name} `), name);
  }
  const all = run(VYTALCTL, ['--help']).stdout;
  for (const command of ['dev-token', 'turn-credential', 'turn-config', 'migrate', 'rotate-turn-secret', 'calls', 'call show', 'sync status', 'status', 'doctor'])
    assert.match(all, new RegExp(`\\n  ${command}( |\\n)`), `vytalctl --help lists ${command}`);
  for (const command of [['calls'], ['call', 'show'], ['sync', 'status'], ['dev-token'], ['doctor']]) {
    const r = run(VYTALCTL, [...command, '--help']);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, new RegExp(`^usage: vytalctl \\[--config FILE\\]\\.\\.\\. ${command.join(' ')}`));
  }
});

test('a mistake prints what is wrong and the short usage on standard error, exit status 2', () => {
  const cases = [
    [SIGNALD, ['--bogus'], /unknown option '--bogus'/],
    [SYNCD, ['--config'], /missing FILE after '--config'/],
    [VYTALCTL, [], /no command given/],
    [VYTALCTL, ['frobnicate'], /unknown command 'frobnicate'/],
    [VYTALCTL, ['calls', '--sub', 'x'], /calls does not take --sub/],
    [VYTALCTL, ['doctor', '--active'], /doctor does not take --active/],
    [VYTALCTL, ['doctor', '--turn-config'], /option --turn-config needs a value/],
    [VYTALCTL, ['doctor', 'now'], /unexpected argument 'now'/],
    [VYTALCTL, ['calls', '--limit', 'many'], /bad value for --limit: 'many'/],
    [VYTALCTL, ['call', 'show'], /missing argument/],
    [VYTALCTL, ['call', 'show', 'a', 'b'], /unexpected argument 'b'/],
    [VYTALCTL, ['dev-token', '--sub', 'x'], /missing option/],
  ];
  for (const [bin, args, message] of cases) {
    const r = run(bin, args);
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}`);
    assert.equal(r.stdout, '', `${args.join(' ')} printed on stdout`);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /usage: /);
  }
});

let sd;
before(async () => {
  sd = await startSignald();
});
after(async () => {
  await sd?.stop();
  sd?.cleanup();
});

test('vytalctl calls and call show read the call log as signald wrote it', async () => {
  const ended = await createCall(sd, 'patient-cli-1', 'provider-cli-1');
  const active = await createCall(sd, 'patient-cli-2', 'provider-cli-2');
  // Both participants join the second call: it is in progress.
  const patient = await connect(sd, 'patient-cli-2', 'patient');
  const provider = await connect(sd, 'provider-cli-2', 'provider');
  await patient.join(active.id);
  await provider.join(active.id);
  patient.send({ type: 'quality-report', rttMs: 42, jitterMs: 3, packetLoss: 0.01 });
  const end = await api(sd.url, 'POST', `/webrtc/calls/${ended.id}/end`, { tok: SERVICE, body: { reason: 'no_show' } });
  assert.equal(end.status, 200);

  const list = ctl(sd.dataDir, ['calls']);
  assert.equal(list.code, 0, list.stderr);
  const lines = list.stdout.trim().split('\n');
  assert.match(lines[0], /^ID\s+STATUS\s+TYPE\s+CREATED\s+DURATION\s+END REASON\s+PATIENT \/ PROVIDER$/);
  assert.match(lines[1], new RegExp(`^${active.id}\\s+active\\s+video\\s+\\S+Z\\s+.+ so far\\s+-\\s+patient-cli-2 / provider-cli-2$`));
  assert.match(lines[2], new RegExp(`^${ended.id}\\s+missed\\s+video\\s+\\S+Z\\s+0 ms\\s+no_show\\s+patient-cli-1 / provider-cli-1$`));

  const onlyActive = ctl(sd.dataDir, ['calls', '--active']);
  assert.equal(onlyActive.code, 0);
  assert.equal(onlyActive.stdout.trim().split('\n').length, 2);
  assert.ok(onlyActive.stdout.includes(active.id) && !onlyActive.stdout.includes(ended.id));
  assert.equal(ctl(sd.dataDir, ['calls', '--limit', '1']).stdout.trim().split('\n').length, 2);

  await provider.next('participant-joined').catch(() => {});
  patient.send({ type: 'end-call', reason: 'completed', requestId: 'e' });
  await provider.next('call-ended');
  const show = ctl(sd.dataDir, ['call', 'show', active.id]);
  assert.equal(show.code, 0, show.stderr);
  const out = show.stdout;
  assert.match(out, new RegExp(`^call ${active.id} \\(video\\)\\n  status:     ended \\(completed\\)\\n`));
  assert.match(out, /\n  patient:    patient-cli-2\n  provider:   provider-cli-2\n/);
  assert.match(out, /\n  duration:   (\d+ ms|[\d.]+ s)\n/);
  assert.match(out, /\nparticipants:\n  USER\s+ROLE\s+STATUS\s+LAST JOINED\s+LEFT\s+TIME IN CALL\n/);
  assert.match(out, /\n  patient-cli-2\s+patient\s+left\s+\S+Z\s+\S+Z\s+\S+/);
  assert.match(out, /\n  provider-cli-2\s+provider\s+left\s+/);
  const timeline = [...out.matchAll(/\n  \S+Z  (\S+)/g)].map((m) => m[1]);
  assert.deepEqual(timeline, ['created', 'participant_joined', 'participant_joined', 'started', 'ended']);
  assert.match(out, /\n  \S+Z  ended\s+by patient-cli-2  \{"reason":"completed","status":"ended"\}\n/);
  assert.match(out, /\nquality \(sampled reports from the browsers' getStats\):\n.*\n  patient-cli-2\s+1\s+42\/42\s+1\.0\s+3\n/);
  patient.close();
  provider.close();

  const missing = ctl(sd.dataDir, ['call', 'show', '01900000-0000-7000-8000-000000000000']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no call 01900000-0000-7000-8000-000000000000 in the call log/);
  const nowhere = ctl(join(sd.dataDir, 'absent'), ['calls']);
  assert.equal(nowhere.code, 1);
  assert.match(nowhere.stderr, /call log: .*absent\/calls\.db/);
  // Read-only: nothing of the call log changed.
  assert.equal(sql(sd.dataDir, `SELECT status FROM calls WHERE id = '${active.id}'`), 'ended');
});

test('vytalctl sync status: syncd absent (exit 1), then syncing to a real PostgreSQL (exit 0)', { timeout: 120000 }, async () => {
  const port = await freePort(); // nothing listens there
  const absent = ctl(sd.dataDir, ['sync', 'status'], { VYTAL_SYNC_METRICS_PORT: String(port) });
  assert.equal(absent.code, 1);
  assert.match(absent.stdout, new RegExp(`^vytal-syncd \\(http://127\\.0\\.0\\.1:${port}/metrics\\): not answering`));
  assert.match(absent.stdout, /\ncall log .*calls\.db:\n  last change: +\d+\n  confirmed by PostgreSQL:  nothing yet\n  rows not yet confirmed: +[1-9]\d*\n  parked rows: +0\n/);

  const pg = await startPostgres();
  try {
    await createDatabase(pg, 'central');
    const syncd = await startSyncd({ ...databaseEnv(pg, 'central'), VYTAL_SITE_ID: 'cli-site' }, { dataDir: sd.dataDir });
    try {
      // Caught up once the backlog is gone.
      const deadline = Date.now() + 30000;
      while (Date.now() < deadline && !((await syncd.metric('vytal_sync_batches_total')) > 0 && (await syncd.metric('vytal_sync_backlog_rows')) === 0))
        await new Promise((r) => setTimeout(r, 200));
      const ok = ctl(sd.dataDir, ['sync', 'status'], { VYTAL_SYNC_METRICS_PORT: String(syncd.port) });
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, new RegExp(`^vytal-syncd \\(http://127\\.0\\.0\\.1:${syncd.port}/metrics\\): connected to PostgreSQL\\n`));
      assert.match(ok.stdout, /\n  backlog: +0 row\(s\)/);
      assert.match(ok.stdout, /\n  last batch committed: +\S+Z \(/);
      assert.match(ok.stdout, /\n  confirmed by PostgreSQL:  up to change \d+ \(recorded \S+Z, /);
      assert.match(ok.stdout, /\n  rows not yet confirmed: +0\n/);
    } finally {
      await syncd.stop();
    }
  } finally {
    await pg.cleanup();
  }
});
