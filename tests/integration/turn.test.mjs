// The ICE servers signald hands out are accepted by a real TURN server.
//
// The test starts Debian's stock coturn `turnserver` (REST API mode,
// use-auth-secret with the same secret as signald) and `turnutils_peer` on
// loopback, asks signald for /webrtc/ice-servers, and runs coturn's own
// `turnutils_uclient` with the returned username/credential over UDP and TCP:
// the allocation must succeed and packets must be relayed to the peer and
// back. A credential whose REST timestamp has passed, and one signed with the
// wrong secret, must both be refused with 401 Unauthorized.
//
// What the tools print (coturn 4.6.1):
//  - uclient success: with -v it logs "Received relay addr: 127.0.0.1:<port>"
//    after "allocate response received: / success", and at the end
//    "start_mclient: tot_send_msgs=N, tot_recv_msgs=N" and
//    "Total lost packets 0 (...)"; exit status 0.
//  - uclient refusal: uclient treats each 401 as a fresh challenge and retries
//    (about 30 times) without ever printing the status code; it ends with
//    "ERROR: Cannot complete Allocation" and exit status 255. The 401 itself is
//    only visible in the server's verbose log:
//    "user <USERNAME>: incoming packet message processed, error 401: Unauthorized"
//    preceded by "check_stun_auth: Cannot find credentials of user <USERNAME>"
//    (the same text for an expired timestamp and a wrong HMAC). Note that every
//    successful allocation also starts with one 401 for user <> (the nonce
//    challenge), so the assertions key on the username.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startSignald, token, api, tempDir, sql, metric, BUILD_DIR, VYTALCTL } from './lib/signald.mjs';
import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { connect as wsConnect, createCall } from './lib/ws_client.mjs';
import { turnClient } from './lib/turn_raw.mjs';
import { onExit, stopChild, track } from './lib/children.mjs';

// Debian's stock coturn by default; VYTAL_TURN_BIN_DIR points at a build of
// the appliance's own vytal-turnserver (turn_plugin/build-turnserver.sh).
const TURN_BIN_DIR = process.env.VYTAL_TURN_BIN_DIR && resolve(process.env.VYTAL_TURN_BIN_DIR);
const TURNSERVER = TURN_BIN_DIR ? join(TURN_BIN_DIR, 'vytal-turnserver') : 'turnserver';
const TURNUTIL = (name) => (TURN_BIN_DIR ? join(TURN_BIN_DIR, name) : name);
// With vytal-turnserver the credentials go through the appliance's plugin
// (key ring, revocations, usage reports to signald) instead of a static secret.
const PLUGIN = TURN_BIN_DIR ? join(BUILD_DIR, 'turn_plugin/libvytal_turn.so') : null;
const HOST = '127.0.0.1';
const SECRET = 'turn-integration-secret-5f1c0a9e';
const REALM = 'vytal.test';
const TTL = 900; // not the default 600, to see that signald honours it
const SUB = 'nurse-station-7';
const MESSAGES = 5; // per uclient session; -m 1 runs an RTP and an RTCP session
const CLIENT_TIMEOUT_MS = 20000;

const hmacB64 = (secret, username) => createHmac('sha1', secret).update(username).digest('base64');
const nowS = () => Math.floor(Date.now() / 1000);
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// ---------------------------------------------------------------- processes

onExit(() => {
  for (const d of [state.dir, state.signald?.dataDir]) if (d) rmSync(d, { recursive: true, force: true });
});

// ---------------------------------------------------------------- ports

function udpFree(port) {
  return new Promise((res) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => res(false));
    s.bind(port, HOST, () => s.close(() => res(true)));
  });
}

function tcpFree(port) {
  return new Promise((res) => {
    const s = net.createServer();
    s.once('error', () => res(false));
    s.listen(port, HOST, () => s.close(() => res(true)));
  });
}

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

// A port free for both UDP and TCP (the TURN listener uses both), picked
// below Linux's ephemeral range (32768+) and the relay ranges (20000+): the
// plugin tests restart a server on its port (signald hands out its URLs),
// and a port in the ephemeral range can meanwhile become another test's
// outgoing port (a CI run found it still taken 15 s after a clean stop).
async function freeUdpTcpPort() {
  for (let i = 0; i < 200; i++) {
    const p = 10000 + Math.floor(Math.random() * 10000);
    if ((await udpFree(p)) && (await tcpFree(p))) return p;
  }
  throw new Error('no free UDP+TCP port in 10000-19999');
}

