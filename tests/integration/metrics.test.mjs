// What /metrics shows an operator, checked against the real daemons: the
// build and the process, the call log's disk, certificate expiry, the key
// ring's age, TURN allocations and relayed bytes from the plugin's reports,
// whether the TURN server answers STUN, the clients' quality reports, call
// failures; and vytal-syncd's build info, process figures and /readyz.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSignald, tempDir, metric, VYTALCTL } from './lib/signald.mjs';
import { connect, createCall, eventually } from './lib/ws_client.mjs';
import { startSyncd, databaseEnv } from './lib/syncd.mjs';
import { startPostgres, createDatabase } from './lib/postgres.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const VERSION = readFileSync(join(ROOT, 'CMakeLists.txt'), 'utf8').match(/project\(\S+ VERSION (\S+)/)[1];
const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

// Polls fn until it holds; fails the test when it never does.
async function until(fn, timeoutMs = 3000, stepMs = 50) {
  assert.ok(await eventually(fn, timeoutMs, stepMs), `not within ${timeoutMs} ms: ${fn}`);
}

async function page(url) {
  return (await fetch(url)).text();
}

// A self-signed certificate valid for `days` days.
function certificate(dir, name, days) {
  const cert = join(dir, `${name}.crt`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', String(days), '-subj', `/CN=${name}`, '-keyout', join(dir, `${name}.key`), '-out', cert], { stdio: 'ignore' });
  return cert;
}

// A STUN server that answers Binding requests with a success response.
function stunResponder() {
  const sock = createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    if (msg.length < 20 || msg.readUInt16BE(0) !== 0x0001) return;
    const answer = Buffer.alloc(20);
    answer.writeUInt16BE(0x0101, 0);
    msg.copy(answer, 4, 4, 20); // magic cookie and transaction id
    sock.send(answer, rinfo.port, rinfo.address);
  });
  return new Promise((resolve) => sock.bind(0, '127.0.0.1', () => resolve(sock)));
}

// One report datagram to signald's usage socket, as the TURN plugin sends it.
function report(socketPath, obj) {
  execFileSync('socat', ['-u', 'STDIN', `UNIX-SENDTO:${socketPath}`], { input: JSON.stringify(obj) });
}

