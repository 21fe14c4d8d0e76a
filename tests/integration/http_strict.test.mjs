// HTTP/1.1 as RFC 9112 writes it, not as lenient parsers take it: what an
// attacker sends over a raw socket (trailers that would act as headers,
// folded lines, bare LF, a foreign version, no Host) is refused with 400
// malformed_http and counted; a media type that only starts like JSON is 415.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSignald, token, api, sql, metric, rawHttp } from './lib/signald.mjs';

let sd;
const service = token('platform-backend', 'service');
const CALL = JSON.stringify({ patientId: 'p-strict', providerId: 'dr-strict', type: 'video' });

before(async () => {
  sd = await startSignald();
});
after(async () => {
  await sd.stop();
  sd.cleanup();
});

const calls = () => Number(sql(sd.dataDir, 'SELECT count(*) FROM calls'));
const malformed = () => metric(sd.url, 'vytal_rejected_total{reason="malformed_http"}');

const refused = [
  ['obs-fold: a header continued on the next line', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n'],
  ['obs-fold with a tab', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n\tb\r\n\r\n'],
  ['bare LF line endings', 'GET /healthz HTTP/1.1\nHost: x\n\n'],
  ['a bare LF in one header line only', 'GET /healthz HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n'],
  ['a CR not followed by LF', 'GET /healthz HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n'],
  ['HTTP/2.0 in an HTTP/1 request line', 'GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n'],
  ['HTTP/1.9', 'GET /healthz HTTP/1.9\r\nHost: x\r\n\r\n'],
  ['HTTP/1.1 without Host', 'GET /healthz HTTP/1.1\r\n\r\n'],
  ['HTTP/1.1 with two Host headers', 'GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
];

for (const [name, payload] of refused) {
  test(`refused with 400 malformed_http and counted: ${name}`, async () => {
    const before = await malformed();
    const reply = await rawHttp(sd.port, payload);
    assert.match(reply, /^HTTP\/1\.1 400 /, reply);
    assert.match(reply, /"code":"malformed_http"/);
    assert.match(reply, /Connection: close/i);
    assert.equal(await malformed(), before + 1);
  });
}

test('HTTP/1.0 without Host is still served', async () => {
  const reply = await rawHttp(sd.port, 'GET /healthz HTTP/1.0\r\n\r\n');
  assert.match(reply, /^HTTP\/1\.1 200 /, reply);
});

test('HEAD on the REST routes is answered like GET, without the body', async () => {
  const created = await api(sd.url, 'POST', '/webrtc/calls', { tok: service, body: CALL });
  assert.equal(created.status, 201);
  const patient = token('p-strict', 'patient');
  for (const [path, tok] of [[`/webrtc/calls/${created.body.id}`, service], ['/webrtc/calls', patient], [`/webrtc/ice-servers?callId=${created.body.id}`, patient], ['/webrtc/demo/', null]]) {
    const auth = tok ? `Authorization: Bearer ${tok}\r\n` : '';
    const get = await rawHttp(sd.port, `GET ${path} HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`);
    const head = await rawHttp(sd.port, `HEAD ${path} HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`);
    assert.match(get, /^HTTP\/1\.1 200 /, `GET ${path}: ${get.slice(0, 200)}`);
    assert.match(head, /^HTTP\/1\.1 200 /, `HEAD ${path}: ${head.slice(0, 200)}`);
    const length = (reply) => Number(reply.match(/\r\nContent-Length: (\d+)\r\n/i)?.[1]);
    assert.ok(length(get) > 0, `GET ${path} has a body`);
    assert.ok(Math.abs(length(head) - length(get)) < 64, `HEAD ${path} announces the GET's length (${length(head)} against ${length(get)})`);
    assert.equal(head.slice(head.indexOf('\r\n\r\n') + 4), '', `HEAD ${path} sent no body`);
  }
  // Still only GET and POST otherwise.
  const put = await rawHttp(sd.port, `PUT /webrtc/calls/${created.body.id} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${service}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  assert.match(put, /^HTTP\/1\.1 405 /);
});

test('a chunked trailer never acts as a header: Authorization only in a trailer is token_missing, nothing written', async () => {
  const before = calls();
  const missing = await metric(sd.url, 'vytal_rejected_total{reason="token_missing"}');
  // A second trailer after it: lenient code merges the first into the headers when the next begins.
  const body = `${CALL.length.toString(16)}\r\n${CALL}\r\n0\r\nAuthorization: Bearer ${service}\r\nX-After: 1\r\n\r\n`;
  const reply = await rawHttp(
    sd.port,
    'POST /webrtc/calls HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n' +
      `Connection: close\r\nTrailer: Authorization\r\n\r\n${body}`,
  );
  assert.match(reply, /^HTTP\/1\.1 401 /, reply);
  assert.match(reply, /"code":"token_missing"/);
  assert.equal(calls(), before);
  assert.equal(await metric(sd.url, 'vytal_rejected_total{reason="token_missing"}'), missing + 1);
  // The same request with the header where it belongs is accepted.
  const ok = await rawHttp(
    sd.port,
    `POST /webrtc/calls HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer ${service}\r\n` +
      `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${CALL.length.toString(16)}\r\n${CALL}\r\n0\r\nX-Trailer: t\r\n\r\n`,
  );
  assert.match(ok, /^HTTP\/1\.1 201 /, ok);
});

test('Content-Type compares the media type exactly; parameters are allowed', async () => {
  const post = (type) => api(sd.url, 'POST', '/webrtc/calls', { tok: service, body: CALL, headers: { 'content-type': type } });
  const before = await metric(sd.url, 'vytal_rejected_total{reason="unsupported_media_type"}');
  for (const type of ['application/jsonx', 'application/json-seq', 'application/json+evil', 'application/jso', 'text/json']) {
    const r = await post(type);
    assert.equal(r.status, 415, `${type}: ${r.text}`);
    assert.equal(r.body.error.code, 'unsupported_media_type');
  }
  assert.equal(await metric(sd.url, 'vytal_rejected_total{reason="unsupported_media_type"}'), before + 5);
  for (const type of ['application/json', 'application/json; charset=utf-8', 'Application/JSON', 'application/json ;charset=UTF-8']) {
    const r = await post(type);
    assert.equal(r.status, 201, `${type}: ${r.text}`);
  }
});

test('pipelined requests are still checked one by one', async () => {
  const before = await malformed();
  const reply = await rawHttp(sd.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nX-F: a\r\n b\r\n\r\n');
  assert.match(reply, /^HTTP\/1\.1 200 [\s\S]*HTTP\/1\.1 400 /, reply);
  assert.equal(await malformed(), before + 1);
});
