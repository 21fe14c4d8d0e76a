// The connectivity test's server side in vytal-admin (admin_ui/connectivity_api.cc)
// over plain HTTP, beside the real signald: what a run is given (the TURN URLs,
// a credential minted with the key ring's current secret), what the server
// keeps of a result (rebuilt, bounded), who may make and revoke patient test
// links, and what a link token opens: the public page and its two routes,
// nothing else; forged, altered, revoked and expired tokens refused,
// refusals rate-limited and audited. The browsers' side (real TURN, real
// networks) is tests/network/connectivity.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSignald, sql, tempDir, VYTALCTL } from './lib/signald.mjs';
import { startAdmin, addAccount, adminPost, adminGet, login } from './lib/admin.mjs';
import { onExit } from './lib/children.mjs';
import { execFileSync } from 'node:child_process';
import { sleep } from './lib/ws_client.mjs';

const PASSWORDS = { ada: 'operator passphrase 41', vic: 'viewer passphrase 42' };
const TURN_URLS = 'turn:192.0.2.50:3478?transport=udp, turn:192.0.2.50:3478?transport=tcp, turns:turn.example.org:443?transport=tcp';
let sd, admin, dataDir, op, viewer;

const auditRows = (where) => sql(sd.dataDir, `SELECT action || ' ' || outcome || ' ' || actor_id FROM audit_log WHERE ${where} ORDER BY occurred_at`);

async function publicPost(path, tok, body = {}, headers = {}) {
  const res = await fetch(`${admin.url}/network-test/api/${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...(tok ? { authorization: `Bearer ${tok}` } : {}), ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, body: json, text, headers: res.headers };
}

before(async () => {
  dataDir = tempDir('vytal-conntest-');
  sd = await startSignald({}, { dataDir });
  onExit(() => sd.cleanup());
  execFileSync(VYTALCTL, ['rotate-turn-secret'], { env: { PATH: process.env.PATH, VYTAL_TURN_KEYRING_FILE: join(dataDir, 'keyring') }, stdio: 'ignore' });
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=turn.example.org',
    '-keyout', join(dataDir, 'turn.key'), '-out', join(dataDir, 'turn.crt')], { stdio: 'ignore' });
  admin = await startAdmin(sd, {
    WEBRTC_TURN_SERVERS: TURN_URLS,
    VYTAL_TURN_KEYRING_FILE: join(dataDir, 'keyring'),
    VYTAL_TURN_CERT_FILE: join(dataDir, 'turn.crt'),
    TURN_CREDENTIAL_TTL_SECONDS: '600',
  });
  addAccount(sd, 'ada', 'operator', PASSWORDS.ada);
  addAccount(sd, 'vic', 'viewer', PASSWORDS.vic);
  op = await login(admin, 'ada', PASSWORDS.ada);
  viewer = await login(admin, 'vic', PASSWORDS.vic);
});

after(async () => {
  await admin?.stop();
  await sd?.stop();
});

test('a run gets every offered TURN URL plus TLS on 5349, and a credential the key ring verifies', async () => {
  assert.equal((await adminPost(admin, 'conntest/start', {})).status, 401, 'no session, no run');
  const r = await adminPost(admin, 'conntest/start', {}, op);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.servers.map((s) => [s.url, s.transport, s.port, s.offered]), [
    ['turn:192.0.2.50:3478?transport=udp', 'udp', 3478, true],
    ['turn:192.0.2.50:3478?transport=tcp', 'tcp', 3478, true],
    ['turns:turn.example.org:443?transport=tcp', 'tls', 443, true],
    ['turns:turn.example.org:5349?transport=tcp', 'tls', 5349, false],
  ]);
  const [expiry, user] = r.body.username.split(':');
  assert.match(user, /^nettest-[0-9a-f]{12}$/);
  const ttl = Number(expiry) - Math.floor(Date.now() / 1000);
  assert.ok(ttl > 290 && ttl <= 300, `a test's credential lives at most 300 s (got ${ttl})`);
  const secret = readFileSync(join(dataDir, 'keyring'), 'utf8').match(/^current (\S+)/m)[1];
  assert.equal(r.body.credential, createHmac('sha1', secret).update(r.body.username).digest('base64'));
  assert.ok(Number(auditRows("action = 'conntest.run'").split('\n').length) >= 1);
});

