// vytal-admin end to end: the real signald (calls created through its REST
// API, joined over WebSocket, quality reports, TURN usage reports in the
// plugin's datagram format), the real vytal-admin beside it, accounts made
// with the real vytalctl, and Debian's Chromium logging in through the page.
// The figures the page shows are compared with the call log (sqlite3) and
// signald's /metrics; the security checks are made from the browser's side
// and from plain HTTP clients'. Screenshots of every page at 1280x800 go to
// the build directory (admin-screenshots/).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startSignald, token, api, sql, metric, tempDir, BUILD_DIR, VYTALCTL } from './lib/signald.mjs';
import { connect, sleep } from './lib/ws_client.mjs';
import { startAdmin, addAccount, vytalctl, totp, adminPost, adminGet, login } from './lib/admin.mjs';
import { onExit } from './lib/children.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
const SHOTS = process.env.VYTAL_ADMIN_SCREENSHOTS ?? join(BUILD_DIR, 'admin-screenshots');
const SERVICE = token('platform-backend', 'service');
const PASSWORDS = { alice: 'correct horse battery 1', victor: 'viewer passphrase 22', olga: 'operator passphrase 33', dora: 'disabled soon passphrase' };
const XSS_PATIENT = '<script>window.__xss = "patient"</script>';
// No spaces: signald takes a sub of printable characters without spaces only
// (issue 11); "/" separates the attributes instead, and it is still markup.
const XSS_SUB = '<img/src="x"/onerror="window.__xss=\'audit\'">';

let sd, admin, browser;
const ids = {};

function sqlWrite(query) {
  execFileSync('sqlite3', ['-batch', '-cmd', '.timeout 5000', join(sd.dataDir, 'calls.db'), query]); // signald may be writing
}

async function createCall(patientId, providerId) {
  const r = await api(sd.url, 'POST', '/webrtc/calls', { tok: SERVICE, body: { patientId, providerId, type: 'video' } });
  assert.equal(r.status, 201, r.text);
  return r.body.id;
}

// The TURN plugin's reports, sent to signald's usage socket as the plugin does.
function turnReport(obj) {
  execFileSync('socat', ['-u', '-', `UNIX-SENDTO:${join(sd.dataDir, 'turn-usage.sock')}`], { input: JSON.stringify(obj) });
}