// turnutils_peer listens on p (RTP) and p+1 (RTCP).
async function freeUdpPair(avoid = []) {
  for (let i = 0; i < 50; i++) {
    const p = await ephemeralUdpPort();
    if (p < 65535 && !avoid.includes(p) && !avoid.includes(p + 1) && (await udpFree(p + 1))) return p;
  }
  throw new Error('no free UDP port pair');
}

// A narrow relay range below Linux's default ephemeral range (32768+), so it
// does not collide with the ports picked above.
function relayRange() {
  const min = 20000 + 100 * Math.floor(Math.random() * 120);
  return { min, max: min + 99 };
}

// ---------------------------------------------------------------- turnserver

function startTurnserver(dir, port, relay) {
  const args = [
    '-n', // no configuration file: the stock /etc/turnserver.conf says `syslog`
    '--listening-ip', HOST,
    '--listening-port', String(port),
    '--relay-ip', HOST,
    '--min-port', String(relay.min),
    '--max-port', String(relay.max),
    '--use-auth-secret',
    ...(PLUGIN
      ? [`--plugin=${PLUGIN}`, `--plugin-config=keyring=${join(dir, 'keyring')};revoked=${join(dir, 'revoked')};usage=${join(dir, 'usage.sock')}`]
      : [`--static-auth-secret=${SECRET}`]),
    '--realm', REALM,
    '--no-cli',
    '--no-tls',
    '--no-dtls',
    '--log-file=stdout',
    '--simple-log',
    '--verbose', // session lines (new/ALLOCATE success/error 401) are only logged verbosely
    '--allow-loopback-peers', // test only: the peer is on loopback
    '--no-multicast-peers',
    '--pidfile', join(dir, 'turnserver.pid'),
    '--db', join(dir, 'turndb'), // keep the (unused) SQLite userdb out of /var/lib/turn
  ];
  const proc = track(spawn(TURNSERVER, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }));
  const server = { proc, port, relay, args, log: '', stderr: '' };
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (c) => (server.log += c));
  // On hosts without SCTP it prints "socket: Protocol not supported" here; harmless.
  proc.stderr.on('data', (c) => (server.stderr += c));
  const udpLine = `UDP listener opened on: ${HOST}:${port}`;
  const tcpLine = new RegExp(`TCP listener opened on ?: ${escapeRe(HOST)}:${port}\\b`);
  return new Promise((res, rej) => {
    const deadline = Date.now() + 8000;
    const poll = () => {
      if (server.log.includes(udpLine) && tcpLine.test(server.log)) return res(server);
      const died = proc.exitCode !== null || proc.signalCode !== null;
      if (died || Date.now() > deadline || /Cannot bind/i.test(server.log)) {
        stopChild(proc).then(() =>
          rej(new Error(`turnserver did not start (exit ${proc.exitCode}):\n${server.log}\n${server.stderr}`)),
        );
        return;
      }
      setTimeout(poll, 50);
    };
    poll();
  });
}

// ---------------------------------------------------------------- peer

async function startPeer(port) {
  const proc = track(spawn(TURNUTIL('turnutils_peer'), ['-L', HOST, '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  proc.stdout.on('data', (c) => (out += c));
  proc.stderr.on('data', (c) => (out += c));
  // It is a UDP reflector: ready once it echoes a datagram back.
  const sock = dgram.createSocket('udp4');
  try {
    await new Promise((res, rej) => {
      let done = false;
      const finish = (err) => {
        if (done) return;
        done = true;
        clearInterval(tick);
        clearTimeout(timer);
        err ? rej(err) : res();
      };
      sock.on('message', () => finish());
      sock.on('error', () => {}); // ICMP port unreachable before it binds
      const tick = setInterval(() => sock.send('ping', port, HOST), 50);
      const timer = setTimeout(() => finish(new Error(`turnutils_peer did not echo:\n${out}`)), 5000);
      proc.on('exit', (code) => finish(new Error(`turnutils_peer exited with ${code}:\n${out}`)));
    });
  } finally {
    sock.close();
  }
  return { proc, port };
}

// ---------------------------------------------------------------- uclient

// Runs turnutils_uclient; resolves with { code, signal, timedOut, out } where
// out is stdout and stderr interleaved. Killed after CLIENT_TIMEOUT_MS.
function uclient({ username, password, host, port, tcp = false }) {
  const args = ['-v'];
  if (tcp) args.push('-t');
  args.push(
    '-u', username,
    '-w', password,
    '-p', String(port),
    '-e', HOST,
    '-r', String(state.peer.port),
    '-n', String(MESSAGES),
    '-m', '1',
    host,
  );
  return new Promise((res) => {
    const proc = track(spawn(TURNUTIL('turnutils_uclient'), args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', (c) => (out += c));
    proc.stderr.on('data', (c) => (out += c));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill('SIGKILL');
    }, CLIENT_TIMEOUT_MS);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      res({ code, signal, timedOut, out, cmd: `turnutils_uclient ${args.join(' ')}` });
    });
  });
}

const report = (r, serverLog) =>
  `\n$ ${r.cmd}\nexit=${r.code} signal=${r.signal} timedOut=${r.timedOut}\n--- uclient output ---\n${r.out}` +
  (serverLog === undefined ? '' : `--- turnserver log (this run) ---\n${serverLog}`);

// The part of the server log written since `from`, once `re` shows up in it
// (the server may log a moment after the client has exited).
async function serverLogSince(from, re, ms = 3000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const slice = state.turn.log.slice(from);
    if (re.test(slice) || Date.now() > deadline) return slice;
    await sleep(50);
  }
}

