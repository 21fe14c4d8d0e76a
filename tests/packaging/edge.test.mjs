// The appliance's edge as shipped in packaging/: nginx's SNI router on TCP 443
// (vytalwatch-stream.conf) in front of the HTTPS/WSS site
// (vytalwatch-https.conf) and of vytal-turnserver's TLS port, plus the certbot
// deploy hook. What an admin checks after installing them:
//  - nginx -t accepts the two files;
//  - https://appliance.example.org/healthz answers from signald, with HSTS, and
//    so does a TLS client that sends no server name (https://<IP>/);
//  - /metrics is not reachable from outside, in any spelling signald accepts;
//  - http:// redirects to https://, except certbot's ACME challenges;
//  - the demo page is served (its token travels in the URL fragment); a query
//    string is refused and no log keeps it;
//  - a WebSocket (wss://) is upgraded, signals, and gets signald's pings;
//  - TURN over TLS on the same port with SNI turn.example.org allocates a relay
//    in vytal-turnserver and relays to a peer;
//  - the client's address survives the SNI router (PROXY protocol);
//  - the certbot hook deploys a renewed certificate and both servers serve it;
//  - the admin page under https://appliance.example.org/admin/: a redirect
//    from /admin, a login through the page in Chromium, pages that load, and
//    the session cookie and CSRF check working behind nginx.
//
// The nginx files are used as shipped, with only ports, file paths and the
// listen addresses rewritten (443 and 80 on every address become free ports
// on loopback; 3000, 5349, 8443, 8444 become the test's ports; /etc and
// /var/log paths become temporary ones). The names appliance.example.org and
// turn.example.org are kept: clients resolve them to 127.0.0.1 themselves.
//
// turnutils_uclient (coturn 4.6.1) cannot send SNI (its TLS client never sets
// a server name), and without SNI the router sends a connection to the HTTPS
// server. So the TURN test runs uclient over plain TCP into a small TLS
// wrapper in this process that opens the TLS connection to nginx with SNI
// turn.example.org and verifies the certificate: everything past the wrapper
// is TURN over TLS through nginx into vytal-turnserver.
//
// Environment: VYTAL_BUILD_DIR (vytal-signald, vytalctl, the TURN plugin),
// VYTAL_TURN_BIN_DIR (vytal-turnserver, turnutils_uclient, turnutils_peer;
// default $VYTAL_BUILD_DIR/turn/bin). Needs nginx and Debian's
// libnginx-mod-stream, openssl and curl.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFile, execFileSync } from 'node:child_process';
import { X509Certificate, randomUUID } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { chromium } from 'playwright-core';
import { startAdmin, addAccount } from '../integration/lib/admin.mjs';
import { startSignald, tempDir, sql, BUILD_DIR, VYTALCTL, JWT_SECRET } from '../integration/lib/signald.mjs';
import { Client, eventually, withTimeout, sleep } from '../integration/lib/ws_client.mjs';
import { onExit, stopChild, track } from '../integration/lib/children.mjs';

const execFileP = promisify(execFile);

const REPO = resolve(new URL('../..', import.meta.url).pathname);
const SITE_FILE = join(REPO, 'packaging/nginx/vytalwatch-https.conf');
const STREAM_FILE = join(REPO, 'packaging/nginx/vytalwatch-stream.conf');
const HOOK = join(REPO, 'packaging/certbot/vytalwatch-deploy-hook');
const TURN_BIN_DIR = resolve(process.env.VYTAL_TURN_BIN_DIR ?? join(BUILD_DIR, 'turn/bin'));
const TURNSERVER = join(TURN_BIN_DIR, 'vytal-turnserver');
const UCLIENT = join(TURN_BIN_DIR, 'turnutils_uclient');
const PEER = join(TURN_BIN_DIR, 'turnutils_peer');
const PLUGIN = join(BUILD_DIR, 'turn_plugin/libvytal_turn.so');
const NGINX = process.env.VYTAL_NGINX ?? '/usr/sbin/nginx';
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

const HOST = '127.0.0.1';
const APP = 'appliance.example.org';
const TURN_NAME = 'turn.example.org';
const REALM = 'vytalwatch'; // vytalctl turn-config's default
const MESSAGES = 5; // per uclient session (-m 1: an RTP and an RTCP session)
const IS_ROOT = process.getuid?.() === 0;

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// ---------------------------------------------------------------- processes

const state = {};
onExit(() => {
  for (const d of [state.dir, state.signald?.dataDir]) if (d) rmSync(d, { recursive: true, force: true });
});

function capture(proc) {
  const out = { text: '' };
  for (const s of [proc.stdout, proc.stderr]) {
    s?.setEncoding('utf8');
    s?.on('data', (c) => (out.text += c));
  }
  return out;
}

// ---------------------------------------------------------------- ports

