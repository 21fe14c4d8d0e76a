// One user must not degrade TURN for everyone, and a revoked one must lose
// its relay at once: vytal-turnserver with the appliance's plugin, attacked
// with the raw TURN client (lib/turn_raw.mjs), everything the plugin reports
// read from its usage socket as signald would (lib/turn_events.mjs).
//
// - Quota: credentials are "<expiry>:<user>@<call>"; Debian's coturn counts
//   user-quota per call, so one patient with a few calls fills total-quota
//   and everyone else gets 486 (shown on stock turnserver). With the plugin's
//   quota key (patch 0008) the patient gets 486 beyond user-quota whatever
//   the number of calls or plain credentials, and another user still
//   allocates.
// - Revocation: within a second of the revocation the allocation ends
//   (patch 0009): nothing more is relayed either way, refresh and allocate
//   are refused, and the plugin reports the final usage (with the session's
//   totals) and the deletion. A revoked client's own deallocation (Refresh
//   lifetime 0) is not refused.
// - Credentials: an expiry further than max_ttl from now, a past one, or a
//   name without one: 401, counted.
// - A STUN Binding or a refused attempt is no relay usage: nothing reported.
// - Refusals are counted in the plugin's "counters" datagrams.
// All traffic stays on loopback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BUILD_DIR, tempDir } from './lib/signald.mjs';
import { onExit, stopChild, track } from './lib/children.mjs';
import { turnClient, restCredential } from './lib/turn_raw.mjs';
import { usageReceiver } from './lib/turn_events.mjs';

const TURN_BIN = process.env.VYTAL_TURN_BIN_DIR ?? join(BUILD_DIR, 'turn/bin');
const PLUGIN = join(BUILD_DIR, 'turn_plugin/libvytal_turn.so');
const HOST = '127.0.0.1';
const SECRET = 'turn-abuse-secret-5e0d9b27';
const REALM = 'vytal.test';
const USER_QUOTA = 2;
const TOTAL_QUOTA = 6;
const MAX_TTL = 900;
const nowS = () => Math.floor(Date.now() / 1000);
// Call ids are UUIDs, as signald makes them (the plugin drops "@<call id>" only then).
const callId = (n) => `${String(n).padStart(8, '0')}-0000-4000-8000-00000000abcd`;

const dir = tempDir('vytal-turn-abuse-');
onExit(() => rmSync(dir, { recursive: true, force: true }));
const state = {};

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, HOST, () => {
      const { port } = s.address();
      s.close(() => {
        const u = dgram.createSocket('udp4');
        u.once('error', () => res(0));
        u.bind(port, HOST, () => u.close(() => res(port)));
      });
    });
  });
}

// Starts a TURN server (vytal-turnserver with the plugin, or stock turnserver) on loopback.
async function startTurn(binary, extra) {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    if (!port) continue;
    const min = 20000 + 40 * Math.floor(Math.random() * 300);
    const name = `${binary.split('/').at(-1)}-${port}`;
    const args = ['-n', '--listening-ip', HOST, '--listening-port', String(port), '--relay-ip', HOST,
      '--min-port', String(min), '--max-port', String(min + 39), '--realm', REALM, '--use-auth-secret',
      '--user-quota', String(USER_QUOTA), '--total-quota', String(TOTAL_QUOTA), '--no-cli', '--no-tls', '--no-dtls',
      '--log-file=stdout', '--simple-log', '--verbose', '--allow-loopback-peers', '--no-multicast-peers',
      '--pidfile', join(dir, `${name}.pid`), '--db', join(dir, `${name}.db`), ...extra];
    const proc = track(spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    const server = { proc, port, log: '' };
    proc.stdout.on('data', (c) => (server.log += c));
    proc.stderr.on('data', (c) => (server.log += c));
    const ready = `UDP listener opened on: ${HOST}:${port}`;
    for (let i = 0; i < 160 && !server.log.includes(ready) && proc.exitCode === null; i++) await sleep(50);
    if (server.log.includes(ready) && proc.exitCode === null) return server;
    await stopChild(proc);
  }
  throw new Error(`${binary} did not start`);
}