function parseTurnUrl(url) {
  const m = url.match(/^turn:([^:?]+):(\d+)(?:\?transport=(udp|tcp))?$/);
  assert.ok(m, `unexpected TURN URL ${url}`);
  return { host: m[1], port: Number(m[2]), transport: m[3] ?? 'udp' };
}

async function assertAllocates({ username, password, url }) {
  const { host, port, transport } = parseTurnUrl(url);
  const from = state.turn.log.length;
  const r = await uclient({ username, password, host, port, tcp: transport === 'tcp' });
  const u = escapeRe(username);
  const log = await serverLogSince(from, new RegExp(`user <${u}>: incoming packet ALLOCATE processed, success`));
  const why = report(r, log);

  assert.equal(r.timedOut, false, `uclient hung${why}`);
  assert.equal(r.code, 0, `uclient failed${why}`);
  assert.doesNotMatch(r.out, /Cannot complete Allocation/, why);
  // The allocation: a relayed address from the configured range.
  assert.match(r.out, /allocate response received: \n(?:\d+: : )?success\n/, why);
  const relay = [...r.out.matchAll(/Received relay addr: ([\d.]+):(\d+)/g)];
  assert.ok(relay.length >= 1, `no relay address${why}`);
  for (const [, ip, p] of relay) {
    assert.equal(ip, HOST, why);
    assert.ok(Number(p) >= state.turn.relay.min && Number(p) <= state.turn.relay.max, `relay port ${p} out of range${why}`);
  }
  // The data: every message went to the peer through the relay and came back.
  const totals = r.out.match(/start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)/);
  assert.ok(totals, `no final counters${why}`);
  const [sent, received] = [Number(totals[1]), Number(totals[2])];
  assert.equal(sent, 2 * MESSAGES, `sent (RTP + RTCP sessions)${why}`);
  assert.equal(received, sent, `received${why}`);
  assert.match(r.out, /Total lost packets 0 \(/, why);
  // And the server saw this user allocate.
  assert.match(log, new RegExp(`new, realm=<${escapeRe(REALM)}>, username=<${u}>`), why);
  assert.match(log, new RegExp(`user <${u}>: incoming packet ALLOCATE processed, success`), why);
  assert.doesNotMatch(log, new RegExp(`user <${u}>: [^\\n]*error 401`), why);
}

async function assertRefused({ username, password, url }) {
  const { host, port, transport } = parseTurnUrl(url);
  const from = state.turn.log.length;
  const r = await uclient({ username, password, host, port, tcp: transport === 'tcp' });
  const u = escapeRe(username);
  const refusal = new RegExp(`user <${u}>: incoming packet message processed, error 401: Unauthorized`);
  const log = await serverLogSince(from, refusal);
  const why = report(r, log);

  assert.equal(r.timedOut, false, `uclient hung${why}`);
  assert.notEqual(r.code, 0, `uclient should have failed${why}`);
  assert.match(r.out, /ERROR: Cannot complete Allocation/, why);
  assert.doesNotMatch(r.out, /Received relay addr/, why);
  assert.doesNotMatch(r.out, /^(?:\d+: : )?success/m, why);
  assert.doesNotMatch(r.out, /tot_send_msgs=[1-9]/, why);
  // The server's side: 401 for exactly this username, never an allocation.
  assert.match(log, refusal, why);
  assert.match(log, new RegExp(`check_stun_auth: Cannot find credentials of user <${u}>`), why);
  // (Not just any `username=<u>`: the wrong-secret case reuses a username whose
  // earlier, successful sessions may still log usage/close lines.)
  assert.doesNotMatch(log, new RegExp(`new, realm=<${escapeRe(REALM)}>, username=<${u}>`), why);
  assert.doesNotMatch(log, new RegExp(`user <${u}>: incoming packet ALLOCATE processed, success`), why);
}