function listenFree(host, port) {
  return new Promise((res) => {
    const s = net.createServer();
    s.once('error', () => res(null));
    s.listen(port, host, () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

function udpFree(port, host = HOST) {
  return new Promise((res) => {
    const s = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    s.once('error', () => res(null));
    s.bind(port, host, () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

// A TCP port free on 127.0.0.1 (and on ::1 when `v6`), not in `taken`.
async function tcpPort(taken, { v6 = false, udp = false } = {}) {
  for (let i = 0; i < 100; i++) {
    const p = await listenFree(HOST, 0);
    if (!p || taken.has(p)) continue;
    if (v6 && (await listenFree('::1', p)) === null) continue;
    if (udp && (await udpFree(p)) === null) continue;
    taken.add(p);
    return p;
  }
  throw new Error('no free port');
}

// A UDP port p with p+1 free too (turnutils_peer: RTP and RTCP).
async function udpPair(taken) {
  for (let i = 0; i < 100; i++) {
    const p = await udpFree(0);
    if (p && p < 65535 && !taken.has(p) && !taken.has(p + 1) && (await udpFree(p + 1)) !== null) {
      taken.add(p).add(p + 1);
      return p;
    }
  }
  throw new Error('no free UDP port pair');
}

// Relay ports below Linux's ephemeral range, so they do not collide with the above.
function relayRange() {
  const min = 20000 + 40 * Math.floor(Math.random() * 300);
  return { min, max: min + 39 };
}

// ---------------------------------------------------------------- helpers

function openssl(args) {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

// A self-signed certificate for both names, as the package's development pair.
function makeCert(dir, name) {
  const crt = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', crt,
    '-days', '2', '-subj', `/CN=${APP}`, '-addext', `subjectAltName=DNS:${APP},DNS:${TURN_NAME}`]);
  const pem = readFileSync(crt, 'utf8');
  return { crt, key, pem, keyPem: readFileSync(key, 'utf8'), fingerprint: new X509Certificate(pem).fingerprint256 };
}

function vytalctl(args, env) {
  return execFileSync(VYTALCTL, args, { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
}

// Replaces each key of `map` everywhere in `text`; every key must occur, so a
// changed example file fails here rather than listening on a real port.
function substitute(text, map, file) {
  let out = text;
  for (const [from, to] of Object.entries(map)) {
    assert.ok(out.includes(from), `${file}: expected "${from}" in the shipped file`);
    out = out.split(from).join(to);
  }
  return out;
}

async function curl(args) {
  const all = ['-sS', '-i', '--max-time', '10', ...args];
  try {
    const { stdout } = await execFileP('curl', all, { encoding: 'utf8' });
    return parseHttp(stdout, all);
  } catch (e) {
    return { status: 0, headers: {}, body: '', error: `${e.message}\n${e.stderr ?? ''}`, cmd: `curl ${all.join(' ')}` };
  }
}

function parseHttp(raw, args) {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, end).split('\r\n');
  const status = Number(head[0].match(/^HTTP\/[\d.]+ (\d{3})/)?.[1] ?? 0);
  const headers = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status, headers, body: raw.slice(end + 4), cmd: `curl ${args.join(' ')}` };
}

const resolveArgs = (port) => ['--resolve', `${APP}:${port}:${HOST}`];
const appUrl = (path) => `https://${APP}:${state.ports.edge}${path}`;

function tail(file, lines = 40) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(none)';
  }
}

// Appended to every failure: what nginx and vytal-turnserver said.
function diagnostics() {
  const d = state.dir;
  if (!d) return '';
  return `\n--- nginx error log ---\n${tail(join(d, 'logs/error.log'))}` +
    `\n--- site error log ---\n${tail(join(d, 'logs/vytalwatch-error.log'))}` +
    `\n--- stream log ---\n${tail(join(d, 'logs/vytalwatch-stream.log'), 10)}` +
    `\n--- nginx output ---\n${state.nginx?.out.text.slice(-2000) ?? ''}` +
    `\n--- vytal-turnserver log (tail) ---\n${state.turn?.out.text.split('\n').slice(-30).join('\n') ?? ''}`;
}

function edgeTest(name, opts, fn) {
  test(name, opts, async (t) => {
    try {
      await fn(t);
    } catch (e) {
      e.message += diagnostics();
      throw e;
    }
  });
}

// Waits until `re` appears in a growing text; returns the text.
async function waitFor(get, re, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    const text = get();
    if (re.test(text) || Date.now() > end) return text;
    await sleep(50);
  }
}

// The certificate a TLS client gets from the edge for `servername` (no
// verification: this only looks).
function servedCert(servername) {
  return new Promise((res, rej) => {
    const s = tls.connect({ host: HOST, port: state.ports.edge, servername, rejectUnauthorized: false }, () => {
      const c = s.getPeerCertificate();
      s.destroy();
      res(c.fingerprint256);
    });
    s.once('error', rej);
    s.setTimeout(5000, () => s.destroy(new Error(`TLS handshake for ${servername} timed out`)));
  });
}

// ---------------------------------------------------------------- fixture: TURN

async function startTurn(dir, taken) {
  const tlsDir = join(dir, 'tls');
  const keyring = join(dir, 'keyring');
  for (let attempt = 0; ; attempt++) {
    const port = await tcpPort(taken, { udp: true });
    const tlsPort = await tcpPort(taken, { udp: true }); // TLS/TCP and DTLS/UDP
    const relay = relayRange();
    const env = {
      VYTAL_TURN_KEYRING_FILE: keyring,
      VYTAL_TURN_LISTEN_IPS: HOST,
      VYTAL_TURN_RELAY_IPS: HOST,
      VYTAL_TURN_PORT: String(port),
      VYTAL_TURN_TLS_PORT: String(tlsPort),
      VYTAL_TURN_MIN_PORT: String(relay.min),
      VYTAL_TURN_MAX_PORT: String(relay.max),
      VYTAL_TURN_PLUGIN_PATH: PLUGIN,
      VYTAL_TURN_CERT_FILE: join(tlsDir, 'turn.crt'),
      VYTAL_TURN_KEY_FILE: join(tlsDir, 'turn.key'),
    };
    if (!existsSync(keyring)) vytalctl(['rotate-turn-secret'], env);
    // The appliance's own configuration, with one test-only change: the peer
    // (turnutils_peer) is on loopback.
    const config = vytalctl(['turn-config'], env).replace(/^no-multicast-peers$/m, 'no-multicast-peers\nallow-loopback-peers');
    const conf = join(dir, 'vytal-turnserver.conf');
    writeFileSync(conf, config);
    const proc = track(spawn(TURNSERVER, ['-c', conf, '-v', '--log-file=stdout', '--pidfile', join(dir, 'turnserver.pid'),
      '--db', join(dir, 'turndb')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }));
    const out = capture(proc);
    const ready = new RegExp(`TLS/TCP listener opened on : ${escapeRe(HOST)}:${tlsPort}\\b`);
    const text = await waitFor(() => out.text, new RegExp(`${ready.source}|Cannot bind|CONFIG ERROR`), 8000);
    if (ready.test(text) && proc.exitCode === null) return { proc, out, port, tlsPort, relay, env };
    await stopChild(proc);
    if (attempt === 2) throw new Error(`vytal-turnserver did not start:\n${out.text}`);
  }
}

async function startPeer(port) {
  const proc = track(spawn(PEER, ['-L', HOST, '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const out = capture(proc);
  const sock = dgram.createSocket('udp4');
  sock.on('error', () => {});
  try {
    await withTimeout(new Promise((res) => {
      sock.on('message', res);
      const tick = setInterval(() => sock.send('ping', port, HOST), 50);
      sock.once('message', () => clearInterval(tick));
      proc.once('exit', () => clearInterval(tick));
    }), 5000, () => `turnutils_peer to echo:\n${out.text}`);
  } finally {
    sock.close();
  }
  return { proc, port };
}

// ---------------------------------------------------------------- fixture: nginx

function renderNginx(dir, ports) {
  const tlsDir = join(dir, 'tls');
  const logs = join(dir, 'logs');
  const site = substitute(readFileSync(SITE_FILE, 'utf8'), {
    'listen 80;': `listen ${HOST}:${ports.http};`,
    'listen [::]:80;': `listen [::1]:${ports.http};`,
    '127.0.0.1:8443': `${HOST}:${ports.https}`,
    '127.0.0.1:3000': `${HOST}:${state.signald.port}`,
    '127.0.0.1:3001': `${HOST}:${state.admin.port}`,
    '/etc/vytalwatch/tls/https.crt': join(tlsDir, 'https.crt'),
    '/etc/vytalwatch/tls/https.key': join(tlsDir, 'https.key'),
    '/var/www/letsencrypt': join(dir, 'webroot'),
    '/var/log/nginx/vytalwatch-access.log': join(logs, 'vytalwatch-access.log'),
    '/var/log/nginx/vytalwatch-error.log': join(logs, 'vytalwatch-error.log'),
  }, SITE_FILE);
  const stream = substitute(readFileSync(STREAM_FILE, 'utf8'), {
    'listen 443;': `listen ${HOST}:${ports.edge};`,
    'listen [::]:443;': `listen [::1]:${ports.edge};`,
    '127.0.0.1:8443': `${HOST}:${ports.https}`,
    '127.0.0.1:8444': `${HOST}:${ports.hop}`,
    '127.0.0.1:5349': `${HOST}:${state.turn.tlsPort}`,
    '/var/log/nginx/vytalwatch-stream.log': join(logs, 'vytalwatch-stream.log'),
  }, STREAM_FILE);
  for (const [name, text] of [['site', site], ['stream', stream]]) {
    // Nothing of the host's: no /etc or /var path, no port 443 or 80 on every address.
    const directives = text.replace(/#.*$/gm, '');
    assert.equal(directives.match(/.*\/(etc|var)\/.*/)?.[0], undefined, `${name}: a system path is left`);
    assert.equal(directives.match(/.*listen\s+(\[::\]:)?(443|80)\b.*/)?.[0], undefined, `${name}: a real port is left`);
  }
  const t = join(dir, 'nginx-temp');
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(t, sub), { recursive: true });
  writeFileSync(join(dir, 'vytalwatch-site.conf'), site);
  writeFileSync(join(dir, 'vytalwatch-stream.conf'), stream);
  // The top level an admin's nginx.conf has, with everything in the temp dir.
  writeFileSync(join(dir, 'nginx.conf'), [
    `load_module ${STREAM_MODULE};`,
    // As root, workers would run as nobody and not reach the 0700 temp dir.
    IS_ROOT ? 'user root;' : '',
    'worker_processes 1;',
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(logs, 'error.log')} info;`,
    'events { worker_connections 512; }',
    'http {',
    `    access_log ${join(logs, 'access.log')};`,
    ...['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((s) => `    ${s === 'body' ? 'client_body' : s}_temp_path ${join(t, s)};`),
    `    include ${join(dir, 'vytalwatch-site.conf')};`,
    '}',
    `include ${join(dir, 'vytalwatch-stream.conf')};`,
    '',
  ].join('\n'));
  return join(dir, 'nginx.conf');
}

async function startNginx(dir, taken) {
  for (let attempt = 0; ; attempt++) {
    state.ports = {
      edge: await tcpPort(taken, { v6: true }),
      http: await tcpPort(taken, { v6: true }),
      https: await tcpPort(taken),
      hop: await tcpPort(taken),
    };
    const conf = renderNginx(dir, state.ports);
    const args = ['-p', `${dir}/`, '-c', conf];
    try {
      execFileSync(NGINX, [...args, '-t'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      throw new Error(`nginx -t refused the configuration:\n${e.stderr}${e.stdout}\n--- rendered ---\n${readFileSync(conf, 'utf8')}`);
    }
    const proc = track(spawn(NGINX, [...args, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    const out = capture(proc);
    state.nginx = { proc, out, args };
    // Ready once signald answers through the whole chain.
    const up = await eventually(async () => proc.exitCode === null &&
      (await curl([...resolveArgs(state.ports.edge), '-k', appUrl('/healthz')])).status === 200, 5000, 100);
    if (up) return;
    await stopChild(proc);
    if (attempt === 2 || !/Address already in use/.test(out.text + tail(join(dir, 'logs/error.log')))) {
      throw new Error(`nginx did not come up${diagnostics()}`);
    }
  }
}

// ---------------------------------------------------------------- fixture

before(async () => {
  for (const [what, path] of [['nginx', NGINX], ['libnginx-mod-stream', STREAM_MODULE], ['vytal-turnserver', TURNSERVER],
    ['vytal-signald', join(BUILD_DIR, 'signald/vytal-signald')]]) {
    assert.ok(existsSync(path), `${what} is missing: ${path}`);
  }
  state.dir = tempDir('vytal-edge-');
  const dir = state.dir;
  for (const sub of ['tls', 'logs', 'webroot/.well-known/acme-challenge', 'certs']) mkdirSync(join(dir, sub), { recursive: true });
  // The development pair the package installs, for both names, in the places
  // the hook writes to: https.* for nginx, turn.* for vytal-turnserver.
  state.cert = makeCert(join(dir, 'certs'), 'first');
  for (const name of ['https', 'turn']) {
    copyFileSync(state.cert.crt, join(dir, 'tls', `${name}.crt`));
    copyFileSync(state.cert.key, join(dir, 'tls', `${name}.key`));
  }
  const taken = new Set();
  state.turn = await startTurn(dir, taken);
  state.peer = await startPeer(await udpPair(taken));
  // As the package configures it: nginx on loopback names the client (X-Real-IP).
  state.signald = await startSignald({ VYTAL_WS_PING_INTERVAL_SECONDS: '2', VYTAL_TRUSTED_PROXIES: '127.0.0.1' });
  track(state.signald.proc);
  // vytal-admin beside it, as the package configures it (nginx on loopback is trusted).
  state.admin = await startAdmin(state.signald, { VYTAL_TRUSTED_PROXIES: '127.0.0.1' });
  addAccount(state.signald, 'edge-admin', 'admin', ADMIN_PASSWORD);
  await startNginx(dir, taken);
}, { timeout: 60000 });

after(async () => {
  // nginx first (it holds connections to the others), each by its own PID.
  await stopChild(state.nginx?.proc);
  await state.admin?.stop();
  await Promise.all([state.signald?.stop(), stopChild(state.turn?.proc), stopChild(state.peer?.proc)]);
  state.signald?.cleanup();
  if (state.dir) rmSync(state.dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- tests

edgeTest('nginx -t accepts the shipped site and stream files', {}, () => {
  const r = spawnSync(NGINX, [...state.nginx.args, '-t'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /syntax is ok/, r.stderr);
  assert.match(r.stderr, /test is successful/, r.stderr);
});

edgeTest('https://appliance.example.org/healthz on the shared port answers from signald, with HSTS and a verified certificate', {}, async () => {
  const direct = await (await fetch(`${state.signald.url}/healthz`)).text();
  // Verified against the certificate, for the appliance's name (no -k).
  const r = await curl([...resolveArgs(state.ports.edge), '--cacert', state.cert.crt, appUrl('/healthz')]);
  assert.equal(r.status, 200, `${r.cmd}\n${r.error ?? r.body}`);
  assert.equal(r.body, direct, "signald's own answer");
  assert.deepEqual(JSON.parse(r.body), { status: 'ok' });
  assert.match(r.headers['strict-transport-security'] ?? '', /max-age=31536000/, JSON.stringify(r.headers));
  // TLS 1.2 clients still get in (TLS 1.3 is what curl used above).
  const v12 = await curl([...resolveArgs(state.ports.edge), '--cacert', state.cert.crt, '--tlsv1.2', '--tls-max', '1.2', appUrl('/healthz')]);
  assert.equal(v12.status, 200, `${v12.cmd}\n${v12.error ?? v12.body}`);
  // A client that sends no server name (a browser on https://<IP>/) reaches the HTTPS server too.
  const byIp = await curl(['-k', `https://${HOST}:${state.ports.edge}/healthz`]);
  assert.equal(byIp.status, 200, `${byIp.cmd}\n${byIp.error ?? byIp.body}`);
  assert.equal(byIp.body, direct);
});

edgeTest('/metrics is not served through nginx, in any spelling signald would accept', {}, async () => {
  const direct = await fetch(`${state.signald.url}/metrics`);
  assert.equal(direct.status, 200, 'signald serves /metrics on loopback');
  for (const path of ['/metrics', '/metrics/', '//metrics', '/metrics//', '/%6Detrics', '/metrics?format=text', '/./metrics']) {
    const r = await curl([...resolveArgs(state.ports.edge), '--cacert', state.cert.crt, '--path-as-is', appUrl(path)]);
    assert.ok([403, 404].includes(r.status), `${path}: ${r.status}\n${r.body.slice(0, 300)}`);
    assert.doesNotMatch(r.body, /vytal_\w+/, `${path}: metrics leaked`);
  }
});

// The demo page takes its JWT in the URL fragment, which browsers never send:
// it is served through the edge. A query string (an old link with ?token=) is
// refused, and no log line keeps it.
edgeTest('the demo page is served through nginx; a query string is refused and never logged', {}, async () => {
  const direct = await (await fetch(`${state.signald.url}/webrtc/demo/`)).text();
  for (const path of ['/webrtc/demo/', '//webrtc/demo/', '/webrtc/demo']) {
    const r = await curl([...resolveArgs(state.ports.edge), '--cacert', state.cert.crt, '--path-as-is', appUrl(path)]);
    assert.equal(r.status, 200, `${path}: ${r.status}\n${r.body.slice(0, 300)}`);
    assert.equal(r.body, direct, `${path}: signald's page`);
    assert.match(r.body, /location\.hash/, 'the page reads its token from the fragment');
  }
  const js = await curl([...resolveArgs(state.ports.edge), '--cacert', state.cert.crt, appUrl('/webrtc/demo/vytal-client.js')]);
  assert.equal(js.status, 200);
  assert.match(js.body, /export class VytalCall/);

  const secret = `edge-demo-token-${process.pid}`;
  for (const query of [`?token=${secret}`, `?callId=x&token=${secret}`, `?TOKEN=${secret}`, `?${secret}`]) {
    const r = await curl([...resolveArgs(state.ports.edge), '--cacert', state.cert.crt, appUrl(`/webrtc/demo/${query}`)]);
    assert.equal(r.status, 400, `${query}: ${r.status}\n${r.body.slice(0, 300)}`);
  }
  // Plain HTTP: redirected to the page without its query string.
  const redirect = await curl(['--resolve', `${APP}:${state.ports.http}:${HOST}`,
    `http://${APP}:${state.ports.http}/webrtc/demo/?token=${secret}`]);
  assert.equal(redirect.status, 301, `${redirect.cmd}\n${redirect.error ?? redirect.body}`);
  assert.equal(redirect.headers.location, `https://${APP}/webrtc/demo/`);
  // The requests were logged, without the token, in every log nginx writes.
  const logs = join(state.dir, 'logs');
  const access = await waitFor(() => tail(join(logs, 'vytalwatch-access.log'), 400), /"GET \/webrtc\/demo\/ HTTP\/[\d.]+" 400 /);
  assert.match(access, /"GET \/webrtc\/demo\/ HTTP\/[\d.]+" 400 /, access);
  for (const f of readdirSync(logs)) {
    assert.doesNotMatch(readFileSync(join(logs, f), 'utf8'), new RegExp(secret), `${f} keeps the token`);
  }
});

edgeTest('plain HTTP redirects to https://, except ACME challenges served from the webroot', {}, async () => {
  const base = `http://${APP}:${state.ports.http}`;
  const r = await curl(['--resolve', `${APP}:${state.ports.http}:${HOST}`, `${base}/webrtc/calls?x=1`]);
  assert.equal(r.status, 301, `${r.cmd}\n${r.error ?? r.body}`);
  assert.equal(r.headers.location, `https://${APP}/webrtc/calls?x=1`);
  const token = 'edge-test-token-0123456789';
  writeFileSync(join(state.dir, 'webroot/.well-known/acme-challenge', token), `${token}.thumbprint`);
  const acme = await curl(['--resolve', `${TURN_NAME}:${state.ports.http}:${HOST}`,
    `http://${TURN_NAME}:${state.ports.http}/.well-known/acme-challenge/${token}`]);
  assert.equal(acme.status, 200, `${acme.cmd}\n${acme.error ?? acme.body}`);
  assert.equal(acme.body, `${token}.thumbprint`);
  const missing = await curl(['--resolve', `${APP}:${state.ports.http}:${HOST}`, `${base}/.well-known/acme-challenge/nope`]);
  assert.equal(missing.status, 404);
});

// A WebSocket to wss://appliance.example.org:<edge>/webrtc/ws, as a browser opens it.
function openWss(tok, { origin = `https://${APP}:${state.ports.edge}` } = {}) {
  const ws = new WebSocket(`wss://${APP}:${state.ports.edge}/webrtc/ws`, ['vytal.v1', `bearer.${tok}`], {
    ca: state.cert.pem,
    origin,
    handshakeTimeout: 5000,
    // appliance.example.org is 127.0.0.1 for this client (like curl --resolve).
    lookup: (host, opts, cb) => (opts?.all ? cb(null, [{ address: HOST, family: 4 }]) : cb(null, HOST, 4)),
  });
  return new Promise((res, rej) => {
    ws.once('open', () => res({ ws }));
    ws.once('unexpected-response', (req, r) => {
      res({ status: r.statusCode });
      req.destroy();
    });
    ws.once('error', rej);
  });
}

edgeTest('a WebSocket through nginx is upgraded, signals, and receives signald\'s pings', { timeout: 20000 }, async () => {
  const tok = vytalctl(['dev-token', '--sub', 'edge-nurse', '--role', 'provider'], { JWT_SECRET }).trim();
  const { ws, status } = await openWss(tok);
  assert.ok(ws, `upgrade refused with ${status}`);
  assert.equal(ws.protocol, 'vytal.v1');
  const c = new Client(ws, 'edge-nurse/provider');
  try {
    c.send({ type: 'join', callId: randomUUID(), requestId: 'edge-1' });
    const reply = await c.next('error', 5000, (m) => m.requestId === 'edge-1');
    assert.equal(reply.code, 'call_not_found', JSON.stringify(reply));
    // signald pings after 2 s idle here; the pong goes back through nginx and
    // the connection stays up.
    assert.ok(await eventually(() => c.pings >= 1, 6000), `pings received: ${c.pings}`);
    assert.equal(ws.readyState, WebSocket.OPEN);
    c.send({ type: 'join', callId: randomUUID(), requestId: 'edge-2' });
    assert.equal((await c.next('error', 5000, (m) => m.requestId === 'edge-2')).code, 'call_not_found');
  } finally {
    c.close();
  }
  // The Origin check still works behind the proxy.
  const foreign = await openWss(tok, { origin: 'https://evil.example' });
  assert.equal(foreign.status, 403);
});

edgeTest('the client address survives the SNI router (PROXY protocol): nginx logs 127.0.0.2, not the router', {}, async () => {
  const marker = `client-address-${process.pid}`;
  const r = await curl([...resolveArgs(state.ports.edge), '--cacert', state.cert.crt, '--interface', '127.0.0.2',
    appUrl(`/healthz?${marker}`)]);
  assert.equal(r.status, 200, `${r.cmd}\n${r.error ?? r.body}`);
  const access = join(state.dir, 'logs/vytalwatch-access.log');
  const line = (await waitFor(() => tail(access, 200), new RegExp(marker))).split('\n').find((l) => l.includes(marker));
  assert.ok(line, `no access log line for ${marker}`);
  assert.match(line, /^127\.0\.0\.2 /, line);
  const stream = join(state.dir, 'logs/vytalwatch-stream.log');
  const routed = new RegExp(`^127\\.0\\.0\\.2 .* sni="${escapeRe(APP)}" upstream=127\\.0\\.0\\.1:${state.ports.https} `, 'm');
  assert.match(await waitFor(() => tail(stream, 200), routed), routed);
});

edgeTest('signald\'s audit log names the client behind nginx (127.0.0.2), not nginx', {}, async () => {
  const tok = vytalctl(['dev-token', '--sub', 'edge-platform', '--role', 'service'], { JWT_SECRET }).trim();
  const r = await curl([...resolveArgs(state.ports.edge), '--cacert', state.cert.crt, '--interface', '127.0.0.2',
    '-X', 'POST', '-H', `Authorization: Bearer ${tok}`, '-H', 'Content-Type: application/json',
    '-d', '{"patientId":"edge-pat","providerId":"edge-dr","type":"video"}', appUrl('/webrtc/calls')]);
  assert.equal(r.status, 201, `${r.cmd}\n${r.error ?? r.body}`);
  const id = JSON.parse(r.body).id;
  assert.equal(sql(state.signald.dataDir, `SELECT remote_addr FROM audit_log WHERE call_id = '${id}'`), '127.0.0.2');
});

// A TCP listener that forwards each connection over TLS, with SNI, to the
// edge: uclient (no SNI support) speaks TURN over TCP to it.
async function sniWrapper(servername) {
  const sessions = [];
  const server = net.createServer((plain) => {
    const s = { authorized: null, error: null };
    sessions.push(s);
    const secure = tls.connect({ host: HOST, port: state.ports.edge, servername, ca: state.cert.pem });
    secure.once('secureConnect', () => {
      s.authorized = secure.authorized;
      s.protocol = secure.getProtocol();
    });
    plain.pipe(secure);
    secure.pipe(plain);
    secure.on('error', (e) => {
      s.error = e.message;
      plain.destroy();
    });
    plain.on('error', () => secure.destroy());
    plain.on('close', () => secure.destroy());
    secure.on('close', () => plain.destroy());
  });
  await new Promise((r) => server.listen(0, HOST, r));
  return { port: server.address().port, sessions, close: () => new Promise((r) => server.close(r)) };
}

function runUclient(args) {
  return new Promise((res) => {
    const proc = track(spawn(UCLIENT, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    const out = capture(proc);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill('SIGKILL');
    }, 20000);
    proc.on('close', (code) => {
      clearTimeout(timer);
      res({ code, timedOut, out: out.text, cmd: `turnutils_uclient ${args.join(' ')}` });
    });
  });
}

edgeTest('TURN over TLS on the shared port (SNI turn.example.org) allocates in vytal-turnserver and relays', { timeout: 40000 }, async () => {
  const cred = Object.fromEntries(vytalctl(['turn-credential', '--user', 'edge-tls-client', '--ttl', '600'], state.turn.env)
    .trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const wrapper = await sniWrapper(TURN_NAME);
  const from = state.turn.out.text.length;
  let r;
  try {
    r = await runUclient(['-v', '-t', '-u', cred.username, '-w', cred.password, '-p', String(wrapper.port),
      '-e', HOST, '-r', String(state.peer.port), '-n', String(MESSAGES), '-m', '1', HOST]);
  } finally {
    await wrapper.close();
  }
  const u = escapeRe(cred.username);
  // The sessions' last lines (closed) are logged a moment after uclient exits.
  const log = await waitFor(() => state.turn.out.text.slice(from), new RegExp(`closed \\(2nd stage\\), user <${u}>[^\\n]*\\n(?:.|\\n)*closed \\(2nd stage\\), user <${u}>`));
  const why = `\n$ ${r.cmd}\nexit=${r.code} timedOut=${r.timedOut}\n--- uclient ---\n${r.out}\n--- TLS sessions ---\n` +
    `${JSON.stringify(wrapper.sessions)}\n--- vytal-turnserver (this run) ---\n${log}`;

  // The TLS side: the edge presented a certificate valid for the TURN name.
  assert.ok(wrapper.sessions.length >= 1, `no connection went through the wrapper${why}`);
  for (const s of wrapper.sessions) {
    assert.equal(s.error, null, why);
    assert.equal(s.authorized, true, why);
    assert.match(s.protocol, /^TLSv1\.[23]$/, why);
  }
  // uclient: allocated, relayed everything to the peer and back.
  assert.equal(r.timedOut, false, `uclient hung${why}`);
  assert.equal(r.code, 0, `uclient failed${why}`);
  assert.match(r.out, /allocate response received: \n(?:\d+: : )?success\n/, why);
  const relay = [...r.out.matchAll(/Received relay addr: ([\d.]+):(\d+)/g)];
  assert.ok(relay.length >= 1, `no relay address${why}`);
  for (const [, , p] of relay) {
    assert.ok(Number(p) >= state.turn.relay.min && Number(p) <= state.turn.relay.max, `relay port ${p}${why}`);
  }
  const totals = r.out.match(/start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)/);
  assert.ok(totals, `no final counters${why}`);
  assert.equal(Number(totals[1]), 2 * MESSAGES, why);
  assert.equal(Number(totals[2]), Number(totals[1]), why);
  assert.match(r.out, /Total lost packets 0 \(/, why);
  // vytal-turnserver's side: this user's sessions over TLS (coturn terminated
  // it), on its TLS port, from nginx's hop: remote 127.0.0.1, the client's
  // address is not carried on this route (see vytalwatch-stream.conf).
  assert.match(log, new RegExp(`new, realm=<${REALM}>, username=<${u}>, .*method=TLSv1\\.[23]`), why);
  assert.match(log, new RegExp(`user <${u}>: incoming packet ALLOCATE processed, success`), why);
  assert.match(log, new RegExp(`closed \\(2nd stage\\), user <${u}> .*local 127\\.0\\.0\\.1:${state.turn.tlsPort}, remote 127\\.0\\.0\\.1:\\d+`), why);
  // The router logged the route: the TURN name to the TURN hop.
  const stream = join(state.dir, 'logs/vytalwatch-stream.log');
  const routed = new RegExp(`^127\\.0\\.0\\.1 .* sni="${escapeRe(TURN_NAME)}" upstream=127\\.0\\.0\\.1:${state.ports.hop} `, 'm');
  assert.match(await waitFor(() => tail(stream, 200), routed), routed, why);
});

edgeTest('TLS with SNI appliance.example.org reaches signald, not vytal-turnserver', {}, async () => {
  const from = state.turn.out.text.length;
  const answer = await new Promise((res, rej) => {
    const s = tls.connect({ host: HOST, port: state.ports.edge, servername: APP, ca: state.cert.pem, ALPNProtocols: ['http/1.1'] }, () => {
      s.write(`GET /healthz HTTP/1.1\r\nHost: ${APP}\r\nConnection: close\r\n\r\n`);
    });
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (d) => (text += d));
    s.on('end', () => res(text));
    s.on('error', rej);
  });
  assert.match(answer, /^HTTP\/1\.1 200 /, answer);
  assert.match(answer, /\{"status":"ok"\}/, answer);
  await sleep(200);
  assert.doesNotMatch(state.turn.out.text.slice(from), /tcp or tls connected to/, 'vytal-turnserver saw a connection');
});

// ---------------------------------------------------------------- certbot hook

// A stand-in for systemctl (systemd is not PID 1 where these tests run): it
// records its arguments; `reload` sends what the units' ExecReload sends
// (nginx: SIGHUP; vytal-turnserver: SIGUSR2, coturn re-reads its certificate)
// to the PIDs in FAKE_PIDS ("unit=pid ..."); `is-active` fails for the units
// in FAKE_INACTIVE.
const FAKE_SYSTEMCTL = `#!/bin/sh
echo "$*" >>"$FAKE_SYSTEMCTL_LOG"
case "$1" in
is-active)
    case " $FAKE_INACTIVE " in *" $3 "*) exit 3 ;; esac
    exit 0 ;;
reload)
    for pair in $FAKE_PIDS; do
        [ "\${pair%%=*}" = "$2" ] || continue
        case "$2" in nginx) kill -HUP "\${pair#*=}" ;; *) kill -USR2 "\${pair#*=}" ;; esac
        exit $?
    done
    exit 0 ;;
esac
exit 0
`;

function hookFixture(name) {
  const dir = join(state.dir, name);
  mkdirSync(join(dir, 'live'), { recursive: true });
  const fake = join(dir, 'systemctl');
  writeFileSync(fake, FAKE_SYSTEMCTL, { mode: 0o755 });
  const conf = join(dir, 'certbot.conf');
  writeFileSync(conf, `# written by the test\nVYTALWATCH_CERT_NAME=${APP}\n`);
  const calls = join(dir, 'systemctl.log');
  const lineage = (lineageName, cert) => {
    const l = join(dir, 'live', lineageName);
    mkdirSync(l, { recursive: true });
    if (cert) {
      writeFileSync(join(l, 'fullchain.pem'), cert.pem);
      writeFileSync(join(l, 'privkey.pem'), cert.keyPem);
    }
    return l;
  };
  const run = (env) => {
    writeFileSync(calls, '');
    try {
      const out = execFileSync('/bin/sh', [HOOK], {
        encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          PATH: process.env.PATH,
          VYTALWATCH_CERTBOT_CONF: conf,
          VYTALWATCH_SYSTEMCTL: fake,
          VYTALWATCH_GROUP: execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim(), // no vytalwatch group here
          FAKE_SYSTEMCTL_LOG: calls,
          ...env,
        },
      });
      return { code: 0, out, calls: readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean) };
    } catch (e) {
      return { code: e.status, out: `${e.stdout}${e.stderr}`, calls: readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean) };
    }
  };
  return { dir, lineage, run };
}

const hookOpts = { skip: !IS_ROOT && 'the hook sets owner root (run as root)', timeout: 30000 };
const FILES = ['https.crt', 'https.key', 'turn.crt', 'turn.key'];
const tlsContents = (dir) => Object.fromEntries(FILES.map((f) => [f, readFileSync(join(dir, f), 'utf8')]));

edgeTest('the certbot hook deploys a renewal: files replaced (https root 0600/0644, turn 0640), both servers reloaded and serving the new certificate', hookOpts, async () => {
  const h = hookFixture('hook-deploy');
  const renewed = makeCert(join(state.dir, 'certs'), 'renewed');
  assert.notEqual(renewed.fingerprint, state.cert.fingerprint);
  assert.equal(await servedCert(APP), state.cert.fingerprint, 'before: the first certificate (https)');
  assert.equal(await servedCert(TURN_NAME), state.cert.fingerprint, 'before: the first certificate (TURN)');
  const tlsDir = join(state.dir, 'tls');
  const r = h.run({
    RENEWED_LINEAGE: h.lineage(APP, renewed),
    RENEWED_DOMAINS: `${APP} ${TURN_NAME}`,
    VYTALWATCH_TLS_DIR: tlsDir,
    FAKE_PIDS: `nginx=${state.nginx.proc.pid} vytal-turnserver=${state.turn.proc.pid}`,
  });
  assert.equal(r.code, 0, r.out);
  const now = tlsContents(tlsDir);
  for (const f of FILES) {
    assert.equal(now[f], f.endsWith('.crt') ? renewed.pem : renewed.keyPem, `${f} has the renewed content`);
    const st = statSync(join(tlsDir, f));
    const mode = { 'https.crt': 0o644, 'https.key': 0o600, 'turn.crt': 0o640, 'turn.key': 0o640 }[f];
    assert.equal(st.mode & 0o777, mode, `${f} mode ${(st.mode & 0o777).toString(8)}`);
    assert.equal(st.uid, 0, `${f} owner`);
    assert.equal(st.gid, f.startsWith('https') ? 0 : process.getgid(), `${f} group`);
  }
  assert.deepEqual(readdirSync(tlsDir).sort(), [...FILES].sort(), 'no temporary file left behind');
  assert.deepEqual(r.calls, ['is-active --quiet vytal-turnserver', 'reload vytal-turnserver', 'is-active --quiet nginx', 'reload nginx']);
  // What clients see after the reloads: the renewed certificate on both routes.
  assert.ok(await eventually(async () => (await servedCert(APP)) === renewed.fingerprint, 5000, 100), 'nginx serves the renewed certificate');
  assert.ok(await eventually(async () => (await servedCert(TURN_NAME)) === renewed.fingerprint, 5000, 100),
    'vytal-turnserver serves the renewed certificate');
  const ok = await curl([...resolveArgs(state.ports.edge), '--cacert', renewed.crt, appUrl('/healthz')]);
  assert.equal(ok.status, 200, `${ok.cmd}\n${ok.error ?? ok.body}`);
});

edgeTest('the certbot hook ignores other lineages, refuses missing or mismatched files, and reloads only running services', hookOpts, async () => {
  const h = hookFixture('hook-cases');
  const tlsDir = join(h.dir, 'tls');
  mkdirSync(tlsDir);
  for (const f of FILES) writeFileSync(join(tlsDir, f), `old ${f}\n`, { mode: 0o640 });
  const before = tlsContents(tlsDir);
  const other = makeCert(join(h.dir), 'other');
  const base = { VYTALWATCH_TLS_DIR: tlsDir, RENEWED_DOMAINS: APP };

  // Another certificate on the same machine: not ours, nothing touched.
  let r = h.run({ ...base, RENEWED_LINEAGE: h.lineage('intranet.example.org', other) });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /not the appliance's certificate.*ignored/, r.out);
  assert.deepEqual(r.calls, []);
  assert.deepEqual(tlsContents(tlsDir), before);

  // Our lineage with a file missing: a clear error, nothing touched.
  const broken = h.lineage(APP, null);
  writeFileSync(join(broken, 'fullchain.pem'), other.pem);
  r = h.run({ ...base, RENEWED_LINEAGE: broken });
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /missing or empty .*privkey\.pem/, r.out);
  assert.deepEqual(r.calls, []);
  assert.deepEqual(tlsContents(tlsDir), before);

  // A key that is not the certificate's: refused before anything is replaced.
  writeFileSync(join(broken, 'privkey.pem'), state.cert.keyPem);
  r = h.run({ ...base, RENEWED_LINEAGE: broken });
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /does not match the certificate/, r.out);
  assert.deepEqual(tlsContents(tlsDir), before);

  // Not configured: refuses to guess.
  r = h.run({ ...base, RENEWED_LINEAGE: h.lineage(APP, other), VYTALWATCH_CERTBOT_CONF: join(h.dir, 'absent.conf') });
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /VYTALWATCH_CERT_NAME is not set/, r.out);
  assert.deepEqual(tlsContents(tlsDir), before);

  // Deployed while nginx is stopped: only vytal-turnserver is reloaded.
  r = h.run({ ...base, RENEWED_LINEAGE: h.lineage(APP, other), FAKE_INACTIVE: 'nginx' });
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(r.calls, ['is-active --quiet vytal-turnserver', 'reload vytal-turnserver', 'is-active --quiet nginx']);
  assert.equal(readFileSync(join(tlsDir, 'turn.key'), 'utf8'), other.keyPem);
  assert.equal(readFileSync(join(tlsDir, 'https.crt'), 'utf8'), other.pem);
});

// ---------------------------------------------------------------- the admin page

const ADMIN_PASSWORD = 'edge admin passphrase';

edgeTest('the admin page works under https://appliance.example.org/admin/: redirect, login, cookie, CSRF', {}, async () => {
  const moved = await curl([...resolveArgs(state.ports.edge), '-k', appUrl('/admin')]);
  assert.equal(moved.status, 301);
  assert.equal(moved.headers.location, appUrl('/admin/'));
  const page = await curl([...resolveArgs(state.ports.edge), '-k', appUrl('/admin/')]);
  assert.equal(page.status, 200);
  assert.match(page.body, /<script type="module" src="app.js">/);
  assert.match(page.headers['content-security-policy'], /frame-ancestors 'none'/);

  const origin = `https://${APP}:${state.ports.edge}`;
  const login = await curl([...resolveArgs(state.ports.edge), '-k', '-X', 'POST', '-H', 'content-type: application/json',
    '-H', `origin: ${origin}`, '--data', JSON.stringify({ name: 'edge-admin', password: ADMIN_PASSWORD }), appUrl('/admin/api/login')]);
  assert.equal(login.status, 200, login.body);
  assert.match(login.headers['set-cookie'], /^__Host-vytal_admin=[\w-]{43}; Path=\/; Secure; HttpOnly; SameSite=Strict$/);
  const cookie = login.headers['set-cookie'].split(';')[0];
  const csrf = JSON.parse(login.body).csrf;
  const overview = await curl([...resolveArgs(state.ports.edge), '-k', '-H', `cookie: ${cookie}`, appUrl('/admin/api/overview')]);
  assert.equal(overview.status, 200);
  assert.equal(JSON.parse(overview.body).services[0].state, 'up');
  // Behind nginx the page's origin is https://<Host>: another is refused.
  const foreign = await curl([...resolveArgs(state.ports.edge), '-k', '-X', 'POST', '-H', 'content-type: application/json',
    '-H', 'origin: https://evil.example', '-H', `cookie: ${cookie}`, '-H', `x-csrf-token: ${csrf}`, '--data', '{}', appUrl('/admin/api/logout')]);
  assert.equal(foreign.status, 403);
  // The audit row names the client nginx saw, not nginx.
  await waitFor(() => sql(state.signald.dataDir, "SELECT count(*) FROM audit_log WHERE actor_id = 'edge-admin' AND action = 'admin.login'"), /^1$/);
  assert.equal(sql(state.signald.dataDir, "SELECT remote_addr FROM audit_log WHERE actor_id = 'edge-admin' AND action = 'admin.login'"), HOST);

  // A real browser: log in through the page over HTTPS and walk to the call log.
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--ignore-certificate-errors',
      `--host-resolver-rules=MAP ${APP} ${HOST}`],
  });
  try {
    const tab = await (await browser.newContext()).newPage();
    await tab.goto(appUrl('/admin'));
    assert.equal(tab.url(), appUrl('/admin/'));
    await tab.fill('#login-form input[name=name]', 'edge-admin');
    await tab.fill('#login-form input[name=password]', ADMIN_PASSWORD);
    await tab.click('#login-form button[type=submit]');
    await tab.waitForSelector('#page[data-ready=true][data-page=overview]');
    assert.equal(tab.url(), appUrl('/admin/#/overview'));
    await tab.click('nav a[data-page=calls]');
    await tab.waitForSelector('#page[data-ready=true][data-page=calls]');
    const [c] = await tab.context().cookies();
    assert.deepEqual([c.name, c.path, c.secure, c.httpOnly, c.sameSite], ['__Host-vytal_admin', '/', true, true, 'Strict']);
    await tab.click('#logout');
    await tab.waitForSelector('#login:not([hidden])');
  } finally {
    await browser.close();
  }
});