// As signald writes it: "<user>@<call> <until>" lines, replaced atomically.
function revoke(...users) {
  const file = join(dir, 'revoked');
  writeFileSync(`${file}.tmp`, users.map((u) => `${u} ${nowS() + 600}\n`).join(''));
  renameSync(`${file}.tmp`, file);
}

const client = (user, options = {}) =>
  turnClient({ host: HOST, port: state.turn.port, ...restCredential(SECRET, user, options.ttl ?? 600), ...options });

before(async () => {
  writeFileSync(join(dir, 'keyring'), `current ${SECRET}\n`);
  writeFileSync(join(dir, 'revoked'), '');
  state.usage = await usageReceiver(join(dir, 'usage.sock'));
  state.turn = await startTurn(join(TURN_BIN, 'vytal-turnserver'), [`--plugin=${PLUGIN}`,
    `--plugin-config=keyring=${join(dir, 'keyring')};revoked=${join(dir, 'revoked')};usage=${join(dir, 'usage.sock')};max_ttl=${MAX_TTL}`]);
}, { timeout: 30000 });

after(async () => {
  await stopChild(state.turn?.proc);
  await state.usage?.stop();
});

// The counters datagram once it shows at least `min` of each named refusal.
async function countersReach(min) {
  const deadline = Date.now() + 3000;
  for (;;) {
    const c = state.usage.counters();
    if (Object.entries(min).every(([k, v]) => (c[k] ?? 0) >= v) || Date.now() > deadline) return c;
    await sleep(50);
  }
}

test('one patient with many calls fills total-quota on stock coturn: everyone else gets 486', { timeout: 30000 }, async () => {
  const stock = await startTurn('turnserver', [`--static-auth-secret=${SECRET}`]);
  const open = [];
  try {
    const at = (user) => turnClient({ host: HOST, port: stock.port, ...restCredential(SECRET, user) });
    // user-quota 2 per call: three calls of their own give the patient all six.
    for (let n = 1; n <= 3; n++) {
      for (let k = 0; k < USER_QUOTA; k++) {
        const c = await at(`mallory@${callId(n)}`);
        open.push(c);
        assert.equal(await c.allocate(), 'ok', `call ${n}, allocation ${k + 1}`);
      }
    }
    const nurse = await at(`nurse@${callId(9)}`);
    open.push(nurse);
    assert.equal(await nurse.allocate(), 486, 'stock coturn: the hospital is out of allocations');
  } finally {
    for (const c of open) await c.close();
    await stopChild(stock.proc);
  }
});

test('the per-user quota counts the user across calls and plain credentials; another user still allocates', { timeout: 30000 }, async () => {
  const quotaBefore = state.usage.counters().quota ?? 0;
  const held = [];
  const mallory = [];
  for (let n = 1; n <= 6; n++) {
    const c = await client(`mallory@${callId(n)}`);
    mallory.push(c);
    const answer = await c.allocate();
    if (answer === 'ok') held.push(c);
    else assert.equal(answer, 486, `call ${n}: ${answer}`);
  }
  assert.equal(held.length, USER_QUOTA, 'the patient holds exactly user-quota allocations, however many calls');
  const plain = await client('mallory');
  assert.equal(await plain.allocate(), 486, 'plain <expiry>:<user> credentials count towards the same quota');
  // While the patient holds its maximum, others allocate: a nurse up to its own quota.
  const nurses = [];
  for (let k = 0; k < USER_QUOTA; k++) {
    const c = await client(`nurse@${callId(1)}`);
    nurses.push(c);
    assert.equal(await c.allocate(), 'ok', `nurse allocation ${k + 1}`);
  }
  // What an allocation takes it gives back: one released, the patient allocates again (another call).
  assert.equal(await held[0].refresh(0), 'ok');
  let again;
  for (let i = 0; i < 30 && again !== 'ok'; i++) {
    await sleep(100);
    const c = await client(`mallory@${callId(7 + i)}`);
    mallory.push(c);
    again = await c.allocate();
    if (again === 'ok') held[0] = c;
  }
  assert.equal(again, 'ok', 'the released quota came back under the same user');
  const counters = await countersReach({ quota: quotaBefore + 5 });
  assert.ok(counters.quota >= quotaBefore + 5, `486s counted: ${JSON.stringify(counters)}`);
  for (const c of [...held, ...nurses]) assert.equal(await c.refresh(0), 'ok');
  for (const c of [...mallory, plain, ...nurses]) await c.close();
});