// ---------------------------------------------------------------- fixture

const state = {};

before(async () => {
  state.dir = tempDir('vytal-turn-');
  if (PLUGIN) writeFileSync(join(state.dir, 'keyring'), `current ${SECRET}\n`);
  let lastError;
  for (let attempt = 0; attempt < 3 && !state.turn; attempt++) {
    try {
      const port = await freeUdpTcpPort();
      state.turn = await startTurnserver(state.dir, port, relayRange());
    } catch (e) {
      lastError = e;
    }
  }
  if (!state.turn) throw lastError;
  for (let attempt = 0; attempt < 3 && !state.peer; attempt++) {
    try {
      state.peer = await startPeer(await freeUdpPair([state.turn.port]));
    } catch (e) {
      lastError = e;
    }
  }
  if (!state.peer) throw lastError;

  state.stunUrl = `stun:${HOST}:${state.turn.port}`;
  state.turnUrls = [`turn:${HOST}:${state.turn.port}?transport=udp`, `turn:${HOST}:${state.turn.port}?transport=tcp`];
  state.signald = await startSignald({
    ...(PLUGIN
      ? {
          VYTAL_TURN_KEYRING_FILE: join(state.dir, 'keyring'),
          VYTAL_TURN_REVOKED_FILE: join(state.dir, 'revoked'),
          VYTAL_TURN_USAGE_SOCKET: join(state.dir, 'usage.sock'),
        }
      : { TURN_SHARED_SECRET: SECRET }),
    WEBRTC_TURN_SERVERS: state.turnUrls.join(','),
    WEBRTC_STUN_SERVERS: state.stunUrl,
    TURN_CREDENTIAL_TTL_SECONDS: String(TTL),
  });
  track(state.signald.proc);

  state.requestedAt = nowS();
  // A plain "<expiry>:<user>" credential (no callId) is for service tokens only (docs/PROTOCOL.md).
  state.ice = await api(state.signald.url, 'GET', '/webrtc/ice-servers', { tok: token(SUB, 'service') });
  state.respondedAt = nowS();
}, { timeout: 30000 });

after(async () => {
  await Promise.all([
    state.signald?.stop(),
    stopChild(state.turn?.proc),
    stopChild(state.peer?.proc),
  ]);
  state.signald?.cleanup();
  if (state.dir) rmSync(state.dir, { recursive: true, force: true });
});

const turnEntry = () => {
  const entry = state.ice.body?.iceServers?.find((s) => s.urls?.some((u) => u.startsWith('turn:')));
  assert.ok(entry, `no TURN entry in ${state.ice.text}`);
  return entry;
};

// ---------------------------------------------------------------- tests

test('ice-servers returns a TURN REST credential that Node recomputes from the shared secret', () => {
  const { status, body, text } = state.ice;
  assert.equal(status, 200, text);
  assert.equal(body.iceServers.length, 2, text);
  assert.deepEqual(body.iceServers[0], { urls: [state.stunUrl] });
  const turn = turnEntry();
  assert.deepEqual(turn.urls, state.turnUrls);

  const m = turn.username.match(/^(\d+):(.+)$/);
  assert.ok(m, `username ${turn.username} is not <expiry>:<sub>`);
  const [expiry, sub] = [Number(m[1]), m[2]];
  assert.equal(sub, SUB, 'the user part is the JWT sub');
  assert.ok(
    expiry >= state.requestedAt + TTL && expiry <= state.respondedAt + TTL,
    `expiry ${expiry} is not now + ${TTL} (${state.requestedAt}..${state.respondedAt})`,
  );
  assert.equal(turn.credential, hmacB64(SECRET, turn.username), 'credential = base64(HMAC-SHA1(secret, username))');

  assert.equal(body.ttlSeconds, TTL);
  assert.equal(Date.parse(body.expiresAt), expiry * 1000, `expiresAt ${body.expiresAt}`);
});