test('the result is rebuilt: one entry per URL, addresses parsed, text bounded, once per run, only by its own session', async () => {
  const r = await adminPost(admin, 'conntest/start', {}, op);
  const id = r.body.runId;
  const body = {
    transports: [
      { id: 's1', reachable: true, firstRelayMs: 42.4, relayAddress: '192.0.2.50:50000', mappedAddress: '<b>not an address</b>', errors: [], extra: 'dropped' },
      { id: 's2', reachable: false, timedOut: true, errors: [{ code: 701, text: `x\u0001${'y'.repeat(500)}`, address: '10.0.0.1:1' }] },
      { id: 's9', reachable: true },
    ],
    loopback: { ok: true, relayProtocol: 'sctp', rttMs: 1e12, lossPercent: -3, throughputKbps: 5000 },
  };
  assert.equal((await adminPost(admin, `conntest/runs/${id}`, body, viewer)).status, 404, 'another account\'s run');
  const bad = await adminPost(admin, `conntest/runs/${id}`, { transports: 'none' }, op);
  assert.equal(bad.status, 400);
  const ok = await adminPost(admin, `conntest/runs/${id}`, body, op);
  assert.equal(ok.status, 200, ok.text);
  const t = ok.body.result.transports;
  assert.deepEqual(t.map((x) => x.id), ['s1', 's2', 's3', 's4']);
  assert.equal(t[0].reachable, true);
  assert.equal(t[0].mappedAddress, null);
  assert.equal(t[0].relayAddress, '192.0.2.50:50000');
  assert.equal(t[0].extra, undefined);
  assert.equal(t[1].errors[0].code, 701);
  assert.equal(t[1].errors[0].text.length, 200);
  assert.ok(!t[1].errors[0].text.includes('\u0001'));
  assert.equal(t[2].tested, false);
  const lb = ok.body.result.loopback;
  assert.equal(lb.relayProtocol, null);
  assert.equal(lb.rttMs, 60000);
  assert.equal(lb.lossPercent, null);
  assert.equal(ok.body.result.clientAddress, '127.0.0.1');
  assert.equal((await adminPost(admin, `conntest/runs/${id}`, body, op)).status, 409, 'a run has one result');
  const latest = await adminGet(admin, 'conntest/latest', op);
  assert.deepEqual(latest.body.ports.map((p) => `${p.transport} ${p.port} ${p.reached}`), ['udp 3478 true', 'tcp 3478 false', 'tls 443 false', 'tls 5349 false']);
});

