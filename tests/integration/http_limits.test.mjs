// The HTTP layer's bounds, seen from a client: a request that does not arrive
// in time gets 408, an idle keep-alive connection is closed, a client over the
// per-address cap gets 503, and none of it stops a well-behaved client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startSignald, token, api, metric } from './lib/signald.mjs';

let sd;
before(async () => {
  sd = await startSignald({
    VYTAL_REQUEST_TIMEOUT_SECONDS: '1',
    VYTAL_KEEPALIVE_TIMEOUT_SECONDS: '1',
    VYTAL_MAX_CONNECTIONS_PER_IP: '5',
  });
});
after(async () => {
  await sd.stop();
  sd.cleanup();
});

// Raw clients come from 127.0.0.2 so that the cap counts them alone, not the
// keep-alive connections fetch() holds from 127.0.0.1.
const connect = () =>
  new Promise((resolve, reject) => {
    const s = net.connect({ port: sd.port, host: '127.0.0.1', localAddress: '127.0.0.2' }, () => resolve(s));
    s.on('error', reject);
  });

// Collects what the server sends until it closes the connection.
const untilClosed = (s, limitMs = 6000) =>
  new Promise((resolve) => {
    let buf = '';
    const t0 = Date.now();
    s.setEncoding('utf8');
    s.on('data', (d) => (buf += d));
    s.on('close', () => resolve({ text: buf, ms: Date.now() - t0 }));
    setTimeout(() => {
      s.destroy();
      resolve({ text: buf, ms: Infinity });
    }, limitMs);
  });

test('a request whose headers never finish gets 408 and is closed', async () => {
  const s = await connect();
  s.write('POST /webrtc/calls HTTP/1.1\r\nHost: x\r\nContent-Type: appl'); // and then nothing
  const { text, ms } = await untilClosed(s);
  assert.match(text, /^HTTP\/1\.1 408 /);
  assert.match(text, /"code":"request_timeout"/);
  assert.ok(ms < 4000, `closed after ${ms} ms`);
});

test('a body that trickles too slowly gets 408', async () => {
  const s = await connect();
  s.write(`POST /webrtc/calls HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`);
  const timer = setInterval(() => s.writable && s.write(' '), 300); // a slowloris keeps sending
  const { text } = await untilClosed(s);
  clearInterval(timer);
  assert.match(text, /^HTTP\/1\.1 408 /);
});

test('an idle keep-alive connection is closed without a response', async () => {
  const s = await connect();
  s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  const { text, ms } = await untilClosed(s);
  assert.equal((text.match(/HTTP\/1\.1 /g) || []).length, 1);
  assert.ok(ms < 4000);
});

test('connections over the per-address cap get 503 and the others keep working', async () => {
  const before = await metric(sd.url, 'vytal_rejected_total{reason="max_connections_per_ip"}');
  const held = [];
  for (let i = 0; i < 5; i++) held.push(await connect());
  const extra = await connect();
  const { text } = await untilClosed(extra);
  assert.match(text, /^HTTP\/1\.1 503 /);
  assert.match(text, /too_many_connections/);
  // The same headers as every other answer, though this one is a fixed text.
  assert.match(text, /\r\nCache-Control: no-store\r\n/);
  assert.match(text, /\r\nX-Content-Type-Options: nosniff\r\n/);
  // The held connections still get answers.
  const answer = await new Promise((resolve) => {
    let buf = '';
    held[0].setEncoding('utf8');
    held[0].on('data', (d) => {
      buf += d;
      if (buf.includes('{"status":"ok"}')) resolve(buf);
    });
    held[0].write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  });
  assert.match(answer, /^HTTP\/1\.1 200 /);
  for (const s of held) s.destroy();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(await metric(sd.url, 'vytal_rejected_total{reason="max_connections_per_ip"}'), before + 1);
  // Once they are gone, the address may connect again.
  const r = await api(sd.url, 'GET', '/webrtc/calls?limit=1', { tok: token('svc', 'service') });
  assert.equal(r.status, 200);
});

test('a client that sends a request and vanishes before the commit does not disturb the others', async () => {
  const tok = token('svc', 'service');
  const openBefore = await metric(sd.url, 'vytal_open_connections');
  const body = JSON.stringify({ patientId: 'p-vanish', providerId: 'dr-vanish', type: 'video' });
  for (let i = 0; i < 20; i++) {
    const s = await connect();
    s.write(`POST /webrtc/calls HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tok}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    s.destroy();
  }
  const r = await api(sd.url, 'POST', '/webrtc/calls', { tok, body });
  assert.equal(r.status, 201);
  await new Promise((res) => setTimeout(res, 200));
  // All 20 were freed (fetch may have opened one more connection of its own).
  assert.ok((await metric(sd.url, 'vytal_open_connections')) <= openBefore + 1);
});