test('coturn allocates with the issued credential over UDP and relays to the peer', { timeout: 30000 }, async () => {
  const { username, credential, urls } = turnEntry();
  await assertAllocates({ username, password: credential, url: urls.find((u) => u.endsWith('transport=udp')) });
});

test('coturn allocates with the issued credential over TCP and relays to the peer', { timeout: 30000 }, async () => {
  const { username, credential, urls } = turnEntry();
  await assertAllocates({ username, password: credential, url: urls.find((u) => u.endsWith('transport=tcp')) });
});

test('coturn refuses an expired credential (correct HMAC, timestamp in the past) with 401', { timeout: 30000 }, async () => {
  const username = `${nowS() - 60}:${SUB}`;
  await assertRefused({ username, password: hmacB64(SECRET, username), url: turnEntry().urls[0] });
});

test('coturn refuses a credential signed with the wrong secret with 401', { timeout: 30000 }, async () => {
  // The very username signald issued (still valid), with a password from another secret.
  const { username, urls } = turnEntry();
  await assertRefused({ username, password: hmacB64(`${SECRET}-wrong`, username), url: urls[0] });
});

// ---------------------------------------------------------------- plugin (vytal-turnserver only)

const pluginOnly = { skip: !PLUGIN && 'needs vytal-turnserver and the plugin (VYTAL_TURN_BIN_DIR)', timeout: 60000 };
const turnPort = () => state.turn.port;
// A new server on a stopped one's port (signald hands out its URLs). The
// port is outside the ephemeral range, so it is free again once the old
// server has closed its sockets; tried again for up to 15 s all the same,
// and a failure says what holds it.
async function restartOnItsPort(old) {
  const deadline = Date.now() + 15000;
  for (;;) {
    try {
      return await startTurnserver(state.dir, old.port, old.relay);
    } catch (e) {
      if (Date.now() > deadline) {
        let holders = '';
        try {
          holders = execFileSync('ss', ['-Hanp', `sport = :${old.port}`], { encoding: 'utf8' });
        } catch (err) {
          holders = `(ss: ${err.message})`;
        }
        e.message += `\nport ${old.port} held by:\n${holders}`;
        throw e;
      }
      await sleep(1000);
    }
  }
}
const credential = (secret, username) => ({ username, password: hmacB64(secret, username) });

test('a participant who leaves a call is refused at its next TURN request, within a second', pluginOnly, async () => {
  const call = await createCall(state.signald, 'pat-turn', 'dr-turn');
  const p = await wsConnect(state.signald, 'pat-turn', 'patient');
  p.send({ type: 'join', callId: call.id, requestId: 'j' });
  const joined = await p.next('joined', 5000);
  const entry = joined.iceServers.find((s) => s.urls.some((u) => u.startsWith('turn:')));
  assert.match(entry.username, new RegExp(`^\\d+:pat-turn@${call.id}$`));

  const session = await turnClient({ host: HOST, port: turnPort(), username: entry.username, password: entry.credential });
  assert.equal(await session.allocate(), 'ok');
  assert.equal(await session.permit(HOST), 'ok');

  p.send({ type: 'leave', requestId: 'l' });
  await p.next('left', 5000);
  const left = Date.now();
  // The running allocation: its next request (a permission) is refused.
  let answer;
  while (Date.now() - left < 3000 && (answer = await session.permit(HOST)) === 'ok') await sleep(100);
  assert.equal(answer, 403, 'a permission on the revoked allocation');
  assert.ok(Date.now() - left <= 1500, `refused ${Date.now() - left} ms after leaving`);
  await session.close();
  // A new allocation with the same credential is refused too.
  const again = await turnClient({ host: HOST, port: turnPort(), username: entry.username, password: entry.credential });
  assert.equal(await again.allocate(), 401);
  await again.close();
  p.close();
});

