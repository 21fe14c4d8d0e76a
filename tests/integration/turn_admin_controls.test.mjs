// The admin page's TURN controls and settings against the real
// vytal-turnserver (issue 13, must-shows 2, 3 and 4), the real signald
// (audit rows through its local channel), the real vytal-admin started with
// --config files as its unit starts it, Chromium driving the pages, and the
// real `vytalctl apply-requests` run as vytal-apply.service runs it when a
// request appears (systemd is not in this test: the test starts it; its
// systemctl is a recorder, and the test restarts the daemons itself).
//
// As turn_peer_policy.test.mjs, the TURN server and its clients run in a
// network namespace whose relay addresses are documentation addresses
// (198.51.100.7, 2001:db8::7); CreatePermission and ChannelBind send nothing
// to the peers they name.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import { BUILD_DIR, VYTALCTL, JWT_SECRET, startSignald, sql, tempDir } from './lib/signald.mjs';
import { startAdmin, addAccount, adminGet, adminPost, login } from './lib/admin.mjs';
import { onExit, stopChild, track } from './lib/children.mjs';

const TURN_BIN = process.env.VYTAL_TURN_BIN_DIR ?? join(BUILD_DIR, 'turn/bin');
const PLUGIN = join(BUILD_DIR, 'turn_plugin/libvytal_turn.so');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
const SHOTS = process.env.VYTAL_ADMIN_SCREENSHOTS ?? join(BUILD_DIR, 'admin-screenshots');
const NS = `vytal-adm-turn-${process.pid}`;
const RELAY4 = '198.51.100.7';
const RELAY6 = '2001:db8::7';
const PEER_PROBE = new URL('./lib/turn_peer_probe.mjs', import.meta.url).pathname;
const ROTATION_PROBE = new URL('./lib/turn_rotation_probe.mjs', import.meta.url).pathname;
const PASSWORD = 'turn admin passphrase 1';

const dir = tempDir('vytal-admin-turn-');
onExit(() => rmSync(dir, { recursive: true, force: true }));
const files = {
  appliance: join(dir, 'appliance.conf'),
  site: join(dir, 'site.conf'),
  settings: join(dir, 'admin-settings.conf'),
};
const CONFIG_ARGS = ['--config', files.appliance, '--config', files.site, '--config', files.settings];
const SPOOL = join(dir, 'apply');
const RESTARTS = join(dir, 'restarts.log');
const ns = (...cmd) => execFileSync('ip', ['netns', 'exec', NS, ...cmd], { encoding: 'utf8' });
let sd, admin, browser, turnProc, session;

// vytalctl with the units' configuration files and no environment of the test's.
const ctl = (...args) => execFileSync(VYTALCTL, [...CONFIG_ARGS, ...args], { env: { PATH: process.env.PATH }, encoding: 'utf8' });

