// `vytalctl doctor` and `vytalctl status` against a whole running appliance:
// vytal-signald, vytal-syncd, vytal-admin, the patched vytal-turnserver with
// the plugin, nginx on 443 and a PostgreSQL 15 with TLS, configured by the
// package's own appliance.conf plus a site.conf and a secrets.conf as the
// units read them, with certificates from a test CA made by openssl.
//
// Everything runs in a network namespace this test makes, so the real ports
// (443, 3478, 5349, 3000, 9102, 3001, 5432) are free and the relay address
// can be a documentation address (198.51.100.7) on an interface, as on an
// appliance; no packet leaves the namespace. The file runs itself again
// inside it (the outer run only makes and removes the namespace).
//
// Healthy: every check OK (the clock as the kernel says: this test does not
// change the host's clock) and exit status 0. Then each fault is named, with
// exit status 1, by doctor and by status: TURN stopped, an expired HTTPS
// certificate, PostgreSQL down; and by doctor: a key ring its TURN user cannot
// read, a secrets file open to all, a TURN key only in secrets.conf.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { BUILD_DIR, SIGNALD, VYTALCTL, JWT_SECRET, tempDir, stopProcess } from './lib/signald.mjs';
import { SYNCD } from './lib/syncd.mjs';
import { ADMIN } from './lib/admin.mjs';
import { startPostgres } from './lib/postgres.mjs';
import { track } from './lib/children.mjs';
import { restCredential, turnClient } from './lib/turn_raw.mjs';

const SELF = fileURLToPath(import.meta.url);
const NS = process.env.VYTAL_DOCTOR_NETNS;
const RELAY = '198.51.100.7';
const USER_QUOTA = 100;

if (!NS) {
  // Outer run: the namespace, a veth pair inside it carrying the relay
  // address, and this file again in it.
  const ns = `vytal-doctor-${process.pid}`;
  const inNs = (...cmd) => execFileSync('ip', ['netns', 'exec', ns, ...cmd]);
  before(() => {
    execFileSync('ip', ['netns', 'add', ns]);
    inNs('ip', 'link', 'set', 'lo', 'up');
    inNs('ip', 'link', 'add', 'relay0', 'type', 'veth', 'peer', 'name', 'relay1');
    inNs('ip', 'addr', 'add', `${RELAY}/24`, 'dev', 'relay0');
    inNs('ip', 'link', 'set', 'relay1', 'up');
    inNs('ip', 'link', 'set', 'relay0', 'up');
  });
  after(() => {
    try {
      execFileSync('ip', ['netns', 'del', ns]);
    } catch {}
  });
  test('doctor and status against a running appliance (in a network namespace)', { timeout: 280000 }, async () => {
    // Not nested in this runner (NODE_TEST_CONTEXT would make the child skip its
    // tests): the child runs its tests itself and exits non-zero on a failure.
    const env = { ...process.env, VYTAL_DOCTOR_NETNS: ns };
    delete env.NODE_TEST_CONTEXT;
    const child = track(spawn('ip', ['netns', 'exec', ns, process.execPath, '--test-reporter=spec', SELF], {
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
    }));
    const code = await new Promise((r) => child.on('exit', (c, s) => r(c ?? s)));
    assert.equal(code, 0, 'the tests inside the namespace failed (above)');
  });
} else {
  inner();
}

