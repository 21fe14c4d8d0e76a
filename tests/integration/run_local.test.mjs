// The README's first command, `scripts/run-local.sh`, as a developer runs it:
// started, its printed URLs and commands used with curl, psql and
// turnutils_uclient, stopped with Ctrl-C (SIGINT to its process group), then
// started again on the same folder, where what the first run made and printed
// must still hold. It runs in a network namespace this test makes, so its
// fixed ports (3000, 3001, 3478, 9102, 55432) are free and nothing it starts
// can reach beyond the namespace's loopback. Needs root (skipped otherwise).
//
// The build is the one CTest runs from (VYTAL_BUILD_DIR): run-local.sh's own
// build and vytal-turnserver's find nothing to do there.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BUILD_DIR } from './lib/signald.mjs';
import { track } from './lib/children.mjs';

const ROOT = resolve(new URL('../..', import.meta.url).pathname);
const NS = `vytal-runlocal-${process.pid}`;
// Under a folder only root may enter, as a checkout under /root is: the
// script must find PostgreSQL (which runs as postgres) a folder it can reach.
const PARENT = mkdtempSync(join(tmpdir(), 'vytal-runlocal-'));
const DEV = join(PARENT, 'dev');
let pgDir; // where the script put PostgreSQL, as it prints it
const root = process.getuid?.() === 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const inNs = (cmd, args) => execFileSync('ip', ['netns', 'exec', NS, cmd, ...args], { encoding: 'utf8', timeout: 60000 });
// What still runs in the namespace ('' when nothing does).
const nsPids = () => execFileSync('ip', ['netns', 'pids', NS], { encoding: 'utf8' }).trim();
// curl inside the namespace: { status, body }.
function curl(url, ...args) {
  const out = inNs('curl', ['-s', '-m', '10', '-w', '\n%{http_code}', ...args, url]);
  const i = out.lastIndexOf('\n');
  return { status: Number(out.slice(i + 1)), body: out.slice(0, i) };
}
const psql = (sql) => inNs('psql', ['-h', '127.0.0.1', '-p', '55432', '-U', 'vytalwatch', '-d', 'vytalwatch', '-tAc', sql]).trim();
// A call's status in the printed PostgreSQL once syncd has shipped it ('' if not within 20 s).
async function syncedStatus(id) {
  for (let i = 0; i < 100; i++) {
    const status = psql(`SELECT status FROM calls WHERE id = '${id}'`);
    if (status) return status;
    await sleep(200);
  }
  return '';
}

const running = new Set();