async function startTurn() {
  const conf = join(dir, 'vytal-turnserver.conf');
  writeFileSync(conf, ctl('turn-config'));
  turnProc = track(spawn('ip', ['netns', 'exec', NS, join(TURN_BIN, 'vytal-turnserver'), '-v', '-c', conf, '--pidfile',
    join(dir, 'turn.pid')], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let log = '';
  turnProc.stdout.on('data', (d) => (log += d));
  turnProc.stderr.on('data', (d) => (log += d));
  for (let i = 0; i < 160 && !/UDP listener opened on: 127\.0\.0\.1:3478/.test(log); i++) await sleep(50);
  assert.match(log, /UDP listener opened on: 127\.0\.0\.1:3478/, log);
  return readFileSync(conf, 'utf8');
}

const startAdminWithUnitArgs = () => startAdmin(sd, { JWT_SECRET, LOG_LEVEL: undefined, VYTAL_TURN_PORT: undefined }, CONFIG_ARGS);
const secrets = () => Object.fromEntries(readFileSync(join(dir, 'keyring'), 'utf8').split('\n')
  .filter((l) => /^(current|previous) /.test(l)).map((l) => l.split(' ')).map(([k, s, until]) => [k, { secret: s, until: Number(until) }]));

// What vytal-apply.path does when a request appears: wait for it, run
// vytalctl apply-requests (as vytal-apply.service would), return its output.
async function applyPending() {
  const requests = join(SPOOL, 'requests');
  for (let i = 0; i < 100 && !(existsSync(requests) && readdirSync(requests).length); i++) await sleep(50);
  assert.ok(readdirSync(requests).length, 'the page left a request in the spool');
  try {
    return ctl('apply-requests', '--systemctl', join(dir, 'systemctl'));
  } catch (e) {
    return e.stdout; // exit status 1: a request was refused or failed (the result says which)
  }
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  writeFileSync(files.appliance, [
    '# as the package\'s appliance.conf, for this test',
    `VYTAL_TURN_KEYRING_FILE = ${join(dir, 'keyring')}`,
    `VYTAL_TURN_REVOKED_FILE = ${join(dir, 'revoked')}`,
    'VYTAL_TURN_LISTEN_IPS = 127.0.0.1',
    `VYTAL_TURN_PLUGIN_PATH = ${PLUGIN}`,
    'VYTAL_TURN_MIN_PORT = 40000',
    'VYTAL_TURN_MAX_PORT = 40100',
    `VYTAL_TURN_STATE_DIR = ${dir}`,
    `VYTAL_SETTINGS_FILE = ${files.settings}`,
    `VYTAL_APPLY_SPOOL_DIR = ${SPOOL}`,
  ].join('\n') + '\n');
  writeFileSync(files.site, [
    `VYTAL_TURN_RELAY_IPS = ${RELAY4},${RELAY6}`,
    `WEBRTC_TURN_SERVERS = turn:${RELAY4}:3478?transport=udp,turn:${RELAY4}:3478?transport=tcp`,
    'VYTAL_TURN_ALLOWED_PEER_RANGES = 10.20.0.0-10.20.255.255',
  ].join('\n') + '\n');
  writeFileSync(files.settings, '# made empty at install\n');
  // The restarts vytalctl asks systemd for, recorded.
  writeFileSync(join(dir, 'systemctl'), `#!/bin/sh\necho "$*" >> ${RESTARTS}\n`);
  chmodSync(join(dir, 'systemctl'), 0o755);
  ctl('rotate-turn-secret', '--overlap', '0');
  writeFileSync(join(dir, 'revoked'), `patient-7@0190f0f0-0000-7000-8000-00000000abcd ${Math.floor(Date.now() / 1000) + 600}\n`);

  execFileSync('ip', ['netns', 'add', NS]);
  ns('ip', 'link', 'set', 'lo', 'up');
  ns('ip', 'link', 'add', 'relay0', 'type', 'veth', 'peer', 'name', 'relay1');
  ns('ip', 'addr', 'add', `${RELAY4}/24`, 'dev', 'relay0');
  ns('ip', '-6', 'addr', 'add', `${RELAY6}/64`, 'dev', 'relay0', 'nodad');
  ns('ip', 'link', 'set', 'relay1', 'up');
  ns('ip', 'link', 'set', 'relay0', 'up');
  await startTurn();

  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  sd = await startSignald({ VYTAL_SIGNALD_CONTROL_SOCKET: join(dataDir, 'signald.sock') }, { dataDir });
  onExit(() => sd.cleanup());
  addAccount(sd, 'ada', 'admin', PASSWORD);
  admin = await startAdminWithUnitArgs();
  session = await login(admin, 'ada', PASSWORD);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
});

after(async () => {
  await browser?.close().catch(() => {});
  await admin?.stop();
  await sd?.stop();
  if (turnProc) await stopChild(turnProc);
  try { execFileSync('ip', ['netns', 'del', NS]); } catch {}
});

async function pageAs(viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(`${admin.url}/`);
  await page.fill('#login-form input[name=name]', 'ada');
  await page.fill('#login-form input[name=password]', PASSWORD);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#page[data-ready=true]');
  return page;
}

async function goto(page, hash) {
  await page.evaluate((h) => {
    document.getElementById('page').dataset.ready = '';
    if (location.hash === h) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = h;
  }, hash);
  await page.waitForSelector('#page[data-ready=true]');
}

const shot = (page, name) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
const audits = (action) => sql(sd.dataDir, `SELECT outcome || ' | ' || actor_id || ' | ' || detail FROM audit_log WHERE action = '${action}' ORDER BY occurred_at`)
  .split('\n').filter(Boolean);

async function until(what, fn, ms = 10000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// Peers the checker and the running server must agree on: internal, public,
// admin-allowed, the relay addresses, and IPv6 forms embedding IPv4.
const PEERS = [
  '10.0.0.5', '10.20.1.1', '127.0.0.1', '169.254.169.254', '192.168.1.10', '172.16.5.4', '100.64.0.1', '192.0.0.8',
  '203.0.113.9', RELAY4, '198.51.100.8', '224.0.0.1', '240.0.0.1',
  '::ffff:127.0.0.1', '::ffff:10.0.0.5', '::ffff:10.20.1.1', '::ffff:203.0.113.9', `::ffff:${RELAY4}`,
  RELAY6, '2001:db8::99', '::1', 'fe80::1', 'fc00::1', 'fec0::1', 'ff02::1', '64:ff9b::a00:5', '64:ff9b::cb00:7109',
  '2002:cb00:7109::1', '2002:a00:5::1', '::10.0.0.5', '::ffff:0:10.0.0.5',
];
// Ports: the relay addresses are peers on the relay ports (40000-40100) only.
const TARGETS = [
  { peer: RELAY4, port: 22 }, { peer: RELAY4, port: 40050 }, { peer: RELAY4, port: 40101 }, { peer: RELAY6, port: 3478 },
  { peer: RELAY6, port: 40000 }, { peer: '203.0.113.9', port: 22 }, { peer: '198.51.100.8', port: 22 }, { peer: '10.20.1.1', port: 5000 },
];

test('the relay-policy checker agrees with the running vytal-turnserver on every address and port, naming the deciding rule', { timeout: 60000 }, async () => {
  const check = async (peer, port) => {
    const r = await adminGet(admin, `turn/check?${new URLSearchParams(port ? { peer, port: String(port) } : { peer })}`, { cookie: session.cookie });
    assert.equal(r.status, 200, r.text);
    return r.body;
  };
  const server = JSON.parse(ns(process.execPath, PEER_PROBE, JSON.stringify({ do: 'permissions', secret: secrets().current.secret, peers: PEERS })));
  const verdicts = {};
  for (const peer of PEERS) {
    verdicts[peer] = await check(peer);
    assert.ok(server[peer] === 'ok' || server[peer] === 403, `${peer}: ${server[peer]}`);
    assert.equal(verdicts[peer].relayed, server[peer] === 'ok',
      `${peer}: the checker says ${verdicts[peer].relayed ? 'relayed' : 'refused'} (${verdicts[peer].rule}), CreatePermission answers ${server[peer]}`);
  }
  // Both answers vary: the comparison can fail either way.
  assert.ok(PEERS.filter((p) => server[p] === 'ok').length >= 6 && PEERS.filter((p) => server[p] === 403).length >= 15);
  // The deciding rules, as the page shows them.
  assert.equal(verdicts['10.0.0.5'].rule, 'denied-peer-ip=10.0.0.0-10.255.255.255');
  assert.equal(verdicts['10.20.1.1'].rule, 'allowed-peer-ip=10.20.0.0-10.20.255.255');
  assert.equal(verdicts[RELAY4].rule, `allowed-peer-ip=${RELAY4}`);
  assert.equal(verdicts[`::ffff:${RELAY4}`].rule, 'denied-peer-ip=::ffff:0.0.0.0-::ffff:255.255.255.255');
  assert.match(verdicts['::ffff:127.0.0.1'].reason, /embeds the IPv4 address 127\.0\.0\.1/);
  assert.equal(verdicts['203.0.113.9'].rule, 'no rule matches');

  const channels = JSON.parse(ns(process.execPath, PEER_PROBE, JSON.stringify({ do: 'channels', secret: secrets().current.secret, targets: TARGETS })));
  for (const t of TARGETS) {
    const v = await check(t.peer, t.port);
    const answer = channels[`${t.peer} ${t.port}`];
    assert.equal(v.relayed, answer === 'ok', `${t.peer} port ${t.port}: checker ${v.rule}, ChannelBind ${answer}`);
  }
  assert.equal((await check(RELAY4, 22)).rule, 'relay-peers-on-relay-ports');
  assert.equal((await adminGet(admin, 'turn/check?peer=not-an-address', { cookie: session.cookie })).status, 400);
});

test('rotating the TURN secret from the page under a relayed call: the call keeps flowing; the old secret is refused after the overlap', { timeout: 90000 }, async () => {
  const before = secrets().current.secret;
  const probe = track(spawn('ip', ['netns', 'exec', NS, process.execPath, ROTATION_PROBE, before], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const lines = createInterface({ input: probe.stdout })[Symbol.asyncIterator]();
  const ask = async (cmd) => {
    probe.stdin.write(`${cmd}\n`);
    return JSON.parse((await lines.next()).value);
  };
  assert.equal((await lines.next()).value, 'ready');
  await sleep(1000);
  const s1 = await ask('stats');
  assert.ok(s1.received > 20, `media flows before the rotation: ${JSON.stringify(s1)}`);

  const page = await pageAs();
  await goto(page, '#/turn');
  assert.match(await page.locator('[data-figure=previous]').innerText(), /none|no longer accepted/);
  assert.equal(await page.locator('[data-figure=revocations]').innerText(), '1');
  await shot(page, 'turn');
  await page.fill('#rotate-form input[name=overlap]', '5');
  await page.click('#rotate');
  await page.click('#rotate-yes');
  const out = await applyPending();
  const rotatedAt = Date.now();
  assert.match(out, /rotate: done: rotated the TURN secret/);
  await page.waitForSelector('[data-result=done]');
  const ring = secrets();
  assert.equal(ring.previous.secret, before);
  assert.notEqual(ring.current.secret, before);
  assert.ok(Math.abs(ring.previous.until - (rotatedAt / 1000 + 5)) < 3, JSON.stringify(ring.previous));
  await goto(page, '#/turn');
  assert.match(await page.locator('[data-figure=previous]').innerText(), /accepted until/);
  // The previous secret's age: it became current when the test started.
  assert.match(await page.locator('[data-figure=previous-age]').innerText(), /^\d+ s \(current from /);
  assert.match(readFileSync(join(dir, 'keyring'), 'utf8'), /^current-since \d+$/m);
  await shot(page, 'turn-rotated');

  // Within the overlap (the plugin re-reads the key ring within a second): both secrets work.
  await sleep(1200);
  assert.equal((await ask(`allocate ${before}`)).allocate, 'ok', 'the previous secret still works during the overlap');
  assert.equal((await ask(`allocate ${ring.current.secret}`)).allocate, 'ok');
  const s2 = await ask('stats');
  assert.ok(s2.received > s1.received + 20, `media keeps flowing through the rotation: ${JSON.stringify(s2)}`);

  // After the overlap: a credential signed with the previous secret is refused; the call still flows.
  await sleep(Math.max(0, rotatedAt + 5000 + 1500 - Date.now()));
  assert.equal((await ask(`allocate ${before}`)).allocate, 401, 'the previous secret is refused after the overlap');
  assert.equal((await ask(`allocate ${ring.current.secret}`)).allocate, 'ok');
  const s3 = await ask('stats');
  await sleep(1000);
  const s4 = await ask('stop');
  assert.ok(s4.received > s3.received + 20, `the call keeps flowing after the overlap: ${JSON.stringify([s3, s4])}`);
  assert.ok(s4.received >= s4.sent - 10, `nothing lost on the way: ${JSON.stringify(s4)}`);

  const [asked] = await until('the request\'s audit row', () => audits('turn.rotate.requested').length && audits('turn.rotate.requested'));
  assert.match(asked, /^ok \| ada \| rotate the TURN secret now; the previous one accepted for 5 s/);
  const [done] = await until('the result\'s audit row', () => audits('turn.rotate').length && audits('turn.rotate'));
  assert.match(done, /^ok \| ada \| rotated the TURN secret; the previous one is accepted until/);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('settings: a bad value is refused naming the setting; a good one is shown as a diff, applied, survives restarts, and is audited', { timeout: 90000 }, async () => {
  const page = await pageAs();
  await goto(page, '#/settings');
  assert.equal(await page.inputValue('input[name=VYTAL_TURN_USER_QUOTA]'), '12');
  await shot(page, 'settings');

  // Bad values, refused by the start-up code of the service that reads them.
  await page.fill('input[name=VYTAL_TURN_USER_QUOTA]', 'lots');
  await page.click('#settings-review');
  const refused = page.locator('[data-refused]');
  await refused.waitFor();
  assert.equal(await refused.getAttribute('data-refused'), 'VYTAL_TURN_USER_QUOTA');
  assert.match(await refused.innerText(), /VYTAL_TURN_USER_QUOTA: expected an integer from 1 to 100000, got 'lots'/);
  assert.equal(await page.getAttribute('input[name=VYTAL_TURN_USER_QUOTA]', 'aria-invalid'), 'true');
  await shot(page, 'settings-refused');
  for (const [key, value, message] of [
    ['FRONTEND_URL', 'ftp://clinic.example', /FRONTEND_URL: 'ftp:\/\/clinic.example' is not an http\(s\) origin/],
    ['VYTAL_TURN_ALLOWED_PEER_RANGES', '10.9.0.0-10.8.0.0', /VYTAL_TURN_ALLOWED_PEER_RANGES: '10.9.0.0-10.8.0.0' is not/],
    ['VYTAL_TURN_RELAY_IPS', 'relay.example', /VYTAL_TURN_RELAY_IPS: 'relay.example' is not an IP address/],
    ['LOG_LEVEL', 'chatty', /LOG_LEVEL: expected debug, info, warn or error/],
  ]) {
    const r = await adminPost(admin, 'settings/apply', { changes: { [key]: value }, restart: true }, session);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.error.key, key);
    assert.match(r.body.error.message, message);
  }
  const notEditable = await adminPost(admin, 'settings/apply', { changes: { JWT_SECRET: 'x' } }, session);
  assert.equal(notEditable.status, 400);
  assert.equal(notEditable.body.error.code, 'not_editable');
  assert.equal(readFileSync(files.settings, 'utf8'), '# made empty at install\n', 'nothing refused reached the file');
  assert.ok(!existsSync(join(SPOOL, 'requests')) || readdirSync(join(SPOOL, 'requests')).length === 0, 'no request for a refused change');

  // A good change: the diff and the services to restart, then applied with a restart.
  await page.fill('input[name=VYTAL_TURN_USER_QUOTA]', '7');
  await page.fill('input[name=LOG_LEVEL]', 'debug');
  await page.click('#settings-review');
  await page.waitForSelector('#settings-apply');
  assert.match(await page.locator('tr[data-key=VYTAL_TURN_USER_QUOTA]').innerText(), /12\s+7/);
  assert.match(await page.locator('tr[data-key=LOG_LEVEL]').innerText(), /info\s+debug/);
  assert.equal(await page.locator('[data-figure=restarts]').innerText(),
    'vytal-turnserver.service, vytal-signald.service, vytal-syncd.service, vytal-admin.service');
  await shot(page, 'settings-diff');
  await page.check('#settings-restart');
  await page.click('#settings-apply');
  const out = await applyPending();
  assert.match(out, /settings: done: written to .*admin-settings.conf; restarted vytal-turnserver.service vytal-signald.service vytal-syncd.service vytal-admin.service/);
  await page.waitForSelector('[data-result=done]');
  await shot(page, 'settings-applied');
  assert.equal(readFileSync(RESTARTS, 'utf8'), 'restart -- vytal-turnserver.service vytal-signald.service vytal-syncd.service vytal-admin.service\n');
  const file = readFileSync(files.settings, 'utf8');
  assert.match(file, /^VYTAL_TURN_USER_QUOTA = 7$/m);
  assert.match(file, /^LOG_LEVEL = debug$/m);
  assert.match(file, /Last changed through the admin page by ada/);
  assert.deepEqual(page.errors, []);
  await page.context().close();

  // Restarted as systemd would: the TURN server's configuration is generated
  // again from the same files; vytal-admin reads them again.
  await stopChild(turnProc);
  const config = await startTurn();
  assert.match(config, /^user-quota=7$/m);
  await admin.stop();
  admin = await startAdminWithUnitArgs();
  session = await login(admin, 'ada', PASSWORD);
  const turn = await adminGet(admin, 'turn', { cookie: session.cookie });
  assert.equal(turn.body.quotas.userQuota, 7);
  const settings = await adminGet(admin, 'settings', { cookie: session.cookie });
  const quota = settings.body.settings.find((x) => x.key === 'VYTAL_TURN_USER_QUOTA');
  assert.deepEqual([quota.value, quota.fileValue], ['7', '7']);
  assert.equal(settings.body.settings.find((x) => x.key === 'LOG_LEVEL').value, 'debug');

  // Applying a change that is already in force changes nothing.
  const same = await adminPost(admin, 'settings/apply', { changes: { VYTAL_TURN_USER_QUOTA: '7' } }, session);
  assert.equal(same.status, 400);
  assert.equal(same.body.error.code, 'no_change');

  const rows = await until('the settings\' audit rows', () => { const r = audits('settings.apply'); return r.length >= 6 && r; });
  assert.match(rows.find((r) => r.includes('FRONTEND_URL')), /^denied \| ada \| FRONTEND_URL: 'ftp/);
  const [requested] = await until('the request\'s audit row', () => audits('settings.apply.requested').length && audits('settings.apply.requested'));
  assert.match(requested, /VYTAL_TURN_USER_QUOTA: '12' -> '7'/);
  assert.match(requested, /LOG_LEVEL: 'info' -> 'debug'/);
  assert.match(requested, /restart vytal-turnserver.service/);
  assert.match(rows.find((r) => r.startsWith('ok')), /^ok \| ada \| written to .*VYTAL_TURN_USER_QUOTA: '12' -> '7'/);
  // Each result is audited once, and marked so (a restarted vytal-admin does not audit it again).
  assert.equal(readdirSync(join(SPOOL, 'results')).filter((f) => f.endsWith('.audited.json')).length, 2);
  assert.equal(audits('settings.apply').filter((r) => r.startsWith('ok')).length, 1);

  // A result nobody asks for (the page was closed) is audited all the same,
  // with the requester as the actor.
  const unwatched = await adminPost(admin, 'settings/apply', { changes: { LOG_LEVEL: 'info' }, restart: false }, session);
  assert.equal(unwatched.status, 202, unwatched.text);
  assert.match(await applyPending(), /settings: done/);
  const back = await until('the unwatched result\'s audit row', () => audits('settings.apply').find((r) => r.includes(`request ${unwatched.body.id}`)));
  assert.match(back, /^ok \| ada \| written to .*LOG_LEVEL: 'debug' -> 'info'/);
  assert.equal(readdirSync(join(SPOOL, 'results')).filter((f) => f.endsWith('.audited.json')).length, 3);
});

// vytal-apply runs as root on a spool the service user writes: a request
// that is a link (to the key ring, say) is refused without being read, and
// the result says why without a byte of the file it points to.
test('a request that is a link to another file is refused without reading it', async () => {
  const id = 'feedc0de'.repeat(4);
  mkdirSync(join(SPOOL, 'requests'), { recursive: true });
  symlinkSync(join(dir, 'keyring'), join(SPOOL, 'requests', `${id}.json`));
  await applyPending();
  const result = JSON.parse(readFileSync(join(SPOOL, 'results', `${id}.json`), 'utf8'));
  assert.equal(result.state, 'refused');
  assert.match(result.message, /not a request: .*symbolic links/);
  for (const { secret } of Object.values(secrets())) assert.ok(!JSON.stringify(result).includes(secret.slice(0, 8)));
  rmSync(join(SPOOL, 'requests', `${id}.json`), { force: true });
});

test('phone-sized TURN and settings pages', { timeout: 60000 }, async () => {
  const page = await pageAs({ width: 390, height: 844 });
  await goto(page, '#/turn');
  await page.fill('#peer-check input[name=peer]', '::ffff:10.0.0.5');
  await page.fill('#peer-check input[name=port]', '5000');
  await page.click('#peer-check button[type=submit]');
  await page.waitForSelector('#peer-answer [data-relayed=false]');
  assert.match(await page.locator('#peer-answer').innerText(), /embeds the IPv4 address 10\.0\.0\.5/);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `no horizontal scrolling on a phone (${width} px)`);
  await shot(page, 'turn-phone');
  await goto(page, '#/settings');
  await shot(page, 'settings-phone');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