async function until(what, fn, ms = 10000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const auditCount = (where) => Number(sql(sd.dataDir, `SELECT count(*) FROM audit_log WHERE ${where}`));

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const dataDir = tempDir('vytal-admin-test-');
  sd = await startSignald({
    VYTAL_QUALITY_SAMPLE_SECONDS: '1',
    VYTAL_SIGNALD_CONTROL_SOCKET: join(dataDir, 'signald.sock'),
    VYTAL_TURN_USAGE_SOCKET: join(dataDir, 'turn-usage.sock'),
  }, { dataDir });
  onExit(() => sd.cleanup());
  // A certificate to watch (30 days, self-signed like the package's development
  // one) and a TURN key ring just rotated.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-subj', '/CN=turn.test',
    '-keyout', join(dataDir, 'turn.key'), '-out', join(dataDir, 'turn.crt')], { stdio: 'ignore' });
  execFileSync(VYTALCTL, ['rotate-turn-secret'], { env: { PATH: process.env.PATH, VYTAL_TURN_KEYRING_FILE: join(dataDir, 'keyring') }, stdio: 'ignore' });
  admin = await startAdmin(sd, { VYTAL_TURN_CERT_FILE: join(dataDir, 'turn.crt'), VYTAL_TURN_KEYRING_FILE: join(dataDir, 'keyring') });
  for (const [name, role] of [['alice', 'admin'], ['victor', 'viewer'], ['olga', 'operator'], ['dora', 'viewer']])
    addAccount(sd, name, role, PASSWORDS[name]);

  // Call A: both join, report quality, relay through TURN, the provider ends it.
  ids.a = await createCall('patient-anna', 'dr-berg');
  const pa = await connect(sd, 'patient-anna', 'patient');
  const pr = await connect(sd, 'dr-berg', 'provider');
  await pa.join(ids.a);
  await pr.join(ids.a);
  const expiry = Math.floor(Date.now() / 1000) + 600;
  turnReport({ type: 'allocation', event: 'created', username: `${expiry}:patient-anna@${ids.a}`, session: 7, relay: '127.0.0.1:50001', transport: 'udp' });
  for (let i = 0; i < 3; i++) {
    pa.send({ type: 'quality-report', rttMs: 40 + i * 10, jitterMs: 3 + i, packetLoss: 0.01 * i, bitrateKbps: 900 + i * 100 });
    pr.send({ type: 'quality-report', rttMs: 55 + i * 5, jitterMs: 2, packetLoss: 0, bitrateKbps: 1200 - i * 50 });
    await sleep(1100);
  }
  turnReport({ type: 'usage', username: `${expiry}:patient-anna@${ids.a}`, session: 7, bytesSent: 1500000, bytesReceived: 2400000, packetsSent: 1200, packetsReceived: 1900, final: true });
  turnReport({ type: 'allocation', event: 'deleted', username: `${expiry}:patient-anna@${ids.a}`, session: 7, relay: '127.0.0.1:50001', transport: 'udp' });
  pr.send({ type: 'end-call', requestId: 'end-a', reason: 'completed' });
  await pa.next('call-ended', 5000);
  pa.close();
  pr.close();

  // Call B: active, the patient dropped and may come back (reconnecting).
  ids.b = await createCall('patient-bela', 'dr-berg');
  const pb = await connect(sd, 'patient-bela', 'patient');
  const pr2 = await connect(sd, 'dr-berg', 'provider');
  await pb.join(ids.b);
  await pr2.join(ids.b);
  pb.close();
  ids.keep = pr2; // stays connected: the call stays active

  // Call C cancelled, call D still scheduled.
  ids.c = await createCall('patient-cleo', 'dr-chen');
  assert.equal((await api(sd.url, 'POST', `/webrtc/calls/${ids.c}/cancel`, { tok: SERVICE, body: { reason: 'no_show' } })).status, 200);
  ids.d = await createCall('patient-dana', 'dr-chen');

  // Hostile text: a login attempt whose account name is markup (vytal-admin
  // audits the failure with the name as typed), and a call row whose patient
  // id is markup (as a compromised platform or an old version might have
  // written it; REST refuses such ids, so the row is written here).
  assert.equal((await adminPost(admin, 'login', { name: XSS_SUB, password: 'not a password at all' })).status, 401);
  await until('the participants to be written', () =>
    sql(sd.dataDir, `SELECT status FROM call_participants WHERE call_id = '${ids.b}' AND user_id = 'patient-bela'`) === 'reconnecting');
  ids.x = '0190f0f0-0000-7000-8000-00000000abcd';
  const now = Date.now();
  sqlWrite(`INSERT INTO calls(id, patient_id, provider_id, type, status, created_by, created_at, updated_at, version, change_seq)
            VALUES('${ids.x}', '${XSS_PATIENT.replaceAll("'", "''")}', 'dr-chen', 'audio', 'scheduled', 'platform-backend', ${now}, ${now}, 1, 9000000000000000)`);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
});

after(async () => {
  ids.keep?.close();
  await browser?.close().catch(() => {});
  await admin?.stop();
  await sd?.stop();
});

async function newPage(viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  // The page asks for its session before login: that 401 is expected.
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 401/.test(m.text())) page.errors.push(m.text()); });
  return page;
}

async function loginThroughPage(page, name, password, base = admin.url) {
  await page.goto(`${base}/`);
  await page.fill('#login-form input[name=name]', name);
  await page.fill('#login-form input[name=password]', password);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#page[data-ready=true]');
}

async function goto(page, hash) {
  await page.evaluate((h) => {
    document.getElementById('page').dataset.ready = '';
    if (location.hash === h) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = h;
  }, hash);
  await page.waitForSelector('#page[data-ready=true]');
}

const text = (page, sel) => page.locator(sel).first().innerText();
// The whole page, 1280 pixels wide (the viewport is 1280x800).
const shot = (page, name) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

