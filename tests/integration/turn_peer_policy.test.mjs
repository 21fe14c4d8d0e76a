// The relay policy's remaining gaps, seen from a TURN client (issue 11):
// - IPv6 forms that reach an IPv4 host (IPv4-compatible ::a.b.c.d, SIIT
//   ::ffff:0:a.b.c.d, NAT64 64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16
//   embedding an internal IPv4) and site-local fec0::/10: refused by the
//   generated configuration, and by vytal-turnserver's code even when only
//   the IPv4 ranges are denied (patch 0002), where stock coturn 4.6.1 lets
//   them through. Nothing is over-blocked: documentation addresses and 6to4
//   of a public IPv4 stay allowed.
// - The appliance's relay address is a peer only on the relay ports (patch
//   0010): a client cannot reach a service listening on that address, while
//   two clients still relay to each other through it. Stock coturn delivers.
// - TCP relay (RFC 6062) is off in the generated configuration.
// - Each refusal is counted by the plugin (its counters datagram).
//
// As turn_relay_policy.test.mjs: the server and the clients run in a network
// namespace whose relay addresses are documentation addresses (198.51.100.7,
// 2001:db8::7) on a veth pair inside it. CreatePermission sends nothing; the
// only packets sent go to addresses inside the namespace.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BUILD_DIR, VYTALCTL, tempDir } from './lib/signald.mjs';
import { onExit, stopChild, track } from './lib/children.mjs';
import { usageReceiver } from './lib/turn_events.mjs';

const TURN_BIN = process.env.VYTAL_TURN_BIN_DIR ?? join(BUILD_DIR, 'turn/bin');
const PLUGIN = join(BUILD_DIR, 'turn_plugin/libvytal_turn.so');
const NS = `vytal-peer-${process.pid}`;
const RELAY4 = '198.51.100.7';
const RELAY6 = '2001:db8::7';
const SERVICE_PORT = 22; // outside the relay ports: where the appliance's services live
const PROBE = new URL('./lib/turn_peer_probe.mjs', import.meta.url).pathname;

// IPv6 forms reaching internal IPv4 hosts, and internal IPv6 ranges no IPv4 rule covers.
const EMBEDDED = ['::127.0.0.1', '::169.254.169.254', '::10.1.2.3', '::ffff:0:127.0.0.1', '::ffff:0:169.254.169.254',
  '64:ff9b::127.0.0.1', '64:ff9b::a9fe:a9fe', '2002:7f00:1::1', '2002:a9fe:a9fe::1', '2002:a01:203::1'];
const INTERNAL6 = ['64:ff9b:1::7f00:1', '64:ff9b:1:ffff::1', 'fec0::1', 'feff::1'];
// Not internal: must stay allowed (documentation addresses; 6to4 of 203.0.113.1).
const PUBLIC = ['203.0.113.1', '2001:db8::1', '2002:cb00:7101::1'];

const dir = tempDir('vytal-turn-peer-');
onExit(() => rmSync(dir, { recursive: true, force: true }));
const ns = (...cmd) => execFileSync('ip', ['netns', 'exec', NS, ...cmd], { encoding: 'utf8' });
const probe = (plan) => JSON.parse(ns(process.execPath, PROBE, JSON.stringify(plan)));
let usage;

// The plugin's counters (a datagram at most once a second) once they reach
// `min`, from the events after index `from` (one server process).
async function countersReach(from, min) {
  let c = {};
  for (let i = 0; i < 60; i++) {
    c = usage.events.slice(from).filter((e) => e.type === 'counters').at(-1)?.refused ?? {};
    if (Object.entries(min).every(([k, v]) => (c[k] ?? 0) >= v)) break;
    await sleep(50);
  }
  return c;
}

before(async () => {
  execFileSync('ip', ['netns', 'add', NS]);
  ns('ip', 'link', 'set', 'lo', 'up');
  ns('ip', 'link', 'add', 'relay0', 'type', 'veth', 'peer', 'name', 'relay1');
  ns('ip', 'addr', 'add', `${RELAY4}/24`, 'dev', 'relay0');
  ns('ip', '-6', 'addr', 'add', `${RELAY6}/64`, 'dev', 'relay0', 'nodad');
  ns('ip', 'link', 'set', 'relay1', 'up');
  ns('ip', 'link', 'set', 'relay0', 'up');
  // A Unix socket is not namespaced: the plugin inside reports to it.
  usage = await usageReceiver(join(dir, 'usage.sock'));
});
after(async () => {
  await usage?.stop();
  try { execFileSync('ip', ['netns', 'del', NS]); } catch {}
});