function inner() {
  const TURN_BIN = process.env.VYTAL_TURN_BIN_DIR ?? join(BUILD_DIR, 'turn/bin');
  const PLUGIN = join(BUILD_DIR, 'turn_plugin/libvytal_turn.so');
  const APPLIANCE_CONF = new URL('../../packaging/etc/appliance.conf', import.meta.url).pathname;
  // The units' umask: nothing the daemons make is open to others.
  process.umask(0o027);
  const dir = tempDir('vytal-doctor-');
  chmodSync(dir, 0o755); // the TURN server's user (here: nobody) must reach turn/
  const p = (...parts) => join(dir, ...parts);
  const nogroup = Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).trim());
  const conf = { appliance: APPLIANCE_CONF, site: p('site.conf'), secrets: p('secrets.conf') };
  const configArgs = ['--config', conf.appliance, '--config', conf.site, '--config', conf.secrets];
  const procs = {};
  let pg;

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  async function until(what, fn, ms = 20000) {
    const end = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(200);
    }
  }
  const tcpOpen = (port) => new Promise((res) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); res(true); });
    s.on('error', () => res(false));
  });
  const openssl = (...args) => execFileSync('openssl', args, { cwd: p('pki'), stdio: ['ignore', 'pipe', 'pipe'] });

  // A test CA; a server certificate for the appliance's names and the
  // database's address, valid 30 days; the same key expired since 2024.
  function makeCertificates() {
    mkdirSync(p('pki'));
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '60',
      '-subj', '/CN=VytalWatch doctor test CA', '-keyout', 'ca.key', '-out', 'ca.crt');
    openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-subj', '/CN=appliance.example.org', '-keyout', 'server.key', '-out', 'server.csr');
    writeFileSync(p('pki', 'ext.cnf'), 'subjectAltName = DNS:appliance.example.org, DNS:turn.example.org, DNS:localhost, IP:127.0.0.1\n');
    openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30',
      '-extfile', 'ext.cnf', '-out', 'server.crt');
    // openssl ca sets any validity period: one that ended long ago.
    writeFileSync(p('pki', 'index.txt'), '');
    writeFileSync(p('pki', 'serial'), '1000\n');
    writeFileSync(p('pki', 'ca.cnf'), `[ca]\ndefault_ca = test\n[test]\ndatabase = ${p('pki', 'index.txt')}\n` +
      `new_certs_dir = ${p('pki')}\nserial = ${p('pki', 'serial')}\ndefault_md = sha256\npolicy = any\n[any]\ncommonName = supplied\n`);
    openssl('ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.crt', '-keyfile', 'ca.key', '-in', 'server.csr', '-notext',
      '-startdate', '20240101000000Z', '-enddate', '20240201000000Z', '-extfile', 'ext.cnf', '-out', 'expired.crt');
    mkdirSync(p('tls'));
    for (const use of ['https', 'turn']) {
      copyFileSync(p('pki', 'server.crt'), p('tls', `${use}.crt`));
      copyFileSync(p('pki', 'server.key'), p('tls', `${use}.key`));
      chmodSync(p('tls', `${use}.key`), 0o640);
    }
  }

  function writeConfig(extraSecrets = '') {
    writeFileSync(conf.site, [
      `VYTAL_DATA_DIR = ${p('data')}`,
      `VYTAL_TURN_KEYRING_FILE = ${p('turn', 'keyring')}`,
      `VYTAL_TURN_REVOKED_FILE = ${p('turn', 'revoked')}`,
      `VYTAL_TURN_STATE_DIR = ${p('run')}`,
      `VYTAL_TURN_USAGE_SOCKET = ${p('run', 'turn-usage.sock')}`,
      `VYTAL_TURN_PLUGIN_PATH = ${PLUGIN}`,
      `VYTAL_TURN_CERT_FILE = ${p('tls', 'turn.crt')}`,
      `VYTAL_TURN_KEY_FILE = ${p('tls', 'turn.key')}`,
      `VYTAL_TLS_CERT_FILES = ${p('tls', 'https.crt')}`,
      `VYTAL_HTTPS_CERT_FILE = ${p('tls', 'https.crt')}`,
      'VYTAL_HTTPS_NAMES = appliance.example.org',
      `VYTAL_SIGNALD_CONTROL_SOCKET = ${p('run', 'signald.sock')}`,
      `VYTAL_TURN_RELAY_IPS = ${RELAY}`,
      `WEBRTC_STUN_SERVERS = stun:${RELAY}:3478`,
      `WEBRTC_TURN_SERVERS = turn:${RELAY}:3478?transport=udp, turn:${RELAY}:3478?transport=tcp, turns:turn.example.org:443?transport=tcp`,
      'VYTAL_SITE_ID = doctor-site',
      'DATABASE_HOST = 127.0.0.1',
      `DATABASE_PORT = ${pg.port}`,
      'DATABASE_USER = postgres',
      'DATABASE_NAME = vytalwatch',
      `DATABASE_SSLROOTCERT = ${p('pki', 'ca.crt')}`,
      'VYTAL_SYNC_BACKOFF_MAX_SECONDS = 2',
      // Every doctor run allocates as vytalctl-doctor and frees it, but coturn
      // holds a freed allocation for a second (a refresh to lifetime 0 expires
      // in 1 s), and these tests run doctor up to 13 times a second: over the
      // package's quota of 12 (in CI the last run was refused 486).
      `VYTAL_TURN_USER_QUOTA = ${USER_QUOTA}`,
      '',
    ].join('\n'));
    writeFileSync(conf.secrets, `JWT_SECRET = ${JWT_SECRET}\n${extraSecrets}`);
    chmodSync(conf.secrets, 0o640);
  }

  // A daemon with the units' --config files and nothing from our environment.
  function startDaemon(name, cmd, args, ready) {
    const proc = track(spawn(cmd, args, { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] }));
    let log = '';
    proc.stdout.on('data', (d) => (log += d));
    proc.stderr.on('data', (d) => (log += d));
    procs[name] = { proc, log: () => log };
    return until(`${name} to start`, async () => {
      if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode}:\n${log}`);
      return ready(log);
    }, 15000).catch((e) => {
      throw new Error(`${e.message}\n${log}`);
    });
  }

  // As vytal-turnserver's unit: ExecStartPre writes the configuration from
  // appliance.conf and site.conf (not secrets.conf), then the server.
  async function startTurn() {
    execFileSync(VYTALCTL, ['--config', conf.appliance, '--config', conf.site, 'turn-config', '--output', p('run', 'vytal-turnserver.conf')],
      { env: { PATH: process.env.PATH } });
    await startDaemon('turn', join(TURN_BIN, 'vytal-turnserver'), ['-c', p('run', 'vytal-turnserver.conf'), '--log-file=stdout'],
      async () => (await tcpOpen(3478)) && (await tcpOpen(5349)));
  }

  function nginxConfig() {
    const n = p('nginx');
    mkdirSync(n, { recursive: true });
    writeFileSync(join(n, 'nginx.conf'), `daemon off;
pid ${n}/nginx.pid;
error_log stderr;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${n}/body;
  proxy_temp_path ${n}/proxy;
  fastcgi_temp_path ${n}/fastcgi;
  uwsgi_temp_path ${n}/uwsgi;
  scgi_temp_path ${n}/scgi;
  server {
    listen 127.0.0.1:443 ssl;
    server_name appliance.example.org;
    ssl_certificate ${p('tls', 'https.crt')};
    ssl_certificate_key ${p('tls', 'https.key')};
    location / { proxy_pass http://127.0.0.1:3000; }
  }
}
`);
    return join(n, 'nginx.conf');
  }

  function doctor(extra = []) {
    const r = spawnSync(VYTALCTL, [...configArgs, 'doctor', '--json', '--turn-config', p('run', 'vytal-turnserver.conf'),
      '--turn-user', 'nobody', ...extra], { env: { PATH: process.env.PATH }, encoding: 'utf8', timeout: 60000 });
    let report;
    try {
      report = JSON.parse(r.stdout);
    } catch {
      assert.fail(`doctor printed no JSON (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
    }
    const byId = Object.fromEntries(report.checks.map((c) => [c.id, c]));
    return { code: r.status, report, byId, failed: report.checks.filter((c) => c.status === 'FAIL').map((c) => c.id).sort() };
  }
  function status() {
    const r = spawnSync(VYTALCTL, [...configArgs, 'status', '--json'], { env: { PATH: process.env.PATH }, encoding: 'utf8', timeout: 60000 });
    return { code: r.status, body: JSON.parse(r.stdout) };
  }
  // The kernel's own word on the clock (adjtimex: TIME_ERROR or STA_UNSYNC
  // mean unsynchronized), read without our code.
  function clockSynchronized() {
    const r = spawnSync('python3', ['-c', `import ctypes
class T(ctypes.Structure): _fields_=[('modes',ctypes.c_uint),('offset',ctypes.c_long),('freq',ctypes.c_long),('maxerror',ctypes.c_long),('esterror',ctypes.c_long),('status',ctypes.c_int),('pad',ctypes.c_byte*256)]
t=T(); s=ctypes.CDLL(None).adjtimex(ctypes.byref(t)); print(int(s != 5 and not (t.status & 64)))`], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() === '1' : null;
  }

  before(async () => {
    makeCertificates();
    pg = await startPostgres({ ssl: { certFile: p('pki', 'server.crt'), keyFile: p('pki', 'server.key') } });
    pg.createDatabase('vytalwatch');
    for (const d of ['data', 'run']) mkdirSync(p(d));
    mkdirSync(p('turn'), { mode: 0o750 });
    chownSync(p('turn'), 0, nogroup);
    writeConfig();
    // The key ring as the package makes it, readable by the TURN server's group.
    execFileSync(VYTALCTL, [...configArgs, 'rotate-turn-secret', '--overlap', '0'], { env: { PATH: process.env.PATH } });
    chownSync(p('turn', 'keyring'), 0, nogroup);
    chmodSync(p('turn', 'keyring'), 0o640);
    execFileSync(VYTALCTL, [...configArgs, 'migrate'], { env: { PATH: process.env.PATH } });
    await startDaemon('signald', SIGNALD, configArgs, (log) => /listening on http:\/\/127\.0\.0\.1:3000\//.test(log));
    await startDaemon('syncd', SYNCD, configArgs, (log) => /syncd: metrics on http:\/\/127\.0\.0\.1:9102\/metrics/.test(log));
    await startDaemon('admin', ADMIN, configArgs, (log) => /listening on http:\/\/127\.0\.0\.1:3001\//.test(log));
    await startTurn();
    await startDaemon('nginx', 'nginx', ['-e', 'stderr', '-p', p('nginx'), '-c', nginxConfig()], () => tcpOpen(443));
    // syncd has reached PostgreSQL (over TLS, verify-full) at least once.
    await until('syncd to connect', async () => {
      const m = await (await fetch('http://127.0.0.1:9102/metrics')).text();
      return /^vytal_sync_connected 1$/m.test(m);
    }, 30000);
  });

  after(async () => {
    for (const { proc } of Object.values(procs)) await stopProcess(proc, 'SIGTERM');
    if (pg) await pg.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test('healthy: every check OK, exit status 0; status agrees', () => {
    const d = doctor();
    const synced = clockSynchronized();
    for (const c of d.report.checks) {
      if (c.id === 'clock' && synced !== null) {
        assert.equal(c.status, synced ? 'OK' : 'WARN', `clock: ${c.detail}`);
        continue;
      }
      assert.equal(c.status, 'OK', `${c.id}: ${c.detail} (fix: ${c.fix})`);
    }
    assert.deepEqual(d.report.checks.map((c) => c.id), ['config-turn', 'config-secrets', 'config-ice-urls', 'port-signald',
      'port-syncd-metrics', 'port-turn-udp', 'port-turn-tcp', 'port-turn-tls', 'port-https', 'port-admin', 'relay-address',
      'certificate-https', 'certificate-turn', 'key-ring', 'postgresql', 'clock', 'permissions', 'turn-allocation']);
    assert.equal(d.code, 0);
    assert.match(d.byId['turn-allocation'].detail, new RegExp(`allocated the relay ${RELAY.replace(/\./g, '\\.')}:\\d+ .*and freed it`));
    assert.match(d.byId.postgresql.detail, /with TLSv1\.[23] \(verify-full\)/);
    // The text form: one line per check, the summary last.
    const text = spawnSync(VYTALCTL, [...configArgs, 'doctor', '--turn-config', p('run', 'vytal-turnserver.conf'), '--turn-user', 'nobody'],
      { env: { PATH: process.env.PATH }, encoding: 'utf8' });
    console.log(text.stdout); // what an admin sees, in the test's log
    assert.match(text.stdout, /^OK {4}turn-allocation {5}allocated the relay/m);
    assert.match(text.stdout, /\n18 checks: (18 OK, 0 WARN|17 OK, 1 WARN), 0 FAIL\n$/);
    const s = status();
    assert.deepEqual(s.body.services.map((x) => [x.name, x.state]),
      [['vytal-signald', 'up'], ['vytal-turnserver', 'up'], ['vytal-syncd', 'up']]);
    assert.ok(s.body.sync.connected);
    assert.ok(!s.body.problems.some((x) => x.severity === 'critical'), JSON.stringify(s.body.problems));
  });

  test('TURN stopped: the TURN checks FAIL by name, exit status 1; status names it too', async () => {
    await stopProcess(procs.turn.proc, 'SIGTERM');
    try {
      const d = doctor();
      assert.equal(d.code, 1);
      assert.deepEqual(d.failed, ['port-turn-tcp', 'port-turn-tls', 'port-turn-udp', 'turn-allocation']);
      assert.match(d.byId['turn-allocation'].detail, /no STUN answer from 127\.0\.0\.1:3478/);
      assert.match(d.byId['turn-allocation'].fix, /systemctl status vytal-turnserver/);
      const s = status();
      assert.equal(s.code, 1);
      assert.ok(s.body.problems.some((x) => x.severity === 'critical' && /vytal-turnserver is down/.test(x.title)), JSON.stringify(s.body.problems));
    } finally {
      await startTurn();
    }
    assert.equal(doctor().byId['turn-allocation'].status, 'OK');
  });

  test('vytalctl-doctor\'s TURN quota full: turn-allocation FAILs with 486, and the fix names both quotas', async () => {
    const secret = /^current (\S+)$/m.exec(readFileSync(p('turn', 'keyring'), 'utf8'))[1];
    const held = [];
    try {
      // Allocations as vytalctl-doctor, one per client, until the server refuses one.
      let answer = 'ok';
      for (let i = 0; i <= USER_QUOTA && answer === 'ok'; i++) {
        const c = await turnClient({ host: '127.0.0.1', port: 3478, ...restCredential(secret, 'vytalctl-doctor', 60) });
        held.push(c);
        answer = await c.allocate();
      }
      assert.equal(answer, 486, 'the quota never filled');
      const d = doctor();
      assert.equal(d.code, 1);
      assert.deepEqual(d.failed, ['turn-allocation']);
      assert.match(d.byId['turn-allocation'].detail, /^vytal-turnserver refused an allocation with a fresh credential: 486/);
      assert.match(d.byId['turn-allocation'].fix, new RegExp(`^a quota is full: either vytalctl-doctor's own, ${USER_QUOTA} allocations \\(VYTAL_TURN_USER_QUOTA\\), .*run doctor again a few seconds apart; or the server's, \\d+ allocations in all \\(VYTAL_TURN_TOTAL_QUOTA\\)`));
    } finally {
      for (const c of held) {
        if (c.relay) await c.refresh(0).catch(() => {});
        await c.close();
      }
      // Freed, they count for about a second more (the server's lifetime-0
      // expiry): the next tests wait until all of them are gone. One doctor
      // run getting through is not enough: it may take a place freed early.
      await sleep(2500);
      await until('doctor to allocate again', () => doctor().byId['turn-allocation'].status === 'OK', 10000).catch(() => {});
    }
    assert.equal(doctor().byId['turn-allocation'].status, 'OK');
  });

  test('an expired HTTPS certificate: named by doctor and status', () => {
    const good = readFileSync(p('tls', 'https.crt'));
    copyFileSync(p('pki', 'expired.crt'), p('tls', 'https.crt'));
    try {
      const d = doctor();
      assert.equal(d.code, 1);
      assert.deepEqual(d.failed, ['certificate-https']);
      assert.match(d.byId['certificate-https'].detail, /^HTTPS \(nginx\) certificate .*https\.crt expired \d+ day\(s\) ago$/);
      assert.match(d.byId['certificate-https'].fix, /certbot renew/);
      const s = status();
      assert.equal(s.code, 1);
      assert.ok(s.body.problems.some((x) => x.severity === 'critical' && /HTTPS \(nginx\) certificate expired \d+ days ago/.test(x.title)),
        JSON.stringify(s.body.problems));
    } finally {
      writeFileSync(p('tls', 'https.crt'), good);
    }
    assert.equal(doctor().byId['certificate-https'].status, 'OK');
  });

  test('PostgreSQL down: named by doctor and, once syncd notices, by status', { timeout: 90000 }, async () => {
    await pg.stop();
    try {
      const d = doctor();
      assert.equal(d.code, 1);
      assert.deepEqual(d.failed, ['postgresql']);
      assert.match(d.byId.postgresql.detail, /^cannot connect to the central PostgreSQL postgres@127\.0\.0\.1:\d+\/vytalwatch \(sslmode verify-full\)/);
      const s = await until('status to name the unreachable database', () => {
        const st = status();
        return st.body.problems.some((x) => /cannot reach the central PostgreSQL/.test(x.title)) ? st : null;
      }, 45000);
      assert.equal(s.code, 1);
    } finally {
      await pg.start();
    }
    await until('syncd to reconnect', async () => /^vytal_sync_connected 1$/m.test(await (await fetch('http://127.0.0.1:9102/metrics')).text()), 45000);
    assert.equal(doctor().byId.postgresql.status, 'OK');
  });

  // The secret's age is the ring's own current-since line, not the file's
  // time, which a copy or a restore (cp) sets to now.
  test('a secret not rotated for 100 days is reported by its recorded time, whatever the file\'s', () => {
    const ring = readFileSync(p('turn', 'keyring'), 'utf8');
    const since = Math.floor(Date.now() / 1000) - 100 * 86400;
    assert.match(ring, /^current-since \d+$/m);
    writeFileSync(p('turn', 'keyring'), ring.replace(/^current-since \d+$/m, `current-since ${since}`));
    try {
      const d = doctor();
      assert.equal(d.byId['key-ring'].status, 'WARN');
      assert.match(d.byId['key-ring'].detail, /^the TURN secret was last rotated 100 days ago/);
    } finally {
      writeFileSync(p('turn', 'keyring'), ring);
    }
    assert.equal(doctor().byId['key-ring'].status, 'OK');
  });

  test('a key ring the TURN user cannot read, secrets open to all, a TURN key only in secrets.conf, ICE URLs beside the TURN server', () => {
    chmodSync(p('turn', 'keyring'), 0o600);
    try {
      const d = doctor();
      assert.deepEqual(d.failed, ['key-ring']);
      assert.match(d.byId['key-ring'].detail, /vytal-turnserver's user nobody cannot read the key ring: .*keyring is not readable for it/);
      assert.match(d.byId['key-ring'].fix, /^chown root:nogroup .*keyring; chmod 0640 /);
    } finally {
      chmodSync(p('turn', 'keyring'), 0o640);
    }
    chmodSync(conf.secrets, 0o644);
    try {
      const d = doctor();
      assert.deepEqual(d.failed, ['permissions']);
      assert.match(d.byId.permissions.detail, /secrets\.conf \(the secrets, mode 0644\)/);
    } finally {
      chmodSync(conf.secrets, 0o640);
    }
    // signald would mint with this key ring; vytal-turnserver never reads secrets.conf.
    writeConfig(`VYTAL_TURN_KEYRING_FILE = ${p('turn', 'other-keyring')}\n`);
    try {
      const d = doctor();
      assert.ok(d.failed.includes('config-turn'), JSON.stringify(d.failed));
      assert.match(d.byId['config-turn'].detail, /checks credentials with the key ring .*turn\/keyring but signald mints them with .*other-keyring/);
      assert.match(d.byId['config-turn'].fix, /out of secrets\.conf/);
    } finally {
      writeConfig();
    }
    // URLs handed to browsers that point past the TURN server.
    for (const [url, message] of [
      [`turn:${RELAY}:3479?transport=udp`, /names port 3479 but vytal-turnserver listens on 3478/],
      ['turns:turn.example.org:8443?transport=tcp', /names port 8443: TURN over TLS is on 5349 and through nginx on 443/],
    ]) {
      writeConfig(`WEBRTC_TURN_SERVERS = ${url}\n`);
      try {
        const d = doctor();
        assert.deepEqual(d.failed, ['config-ice-urls']);
        assert.match(d.byId['config-ice-urls'].detail, message);
      } finally {
        writeConfig();
      }
    }
    writeConfig('WEBRTC_TURN_SERVERS = turn:198.51.100.99:3478?transport=udp\n');
    try {
      const d = doctor();
      assert.equal(d.byId['config-ice-urls'].status, 'WARN', d.byId['config-ice-urls'].detail);
      assert.match(d.byId['config-ice-urls'].detail, /names 198\.51\.100\.99, where vytal-turnserver does not listen/);
    } finally {
      writeConfig();
    }
    const last = doctor();
    assert.equal(last.code, 0, JSON.stringify(last.failed.map((id) => last.byId[id])));
  });
}
