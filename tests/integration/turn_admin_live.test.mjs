// The admin page's live calls (issue 13, must-show 1), with everything real:
// vytal-turnserver with the plugin (key ring, revocations, usage reports to
// signald), signald, vytal-admin, and three headless Chromium instances: the
// call's patient and provider on signald's demo page with a relay-only ICE
// policy (so their media goes through the TURN server over UDP), and an
// operator logged into vytal-admin.
//
// The live page shows both participants with their roles, "relayed over
// UDP", and TURN byte counts that grow while they talk; a viewer sees the
// same without the buttons. The operator removes the patient, giving a
// reason: within 2 s the patient's page says it was removed and why; its
// TURN allocation is gone from the live state, a fresh request with its
// credential is refused, its turn_usage row is closed; joining again is
// refused; and the audit log (in the call log and on the admin page) names
// the operator and the reason. Screenshots of the live page (1280x800 and a
// phone) go to VYTAL_ADMIN_SCREENSHOTS (docs/admin/ when
// scripts/admin-screenshots.sh runs it) or the build directory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import { BUILD_DIR, startSignald, token, sql, tempDir } from './lib/signald.mjs';
import { startAdmin, addAccount } from './lib/admin.mjs';
import { createCall, connect } from './lib/ws_client.mjs';
import { turnClient } from './lib/turn_raw.mjs';
import { onExit, stopChild, track } from './lib/children.mjs';

const TURN_BIN = process.env.VYTAL_TURN_BIN_DIR ?? join(BUILD_DIR, 'turn/bin');
const PLUGIN = join(BUILD_DIR, 'turn_plugin/libvytal_turn.so');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
];
const SHOTS = process.env.VYTAL_ADMIN_SCREENSHOTS ?? join(BUILD_DIR, 'admin-screenshots');
const HOST = '127.0.0.1';
const SECRET = 'admin-live-turn-secret-3b7e19d2';
const PASSWORD = 'a long operator passphrase 4';
const PATIENT = 'patient-lina', PROVIDER = 'dr-okafor';
const REASON = 'Wrong patient joined this room (ticket 4711)';

const dir = tempDir('vytal-admin-live-');
onExit(() => rmSync(dir, { recursive: true, force: true }));
const state = {};
const browsers = [];

function ephemeralUdpPort() {
  return new Promise((res, rej) => {
    const s = dgram.createSocket('udp4');
    s.once('error', rej);
    s.bind(0, HOST, () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}
const tcpFree = (port) => new Promise((res) => {
  const s = net.createServer();
  s.once('error', () => res(false));
  s.listen(port, HOST, () => s.close(() => res(true)));
});

async function startTurnserver() {
  let port;
  for (let i = 0; i < 50 && !port; i++) {
    const p = await ephemeralUdpPort();
    if (await tcpFree(p)) port = p;
  }
  const min = 20000 + 40 * Math.floor(Math.random() * 300);
  const args = ['-n', '--listening-ip', HOST, '--listening-port', String(port), '--relay-ip', HOST,
    '--min-port', String(min), '--max-port', String(min + 39), '--use-auth-secret',
    `--plugin=${PLUGIN}`, `--plugin-config=keyring=${join(dir, 'keyring')};revoked=${join(dir, 'revoked')};usage=${join(dir, 'usage.sock')}`,
    '--realm', 'vytal.test', '--no-cli', '--no-tls', '--no-dtls', '--log-file=stdout', '--simple-log',
    '--verbose', // the listener lines this waits for are logged verbosely
    '--allow-loopback-peers', // test only: both browsers relay to the relay address on loopback
    '--no-multicast-peers', '--pidfile', join(dir, 'turnserver.pid'), '--db', join(dir, 'turndb')];
  const proc = track(spawn(join(TURN_BIN, 'vytal-turnserver'), args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }));
  let log = '';
  proc.stdout.on('data', (c) => (log += c));
  proc.stderr.on('data', (c) => (log += c));
  for (let i = 0; i < 160 && !log.includes(`UDP listener opened on: ${HOST}:${port}`); i++) await sleep(50);
  assert.ok(log.includes(`UDP listener opened on: ${HOST}:${port}`), `vytal-turnserver did not start:\n${log}`);
  return { proc, port, log: () => log };
}

async function openParticipant(sub, role, callId) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  browsers.push(browser);
  const page = await (await browser.newContext()).newPage();
  page.on('pageerror', (e) => console.log(`[${sub}] page error: ${e.message}`));
  await page.goto(`${state.sd.url}/webrtc/demo/?token=${token(sub, role)}&callId=${callId}&autojoin=1&relay=1&qualityMs=1000`);
  await page.waitForFunction(() => window.vytalDemo?.joined === true, null, { timeout: 20000 });
  return page;
}

async function adminPage(name, viewport = { width: 1280, height: 800 }) {
  const page = await (await state.adminBrowser.newContext({ viewport })).newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 401/.test(m.text())) page.errors.push(m.text()); });
  await page.goto(`${state.admin.url}/`);
  await page.fill('#login-form input[name=name]', name);
  await page.fill('#login-form input[name=password]', PASSWORD);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#page[data-ready=true]');
  await page.evaluate(() => { location.hash = '#/live'; });
  await page.waitForSelector('#page[data-page=live][data-ready=true]');
  return page;
}