test('a revoked participant loses its relay within a second; the final usage is reported', { timeout: 30000 }, async () => {
  const peer = dgram.createSocket('udp4');
  await new Promise((r) => peer.bind(0, HOST, r));
  peer.on('error', () => {});
  const atPeer = [];
  peer.on('message', (m) => atPeer.push(m.toString()));
  const peerPort = peer.address().port;
  const user = `gone@${callId(20)}`;
  const c = await client(user);
  try {
    assert.equal(await c.allocate(), 'ok');
    assert.equal(await c.permit(HOST), 'ok');
    assert.equal(await c.channelBind(0x4000, HOST, peerPort), 'ok');
    for (let i = 0; i < 5; i++) {
      c.sendChannel(0x4000, `channel-before-${i}`);
      c.send(HOST, peerPort, `send-before-${i}`);
    }
    peer.send('peer-before', c.relay.port, HOST);
    for (let i = 0; i < 100 && (atPeer.length < 10 || !c.received.length); i++) await sleep(20);
    assert.equal(atPeer.length, 10, 'relayed to the peer before the revocation');
    assert.ok(c.received.some((r) => r.data.toString() === 'peer-before'), 'and from the peer to the client');
    const created = await state.usage.waitFor((e) => e.type === 'allocation' && e.event === 'created' && e.username.endsWith(`:${user}`));
    assert.ok(created, 'the allocation was reported');

    revoke(user);
    const revokedAt = Date.now();
    let n = 0;
    const sending = setInterval(() => c.sendChannel(0x4000, `channel-after-${n++}`), 20);
    const deleted = await state.usage.waitFor((e) => e.type === 'allocation' && e.event === 'deleted' && e.session === created.session, 3000);
    const endedAfter = Date.now() - revokedAt;
    clearInterval(sending);
    assert.ok(deleted, 'the revoked allocation was ended and reported deleted');
    assert.ok(endedAfter <= 1000, `ended ${endedAfter} ms after the revocation`);
    console.log(`revoked allocation ended ${endedAfter} ms after the revocation`);
    assert.match(state.turn.log, new RegExp(`session 0*${created.session}: closed .*reason: credentials revoked`));

    // The final usage: before the deletion, with the session's totals (the sum of its deltas).
    const usage = state.usage.events.filter((e) => e.type === 'usage' && e.session === created.session);
    const final = usage.at(-1);
    assert.ok(final?.final, `a final usage report: ${JSON.stringify(usage)}`);
    assert.ok(state.usage.events.indexOf(final) < state.usage.events.indexOf(deleted), 'final usage before the deletion');
    const sum = (k) => usage.reduce((s, e) => s + e[k], 0);
    assert.equal(final.totalBytesReceived, sum('bytesReceived'));
    assert.equal(final.totalBytesSent, sum('bytesSent'));
    assert.ok(final.totalBytesReceived > 10 * 14, `the client's relayed bytes are counted: ${final.totalBytesReceived}`);
    assert.ok(final.totalPacketsSent >= 1, 'and what the peer sent to it');

    // Ended means ended: nothing more either way...
    const late = atPeer.length;
    for (let i = 0; i < 5; i++) {
      c.sendChannel(0x4000, `channel-late-${i}`);
      c.send(HOST, peerPort, `send-late-${i}`);
    }
    peer.send('peer-late', c.relay.port, HOST);
    await sleep(300);
    assert.deepEqual(atPeer.slice(late), [], 'nothing reaches the peer once the allocation ended');
    assert.ok(!c.received.some((r) => r.data.toString() === 'peer-late'), 'nothing reaches the client');
    // ...and neither a refresh nor a new allocation with these credentials.
    assert.notEqual(await c.refresh(600), 'ok');
    const again = await client(user);
    assert.equal(await again.allocate(), 401);
    await again.close();
    const counters = await countersReach({ revokedSession: 1, revoked: 1 });
    assert.ok(counters.revokedSession >= 1 && counters.revoked >= 1, JSON.stringify(counters));
  } finally {
    await c.close();
    peer.close();
  }
});

