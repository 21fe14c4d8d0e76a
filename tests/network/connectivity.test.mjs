// The connectivity test (issue 13) in real browsers against the appliance as
// installed (tests/network/lib/appliance.mjs: nginx with the package's site
// and stream files, vytal-turnserver with the generated configuration,
// signald), plus vytal-admin, all in one namespace on the test bed's
// "internet" (documentation addresses only). The browsers sit in a clinic
// namespace behind its router (NAT, nftables).
//
// 1. With the clinic open, an admin logs in at https://<appliance>/admin/,
//    runs the test: every TURN URL (UDP 3478, TCP 3478, TLS 443 through
//    nginx's SNI routing, TLS 5349) is reached and the relayed loopback call
//    works; the verdict says so.
// 2. The admin makes a patient test link. The clinic's router now drops UDP.
//    A browser with no session opens the link: the page reports UDP
//    unreachable, TCP and TLS reachable, and the verdict says UDP is blocked.
//    The result, with the address TURN saw (the clinic's public address),
//    appears on the admin page and in /api/conntest/latest; runs and links
//    are in the call log's audit.
// 3. The link stops working once revoked; a link made for one minute stops
//    working when it expires. The link gives no access to the admin API.
//
// Needs root (namespaces, nftables), Debian's chromium, nginx with
// libnginx-mod-stream, libnss3-tools, sqlite3, curl, vytal-turnserver.
// VYTAL_ADMIN_SCREENSHOTS=<dir> writes the pages' screenshots there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD_DIR, VYTALCTL } from '../integration/lib/signald.mjs';
import { ADMIN } from '../integration/lib/admin.mjs';
import { removeStale, destroyAll } from './lib/netns.mjs';
import { A, Internet, Clinic } from './lib/topology.mjs';
import { Appliance, APP, TURN_NAME, TURNSERVER, NGINX, makeCa } from './lib/appliance.mjs';
import { launch } from './lib/browser.mjs';

const IS_ROOT = process.getuid?.() === 0;
const OUT = join(BUILD_DIR, 'network-conntest');
const SHOTS = process.env.VYTAL_ADMIN_SCREENSHOTS;
const PASSWORD = 'network admin password 7';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The public appliance, IPv4 only: UDP and TCP TURN by address, TURN over TLS
// on 443 by name (nginx routes it by SNI); the test adds TLS on 5349 by name
// (the TURN server has a certificate, and no URL names that port).
const SITE = {
  VYTAL_TURN_RELAY_IPS: A.app4,
  VYTAL_TRUSTED_PROXIES: '127.0.0.1',
  WEBRTC_STUN_SERVERS: `stun:${A.app4}:3478`,
  WEBRTC_TURN_SERVERS: [`turn:${A.app4}:3478?transport=udp`, `turn:${A.app4}:3478?transport=tcp`, `turns:${TURN_NAME}:443?transport=tcp`].join(', '),
};
const OPEN = ['meta l4proto { tcp, udp, icmp }'];
const NO_UDP = ['meta l4proto { tcp, icmp }'];

const bed = {};

async function startAdmin(app) {
  const proc = app.ns.spawn(ADMIN, app.configArgs);
  let err = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (c) => (err += c));
  for (let i = 0; i < 100 && !/listening on http/.test(err); i++) {
    if (proc.exitCode !== null) break;
    await sleep(100);
  }
  if (!/listening on http/.test(err)) throw new Error(`vytal-admin did not start:\n${err}`);
  proc.log = () => err;
  return proc;
}