test('an admin logs in through the page and every page shows what the call log and /metrics hold', { timeout: 120000 }, async () => {
  const page = await newPage();
  await loginThroughPage(page, 'alice', PASSWORDS.alice);

  // The session cookie carries every attribute (Chromium keeps __Host- cookies on http://localhost).
  const [cookie] = await page.context().cookies();
  assert.equal(cookie.name, '__Host-vytal_admin');
  assert.equal(cookie.path, '/');
  assert.equal(cookie.secure, true);
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  assert.ok(Buffer.from(cookie.value, 'base64url').length === 32, 'a 256-bit session id');
  assert.equal(await page.evaluate(() => document.cookie), '', 'the page script cannot read the session cookie');

  // Overview against the call log and signald's /metrics.
  await goto(page, '#/overview');
  const active = Number(sql(sd.dataDir, "SELECT count(*) FROM calls WHERE status = 'active'"));
  assert.equal(active, 1);
  assert.equal(Number(await text(page, '[data-figure=calls-active]')), active);
  assert.equal(Number(await text(page, '[data-figure=calls-active]')), await metric(sd.url, 'vytal_active_calls'));
  assert.equal(Number(await text(page, '[data-figure=participants-reconnecting]')),
    Number(sql(sd.dataDir, "SELECT count(*) FROM call_participants WHERE status = 'reconnecting'")));
  for (const status of ['scheduled', 'active', 'ended', 'missed', 'cancelled', 'failed'])
    assert.equal(Number(await text(page, `[data-figure=today-${status}]`)), Number(sql(sd.dataDir, `SELECT count(*) FROM calls WHERE status = '${status}'`)), status);
  assert.equal(Number(await text(page, '[data-figure=calls-today]')), Number(sql(sd.dataDir, 'SELECT count(*) FROM calls')));
  assert.match(await text(page, '[data-service="vytal-signald"]'), /up/);
  assert.match(await text(page, '[data-service="vytal-turnserver"]'), /down/);
  assert.match(await text(page, '#problems'), /vytal-turnserver is down/);
  assert.match(await text(page, '[data-figure=sync-state]'), /Not configured/);
  assert.match(await text(page, '#zone'), /Times are in the appliance's time zone/);
  assert.equal(await text(page, '[data-figure=cert-days]'), '29 days'); // 30 days from a few seconds ago
  assert.match(await text(page, '#problems'), /TURN over TLS certificate is self-signed/);
  assert.match(await text(page, '[data-figure=keyring-age]'), /^\d+ s old$/);
  await shot(page, 'overview');

  // Call log: every call, newest first; filters; the markup patient id is text.
  await goto(page, '#/calls');
  const rows = await page.locator('#results tbody tr').count();
  assert.equal(rows, Number(sql(sd.dataDir, 'SELECT count(*) FROM calls')));
  assert.ok((await page.locator('#results').innerText()).includes(XSS_PATIENT), 'markup shown as text');
  await shot(page, 'calls');
  await goto(page, '#/calls?status=ended');
  assert.deepEqual(await page.locator('#results tbody tr').evaluateAll((trs) => trs.map((t) => t.dataset.callId)), [ids.a]);
  await goto(page, '#/calls?patientId=patient-cleo');
  assert.match(await text(page, '#results tbody tr'), /cancelled/);
  // Keyset pagination: two calls a page reach every call exactly once.
  const seen = [];
  let cursor = null;
  const { cookie: c2 } = await login(admin, 'alice', PASSWORDS.alice);
  do {
    const r = await adminGet(admin, `calls?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { cookie: c2 });
    seen.push(...r.body.calls.map((c) => c.id));
    cursor = r.body.nextCursor;
  } while (cursor);
  assert.deepEqual(seen, sql(sd.dataDir, 'SELECT id FROM calls ORDER BY created_at DESC, id DESC').split('\n'));

  // A call's detail: durations, participants, quality samples, TURN usage.
  await goto(page, `#/call/${ids.a}`);
  const [durationMs] = sql(sd.dataDir, `SELECT duration_ms FROM calls WHERE id = '${ids.a}'`).split('|').map(Number);
  const s = Math.round(durationMs / 1000);
  assert.equal(await text(page, '[data-figure=duration]'), s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`);
  const samples = Number(sql(sd.dataDir, `SELECT count(*) FROM call_quality_samples WHERE call_id = '${ids.a}'`));
  assert.ok(samples >= 4, `${samples} quality samples`);
  assert.equal(await page.locator('#quality-chart circle').count(), samples);
  assert.match(await text(page, '#turn tbody'), /patient-anna\s+udp\s+127\.0\.0\.1:50001\s+\w+.*1\.4 MiB\s+2\.3 MiB/s);
  assert.match(await text(page, '#timeline'), /created[\s\S]*participant_joined[\s\S]*started[\s\S]*ended/);
  assert.equal(await page.locator('#participants tbody tr').count(), 2);
  await shot(page, 'call');

  await goto(page, `#/call/${ids.x}`);
  assert.equal(await text(page, '[data-figure=patient]'), XSS_PATIENT);

  // CSV export, streamed, and audited; a HEAD sends none, so it is refused
  // rather than audited as an export (the count below stays 1).
  const session = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
  assert.equal((await fetch(`${admin.url}/api/calls.csv`, { method: 'HEAD', headers: { cookie: session } })).status, 405);
  const csv = await page.evaluate(async () => (await fetch('api/calls.csv')).text());
  const lines = csv.trim().split('\r\n');
  assert.equal(lines.length, 1 + Number(sql(sd.dataDir, 'SELECT count(*) FROM calls')));
  assert.match(lines[0], /^call_id,patient_id,provider_id/);
  const rowA = lines.find((l) => l.startsWith(ids.a)).split(',');
  assert.equal(Number(rowA[10]), durationMs);

  // Audit log: the admin's own login and export arrived in the call log through signald.
  await until('the admin audit rows in the call log', () => auditCount("actor_id = 'alice' AND action = 'admin.export.calls'") === 1);
  await goto(page, '#/audit');
  const audit = await text(page, '#results');
  assert.match(audit, /alice\s+admin\s+admin\.login\s+ok/);
  assert.match(audit, /admin\.export\.calls/);
  assert.ok(audit.includes(XSS_SUB), 'the markup actor is shown as text');
  await shot(page, 'audit');
  await goto(page, '#/audit?action=admin.login');
  assert.equal(await page.locator('#results tbody tr').count(), auditCount("action = 'admin.login'"));

  // Accounts: list and add through the page.
  await goto(page, '#/accounts');
  assert.equal(await page.locator('#account-list tbody tr').count(), 4);
  await page.fill('#add-account input[name=name]', 'bob');
  await page.selectOption('#add-account select[name=role]', 'operator');
  await page.fill('#add-account input[name=password]', 'my own passphrase 9');
  await page.click('#add-account button[type=submit]');
  await page.waitForSelector('[data-account=bob]');
  assert.match(vytalctl(sd, ['admin', 'list']), /^bob\s+operator\s+active/m);
  await shot(page, 'accounts');

  await goto(page, '#/password');
  await shot(page, 'password');

  // Nothing the page showed ran as script.
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.deepEqual(page.errors, []);

  // The same at a phone's size.
  const phone = await newPage({ width: 390, height: 844 });
  await loginThroughPage(phone, 'alice', PASSWORDS.alice);
  await phone.screenshot({ path: join(SHOTS, 'overview-phone.png'), fullPage: true });
  await goto(phone, '#/calls');
  await phone.screenshot({ path: join(SHOTS, 'calls-phone.png') });
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the phone page is ${overflow} px wider than the screen`);

  const login1 = await newPage();
  await login1.goto(`${admin.url}/`);
  await login1.waitForSelector('#login:not([hidden])');
  await shot(login1, 'login');
});

test('wrong passwords are throttled (429 with Retry-After); an unknown account answers the same', async () => {
  const wrong = await adminPost(admin, 'login', { name: 'olga', password: 'not her password at all' });
  const unknown = await adminPost(admin, 'login', { name: 'nobody-here', password: 'not her password at all' });
  assert.equal(wrong.status, 401);
  assert.equal(unknown.status, wrong.status);
  assert.deepEqual(unknown.body, wrong.body);
  let r;
  for (let i = 0; i < 6; i++) {
    r = await adminPost(admin, 'login', { name: 'olga', password: `wrong ${i} wrong wrong` });
    if (r.status === 429) break;
  }
  assert.equal(r.status, 429);
  assert.ok(Number(r.headers.get('retry-after')) >= 1);
  // Even the right password waits until then.
  assert.equal((await adminPost(admin, 'login', { name: 'olga', password: PASSWORDS.olga })).status, 429);
  await until('the failures to be audited', () => auditCount("actor_id = 'olga' AND action = 'admin.login' AND outcome = 'denied'") >= 4);
  assert.ok(auditCount("actor_id = 'nobody-here' AND detail = 'unknown_account'") === 1);
});

test('a POST without the CSRF token, or from a foreign Origin, is refused; every answer carries the CSP', async () => {
  const { cookie, csrf } = await login(admin, 'alice', PASSWORDS.alice);
  const body = { name: 'mallory', role: 'admin', password: 'mallory passphrase 1' };
  const noToken = await adminPost(admin, 'accounts', body, { cookie });
  assert.equal(noToken.status, 403);
  assert.equal(noToken.body.error.code, 'csrf_refused');
  const foreign = await adminPost(admin, 'accounts', body, { cookie, csrf, origin: 'http://evil.example' });
  assert.equal(foreign.status, 403);
  assert.equal(foreign.body.error.code, 'origin_refused');
  const noOrigin = await fetch(`${admin.url}/api/accounts`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(noOrigin.status, 403);
  // The body's media type is compared whole: a look-alike is not JSON.
  for (const type of ['application/jsonx', 'application/json-seq', 'text/json']) {
    const odd = await adminPost(admin, 'accounts', body, { cookie, csrf, headers: { 'content-type': type } });
    assert.equal(odd.status, 400, type);
    assert.equal(odd.body.error.message, 'Content-Type must be application/json', type);
  }
  const foreignLogin = await adminPost(admin, 'login', { name: 'alice', password: PASSWORDS.alice }, { origin: 'http://evil.example' });
  assert.equal(foreignLogin.status, 403);
  assert.doesNotMatch(vytalctl(sd, ['admin', 'list']), /mallory/);
  for (const path of ['/', '/api/session', '/app.js']) {
    const res = await fetch(admin.url + path, { headers: { cookie } });
    assert.equal(res.headers.get('content-security-policy'),
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'", path);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(res.headers.get('cache-control'), 'no-store');
  }
  // A page of another origin cannot even get the cookie sent (SameSite=Strict),
  // and the page itself refuses to be framed.
  const page = await newPage();
  await page.goto(`${admin.url}/`);
  const framed = await page.evaluate(async (url) => {
    const f = document.createElement('iframe');
    f.src = url;
    document.body.append(f);
    await new Promise((r) => setTimeout(r, 1000));
    try { return f.contentDocument?.body?.innerHTML ?? 'blocked'; } catch { return 'blocked'; }
  }, `${admin.url}/`);
  assert.ok(!framed.includes('login-form'), 'the page rendered inside a frame');
});

test('a viewer reads but cannot reach the accounts page or its actions', async () => {
  const page = await newPage();
  await loginThroughPage(page, 'victor', PASSWORDS.victor);
  assert.equal(await page.locator('nav a[data-page=accounts]').isVisible(), false);
  await goto(page, '#/accounts');
  assert.match(await text(page, '#page'), /may not do this/);
  const { cookie, csrf } = await login(admin, 'victor', PASSWORDS.victor);
  assert.equal((await adminGet(admin, 'accounts', { cookie })).status, 403);
  const add = await adminPost(admin, 'accounts', { name: 'eve', role: 'admin', password: 'eves passphrase 12' }, { cookie, csrf });
  assert.equal(add.status, 403);
  assert.equal((await adminPost(admin, 'accounts/alice/disable', {}, { cookie, csrf })).status, 403);
  assert.equal((await adminGet(admin, 'overview', { cookie })).status, 200);
  // Audited once a minute per session: the page's refusal, then the first of this session's three.
  await until('the refusals to be audited', () => auditCount("actor_id = 'victor' AND action = 'admin.access' AND outcome = 'denied'") === 2);
});

test('the refusals counted after a session\'s audited one are audited when vytal-admin stops', async () => {
  const own = await startAdmin(sd);
  let stopped = false;
  try {
    const { cookie, csrf } = await login(own, 'victor', PASSWORDS.victor);
    assert.equal((await adminGet(own, 'accounts', { cookie })).status, 403);
    assert.equal((await adminGet(own, 'accounts', { cookie })).status, 403);
    assert.equal((await adminPost(own, 'accounts/alice/disable', {}, { cookie, csrf })).status, 403);
    await own.stop();
    stopped = true;
  } finally {
    if (!stopped) await own.stop();
  }
  // Written into admin.db's outbox at the stop; the running vytal-admin ships it.
  await until('the counted refusals to be audited', () =>
    auditCount("actor_id = 'victor' AND action = 'admin.access' AND outcome = 'denied' AND detail = " +
      "'2 more refusal(s) in the minute after the one audited; the last: accounts POST'") === 1);
});

test('TOTP: a code from the RFC 6238 algorithm logs in once; a recovery code works once', async () => {
  const out = vytalctl(sd, ['admin', 'totp', 'enable', 'dora']);
  const secret = out.match(/secret: ([A-Z2-7]+)/)[1];
  assert.match(out, /otpauth:\/\/totp\/VytalWatch:dora\?secret=/);
  const codes = [...out.matchAll(/^ {2}([A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4})$/gm)].map((m) => m[1]);
  assert.equal(codes.length, 10);
  const asked = await adminPost(admin, 'login', { name: 'dora', password: PASSWORDS.dora });
  assert.equal(asked.status, 401);
  assert.equal(asked.body.error.code, 'totp_required');
  const code = totp(secret);
  const withCode = await adminPost(admin, 'login', { name: 'dora', password: PASSWORDS.dora, code });
  assert.equal(withCode.status, 200, `${withCode.text} (code ${code}, secret ${secret})`);
  assert.equal((await adminPost(admin, 'login', { name: 'dora', password: PASSWORDS.dora, code })).body.error.code, 'bad_totp', 'a code is used once');
  assert.equal((await adminPost(admin, 'login', { name: 'dora', password: PASSWORDS.dora, code: codes[0] })).status, 200);
  assert.equal((await adminPost(admin, 'login', { name: 'dora', password: PASSWORDS.dora, code: codes[0] })).status, 401);
});

test('a disabled account loses its sessions and cannot log in', async () => {
  const { cookie } = await login(admin, 'dora', PASSWORDS.dora, totp(vytalctl(sd, ['admin', 'totp', 'enable', 'dora']).match(/secret: ([A-Z2-7]+)/)[1]));
  assert.equal((await adminGet(admin, 'session', { cookie })).status, 200);
  vytalctl(sd, ['admin', 'disable', 'dora']);
  assert.equal((await adminGet(admin, 'session', { cookie })).status, 401);
  const again = await adminPost(admin, 'login', { name: 'dora', password: PASSWORDS.dora });
  assert.equal(again.status, 401);
  assert.equal(again.body.error.code, 'bad_credentials');
  await until('the disable to be audited', () => auditCount("action = 'account.disable' AND detail = 'dora' AND actor_role = 'cli'") === 1);
});

test('the idle timeout logs the page out', { timeout: 60000 }, async () => {
  const short = await startAdmin(sd, { VYTAL_ADMIN_IDLE_TIMEOUT_SECONDS: '2' });
  try {
    const page = await newPage();
    await loginThroughPage(page, 'alice', PASSWORDS.alice, short.url);
    await page.waitForSelector('#login:not([hidden])', { timeout: 15000 });
    assert.match(await text(page, '#login-notice'), /session ended/);
    assert.equal(await page.locator('nav').isVisible(), false, 'the menu is gone with the session');
    assert.equal(await page.locator('#logout').isVisible(), false);
    assert.equal(await page.locator('#code-row').isVisible(), false, 'the one-time code is asked for only when needed');
    await shot(page, 'logged-out');
    const { cookie } = await login(short, 'alice', PASSWORDS.alice);
    assert.equal((await adminGet(short, 'session', { cookie })).status, 200);
    await sleep(2500);
    assert.equal((await adminGet(short, 'session', { cookie })).status, 401);
  } finally {
    await short.stop();
  }
});

test('a password change ends every session of the account', async () => {
  const a = await login(admin, 'olga', PASSWORDS.olga).catch(() => null) ?? await until('olga\'s throttle to pass', async () => {
    const r = await adminPost(admin, 'login', { name: 'olga', password: PASSWORDS.olga });
    return r.status === 200 ? { cookie: r.headers.get('set-cookie').split(';')[0], csrf: r.body.csrf } : null;
  }, 20000);
  const b = await login(admin, 'bob', 'my own passphrase 9');
  const other = await login(admin, 'bob', 'my own passphrase 9');
  const r = await adminPost(admin, 'password', { current: 'my own passphrase 9', new: 'my new passphrase 10!' }, b);
  assert.equal(r.status, 200);
  assert.equal((await adminGet(admin, 'session', { cookie: other.cookie })).status, 401);
  assert.equal((await adminGet(admin, 'session', { cookie: b.cookie })).status, 401);
  assert.equal((await adminGet(admin, 'session', { cookie: a.cookie })).status, 200, 'another account keeps its session');
  await login(admin, 'bob', 'my new passphrase 10!');
});

test('audit records wait in admin.db while signald is down and arrive in order after; one signald refuses is set aside, not in the way', { timeout: 90000 }, async () => {
  const { cookie } = await login(admin, 'alice', PASSWORDS.alice);
  await until('the outbox to drain', async () => (await adminGet(admin, 'overview', { cookie })).body.auditOutbox === 0);
  await sd.stop();
  // More than signald takes in one POST (64), with a record among them that
  // signald will never take (an outcome it does not know, as a record from
  // another version could be).
  const N = 70;
  for (let i = 0; i < N; i++) {
    await adminGet(admin, `calls.csv?status=ended&patientId=p${i}`, { cookie });
    if (i === 30) {
      const odd = { id: '0190f0f0-0000-7000-8000-0000000000ff', occurredAt: Date.now(), actor: 'alice', role: 'admin',
        action: 'admin.export.calls', outcome: 'perhaps', remoteAddr: '127.0.0.1', detail: 'refused by signald' };
      execFileSync('sqlite3', ['-batch', '-cmd', '.timeout 5000', join(sd.dataDir, 'admin.db'),
        `INSERT INTO audit_outbox(entry, created_at) VALUES('${JSON.stringify(odd)}', ${Date.now()})`]);
    }
  }
  const waiting = await until('the overview to name the waiting records', async () => {
    const o = (await adminGet(admin, 'overview', { cookie })).body;
    return o.problems.some((p) => new RegExp(`${N + 1} admin audit record\\(s\\) wait`).test(p.title)) ? o : null;
  });
  assert.equal(waiting.auditOutbox, N + 1);
  // Back on the same port, where vytal-admin looks for it.
  sd = await startSignald({ PORT: String(sd.port), VYTAL_SIGNALD_CONTROL_SOCKET: join(sd.dataDir, 'signald.sock') }, { dataDir: sd.dataDir });
  // The shipper backs off up to 30 s while signald is down; a new record wakes it.
  await login(admin, 'alice', PASSWORDS.alice);
  await until('the waiting records to arrive', () => auditCount("action = 'admin.export.calls' AND detail LIKE '%patientId=p%'") === N, 30000);
  assert.equal(sql(sd.dataDir, "SELECT group_concat(detail, ';') FROM (SELECT detail FROM audit_log WHERE detail LIKE '%patientId=p%' ORDER BY change_seq)"),
    Array.from({ length: N }, (_, i) => `status=ended patientId=p${i}`).join(';'));
  assert.equal(auditCount("detail = 'refused by signald'"), 0);
  // The refused record is kept in admin.db with signald's reason, and the overview says so.
  const kept = execFileSync('sqlite3', ['-readonly', '-batch', join(sd.dataDir, 'admin.db'), 'SELECT reason, entry FROM audit_refused'], { encoding: 'utf8' });
  assert.match(kept, /outcome must be ok, denied or failed/);
  assert.match(kept, /refused by signald/);
  const o = await until('the overview to count it', async () => {
    const ov = (await adminGet(admin, 'overview', { cookie })).body;
    return ov.auditOutbox === 0 ? ov : null;
  });
  assert.equal(o.auditRefused, 1);
  assert.ok(o.problems.some((p) => /1 admin audit record\(s\) were refused by signald/.test(p.title)), JSON.stringify(o.problems));
  assert.match(admin.stderr(), /audit record \d+ set aside in admin.db \(audit_refused\)/);
});

test('signald serves /internal/ only on its local socket, and only to its own user or root', async (t) => {
  const tcp = await api(sd.url, 'POST', '/internal/audit', { body: { records: [] } });
  assert.equal(tcp.status, 404, 'not over TCP');
  const socket = join(sd.dataDir, 'signald.sock');
  const viaSocket = execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--unix-socket', socket, 'http://signald/internal/healthz'], { encoding: 'utf8' });
  assert.equal(viaSocket, '200');
  // A wrong method on the local channel is refused and counted, like over TCP.
  const refusedBefore = await metric(sd.url, 'vytal_rejected_total{reason="method_not_allowed"}');
  const wrongMethod = execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--unix-socket', socket, 'http://signald/internal/audit'], { encoding: 'utf8' });
  assert.equal(wrongMethod, '405');
  assert.equal(await metric(sd.url, 'vytal_rejected_total{reason="method_not_allowed"}'), refusedBefore + 1);
  if (process.getuid() !== 0) {
    t.skip('the other-user half needs root to switch users (run the suite as root)');
    return;
  }
  execFileSync('chmod', ['0666', socket]); // even with the file open to all, the peer's uid decides
  execFileSync('chmod', ['0755', sd.dataDir]);
  const other = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}',
    '--unix-socket', socket, 'http://signald/internal/healthz'], { encoding: 'utf8' });
  assert.equal(other.stdout.trim(), '000', 'the connection is closed before any answer');
  assert.notEqual(other.status, 0);
  assert.ok(await metric(sd.url, 'vytal_rejected_total{reason="local_peer_refused"}') >= 1);
});

test('vytalctl status shows the overview\'s data from the same code, and exits 1 while something needs attention', async () => {
  const { cookie } = await login(admin, 'alice', PASSWORDS.alice);
  const page = (await adminGet(admin, 'overview', { cookie })).body;
  const run = spawnSync(VYTALCTL, ['status', '--json'], {
    env: { PATH: process.env.PATH, VYTAL_DATA_DIR: sd.dataDir, PORT: String(sd.port), VYTAL_SIGNALD_CONTROL_SOCKET: join(sd.dataDir, 'signald.sock'),
      VYTAL_SYNC_METRICS_PORT: '1', VYTAL_TURN_PORT: '1', VYTAL_TURN_CERT_FILE: join(sd.dataDir, 'turn.crt'), VYTAL_TURN_KEYRING_FILE: join(sd.dataDir, 'keyring') },
    encoding: 'utf8',
  });
  assert.equal(run.status, 1, run.stderr);
  const cli = JSON.parse(run.stdout);
  assert.deepEqual(cli.services.map((s) => [s.name, s.state]), page.services.map((s) => [s.name, s.state]));
  assert.deepEqual(cli.calls.today, page.calls.today);
  assert.equal(cli.calls.active, page.calls.active);
  assert.deepEqual(cli.certificates.map((c) => c.daysLeft), page.certificates.map((c) => c.daysLeft));
  assert.ok(cli.problems.some((p) => p.severity === 'critical' && /vytal-turnserver is down/.test(p.title)));
  const text = spawnSync(VYTALCTL, ['status'], { env: { PATH: process.env.PATH, VYTAL_DATA_DIR: sd.dataDir, PORT: String(sd.port), VYTAL_TURN_PORT: '1', VYTAL_SYNC_METRICS_PORT: '1' }, encoding: 'utf8' });
  assert.match(text.stdout, /vytal-signald\s+up/);
  assert.match(text.stdout, /\[critical\] vytal-turnserver is down/);
});