test('patient links: operators make and revoke them; the token opens the test page and its routes, nothing else', async () => {
  const denied = await adminPost(admin, 'conntest/links', { label: 'Clinic' }, viewer);
  assert.equal(denied.status, 403);
  assert.equal(denied.body.error.code, 'forbidden');
  // The refusal is in the audit log, as every refused admin action is.
  const refusals = () => auditRows("action = 'admin.access' AND outcome = 'denied' AND detail LIKE 'test link action%'");
  for (let i = 0; i < 100 && refusals() === ''; i++) await sleep(100);
  assert.equal(refusals(), 'admin.access denied vic');
  assert.equal((await adminPost(admin, 'conntest/links', { label: '' }, op)).status, 400);
  assert.equal((await adminPost(admin, 'conntest/links', { label: 'x', hours: 169 }, op)).status, 400);
  const made = await adminPost(admin, 'conntest/links', { label: 'Clinic Süd' }, op);
  assert.equal(made.status, 201, made.text);
  const hours = (made.body.expiresAt - Date.now()) / 3600e3;
  assert.ok(hours > 23.9 && hours <= 24, `default lifetime 24 h (got ${hours})`);
  const tok = made.body.token;
  assert.equal(made.body.path, `/network-test/#${tok}`);

  // The public page: no session, the same security headers, only its files.
  const page = await fetch(`${admin.url}/network-test/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-security-policy'), /script-src 'self'/);
  assert.match(await page.text(), /network-test\.js/);
  for (const f of ['network-test.js', 'connectivity-test.js', 'dom.js', 'style.css']) assert.equal((await fetch(`${admin.url}/network-test/${f}`)).status, 200, f);
  for (const f of ['app.js', 'ui.js', 'index.html', 'connectivity-page.js']) assert.equal((await fetch(`${admin.url}/network-test/${f}`)).status, 404, f);
  const redirect = await fetch(`${admin.url}/network-test`, { redirect: 'manual' });
  assert.equal(redirect.status, 301);

  // The token runs the test and posts its result...
  const run = await publicPost('start', tok);
  assert.equal(run.status, 200, run.text);
  assert.equal(run.body.label, 'Clinic Süd');
  assert.match(run.body.username.split(':')[1], new RegExp(`^nettest-link-${made.body.id}$`));
  const res = await publicPost(`runs/${run.body.runId}`, tok, { transports: [{ id: 's1', reachable: true, mappedAddress: '203.0.113.30:4000' }], loopback: { ok: false, error: 'x' } });
  assert.equal(res.status, 200, res.text);
  // ...but no other run's, and nothing of the admin API.
  const other = await adminPost(admin, 'conntest/start', {}, op);
  assert.equal((await publicPost(`runs/${other.body.runId}`, tok, { transports: [] })).status, 404);
  const adminApi = await fetch(`${admin.url}/api/conntest`, { headers: { authorization: `Bearer ${tok}` } });
  assert.equal(adminApi.status, 401);
  // One run per 15 s per link.
  const again = await publicPost('start', tok);
  assert.equal(again.status, 429);

  // The admin page lists the link and the clinic's run.
  const overview = await adminGet(admin, 'conntest', op);
  const link = overview.body.links.find((l) => l.id === made.body.id);
  assert.equal(link.state, 'active');
  assert.equal(link.runs, 1);
  const linkRun = overview.body.runs.find((r) => r.id === run.body.runId);
  assert.equal(linkRun.source, 'link');
  assert.equal(linkRun.result.transports[0].mappedAddress, '203.0.113.30:4000');

  // Revoked: refused at once, with its own code.
  assert.equal((await adminPost(admin, `conntest/links/${made.body.id}/revoke`, {}, viewer)).status, 403);
  const revoked = await adminPost(admin, `conntest/links/${made.body.id}/revoke`, {}, op);
  assert.equal(revoked.status, 200, revoked.text);
  assert.equal(revoked.body.state, 'revoked');
  assert.equal((await adminPost(admin, `conntest/links/${made.body.id}/revoke`, {}, op)).status, 409);
  const after = await publicPost('start', tok);
  assert.equal(after.status, 410);
  assert.equal(after.body.error.code, 'link_revoked');
  const rows = auditRows("action LIKE 'conntest.link.%'");
  for (const re of [/conntest\.link\.create ok ada/, /conntest\.link\.run ok link:/, /conntest\.link\.result ok link:/, /conntest\.link\.revoke ok ada/]) {
    for (let i = 0; i < 30 && !re.test(auditRows("action LIKE 'conntest.link.%'")); i++) await sleep(100);
    assert.match(auditRows("action LIKE 'conntest.link.%'"), re, rows);
  }
});

test('forged, altered and expired tokens are refused; refusals are rate-limited and audited once a minute per address', async () => {
  const made = await adminPost(admin, 'conntest/links', { label: 'short', minutes: 1 }, op);
  const tok = made.body.token;
  const [v, id, exp, mac] = tok.split('.');
  // A later expiry with the old signature; a made-up id; no token; garbage.
  const forged = [`${v}.${id}.${Number(exp) + 86400}.${mac}`, `${v}.${'0'.repeat(16)}.${exp}.${mac}`, '', 'v1.x.y.z'];
  for (const f of forged) {
    const r = await publicPost('start', f, {}, { 'x-real-ip': '198.51.100.7' });
    assert.equal(r.status, 401, `${f}: ${r.text}`);
    assert.equal(r.body.error.code, 'link_invalid');
  }
  // Ten refusals, then 429 from this address (the good token too, until it refills).
  let last;
  for (let i = 0; i < 10; i++) last = await publicPost('start', 'v1.bad', {});
  assert.equal(last.status, 429);
  assert.ok(last.headers.get('retry-after'));
  for (let i = 0; i < 40 && !/conntest\.link\.run denied/.test(auditRows("action = 'conntest.link.run'")); i++) await sleep(100);
  const denials = auditRows("action = 'conntest.link.run' AND outcome = 'denied'").split('\n').filter(Boolean);
  assert.equal(denials.length, 1, `one audit row for the minute's refusals from one address: ${denials.join('; ')}`);
  // Expiry is the token's own (signed) time.
  const wait = made.body.expiresAt - Date.now() + 1200;
  await sleep(Math.max(0, wait));
  await sleep(6500); // one refusal's worth of refill for this address
  const expired = await publicPost('start', tok);
  assert.equal(expired.status, 410, expired.text);
  assert.equal(expired.body.error.code, 'link_expired');
});