before(async () => {
  if (!IS_ROOT) return;
  for (const [what, path] of [['vytal-turnserver', TURNSERVER], ['nginx', NGINX], ['chromium', '/usr/bin/chromium'],
    ['nft', '/usr/sbin/nft'], ['certutil', '/usr/bin/certutil'], ['vytal-admin', ADMIN]]) {
    assert.ok(existsSync(path), `${what} is missing: ${path}`);
  }
  removeStale();
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  bed.certs = makeCa(join(OUT, 'ca'));
  bed.internet = new Internet(OUT);
  const ns = bed.internet.addHost('app', [`${A.app4}/24`, `${A.app6}/64`]);
  bed.app = new Appliance(ns, join(OUT, 'appliance'), bed.certs, SITE);
  await bed.app.start();
  bed.admin = await startAdmin(bed.app);
  execFileSync(VYTALCTL, [...bed.app.configArgs, 'admin', 'add', 'netadmin', '--role', 'admin', '--password-stdin'],
    { input: `${PASSWORD}\n`, stdio: ['pipe', 'pipe', 'pipe'] });
  const zone = { A: [A.app4], AAAA: [] };
  bed.internet.setZone({ [APP]: zone, [TURN_NAME]: zone });
  bed.clinic = new Clinic(bed.internet, { v4: true });
  bed.clinic.configure({ allow: OPEN });
  await bed.clinic.start();
  bed.browser = await launch({ ns: bed.clinic.patient, dir: join(OUT, 'browser'), caFile: bed.certs.ca.crt,
    resolve: { [APP]: A.app4, [TURN_NAME]: A.app4 } });
}, { timeout: 120000 });

after(async () => {
  if (!IS_ROOT) return;
  await bed.browser?.close().catch(() => {});
  // vytal-admin, started by this file: ended here, or its pipes keep node
  // (and the CTest run) waiting after the test has passed.
  if (bed.admin && bed.admin.exitCode === null) {
    const exited = new Promise((res) => bed.admin.once('exit', res));
    bed.admin.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    if (bed.admin.exitCode === null) bed.admin.kill('SIGKILL');
  }
  await bed.app?.stop().catch(() => {});
  await bed.clinic?.destroy().catch(() => {});
  destroyAll();
});

const diagnostics = () => `${bed.app.diagnostics()}\n--- vytal-admin ---\n${bed.admin?.log().split('\n').slice(-20).join('\n')}`;

// Rows of the result table: { kind: 'udp'|'tcp'|'tls'|'tls443', reached, mapped }.
function rows(page, scope) {
  return page.$$eval(`${scope} tr[data-transport]`, (trs) => trs.map((tr) => ({
    kind: tr.dataset.kind, reached: tr.dataset.reached === 'yes', text: tr.textContent,
    mapped: tr.children[3].textContent,
  })));
}

function verdictText(page, scope) {
  return page.$eval(`${scope} ul.verdicts`, (ul) => ul.textContent);
}

async function shot(page, name, viewport) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.setViewportSize(viewport);
  await sleep(200);
  await page.screenshot({ path: join(SHOTS, name), fullPage: true });
}

const skip = !IS_ROOT ? 'needs root (network namespaces)' : false;