test("a revoked client's own deallocation (Refresh lifetime 0) is not refused", { timeout: 30000 }, async () => {
  // Once revoked, its requests get 403; the server ends the allocation a
  // sweep later (patch 0009), and meanwhile the client may still end it itself.
  const user = `leaver@${callId(30)}`;
  const c = await client(user);
  try {
    assert.equal(await c.allocate(), 'ok');
    revoke(user);
    let answer = 'ok';
    const deadline = Date.now() + 2000;
    while (answer === 'ok' && Date.now() < deadline) answer = await c.permit(HOST);
    assert.equal(answer, 403, 'a permission of the revoked allocation');
    assert.equal(await c.refresh(0), 'ok', 'its deallocation');
    const created = state.usage.events.find((e) => e.event === 'created' && e.username.endsWith(`:${user}`));
    const deleted = await state.usage.waitFor((e) => e.event === 'deleted' && e.session === created.session, 3000);
    assert.ok(deleted, 'and the allocation ended');
  } finally {
    await c.close();
  }
});

test('credentials longer-lived than max_ttl, expired or without an expiry are refused and counted', { timeout: 30000 }, async () => {
  const before = state.usage.counters();
  const t = nowS();
  const refused = { ttl: `${t + 7200}:longlived@${callId(40)}`, expired: `${t - 5}:late@${callId(40)}`, malformed: 'no-expiry' };
  for (const [why, username] of Object.entries(refused)) {
    const password = restCredential(SECRET, 'x').password.replace(/./g, 'A'); // any: refused before the HMAC
    const c = await turnClient({ host: HOST, port: state.turn.port, username, password });
    assert.equal(await c.allocate(), 401, why);
    await c.close();
  }
  const ok = await client(`fine@${callId(40)}`, { ttl: MAX_TTL - 30 });
  assert.equal(await ok.allocate(), 'ok', 'an expiry within max_ttl');
  assert.equal(await ok.refresh(0), 'ok');
  await ok.close();
  const counters = await countersReach({ ttl: (before.ttl ?? 0) + 1, expired: (before.expired ?? 0) + 1, malformed: (before.malformed ?? 0) + 1 });
  for (const k of ['ttl', 'expired', 'malformed']) assert.ok(counters[k] > (before[k] ?? 0), `${k} counted: ${JSON.stringify(counters)}`);
});

test('a STUN Binding or a refused attempt is not reported as relay usage', { timeout: 30000 }, async () => {
  // Over TCP the session ends when the connection closes: coturn reports its final usage at once.
  const binding = await turnClient({ host: HOST, port: state.turn.port, username: 'x', password: 'x', tcp: true });
  assert.equal(await binding.binding(), 'ok');
  const refusedUser = `refused@${callId(50)}`;
  const refused = await turnClient({ host: HOST, port: state.turn.port, ...restCredential(SECRET, refusedUser, 7200), tcp: true });
  assert.equal(await refused.allocate(), 401);
  const from = state.turn.log.length;
  await binding.close();
  await refused.close();
  for (let i = 0; i < 100 && (state.turn.log.slice(from).match(/closed \(2nd stage\)/g) ?? []).length < 2; i++) await sleep(30);
  assert.equal((state.turn.log.slice(from).match(/closed \(2nd stage\)/g) ?? []).length, 2, 'both sessions ended');
  await sleep(300);
  const stray = state.usage.events.filter((e) => (e.type === 'usage' || e.type === 'allocation') && (!e.username || e.username.endsWith(refusedUser)));
  assert.deepEqual(stray, [], 'no usage row without an allocation (the empty call, user and transport row)');
  // Every usage report names an allocation the plugin reported created.
  const created = new Set(state.usage.events.filter((e) => e.event === 'created').map((e) => e.session));
  for (const e of state.usage.events.filter((e) => e.type === 'usage')) assert.ok(created.has(e.session), JSON.stringify(e));
});

test('the plugin says when it starts, and every datagram carries the drop count', () => {
  assert.equal(state.usage.events[0]?.type, 'started');
  assert.equal(state.usage.events[0].pid, state.turn.proc.pid);
  assert.ok(Math.abs(state.usage.events[0].startedAt - nowS()) < 120, 'startedAt: the process start, unix seconds');
  for (const e of state.usage.events) assert.equal(e.dropped, 0, JSON.stringify(e));
});