// Runs a TURN server with configText in the namespace for fn().
async function withServer(server, configText, fn) {
  const conf = join(dir, `${server.split('/').at(-1)}.conf`);
  writeFileSync(conf, configText);
  const proc = track(spawn('ip', ['netns', 'exec', NS, server, '-v', '-c', conf, '--pidfile', join(dir, 'pid'),
    '--db', join(dir, 'db')], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let log = '';
  proc.stdout.on('data', (d) => (log += d));
  proc.stderr.on('data', (d) => (log += d));
  try {
    for (let i = 0; i < 160 && !/UDP listener opened on: 127\.0\.0\.1:3478/.test(log); i++) await sleep(50);
    assert.match(log, /UDP listener opened on: 127\.0\.0\.1:3478/, log);
    return await fn(() => log);
  } finally {
    await stopChild(proc);
  }
}

function keyring() {
  const path = join(dir, 'keyring');
  execFileSync(VYTALCTL, ['rotate-turn-secret'], { env: { ...process.env, VYTAL_TURN_KEYRING_FILE: path } });
  return { path, secret: execFileSync('sed', ['-n', 's/^current //p', path], { encoding: 'utf8' }).trim() };
}

// The configuration `vytalctl turn-config` generates for this namespace.
function generated(ring) {
  const env = { ...process.env, VYTAL_TURN_KEYRING_FILE: ring.path, VYTAL_TURN_LISTEN_IPS: '127.0.0.1',
    VYTAL_TURN_RELAY_IPS: `${RELAY4},${RELAY6}`, VYTAL_TURN_PLUGIN_PATH: PLUGIN, VYTAL_TURN_MIN_PORT: '40000',
    VYTAL_TURN_MAX_PORT: '40100', VYTAL_TURN_USAGE_SOCKET: join(dir, 'usage.sock') };
  return execFileSync(VYTALCTL, ['turn-config'], { env, encoding: 'utf8' });
}

// A hand-written configuration denying only IPv4 ranges (stock coturn reads it too).
const ipv4Only = (extra = []) => [
  'listening-ip=127.0.0.1', 'listening-port=3478', `relay-ip=${RELAY4}`, `relay-ip=${RELAY6}`, 'min-port=40000',
  'max-port=40100', 'realm=vytal.test', 'use-auth-secret', 'static-auth-secret=peer-policy-test', 'no-cli', 'no-tls',
  'no-dtls', 'log-file=stdout', 'simple-log', 'no-multicast-peers',
  'denied-peer-ip=10.0.0.0-10.255.255.255', 'denied-peer-ip=127.0.0.0-127.255.255.255',
  'denied-peer-ip=169.254.0.0-169.254.255.255', 'denied-peer-ip=198.51.100.0-198.51.100.255',
  `allowed-peer-ip=${RELAY4}`, ...extra,
].join('\n') + '\n';

test('the generated configuration: embedded-IPv4 and internal IPv6 peers refused, public ones and the relay allowed; counted', { timeout: 60000 }, async () => {
  const ring = keyring();
  const config = generated(ring);
  assert.match(config, /^no-tcp-relay$/m);
  assert.match(config, /^relay-peers-on-relay-ports$/m);
  assert.match(config, /^plugin-config=.*;max_ttl=660$/m, 'max_ttl: signald\'s credential lifetime and a minute');
  assert.doesNotMatch(config, /^denied-peer-ip=::-/m, 'no range from "::" (it matches every IPv4 peer on 4.6.1)');
  const from = usage.events.length;
  const refusals = EMBEDDED.length + INTERNAL6.length;
  const [results, counters] = await withServer(join(TURN_BIN, 'vytal-turnserver'), config, async () => [
    probe({ do: 'permissions', secret: ring.secret, peers: [...EMBEDDED, ...INTERNAL6, ...PUBLIC, RELAY4, RELAY6] }),
    await countersReach(from, { peer: refusals }),
  ]);
  for (const ip of [...EMBEDDED, ...INTERNAL6]) assert.equal(results[ip], 403, `CreatePermission to ${ip}: ${results[ip]}`);
  for (const ip of [...PUBLIC, RELAY4, RELAY6]) assert.equal(results[ip], 'ok', `CreatePermission to ${ip}: ${results[ip]}`);
  assert.equal(counters.peer, refusals, `403s counted: ${JSON.stringify(counters)}`);
});

test('with only the IPv4 ranges denied, stock coturn relays to the IPv6 forms embedding them; vytal-turnserver does not', { timeout: 60000 }, async () => {
  const peers = [...EMBEDDED, ...INTERNAL6, ...PUBLIC];
  const stock = await withServer('turnserver', ipv4Only(), () => probe({ do: 'permissions', secret: 'peer-policy-test', peers }));
  for (const ip of peers) assert.equal(stock[ip], 'ok', `stock coturn 4.6.1 lets ${ip} through`);
  const ours = await withServer(join(TURN_BIN, 'vytal-turnserver'), ipv4Only(), () =>
    probe({ do: 'permissions', secret: 'peer-policy-test', peers }));
  // Embedded 10/8, 127/8 and 169.254/16 are denied by the IPv4 rules; the rest by code alone.
  for (const ip of [...EMBEDDED, ...INTERNAL6]) assert.equal(ours[ip], 403, `vytal-turnserver: ${ip}`);
  for (const ip of PUBLIC) assert.equal(ours[ip], 'ok', `vytal-turnserver: ${ip}`);
});

test('the relay address is a peer on the relay ports only: its services are out of reach, clients still relay to each other', { timeout: 60000 }, async () => {
  const ring = keyring();
  const from = usage.events.length;
  const [ours, counters] = await withServer(join(TURN_BIN, 'vytal-turnserver'), generated(ring), async () => [
    probe({ do: 'ports', secret: ring.secret, relay4: RELAY4, relay6: RELAY6, closedPort: SERVICE_PORT }),
    await countersReach(from, { peerPort: 3 }),
  ]);
  assert.equal(ours.permitRelay, 'ok');
  assert.equal(ours.channelToService, 403, `ChannelBind to ${RELAY4}:${SERVICE_PORT}`);
  assert.equal(ours.channelToService6, 403, `ChannelBind to [${RELAY6}]:${SERVICE_PORT}`);
  assert.equal(ours.channelToB, 'ok', 'ChannelBind to another client\'s relay port');
  assert.equal(ours.channelInRange6, 'ok');
  assert.deepEqual(ours.atB, ['channel-to-b', 'send-to-b'], 'client to client through the relay address');
  assert.deepEqual(ours.atService, [], `nothing reaches ${RELAY4}:${SERVICE_PORT}`);
  assert.equal(counters.peerPort, 3, `two ChannelBinds and a Send refused, counted: ${JSON.stringify(counters)}`);

  // Stock coturn with the relay address allowed: the service gets the packet.
  const stock = await withServer('turnserver', ipv4Only(), () =>
    probe({ do: 'ports', secret: 'peer-policy-test', relay4: RELAY4, relay6: RELAY6, closedPort: SERVICE_PORT }));
  assert.equal(stock.channelToService, 'ok');
  assert.deepEqual(stock.atService, ['send-to-service'], 'stock coturn relays to the appliance\'s own service');
});

test('TCP relay (RFC 6062) is off in the generated configuration', { timeout: 60000 }, async () => {
  const ring = keyring();
  const ours = await withServer(join(TURN_BIN, 'vytal-turnserver'), generated(ring), () => probe({ do: 'tcp', secret: ring.secret }));
  assert.equal(ours.tcpRelay, 442, JSON.stringify(ours));
  const stock = await withServer('turnserver', ipv4Only(), () => probe({ do: 'tcp', secret: 'peer-policy-test' }));
  assert.equal(stock.tcpRelay, 'ok', 'coturn relays over TCP unless told not to');
});