test('signald: build, process, disk, certificates, key ring, TURN and quality metrics', { timeout: 120000 }, async () => {
  const dir = tempDir();
  const soon = certificate(dir, 'soon', 10);
  const later = certificate(dir, 'later', 400);
  const keyring = join(dir, 'keyring');
  execFileSync(VYTALCTL, ['rotate-turn-secret', '--overlap', '0'], { env: { PATH: process.env.PATH, VYTAL_TURN_KEYRING_FILE: keyring } });
  const hundredDaysAgo = Date.now() / 1000 - 100 * 86400;
  utimesSync(keyring, hundredDaysAgo, hundredDaysAgo);
  const stun = await stunResponder();
  cleanups.push(() => { try { stun.close(); } catch { /* closed by the test */ } });
  const usage = join(dir, 'usage.sock');
  const sd = await startSignald({
    VYTAL_TLS_CERT_FILES: `${soon}, ${join(dir, 'missing.crt')}`,
    VYTAL_TURN_CERT_FILE: later,
    VYTAL_TURN_KEYRING_FILE: keyring,
    VYTAL_TURN_USAGE_SOCKET: usage,
    VYTAL_TURN_LISTEN_IPS: '127.0.0.1',
    VYTAL_TURN_PORT: String(stun.address().port),
    VYTAL_TURN_TOTAL_QUOTA: '1000',
    VYTAL_RECONNECT_GRACE_SECONDS: '1',
    VYTAL_QUALITY_SAMPLE_SECONDS: '3600',
  }, { dataDir: dir });
  cleanups.push(async () => { await sd.stop(); sd.cleanup(); });
  const m = (series) => metric(sd.url, series);

  const text = await page(`${sd.url}/metrics`);
  assert.match(text, new RegExp(`\\nvytal_build_info\\{version="${VERSION.replaceAll('.', '\\.')}",commit="(?:[0-9a-f]{7,}(?:-dirty)?|unknown)"\\} 1\\n`));
  assert.ok(await m('process_resident_memory_bytes') > 1e6);
  assert.ok(await m('process_open_fds') >= 5);
  assert.match(text, /\nprocess_cpu_seconds_total \d+(\.\d+)?(e[-+]?\d+)?\n/, 'the CPU series is there, with a number');
  const free = await m('vytal_call_log_filesystem_free_bytes');
  const size = await m('vytal_call_log_filesystem_size_bytes');
  assert.ok(free > 0 && free <= size, `free ${free} of ${size}`);
  const now = Date.now() / 1000;
  const soonExpiry = await m(`vytal_tls_certificate_expiry_timestamp_seconds{file="${soon}"}`);
  assert.ok(Math.abs(soonExpiry - (now + 10 * 86400)) < 3600, `expiry ${soonExpiry}`);
  assert.ok(await m(`vytal_tls_certificate_expiry_timestamp_seconds{file="${later}"}`) > now + 399 * 86400);
  assert.match(text, new RegExp(`\\nvytal_tls_certificate_expiry_timestamp_seconds\\{file="${join(dir, 'missing.crt')}"\\} 0\\n`));
  const age = await m('vytal_turn_keyring_age_seconds');
  assert.ok(age >= 100 * 86400 - 60 && age < 100 * 86400 + 3600, `key ring age ${age}`);
  assert.equal(await m('vytal_turn_allocation_quota'), 1000);
  for (const reason of ['token_expired', 'max_connections', 'ws_rate_limited', 'turn_report_malformed'])
    assert.match(text, new RegExp(`\\nvytal_rejected_total\\{reason="${reason}"\\} 0\\n`), reason);
  for (const reason of ['media_failed', 'reconnect_timeout'])
    assert.match(text, new RegExp(`\\nvytal_call_failures_total\\{reason="${reason}"\\} 0\\n`), reason);

  // The TURN server answers STUN; once it stops, the gauge says so.
  await until(async () => (await m('vytal_turn_up')) === 1, 15000);
  stun.close();
  await until(async () => (await m('vytal_turn_up')) === 0, 30000, 500);

  // Allocations by transport and relayed bytes, from the plugin's reports.
  const user = `${Math.floor(now) + 600}:patient-m`;
  report(usage, { type: 'allocation', event: 'created', session: 1, username: user, relay: '127.0.0.1:50000', transport: 'udp', lifetime: 600 });
  report(usage, { type: 'allocation', event: 'created', session: 2, username: user, relay: '127.0.0.1:50002', transport: 'tls', lifetime: 600 });
  report(usage, { type: 'allocation', event: 'refreshed', session: 3, username: user, relay: '127.0.0.1:50004', transport: 'tcp', lifetime: 600 });
  report(usage, { type: 'usage', session: 1, username: user, bytesSent: 5000, bytesReceived: 7000, packetsSent: 5, packetsReceived: 7, final: false });
  report(usage, { type: 'usage', session: 1, username: user, bytesSent: 1000, bytesReceived: 0, packetsSent: 1, packetsReceived: 0, final: true });
  report(usage, { type: 'allocation', event: 'deleted', session: 1, username: user, relay: '', transport: 'udp', lifetime: 0 });
  await until(async () => (await m('vytal_turn_reports_total')) === 6);
  assert.equal(await m('vytal_turn_allocations{transport="udp"}'), 0);
  assert.equal(await m('vytal_turn_allocations{transport="tls"}'), 1);
  assert.equal(await m('vytal_turn_allocations{transport="tcp"}'), 1, 'a refresh of an allocation signald had not seen counts');
  assert.equal(await m('vytal_turn_allocations_total'), 3);
  assert.equal(await m('vytal_turn_relayed_bytes_total{direction="sent"}'), 6000);
  assert.equal(await m('vytal_turn_relayed_bytes_total{direction="received"}'), 7000);

  // Quality reports (all of them, though sampling records one an hour),
  // a failed media connection, a participant who never came back.
  const call = await createCall(sd, 'patient-m', 'provider-m');
  const patient = await connect(sd, 'patient-m', 'patient');
  const provider = await connect(sd, 'provider-m', 'provider');
  await patient.join(call.id);
  await provider.join(call.id);
  assert.equal(await m('vytal_calls_started_total'), 1);
  patient.send({ type: 'quality-report', rttMs: 40, jitterMs: 4, packetLoss: 0 });
  patient.send({ type: 'quality-report', rttMs: 700, jitterMs: 60, packetLoss: 0.08, connectionState: 'failed' });
  patient.send({ type: 'quality-report', rttMs: 650, connectionState: 'failed' });
  await until(async () => (await m('vytal_quality_rtt_milliseconds_count')) === 3);
  assert.equal(await m('vytal_quality_rtt_milliseconds_bucket{le="50"}'), 1);
  assert.equal(await m('vytal_quality_rtt_milliseconds_bucket{le="600"}'), 1);
  assert.equal(await m('vytal_quality_jitter_milliseconds_count'), 2);
  assert.equal(await m('vytal_quality_packet_loss_ratio_bucket{le="0.05"}'), 1);
  assert.equal(await m('vytal_call_failures_total{reason="media_failed"}'), 1, 'counted once per connection');
  provider.close(); // drops without leaving; the grace period (1 s) runs out
  await until(async () => (await m('vytal_call_failures_total{reason="reconnect_timeout"}')) === 1, 10000, 200);
  patient.close();
});

test('vytal-syncd: build info, process figures, error kinds at zero, /readyz follows PostgreSQL', { timeout: 120000 }, async () => {
  const pg = await startPostgres();
  cleanups.push(() => pg.cleanup());
  await createDatabase(pg, 'central');
  const dir = tempDir();
  const syncd = await startSyncd({ ...databaseEnv(pg, 'central'), VYTAL_SITE_ID: 'metrics-site' }, { dataDir: dir });
  cleanups.push(() => syncd.stop());
  const base = syncd.metricsUrl.replace(/\/metrics$/, '');
  const text = await page(syncd.metricsUrl);
  assert.match(text, new RegExp(`\\nvytal_build_info\\{version="${VERSION.replaceAll('.', '\\.')}",commit="[^"]+"\\} 1\\n`));
  assert.ok((await syncd.metric('process_resident_memory_bytes')) > 1e6);
  for (const kind of ['pg_connect', 'pg_transient', 'pg_data', 'pg_error'])
    assert.match(text, new RegExp(`\\nvytal_sync_errors_total\\{kind="${kind}"\\} 0\\n`), kind);

  await until(async () => (await fetch(`${base}/readyz`)).status === 200, 15000, 200);
  assert.deepEqual(await (await fetch(`${base}/readyz`)).json(), { status: 'ready' });
  // PostgreSQL goes away: the idle keepalive notices within its period.
  pg.stopSync('immediate');
  await until(async () => (await fetch(`${base}/readyz`)).status === 503, 40000, 500);
  const body = await (await fetch(`${base}/readyz`)).json();
  assert.equal(body.error.code, 'not_ready');
  await pg.start();
  await until(async () => (await fetch(`${base}/readyz`)).status === 200, 60000, 500);
});