test('the connectivity test: every transport from an open clinic, UDP blocked behind a clinic that drops it, patient links', { skip, timeout: 400000 }, async () => {
  const base = `https://${APP}`;
  const adminCtx = await bed.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const admin = await adminCtx.newPage();
  admin.on('dialog', (d) => d.accept());
  await admin.goto(`${base}/admin/`);
  await admin.fill('#login-form input[name=name]', 'netadmin');
  await admin.fill('#login-form input[name=password]', PASSWORD);
  await admin.click('#login-form button[type=submit]');
  await admin.waitForSelector('#nav:not([hidden])');

  // A link that lives one minute, made now through the page's own API call, checked at the end.
  const shortLink = await admin.evaluate(async () => {
    const { csrf } = await (await fetch('api/session')).json();
    const res = await fetch('api/conntest/links', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify({ label: 'one-minute link', minutes: 1 }) });
    return res.json();
  });
  assert.match(shortLink.path, /^\/network-test\/#v1\.[0-9a-f]{16}\.\d+\./);

  // 1. From the open clinic: everything reached.
  await admin.goto(`${base}/admin/#/connectivity`);
  await admin.waitForSelector('#page[data-ready=true] #conntest-run');
  await admin.click('#conntest-run');
  await admin.waitForSelector('#conntest-result[data-done]', { timeout: 90000 });
  const done = await admin.$eval('#conntest-result', (e) => e.dataset.done);
  assert.equal(done, 'true', `the test did not complete: ${await admin.$eval('#conntest-result', (e) => e.textContent)}`);
  const open = await rows(admin, '#conntest-result');
  const why = () => `\n${JSON.stringify(open, null, 1)}${diagnostics()}`;
  assert.deepEqual(open.map((r) => r.kind).sort(), ['tcp', 'tls', 'tls443', 'udp'], `the four transports were tried${why()}`);
  assert.ok(open.every((r) => r.reached), `every transport reached from the open clinic${why()}`);
  // The TURN server saw the clinic's public address (its NAT) over UDP.
  const udpOpen = open.find((x) => x.kind === 'udp');
  assert.ok(udpOpen.mapped.startsWith(`${A.clinicWan4}:`), `TURN saw ${udpOpen.mapped} over UDP${why()}`);
  const loopOpen = await admin.$eval('#conntest-result [data-figure=loopback]', (e) => e.textContent);
  assert.match(loopOpen, /^Relayed loopback call over UDP: round trip \d+ ms, loss \d+(\.\d+)? %, throughput [\d.]+ (k|M)bit\/s/, loopOpen);
  assert.match(await verdictText(admin, '#conntest-result'), /Every TURN transport was reached from this network/);
  assert.match(await verdictText(admin, '#conntest-result'), /A clinic that allows only HTTPS \(TCP 443\): will connect through TURN over TLS on port 443/);
  await shot(admin, 'connectivity.png', { width: 1280, height: 800 });
  await admin.setViewportSize({ width: 1280, height: 800 });

  // 2. A patient test link; the clinic starts dropping UDP.
  await admin.fill('#conntest-link-form input[name=label]', 'Clinic Nord, room 2');
  await admin.click('#conntest-link-form button[type=submit]');
  await admin.waitForSelector('#conntest-link-url');
  const linkUrl = await admin.$eval('#conntest-link-url', (e) => e.textContent);
  assert.match(linkUrl, new RegExp(`^${base}/network-test/#v1\\.`));
  bed.clinic.configure({ allow: NO_UDP });

  const patientCtx = await bed.browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const patient = await patientCtx.newPage();
  await patient.goto(linkUrl);
  await patient.waitForSelector('body[data-state=ready]');
  await patient.click('#start');
  await patient.waitForSelector('body[data-state=done], body[data-state=error]', { timeout: 90000 });
  const state = await patient.$eval('body', (b) => b.dataset.state);
  assert.equal(state, 'done', `the link's test failed: ${await patient.$eval('#problem', (e) => e.textContent)}`);
  const blocked = await rows(patient, '#result');
  const why2 = () => `\n${JSON.stringify(blocked, null, 1)}${diagnostics()}`;
  const byKind = Object.fromEntries(blocked.map((r) => [r.kind, r]));
  assert.equal(byKind.udp.reached, false, `UDP reported unreachable${why2()}`);
  for (const k of ['tcp', 'tls443', 'tls']) assert.equal(byKind[k].reached, true, `${k} reached without UDP${why2()}`);
  // Without UDP the page shows the address the appliance saw: the clinic's public one.
  assert.match(await patient.$eval('#result [data-figure=client-address]', (e) => e.textContent), new RegExp(`come from ${A.clinicWan4.replace(/\./g, '\\.')} `));
  const v = await verdictText(patient, '#result');
  assert.match(v, /This network: UDP is blocked from this network: TURN over UDP was not reached/, v);
  assert.match(v, /A clinic that blocks UDP but allows TCP: will connect through TURN over TCP on port 3478/, v);
  assert.match(v, /A clinic that allows only HTTPS \(TCP 443\): will connect through TURN over TLS on port 443/, v);
  const loopNoUdp = await patient.$eval('#result [data-figure=loopback]', (e) => e.textContent);
  assert.match(loopNoUdp, /^Relayed loopback call over (TCP|TLS): round trip/, loopNoUdp);
  await shot(patient, 'network-test-phone.png', { width: 390, height: 844 });

  // The link gives nothing else: the admin API refuses its holder.
  const token = linkUrl.split('#')[1];
  const probeAdmin = await patient.evaluate(async (t) => (await fetch('/admin/api/conntest', { headers: { Authorization: `Bearer ${t}` } })).status, token);
  assert.equal(probeAdmin, 401);

  // The result, with where TURN saw the clinic, on the admin page.
  await admin.goto(`${base}/admin/#/overview`);
  await admin.goto(`${base}/admin/#/connectivity`);
  await admin.waitForSelector('#page[data-ready=true] #conntest-runs details[data-source=link]');
  const linkRun = await admin.$eval('#conntest-runs details[data-source=link]', (d) => d.querySelector('summary').textContent);
  assert.match(linkRun, /clinic link "Clinic Nord, room 2"/);
  assert.ok(linkRun.includes(`from ${A.clinicWan4}`), `the address vytal-admin saw (nginx's X-Real-IP): ${linkRun}`);
  await admin.click('#conntest-runs details[data-source=link] summary');
  const adminRows = await rows(admin, '#conntest-runs details[data-source=link]');
  assert.equal(adminRows.find((r) => r.kind === 'udp').reached, false);
  assert.ok(adminRows.find((r) => r.kind === 'tcp').reached);
  const latest = await admin.evaluate(async () => (await fetch('api/conntest/latest')).json());
  assert.deepEqual(latest.ports.map((p) => `${p.transport} ${p.port} ${p.reached}`),
    ['udp 3478 false', 'tcp 3478 true', 'tls 443 true', 'tls 5349 true']);
  // The TURN page says which ports that last test reached.
  await admin.goto(`${base}/admin/#/turn`);
  await admin.waitForSelector('#page[data-ready=true] #last-conntest li');
  const onTurnPage = await admin.$$eval('#last-conntest li', (lis) => lis.map((li) => `${li.dataset.transport} ${li.dataset.port} ${li.dataset.reached}`));
  assert.deepEqual(onTurnPage, latest.ports.map((p) => `${p.transport} ${p.port} ${p.reached}`));
  assert.match(await admin.$eval('#last-conntest p', (e) => e.textContent), new RegExp(`a clinic's test link at ${A.clinicWan4.replaceAll('.', '\\.')}`));
  await admin.goto(`${base}/admin/#/connectivity`);
  await admin.waitForSelector('#page[data-ready=true] #conntest-runs details[data-source=link]');
  await admin.click('#conntest-runs details[data-source=link] summary');
  await shot(admin, 'connectivity-link-result.png', { width: 1280, height: 800 });
  await shot(admin, 'connectivity-phone.png', { width: 390, height: 844 });
  await admin.setViewportSize({ width: 1280, height: 800 });

  // 3. Revoked: the same link no longer runs.
  await admin.click('#conntest-link-list tr[data-state=active] button[data-revoke]');
  await admin.waitForSelector('#conntest-link-list tr[data-state=revoked]');
  await patient.reload();
  await patient.waitForSelector('body[data-state=ready]');
  await patient.click('#start');
  await patient.waitForSelector('body[data-state=error]');
  assert.equal(await patient.$eval('#problem', (e) => e.dataset.code), 'link_revoked');

  // Expired: the one-minute link.
  const wait = Number(shortLink.expiresAt) - Date.now() + 1500;
  if (wait > 0) await sleep(wait);
  await patient.goto(`${base}${shortLink.path}`);
  await patient.waitForSelector('body[data-state=ready]');
  await patient.click('#start');
  await patient.waitForSelector('body[data-state=error]');
  assert.equal(await patient.$eval('#problem', (e) => e.dataset.code), 'link_expired');

  // Audited in the call log through signald's local channel.
  let actions = '';
  for (let i = 0; i < 50 && !/conntest\.link\.revoke/.test(actions); i++) {
    actions = bed.app.sql("SELECT action || ' ' || outcome || ' ' || actor_id FROM audit_log WHERE action LIKE 'conntest.%' ORDER BY occurred_at");
    await sleep(100);
  }
  for (const a of [/conntest\.link\.create ok netadmin/, /conntest\.run ok netadmin/, /conntest\.link\.run ok link:/,
    /conntest\.link\.result ok link:/, /conntest\.link\.revoke ok netadmin/, /conntest\.link\.run denied link:/]) {
    assert.match(actions, a, actions);
  }
  await patientCtx.close();
  await adminCtx.close();
});