// What the live page shows for one participant of the call.
const liveRow = (page, callId, user) => page.evaluate(([c, u]) => {
  const tr = document.querySelector(`section[data-call="${c}"] tr[data-user="${u}"]`);
  if (!tr) return null;
  const turn = [...tr.querySelectorAll('.turn')].map((t) => ({ transport: t.dataset.transport, sent: Number(t.dataset.bytesSent), received: Number(t.dataset.bytesReceived), text: t.textContent }));
  return { role: tr.dataset.role, state: tr.dataset.state, path: tr.dataset.path, quality: tr.dataset.quality, text: tr.textContent, turn,
    charts: tr.querySelectorAll('svg.spark polyline').length, removeButton: !!tr.querySelector('button[data-action=remove]') };
}, [callId, user]);

async function until(what, fn, ms = 20000) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await sleep(200);
  }
  assert.fail(`timed out waiting for ${what}`);
}

before(async () => {
  writeFileSync(join(dir, 'keyring'), `current ${SECRET}\n`);
  state.turn = await startTurnserver();
  state.sd = await startSignald({
    VYTAL_TURN_KEYRING_FILE: join(dir, 'keyring'),
    VYTAL_TURN_REVOKED_FILE: join(dir, 'revoked'),
    VYTAL_TURN_USAGE_SOCKET: join(dir, 'usage.sock'),
    WEBRTC_TURN_SERVERS: `turn:${HOST}:${state.turn.port}?transport=udp`,
    WEBRTC_STUN_SERVERS: '',
    VYTAL_QUALITY_SAMPLE_SECONDS: '1',
  });
  track(state.sd.proc);
  state.admin = await startAdmin(state.sd);
  addAccount(state.sd, 'olga', 'operator', PASSWORD);
  addAccount(state.sd, 'vera', 'viewer', PASSWORD);
  state.adminBrowser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  mkdirSync(SHOTS, { recursive: true });
}, { timeout: 60000 });

after(async () => {
  for (const b of [...browsers, state.adminBrowser]) await b?.close().catch(() => {});
  await state.admin?.stop();
  await state.sd?.stop();
  await stopChild(state.turn?.proc);
  state.sd?.cleanup();
});

