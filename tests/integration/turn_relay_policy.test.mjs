// The shipped relay policy, seen from a TURN client: with the configuration
// `vytalctl turn-config` generates, CreatePermission towards loopback,
// link-local (cloud metadata), multicast, unspecified, private and shared
// addresses, in IPv4, IPv6 and IPv4-mapped IPv6, is refused with 403, while
// the appliance's own relay address is allowed. CreatePermission sends
// nothing to the peer; no packet is ever sent to any of these addresses.
//
// The TURN server and the client run in a network namespace the test makes,
// where the relay addresses are documentation addresses (198.51.100.7,
// 2001:db8::7) on a veth pair inside it: in the real appliance the relay address
// is not loopback, so loopback must be refused.
//
// Second part: Debian's stock coturn 4.6.1 with only the IPv4 ranges denied
// lets ::ffff:127.0.0.1 through; vytal-turnserver (patch 0002) refuses it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BUILD_DIR, VYTALCTL } from './lib/signald.mjs';

const TURN_BIN = process.env.VYTAL_TURN_BIN_DIR ?? join(BUILD_DIR, 'turn/bin');
const PLUGIN = join(BUILD_DIR, 'turn_plugin/libvytal_turn.so');
const NS = `vytal-turn-${process.pid}`;
const RELAY4 = '198.51.100.7';
const RELAY6 = '2001:db8::7';
const DENIED = ['127.0.0.1', '0.0.0.0', '169.254.169.254', '10.1.2.3', '172.16.0.1', '192.168.1.1', '100.64.0.1',
  '224.0.0.1', '::1', '::', '::ffff:127.0.0.1', '::ffff:169.254.169.254', '::ffff:10.1.2.3', 'fe80::1', 'fd00::1'];

const dir = mkdtempSync(join(tmpdir(), 'vytal-turn-policy-'));
const ns = (...cmd) => execFileSync('ip', ['netns', 'exec', NS, ...cmd], { encoding: 'utf8' });

before(() => {
  execFileSync('ip', ['netns', 'add', NS]);
  ns('ip', 'link', 'set', 'lo', 'up');
  // A veth pair kept inside the namespace carries the relay addresses.
  ns('ip', 'link', 'add', 'relay0', 'type', 'veth', 'peer', 'name', 'relay1');
  ns('ip', 'addr', 'add', `${RELAY4}/24`, 'dev', 'relay0');
  ns('ip', '-6', 'addr', 'add', `${RELAY6}/64`, 'dev', 'relay0', 'nodad');
  ns('ip', 'link', 'set', 'relay1', 'up');
  ns('ip', 'link', 'set', 'relay0', 'up');
});
after(() => {
  try { execFileSync('ip', ['netns', 'del', NS]); } catch {}
  rmSync(dir, { recursive: true, force: true });
});