test('secret rotation under traffic: sessions go on, the previous secret dies after the overlap', pluginOnly, async () => {
  const keyring = join(state.dir, 'keyring');
  const env = { ...process.env, VYTAL_TURN_KEYRING_FILE: keyring };
  const oldSecret = SECRET;
  // A relay session running across the rotation: 150 messages, 20 ms apart.
  const running = uclientLong(credential(oldSecret, `${nowS() + 600}:rotating`), 150);
  await sleep(1000);
  execFileSync(VYTALCTL, ['rotate-turn-secret', '--overlap', '12'], { env });
  const overlapEnds = Date.now() + 12000;
  const newSecret = execFileSync('sed', ['-n', 's/^current //p', keyring], { encoding: 'utf8' }).trim();
  assert.notEqual(newSecret, oldSecret);
  const r = await running;
  assert.equal(r.code, 0, `the session across the rotation failed${report(r)}`);
  assert.match(r.out, /Total lost packets 0 \(/, report(r));

  // signald mints with the new secret within a second.
  await sleep(1200);
  const ice = await api(state.signald.url, 'GET', '/webrtc/ice-servers', { tok: token('after-rotation', 'service') });
  const entry = ice.body.iceServers.find((s) => s.urls.some((u) => u.startsWith('turn:')));
  assert.equal(entry.credential, hmacB64(newSecret, entry.username));
  const fresh = await turnClient({ host: HOST, port: turnPort(), username: entry.username, password: entry.credential });
  assert.equal(await fresh.allocate(), 'ok', 'a credential minted after the rotation works');
  await fresh.close();
  // During the overlap the previous secret still works; after it, not.
  const during = await turnClient({ host: HOST, port: turnPort(), ...credential(oldSecret, `${nowS() + 600}:late-old`) });
  assert.equal(await during.allocate(), 'ok', 'previous secret within the overlap');
  await during.close();
  await sleep(Math.max(0, overlapEnds - Date.now()) + 1500);
  const afterOverlap = await turnClient({ host: HOST, port: turnPort(), ...credential(oldSecret, `${nowS() + 600}:too-late`) });
  assert.equal(await afterOverlap.allocate(), 401, 'previous secret after the overlap');
  await afterOverlap.close();
  state.secret = newSecret;
});

test('relay usage reaches the call log: bytes within a few percent of what the client sent', pluginOnly, async () => {
  const secret = state.secret ?? SECRET;
  const username = `${nowS() + 600}:usage-meter`;
  const r = await uclientLong(credential(secret, username), 200, 1000);
  assert.equal(r.code, 0, report(r));
  const sentMsgs = sentSoFar(r.out); // the last progress line is the total
  assert.ok(sentMsgs >= 100, `uclient sent only ${sentMsgs} messages${report(r)}`);
  const sentBytes = sentMsgs * 1000;
  // The plugin reports at the session's end; signald commits it to turn_usage.
  let row;
  for (let i = 0; i < 50; i++) {
    // uclient also opens a short probe allocation: the relay session is the row with the bytes.
    row = sql(state.signald.dataDir, `SELECT sum(bytes_received), sum(bytes_sent), (SELECT state FROM turn_usage WHERE turn_username = '${username}' ORDER BY bytes_received DESC LIMIT 1), count(*) FROM turn_usage WHERE turn_username = '${username}'`);
    if (row.split('|')[2] === 'closed' && Number(row.split('|')[0]) >= sentBytes * 0.95) break;
    await sleep(200);
  }
  const [received, sent, stateText, rows] = row.split('|');
  console.log(`client sent ${sentMsgs} x 1000 B; turn_usage: received ${received} B, sent ${sent} B in ${rows} row(s), ${stateText}`);
  // From the client: its payloads plus TURN/ChannelData framing, within 5 %.
  assert.ok(Math.abs(Number(received) - sentBytes) <= sentBytes * 0.05, `received ${received} vs ${sentBytes} sent`);
  assert.ok(Math.abs(Number(sent) - sentBytes) <= sentBytes * 0.05, `relayed back ${sent} vs ${sentBytes}`);
  assert.equal(stateText, 'closed');
  assert.ok((await metric(state.signald.url, 'vytal_turn_reports_total')) > 0);
  assert.equal(await metric(state.signald.url, 'vytal_turn_reports_dropped_total'), 0);
});

// A longer uclient run (n messages per session, l bytes each, m clients of
// one allocation each) in the background; output() is what it has printed so far.
function uclientLong({ username, password }, n, length = 100, clients = 1) {
  const args = ['-v', '-u', username, '-w', password, '-p', String(turnPort()), '-e', HOST, '-r', String(state.peer.port),
    '-n', String(n), '-l', String(length), '-m', String(clients), '-c', HOST];
  let out = '';
  const done = new Promise((res) => {
    const proc = track(spawn(TURNUTIL('turnutils_uclient'), args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    proc.stdout.on('data', (c) => (out += c));
    proc.stderr.on('data', (c) => (out += c));
    const timer = setTimeout(() => proc.kill('SIGKILL'), 40000);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      res({ code, signal, timedOut: false, out, cmd: `turnutils_uclient ${args.join(' ')}` });
    });
  });
  done.output = () => out;
  return done;
}

// The messages uclient reports sent so far (its last progress line; once it
// has ended, its total).
const sentSoFar = (out) => Number([...out.matchAll(/tot_send_msgs=(\d+)/g)].at(-1)?.[1] ?? 0);

test('a TURN server restart closes its sessions\' usage rows, and its refusals are counted in signald', pluginOnly, async () => {
  const secret = state.secret ?? SECRET;
  const username = `${nowS() + 600}:restart-victim`;
  const running = uclientLong(credential(secret, username), 100000, 100); // runs until the server dies
  const rowState = () =>
    sql(state.signald.dataDir, `SELECT state FROM turn_usage WHERE turn_username = '${username}' ORDER BY bytes_received DESC LIMIT 1`);
  for (let i = 0; i < 100 && rowState() !== 'active'; i++) await sleep(100);
  assert.equal(rowState(), 'active', 'the running allocation has no active usage row');

  // coturn 4.6.1 sends no final report when it is killed; the next start tells signald.
  const gone = new Promise((res) => state.turn.proc.once('exit', res));
  state.turn.proc.kill('SIGKILL');
  await gone; // its listeners are closed only once it has exited
  await running;
  state.turn = await restartOnItsPort(state.turn);
  // The new server's first report ("started") closes them; up to 30 s on a busy machine.
  for (let i = 0; i < 300 && rowState() !== 'closed'; i++) await sleep(100);
  assert.equal(rowState(), 'closed', 'the killed server\'s session is still active in the call log');

  // A refused credential (expired) reaches /metrics through the plugin's counters.
  const expired = await uclient({ ...credential(secret, `${nowS() - 60}:late-nurse`), host: HOST, port: turnPort() });
  assert.notEqual(expired.code, 0, report(expired));
  let refused = 0;
  for (let i = 0; i < 50 && refused === 0; i++) {
    refused = await metric(state.signald.url, 'vytal_turn_refused_total{reason="expired"}');
    if (refused === 0) await sleep(200);
  }
  assert.ok(refused >= 1, 'the expired credential\'s refusal is not in signald\'s /metrics');
});

test('a TURN server stopped with SIGTERM reports its open sessions\' usage first: nothing relayed is lost', pluginOnly, async (t) => {
  // A new server for the tests after this one, whatever happens here.
  t.after(async () => {
    await stopChild(state.turn.proc);
    state.turn = await restartOnItsPort(state.turn);
  });
  const secret = state.secret ?? SECRET;
  const username = `${nowS() + 600}:graceful-stop`;
  const running = uclientLong(credential(secret, username), 100000, 1000); // runs until the server stops
  const row = () =>
    sql(state.signald.dataDir, `SELECT state, bytes_received FROM turn_usage WHERE turn_username = '${username}' ORDER BY bytes_received DESC LIMIT 1`).split('|');
  for (let i = 0; i < 100 && row()[0] !== 'active'; i++) await sleep(100);
  assert.equal(row()[0], 'active', 'the running allocation has no active usage row');
  // Some traffic, below the 4096 packets at which coturn reports on its own
  // (each message is about 4: to the server, to the peer, and back).
  for (let i = 0; i < 100 && sentSoFar(running.output()) < 20; i++) await sleep(100);
  const sentBefore = sentSoFar(running.output());
  assert.ok(sentBefore >= 20 && sentBefore < 1000, `uclient sent ${sentBefore} messages before the stop`);

  // 'close': the process has exited and its output is all read.
  const closed = new Promise((res) => state.turn.proc.once('close', (code, signal) => res({ code, signal })));
  state.turn.proc.kill('SIGTERM');
  const exit = await closed;
  const log = state.turn.log.slice(-3000);
  assert.deepEqual(exit, { code: 0, signal: null }, `vytal-turnserver did not stop cleanly:\n${log}`);
  const stopped = log.match(/stopped: (\d+) of (\d+) relay servers reported/);
  assert.ok(stopped && stopped[1] === stopped[2] && Number(stopped[1]) > 0, `not every relay server reported:\n${log}`);
  assert.match(log, /; 0 plugin report\(s\) unsent/, 'the plugin still held reports when the process ended');
  await running;

  // Before any new server starts (its "started" would close the row too, without these bytes).
  let r = row();
  for (let i = 0; i < 50 && r[0] !== 'closed'; i++) {
    await sleep(100);
    r = row();
  }
  console.log(`client had sent ${sentBefore} x 1000 B before the stop; turn_usage: ${r[0]}, received ${r[1]} B`);
  assert.equal(r[0], 'closed', 'the stopped server\'s session is still active in the call log');
  assert.ok(Number(r[1]) >= sentBefore * 1000, `received ${r[1]} B, but the client had sent ${sentBefore} x 1000 B before the stop`);
});

// More sessions end at the stop than the usage socket queues (the kernel's
// net.unix.max_dgram_qlen: 10 by default, 512 under systemd), two reports
// each (final usage, deleted): the plugin holds the rest and the server
// waits, within its 2 s, until they are sent.
test('a TURN server stopped with SIGTERM while many sessions are open closes every one of their usage rows', pluginOnly, async (t) => {
  t.after(async () => {
    await stopChild(state.turn.proc);
    state.turn = await restartOnItsPort(state.turn);
  });
  const CLIENTS = 15;
  const secret = state.secret ?? SECRET;
  const username = `${nowS() + 600}:many-at-stop`;
  const running = uclientLong(credential(secret, username), 100000, 100, CLIENTS);
  const count = (where) =>
    Number(sql(state.signald.dataDir, `SELECT count(*) FROM turn_usage WHERE turn_username = '${username}' AND ${where}`));
  for (let i = 0; i < 150 && count("state = 'active'") < CLIENTS; i++) await sleep(100);
  assert.ok(count("state = 'active'") >= CLIENTS, `only ${count("state = 'active'")} of ${CLIENTS} sessions are active`);

  const closed = new Promise((res) => state.turn.proc.once('close', (code, signal) => res({ code, signal })));
  // New allocations asked for while it stops, every 5 ms, each from a
  // fresh 5-tuple: each is made before its relay thread reports (and
  // reported with the rest) or refused (508 "Server stopping", patch 0015),
  // never left open with the process gone (the rows below).
  const late = [];
  const askers = [];
  let ended = false;
  const asking = (async () => {
    for (let i = 0; i < 100 && !ended; i++) {
      const c = await turnClient({ host: HOST, port: turnPort(), ...credential(secret, username), timeoutMs: 1000 });
      askers.push(c);
      c.allocate().then((r) => late.push(r === 'ok' ? r : `${r} ${c.lastReason}`), () => late.push('no answer'));
      await sleep(5);
    }
  })();
  state.turn.proc.kill('SIGTERM');
  const exit = await closed;
  ended = true;
  await asking;
  await sleep(1100);  // the last requests' timeouts
  await Promise.all(askers.map((c) => c.close()));
  t.diagnostic(`allocations asked for during the stop: ${JSON.stringify(late)}`);
  assert.ok(late.every((r) => ['ok', '508 Server stopping', 'no answer'].includes(r)), `unexpected answers during the stop: ${late}`);
  const log = state.turn.log.slice(-3000);
  assert.deepEqual(exit, { code: 0, signal: null }, `vytal-turnserver did not stop cleanly:\n${log}`);
  assert.match(log, /; 0 plugin report\(s\) unsent/, 'the plugin still held reports when the process ended');
  await running;

  // Before any new server starts (its "started" would close the rows too).
  for (let i = 0; i < 50 && count("state = 'active'") > 0; i++) await sleep(100);
  if (count("state = 'active'") > 0) {
    const active = sql(state.signald.dataDir, `SELECT * FROM turn_usage WHERE turn_username = '${username}' AND state = 'active'`);
    const relays = active.split('\n').map((r) => r.split('|')[4]).filter(Boolean);
    const stopLines = state.turn.log.split('\n').filter((l) => /stopp(ing|ed)|signal \d+|unsent/.test(l) || relays.some((a) => l.includes(a))).join('\n');
    const overloaded = await metric(state.signald.url, 'vytal_rejected_total{reason="turn_report_overloaded"}');
    assert.fail(`sessions of the stopped server are still active in the call log:\n${active}\n${stopLines}\nturn_report_overloaded: ${overloaded}\nallocations asked for during the stop: ${late}`);
  }
  assert.ok(count("state = 'closed' AND bytes_received > 0") >= CLIENTS, 'the closed sessions lost their bytes');
});