test('live page: a relayed call with roles, path and growing TURN bytes; an operator removes the patient', { timeout: 180000 }, async () => {
  const call = await createCall(state.sd, PATIENT, PROVIDER);
  const patient = await openParticipant(PATIENT, 'patient', call.id);
  const provider = await openParticipant(PROVIDER, 'provider', call.id);
  // Media flows, and only over relay candidates (iceTransportPolicy "relay").
  for (const page of [patient, provider]) {
    await page.waitForFunction(async () => {
      const s = await window.vytalDemo.stats();
      return s && s.video.framesDecoded > 10 && s.candidates.length > 0;
    }, null, { timeout: 30000, polling: 500 });
    const s = await page.evaluate(() => window.vytalDemo.stats());
    assert.ok(s.candidates.every((c) => c === 'relay'), `candidates ${s.candidates}`);
  }

  const operator = await adminPage('olga');
  // Both participants, with their roles, relayed over UDP, with TURN allocations and quality charts.
  const rows = {};
  for (const [user, role] of [[PATIENT, 'patient'], [PROVIDER, 'provider']]) {
    rows[user] = await until(`${user} relayed on the live page`, async () => {
      const r = await liveRow(operator, call.id, user);
      // Media flows through one allocation; a browser may hold another it
      // does not use (the plugin reports bytes every 4096 packets).
      return r && r.path === 'relayed over UDP' && r.turn.some((t) => t.sent > 0) && r.charts >= 2 ? r : null;
    }, 30000);
    assert.equal(rows[user].role, role);
    assert.equal(rows[user].state, 'connected');
    assert.ok(rows[user].turn.every((t) => t.transport === 'udp'), JSON.stringify(rows[user].turn));
    assert.match(rows[user].text, new RegExp(`UDP → ${HOST.replaceAll('.', '\\.')}:\\d+`));
    assert.ok(rows[user].removeButton, 'an operator gets a Remove button');
  }
  // TURN bytes grow while they talk (the plugin reports every 4096 packets).
  const first = rows[PATIENT].turn.find((t) => t.sent > 0);
  const grown = await until('the patient\'s TURN bytes to grow', async () => {
    const r = await liveRow(operator, call.id, PATIENT);
    const t = r?.turn.find((a) => a.transport === first.transport && a.sent > first.sent && a.received > first.received);
    return t ?? null;
  }, 40000);
  console.log(`patient TURN bytes: ${first.sent}/${first.received} -> ${grown.sent}/${grown.received}`);
  // A second call, from WebSocket clients whose reports say what a clinic
  // behind an HTTPS-only firewall on a bad line would: relayed over TLS,
  // poor quality; then one of them drops (reconnecting).
  const other = await createCall(state.sd, 'patient-sami', 'dr-berg');
  const sami = await connect(state.sd, 'patient-sami', 'patient');
  const berg = await connect(state.sd, 'dr-berg', 'provider');
  await sami.join(other.id);
  await berg.join(other.id);
  for (const [i, loss] of [0.01, 0.04, 0.09, 0.12, 0.08].entries())
    sami.send({ type: 'quality-report', rttMs: 380 + 60 * i, jitterMs: 45 + 5 * i, packetLoss: loss, bitrateKbps: 900 - 120 * i,
      localCandidateType: 'relay', remoteCandidateType: 'srflx', protocol: 'udp', relayProtocol: 'tls' });
  berg.send({ type: 'quality-report', rttMs: 120, jitterMs: 9, packetLoss: 0.002, bitrateKbps: 1200,
    localCandidateType: 'srflx', remoteCandidateType: 'relay', protocol: 'udp', relayProtocol: 'bogus' });
  const poorRow = await until('the poor line to be flagged', async () => {
    const r = await liveRow(operator, other.id, 'patient-sami');
    return r?.quality === 'poor' ? r : null;
  });
  assert.equal(poorRow.path, 'relayed over TLS');
  assert.match(poorRow.text, /loss 8\.0 %/);
  assert.equal((await liveRow(operator, other.id, 'dr-berg')).path, 'direct over UDP');
  assert.match(await operator.locator(`section[data-call="${other.id}"] .call-head`).innerText(), /1 with poor quality/);
  berg.close();
  await until('dr-berg to show as reconnecting', async () => (await liveRow(operator, other.id, 'dr-berg'))?.state === 'reconnecting');
  assert.deepEqual(operator.errors, []);
  await operator.screenshot({ path: join(SHOTS, 'live.png'), fullPage: true });
  const phone = await adminPage('olga', { width: 390, height: 844 });
  await until('the phone page to list the call', () => liveRow(phone, call.id, PROVIDER));
  await phone.screenshot({ path: join(SHOTS, 'live-phone.png'), fullPage: true });

  // A viewer sees the call but gets no buttons.
  const viewer = await adminPage('vera');
  const seen = await until('the viewer to see the call', () => liveRow(viewer, call.id, PATIENT));
  assert.equal(seen.removeButton, false);
  assert.equal(await viewer.locator('button[data-action=end]').count(), 0);
  // Nor may it act by hand, with its own valid CSRF token.
  const forged = await viewer.evaluate(async (id) => {
    const { csrf } = await (await fetch('api/session')).json();
    const r = await fetch(`api/live/calls/${id}/end`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: JSON.stringify({ reason: 'a viewer tries' }) });
    return { status: r.status, body: await r.json() };
  }, call.id);
  assert.equal(forged.status, 403, JSON.stringify(forged));
  assert.equal(forged.body.error.code, 'forbidden');

  // The patient's TURN credential, for the check after the removal.
  const ice = await patient.evaluate(() => window.vytalDemo.call.iceServers);
  const cred = ice.find((s) => s.username);
  assert.match(cred.username, new RegExp(`^\\d+:${PATIENT}@${call.id}$`));

  // A TURN session of the patient's own that its browser knows nothing of:
  // what the server does to it does not depend on the browser letting go.
  const held = await turnClient({ host: HOST, port: state.turn.port, username: cred.username, password: cred.credential });
  assert.equal(await held.allocate(), 'ok');
  assert.equal(await held.permit(HOST), 'ok');

  // The operator removes the patient: the reason is required, then confirmed.
  await operator.click(`section[data-call="${call.id}"] tr[data-user="${PATIENT}"] button[data-action=remove]`);
  await operator.waitForSelector('#live-confirm');
  await operator.click('#live-confirm button[data-confirm=remove]');
  assert.match(await operator.locator('#live-confirm .error').innerText(), /reason is required/);
  assert.equal(await patient.evaluate(() => window.vytalDemo.ended), false, 'nothing happens without a reason');
  await operator.fill('#live-confirm input[name=reason]', REASON);
  await operator.screenshot({ path: join(SHOTS, 'live-confirm.png') });
  const clicked = Date.now();
  await operator.click('#live-confirm button[data-confirm=remove]');
  // When the operator's page got signald's answer (the removal committed), for the log.
  operator.waitForSelector('#live-notice:not([hidden])').then(() => console.log(`the operator's page had the answer ${Date.now() - clicked} ms after confirming`), () => {});
  await patient.waitForFunction(() => document.getElementById('status').dataset.state === 'removed', null, { timeout: 2000 });
  const tookMs = Date.now() - clicked;
  const status = await patient.evaluate(() => document.getElementById('status').textContent);
  assert.equal(status, `Removed from the call by an operator: ${REASON}`);
  const tracks = await patient.evaluate(() => window.vytalDemo.call.localStream.getTracks().map((t) => t.readyState));
  assert.ok(tracks.every((t) => t === 'ended'), `the patient's camera and microphone: ${tracks}`);
  console.log(`the patient's page showed the removal ${tookMs} ms after the operator confirmed`);
  await operator.waitForSelector('#live-notice:not([hidden])');
  // The provider is told the patient left (removed) and stays in the call.
  await provider.waitForFunction((u) => !document.querySelector(`#participants li[data-user="${u}"]`), PATIENT, { timeout: 5000 });
  assert.match(await provider.evaluate(() => document.getElementById('log').textContent), new RegExp(`${PATIENT} left \\(removed\\)`));

  // Its TURN allocation is gone: closed within 2 s (turn_usage), a running
  // one's next request and a new allocation are refused.
  await until('the patient to leave the live page', async () => (await liveRow(operator, call.id, PATIENT)) === null, 2000);
  const usage = await until('the patient\'s turn_usage rows to close', () => {
    const rows = sql(state.sd.dataDir, `SELECT state || ':' || bytes_sent || ':' || ended_at FROM turn_usage WHERE user_id = '${PATIENT}' AND call_id = '${call.id}'`);
    return rows && rows.split('\n').every((r) => r.startsWith('closed:')) ? rows : null;
  }, 3000);
  // Closed when the TURN server's final report arrived, within 2 s of the click.
  const endedMs = Math.max(...usage.split('\n').map((r) => Number(r.split(':')[2])));
  console.log(`the patient's TURN allocation(s) ended ${endedMs - clicked} ms after the operator confirmed`);
  assert.ok(endedMs - clicked <= 2000, `ended ${endedMs - clicked} ms after`);
  assert.ok(usage.split('\n').some((r) => Number(r.split(':')[1]) > 0), `usage rows ${usage}`);
  // The running allocation's next request is refused within 2 s of the
  // click: 403 while the plugin refuses it; once the TURN server has ended
  // the allocation, 437, or 438 (its nonce is gone) and then, asked again
  // with the new nonce as the client does, 401 for the revoked credential.
  let answer;
  while (Date.now() - clicked < 2500 && (answer = await held.permit(HOST)) === 'ok') await sleep(100);
  assert.ok([403, 437, 401].includes(answer), `a permission on the removed patient's running allocation: ${answer}`);
  assert.ok(Date.now() - clicked <= 2000, `refused ${Date.now() - clicked} ms after the click`);
  await held.close();
  const again = await turnClient({ host: HOST, port: state.turn.port, username: cred.username, password: cred.credential });
  assert.equal(await again.allocate(), 401, 'a new allocation with the removed patient\'s credential');
  await again.close();

  // It cannot join again: from its page, nor from another connection.
  await patient.click('#join');
  await patient.waitForFunction(() => /^Could not join/.test(document.getElementById('status').textContent), null, { timeout: 10000 });
  assert.match(await patient.evaluate(() => document.getElementById('status').textContent), /removed from this call/);
  const ws = await connect(state.sd, PATIENT, 'patient');
  ws.send({ type: 'join', callId: call.id, requestId: 'again' });
  const refused = await ws.next('error', 5000);
  assert.equal(refused.code, 'removed');
  ws.close();
  assert.equal(sql(state.sd.dataDir, `SELECT status FROM call_participants WHERE call_id = '${call.id}' AND user_id = '${PATIENT}'`), 'removed');
  assert.equal(sql(state.sd.dataDir, `SELECT status FROM calls WHERE id = '${call.id}'`), 'active', 'the provider is still in the call');

  // The audit log: who and why, in the call log and on the admin page.
  assert.equal(sql(state.sd.dataDir, `SELECT actor_id || '|' || actor_role || '|' || outcome || '|' || detail FROM audit_log WHERE action = 'admin.participant.remove' AND call_id = '${call.id}'`),
    `olga|operator|ok|removed ${PATIENT}: ${REASON}`);
  await operator.evaluate(() => { location.hash = '#/audit?action=admin.participant.remove'; });
  await operator.waitForSelector('#page[data-page=audit][data-ready=true]');
  const auditText = await operator.locator('#page').innerText();
  assert.match(auditText, /olga/);
  assert.ok(auditText.includes(REASON), auditText);

  // Ending the second call from the page: its participant is told, with the reason.
  await operator.evaluate(() => { location.hash = '#/live'; });
  await operator.waitForSelector('#page[data-page=live][data-ready=true]');
  await operator.click(`section[data-call="${other.id}"] button[data-action=end]`);
  await operator.fill('#live-confirm input[name=reason]', 'Line too poor: calling the clinic by phone');
  await operator.click('#live-confirm button[data-confirm=end]');
  const ended = await sami.next('call-ended', 5000);
  assert.equal(ended.reason, 'ended_by_operator');
  assert.equal(ended.endedBy, 'olga');
  assert.equal(ended.message, 'Line too poor: calling the clinic by phone');
  await until('the ended call to leave the live page', async () => (await liveRow(operator, other.id, 'patient-sami')) === null, 5000);
  assert.equal(sql(state.sd.dataDir, `SELECT actor_id || '|' || detail FROM audit_log WHERE action = 'admin.call.end' AND call_id = '${other.id}'`),
    'olga|Line too poor: calling the clinic by phone');
  // The viewer's refusal is audited too.
  assert.equal(sql(state.sd.dataDir, "SELECT count(*) FROM audit_log WHERE actor_id = 'vera' AND action = 'admin.access' AND outcome = 'denied'"), '1');
  assert.deepEqual(operator.errors, []);
  sami.close();
});