// Starts run-local.sh in its own process group in the namespace; resolves
// with its printed text once it says how to stop it.
async function runLocal(env = {}) {
  const proc = track(
    spawn('ip', ['netns', 'exec', NS, 'bash', join(ROOT, 'scripts/run-local.sh')], {
      env: { ...process.env, VYTAL_BUILD_DIR: BUILD_DIR, VYTAL_DEV_DIR: DEV, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    }),
  );
  running.add(proc);
  proc.once('close', () => running.delete(proc));
  proc.out = '';
  proc.stdout.on('data', (c) => (proc.out += c));
  proc.stderr.on('data', (c) => (proc.out += c));
  for (let i = 0; i < 1800 && !proc.out.includes('Ctrl-C stops everything.') && proc.exitCode === null; i++) await sleep(100);
  assert.match(proc.out, /Ctrl-C stops everything\./, `run-local.sh did not get ready:\n${proc.out}`);
  return proc;
}

// Ctrl-C: SIGINT to the whole process group, as a terminal sends it.
async function ctrlC(proc) {
  const exited = new Promise((res) => proc.once('close', (code, signal) => res({ code, signal })));
  process.kill(-proc.pid, 'SIGINT');
  const timer = setTimeout(() => process.kill(-proc.pid, 'SIGKILL'), 30000);
  const end = await exited;
  clearTimeout(timer);
  return end;
}

const printed = (out, label) => out.match(new RegExp(`^\\s*${label}:?\\s+(\\S+)`, 'm'))?.[1];

// After a failure: Ctrl-C what still runs, PostgreSQL stopped if it outlived that.
after(async () => {
  for (const proc of running) await ctrlC(proc);
  if (pgDir && existsSync(join(pgDir, 'data/postmaster.pid')))
    spawnSync('runuser', ['-u', 'postgres', '--', '/usr/lib/postgresql/15/bin/pg_ctl', '-D', join(pgDir, 'data'), '-m', 'immediate', 'stop']);
  if (pgDir) rmSync(pgDir, { recursive: true, force: true });
  rmSync(PARENT, { recursive: true, force: true });
  try {
    execFileSync('ip', ['netns', 'del', NS]);
  } catch {}
});

test('run-local.sh: everything it prints works, Ctrl-C stops all of it, and a restart keeps its tokens and calls', { skip: !root && 'needs root (network namespace)', timeout: 280000 }, async () => {
  execFileSync('ip', ['netns', 'add', NS]);
  execFileSync('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up']);
  mkdirSync(DEV);

  const first = await runLocal();
  const out = first.out;
  const url = printed(out, 'signald');
  const callId = out.match(/A call was created for you \(([0-9a-f-]{36})\)/)?.[1];
  const jwts = out.slice(out.indexOf('Development JWTs'));
  const service = printed(jwts, 'service');
  const patient = printed(jwts, 'patient');
  const password = out.match(/account dev-admin, password (\S+?);/)?.[1];
  pgDir = out.match(/^==> PostgreSQL 15 on 127\.0\.0\.1:55432 \((\S+)\)/m)?.[1];
  assert.ok(url && callId && service && patient && password && pgDir, `missing from what it printed:\n${out}`);
  assert.match(pgDir, /^\/var\/tmp\/vytal-dev-pg-[0-9a-f]{12}$/);
  assert.equal(url, 'http://localhost:3000');
  // Built already (by CTest's turn.build): nothing rebuilt under the tests running beside it.
  assert.match(out, /vytal-turnserver is up to date/);

  // signald: health, metrics, the call it made, the demo page of the printed links.
  assert.equal(curl(`${url}/healthz`).status, 200);
  assert.match(curl(`${url}/metrics`).body, /^vytal_calls{status="scheduled"} 1$/m);
  const call = curl(`${url}/webrtc/calls/${callId}`, '-H', `Authorization: Bearer ${patient}`);
  assert.equal(call.status, 200, call.body);
  assert.equal(JSON.parse(call.body).patientId, 'patient-uuid');
  const demo = out.match(/^\s*patient:\s+(http\S+)/m)[1];
  assert.ok(demo.startsWith(`${url}/webrtc/demo/#token=${patient}&callId=${callId}`), demo);
  assert.match(curl(demo.split('#')[0]).body, /<title>[^<]*VytalWatch/);

  // The admin page: the printed account logs in, and its overview sees every service up.
  const login = curl('http://localhost:3001/api/login', '-H', 'Content-Type: application/json', '-H', 'Origin: http://localhost:3001',
    '-D', '-', '--data-binary', JSON.stringify({ name: 'dev-admin', password }));
  assert.equal(login.status, 200, login.body);
  const cookie = login.body.match(/^set-cookie:\s*([^;]+)/im)[1];
  const overview = JSON.parse(curl('http://localhost:3001/api/overview', '-H', `Cookie: ${cookie}`).body);
  const state = Object.fromEntries(overview.services.map((s) => [s.name, s.state]));
  assert.deepEqual(state, { 'vytal-signald': 'up', 'vytal-turnserver': 'up', 'vytal-syncd': 'up' }, JSON.stringify(overview.services));

  // syncd ships the call to the printed PostgreSQL.
  assert.equal(curl('http://127.0.0.1:9102/metrics').status, 200);
  assert.equal(await syncedStatus(callId), 'scheduled');

  // The printed TURN command relays through vytal-turnserver with its credential.
  const uclient = out.match(/^\s*(\S+turnutils_uclient .+)$/m)[1];
  const args = uclient.match(/'[^']*'|\S+/g).map((a) => a.replace(/^'|'$/g, ''));
  const relayed = inNs(args[0], args.slice(1));
  const [, sent, received] = relayed.match(/start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)/) ?? [];
  assert.ok(Number(sent) > 0 && received === sent, relayed);

  // Ctrl-C: it ends, and nothing it started is left in the namespace.
  const end = await ctrlC(first);
  assert.equal(end.signal, null, first.out);
  assert.equal(nsPids(), '', 'processes left after Ctrl-C');
  assert.ok(!existsSync(join(pgDir, 'data/postmaster.pid')), 'PostgreSQL still running');

  // Again on the same folder: the first run's tokens, call and admin account
  // still hold, and the configuration wins over the environment's keys: its
  // ports, its JWT secret (the first run's tokens still work) and its central
  // database (the new call reaches it).
  const second = await runLocal({ PORT: '3999', PG_PORT: '55999', JWT_SECRET: 'not-the-configured-secret-0123456789abcdef',
    DATABASE_NAME: 'not_the_configured_database' });
  try {
    const created = curl(`${url}/webrtc/calls`, '-X', 'POST', '-H', `Authorization: Bearer ${service}`, '-H', 'Content-Type: application/json',
      '--data-binary', '{"patientId":"patient-uuid","providerId":"provider-uuid","type":"video"}');
    assert.equal(created.status, 201, created.body);
    const newCall = JSON.parse(created.body).id;
    assert.equal(await syncedStatus(newCall), 'scheduled');
    const again = curl(`${url}/webrtc/calls/${callId}`, '-H', `Authorization: Bearer ${patient}`);
    assert.equal(again.status, 200, again.body);
    assert.match(second.out, new RegExp(`account dev-admin, password ${password};`));
    assert.match(readFileSync(join(DEV, 'appliance.conf'), 'utf8'), /^PORT = 3000$/m);
  } finally {
    await ctrlC(second);
  }
  assert.equal(nsPids(), '', 'processes left after the second Ctrl-C');
});