// Runs a TURN server in the namespace, then the permission checks from inside it.
async function checkPermissions(server, configText, secret, peers) {
  const conf = join(dir, `${server.replace(/\W/g, '_')}.conf`);
  writeFileSync(conf, configText);
  const proc = spawn('ip', ['netns', 'exec', NS, server, '-v', '-c', conf, '--pidfile', join(dir, 'pid'), '--db', join(dir, 'db')],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => (log += d));
  proc.stderr.on('data', (d) => (log += d));
  try {
    for (let i = 0; i < 100 && !/UDP listener opened on: 127\.0\.0\.1:3478/.test(log); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(log, /UDP listener opened on: 127\.0\.0\.1:3478/, log);
    const out = ns(process.execPath, new URL('./lib/turn_permissions.mjs', import.meta.url).pathname, secret, ...peers);
    return JSON.parse(out);
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }
}

test('the generated configuration refuses every internal peer and allows the appliance relay', { timeout: 60000 }, async () => {
  const keyring = join(dir, 'keyring');
  const env = { ...process.env, VYTAL_TURN_KEYRING_FILE: keyring, VYTAL_TURN_LISTEN_IPS: '127.0.0.1',
    VYTAL_TURN_RELAY_IPS: `${RELAY4},${RELAY6}`, VYTAL_TURN_PLUGIN_PATH: PLUGIN, VYTAL_TURN_MIN_PORT: '40000', VYTAL_TURN_MAX_PORT: '40100' };
  execFileSync(VYTALCTL, ['rotate-turn-secret'], { env });
  const secret = execFileSync('sed', ['-n', 's/^current //p', keyring], { encoding: 'utf8' }).trim();
  const config = execFileSync(VYTALCTL, ['turn-config'], { env, encoding: 'utf8' });
  const results = await checkPermissions(join(TURN_BIN, 'vytal-turnserver'), config, secret, [...DENIED, RELAY4, RELAY6]);
  for (const ip of DENIED) assert.equal(results[ip], 403, `CreatePermission to ${ip}: ${results[ip]}`);
  assert.equal(results[RELAY4], 'ok', 'the appliance relay address (IPv4) is allowed');
  assert.equal(results[RELAY6], 'ok', 'the appliance relay address (IPv6) is allowed');
});

test('::ffff:127.0.0.1 with only the IPv4 ranges denied: stock coturn lets it through, vytal-turnserver refuses it', { timeout: 60000 }, async () => {
  const ipv4Only = [
    'listening-ip=127.0.0.1', 'listening-port=3478', `relay-ip=${RELAY4}`, `relay-ip=${RELAY6}`, 'min-port=40000',
    'max-port=40100', 'realm=vytal.test', 'use-auth-secret', 'static-auth-secret=policy-test', 'no-cli', 'no-tls',
    'no-dtls', 'log-file=stdout', 'simple-log', 'allow-loopback-peers',
    'denied-peer-ip=127.0.0.0-127.255.255.255', 'denied-peer-ip=169.254.0.0-169.254.255.255',
  ].join('\n') + '\n';
  const peers = ['::ffff:127.0.0.1', '::ffff:169.254.169.254', '127.0.0.1'];
  const stock = await checkPermissions('turnserver', ipv4Only, 'policy-test', peers);
  assert.equal(stock['127.0.0.1'], 403);
  assert.equal(stock['::ffff:127.0.0.1'], 'ok', "Debian's coturn 4.6.1 relays to ::ffff:127.0.0.1 (the hole)");
  const ours = await checkPermissions(join(TURN_BIN, 'vytal-turnserver'), ipv4Only, 'policy-test', peers);
  assert.equal(ours['::ffff:127.0.0.1'], 403);
  assert.equal(ours['::ffff:169.254.169.254'], 403);
  assert.equal(ours['127.0.0.1'], 403);
});

test('a plugin that is missing, has no entry point or fails its init stops vytal-turnserver at start-up', { timeout: 60000 }, () => {
  const server = join(TURN_BIN, 'vytal-turnserver');
  const base = ['-n', '--listening-ip', '127.0.0.1', '--listening-port', '0', '--use-auth-secret', '--realm', 'r',
    '--no-cli', '--no-tls', '--no-dtls', '--log-file=stdout', '--simple-log', '--db', join(dir, 'db2'), '--pidfile', join(dir, 'pid2')];
  const cases = [
    ['a missing file', [`--plugin=${join(dir, 'nonexistent.so')}`], /cannot load the library/],
    ['a library without the entry point (zlib)', ['--plugin=/lib/x86_64-linux-gnu/libz.so.1'], /no symbol vytal_turn_plugin_entry/],
    ['an init that fails (the sample plugin with no secret)', [`--plugin=${join(BUILD_DIR, 'turn_plugin/libvytal_turn_sample.so')}`, '--plugin-config='], /init failed/],
    ['our plugin with an unreadable key ring', [`--plugin=${PLUGIN}`, `--plugin-config=keyring=${join(dir, 'no-keyring')}`], /init failed: key ring/],
  ];
  for (const [name, args, why] of cases) {
    let out = '';
    let code = 0;
    try {
      out = execFileSync(server, [...base, ...args], { encoding: 'utf8', timeout: 10000, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      code = e.status;
      out = `${e.stdout}${e.stderr}`;
    }
    assert.notEqual(code, 0, `${name}: the server must not run\n${out}`);
    assert.match(out, /CONFIG ERROR: plugin=.*not starting/, `${name}\n${out}`);
    assert.match(out, why, name);
    assert.doesNotMatch(out, /listener opened/, `${name}: no listener may open`);
  }
});
