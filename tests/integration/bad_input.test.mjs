// Bad input, each answered with the right status and error code, counted in
// /metrics, and with no call row written; keys that would let forged tokens
// in stop signald at start-up.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync, createSign, sign as rawSign, createHmac } from 'node:crypto';
import {
  startSignald, runSignaldExpectingExit, hs256, claims, token, api, sql, metric, rawHttp, tempDir, JWT_SECRET,
} from './lib/signald.mjs';

const b64url = (b) => Buffer.from(b).toString('base64url');
const enc = (obj) => b64url(JSON.stringify(obj));
const now = () => Math.floor(Date.now() / 1000);
const CALL = { patientId: 'patient-uuid', providerId: 'provider-uuid', type: 'video' };

function rs256(payload, privateKey) {
  const input = `${enc({ alg: 'RS256', typ: 'JWT' })}.${enc(payload)}`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(privateKey, 'base64url')}`;
}
function es256(payload, privateKey) {
  const input = `${enc({ alg: 'ES256', typ: 'JWT' })}.${enc(payload)}`;
  return `${input}.${rawSign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

const callRows = (sd) => sql(sd.dataDir, 'SELECT (SELECT count(*) FROM calls) || \'/\' || (SELECT count(*) FROM call_participants) || \'/\' || (SELECT count(*) FROM call_events)');

describe('HS256 with audience and issuer configured', () => {
  let sd;
  const valid = (extra = {}) => hs256(claims('svc', 'service', { aud: 'vytal-appliance', iss: 'vytalwatch-platform', ...extra }));
  before(async () => {
    sd = await startSignald({ JWT_AUDIENCE: 'vytal-appliance', JWT_ISSUER: 'vytalwatch-platform', JWT_LEEWAY_SECONDS: '5' });
    // A baseline so the table below would notice a write.
    assert.equal((await api(sd.url, 'POST', '/webrtc/calls', { tok: valid(), body: CALL })).status, 201);
  });
  after(async () => {
    await sd.stop();
    sd.cleanup();
  });

  const cases = [
    ['malformed JSON', { body: '{"patientId": "p",', tok: 'valid' }, 400, 'invalid_json'],
    ['a JSON array instead of an object', { body: '[1,2]', tok: 'valid' }, 400, 'invalid_json'],
    ['an empty body', { body: '', tok: 'valid' }, 400, 'invalid_json'],
    ['duplicate keys', { body: '{"patientId":"a","patientId":"b","providerId":"c","type":"video"}', tok: 'valid' }, 400, 'invalid_json'],
    ['missing patientId', { body: { providerId: 'x', type: 'video' }, tok: 'valid' }, 400, 'validation'],
    ['patientId of the wrong type', { body: { ...CALL, patientId: 42 }, tok: 'valid' }, 400, 'validation'],
    ['patientId with forbidden characters', { body: { ...CALL, patientId: "x' OR 1=1 --" }, tok: 'valid' }, 400, 'validation'],
    ['patientId too long', { body: { ...CALL, patientId: 'p'.repeat(129) }, tok: 'valid' }, 400, 'validation'],
    ['an unknown call type', { body: { ...CALL, type: 'fax' }, tok: 'valid' }, 400, 'validation'],
    ['scheduledAt without a time zone', { body: { ...CALL, scheduledAt: '2026-12-01T09:30:00' }, tok: 'valid' }, 400, 'validation'],
    ['scheduledAt on February 30', { body: { ...CALL, scheduledAt: '2026-02-30T09:30:00Z' }, tok: 'valid' }, 400, 'validation'],
    ['a text/plain body', { body: JSON.stringify(CALL), headers: { 'content-type': 'text/plain' }, tok: 'valid' }, 415, 'unsupported_media_type'],
    ['a body over 64 KiB', { body: { ...CALL, pad: 'x'.repeat(70000) }, tok: 'valid' }, 413, 'body_too_large'],
    ['headers over 8 KiB', { body: CALL, headers: { 'x-padding': 'y'.repeat(9000) }, tok: 'valid' }, 431, 'headers_too_large'],
    ['no token', { body: CALL }, 401, 'token_missing'],
    ['a Basic authorization', { body: CALL, headers: { authorization: 'Basic dXNlcjpwYXNz' } }, 401, 'token_missing'],
    ['a bad signature', { body: CALL, tok: () => valid().slice(0, -4) + 'AAAA' }, 401, 'token_signature'],
    ['a token signed with another secret', { body: CALL, tok: () => hs256(claims('svc', 'service', { aud: 'vytal-appliance', iss: 'vytalwatch-platform' }), 'another-secret') }, 401, 'token_signature'],
    ['a tampered payload', { body: CALL, tok: () => { const [h, , s] = valid().split('.'); return `${h}.${enc(claims('svc', 'admin', { aud: 'vytal-appliance', iss: 'vytalwatch-platform' }))}.${s}`; } }, 401, 'token_signature'],
    ['alg none without a signature', { body: CALL, tok: () => `${enc({ alg: 'none', typ: 'JWT' })}.${enc(claims('svc', 'service'))}.` }, 401, 'token_algorithm'],
    ['alg none with a signature', { body: CALL, tok: () => `${enc({ alg: 'none' })}.${enc(claims('svc', 'service'))}.${b64url('sig')}` }, 401, 'token_algorithm'],
    ['alg HS512', { body: CALL, tok: () => hs256(claims('svc', 'service'), JWT_SECRET, { alg: 'HS512' }) }, 401, 'token_algorithm'],
    ['a token without exp', { body: CALL, tok: () => hs256({ sub: 'svc', role: 'service', aud: 'vytal-appliance', iss: 'vytalwatch-platform' }) }, 401, 'token_claims'],
    ['an expired token', { body: CALL, tok: () => valid({ exp: now() - 60 }) }, 401, 'token_expired'],
    ['a token valid only in the future (nbf)', { body: CALL, tok: () => valid({ nbf: now() + 120 }) }, 401, 'token_not_yet_valid'],
    ['a wrong audience', { body: CALL, tok: () => valid({ aud: 'another-service' }) }, 401, 'token_audience'],
    ['no audience', { body: CALL, tok: () => hs256(claims('svc', 'service', { iss: 'vytalwatch-platform' })) }, 401, 'token_audience'],
    ['a wrong issuer', { body: CALL, tok: () => valid({ iss: 'someone-else' }) }, 401, 'token_issuer'],
    ['an unknown role', { body: CALL, tok: () => valid({ role: 'superuser' }) }, 401, 'token_claims'],
    ['a token that is not a JWT', { body: CALL, tok: () => 'not-a-jwt' }, 401, 'token_malformed'],
  ];

  for (const [name, req, status, code] of cases) {
    test(`${name}: ${status} ${code}, counted, nothing written`, async () => {
      const rowsBefore = callRows(sd);
      const rejectedBefore = await metric(sd.url, `vytal_rejected_total{reason="${code}"}`);
      const tok = req.tok === 'valid' ? valid() : typeof req.tok === 'function' ? req.tok() : undefined;
      let r;
      try {
        r = await api(sd.url, 'POST', '/webrtc/calls', { tok, body: req.body, headers: req.headers });
      } catch (e) {
        assert.fail(`request failed at the transport level: ${e.message}`);
      }
      assert.equal(r.status, status, r.text);
      assert.equal(r.body?.error?.code, code, r.text);
      assert.ok(r.body.error.message.length > 0);
      if (status === 401) assert.match(r.headers.get('www-authenticate'), /^Bearer/);
      assert.equal(callRows(sd), rowsBefore);
      assert.equal(await metric(sd.url, `vytal_rejected_total{reason="${code}"}`), rejectedBefore + 1);
    });
  }

  test('a valid token within the clock-skew leeway is accepted', async () => {
    const r = await api(sd.url, 'POST', '/webrtc/calls', { tok: valid({ exp: now() - 2 }), body: CALL });
    assert.equal(r.status, 201);
  });

  test('malformed HTTP gets 400 malformed_http and the connection is closed', async () => {
    const before = await metric(sd.url, 'vytal_rejected_total{reason="malformed_http"}');
    const reply = await rawHttp(sd.port, 'GARBAGE / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 400 /);
    assert.match(reply, /"code":"malformed_http"/);
    assert.match(reply, /Connection: close/i);
    const chunked = await rawHttp(sd.port, 'POST /webrtc/calls HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n');
    assert.match(chunked, /^HTTP\/1\.1 400 /);
    assert.equal(await metric(sd.url, 'vytal_rejected_total{reason="malformed_http"}'), before + 2);
  });

  test('a chunked body over the limit is refused while it arrives', async () => {
    const chunk = 'x'.repeat(40000);
    const reply = await rawHttp(sd.port, `POST /webrtc/calls HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`);
    assert.match(reply, /^HTTP\/1\.1 413 /);
  });

  // A create with a chunked body: its headers, and the whole request with
  // the body in one chunk whose size line carries `ext`.
  const chunkedHead = (close = false) => `POST /webrtc/calls HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${valid()}\r\n` +
    `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;
  const chunkedCreate = (ext, close = false) => {
    const body = JSON.stringify(CALL);
    return `${chunkedHead(close)}${body.length.toString(16)}${ext}\r\n${body}\r\n0\r\n\r\n`;
  };

  test('chunk extensions that never end are refused once the request passes twice its limits, and counted', async () => {
    // Short extensions are framing like any other: the call is created.
    const ok = await rawHttp(sd.port, chunkedCreate(`;note=${'n'.repeat(1000)}`, true));
    assert.match(ok, /^HTTP\/1\.1 201 /);
    const rowsBefore = callRows(sd);
    const before = await metric(sd.url, 'vytal_rejected_total{reason="body_too_large"}');
    // http-parser bounds one chunk's size line (80 KiB); 40 chunks of one byte,
    // each with 4,000 bytes of extension, pass 2 * (8 KiB + 64 KiB) = 147,456
    // bytes while the body is 40 bytes.
    const reply = await rawHttp(sd.port, chunkedHead() + `1;ext=${'e'.repeat(4000)}\r\nx\r\n`.repeat(40));
    assert.match(reply, /^HTTP\/1\.1 413 /);
    assert.match(reply, /"code":"body_too_large".*too large on the wire/);
    assert.equal(await metric(sd.url, 'vytal_rejected_total{reason="body_too_large"}'), before + 1);
    assert.equal(callRows(sd), rowsBefore);
  });

  test('the bytes on the wire are counted per request: pipelined chunked creates, together over the bound, are all created', async () => {
    // Three creates on one connection, each with a 60,000-byte chunk
    // extension: about 180,000 bytes in all, over the 147,456 one request
    // may send, but each well under it.
    const ext = `;note=${'n'.repeat(60000)}`;
    const calls = () => Number(sql(sd.dataDir, 'SELECT count(*) FROM calls'));
    const before = calls();
    const reply = await rawHttp(sd.port, chunkedCreate(ext) + chunkedCreate(ext) + chunkedCreate(ext, true));
    assert.deepEqual([...reply.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1]), ['201', '201', '201'], reply);
    assert.equal(calls(), before + 3);
  });

  test("a patient cannot read or end another patient's call, and the attempt is audited", async () => {
    const theirs = await api(sd.url, 'POST', '/webrtc/calls', { tok: valid(), body: { ...CALL, patientId: 'patient-carol' } });
    assert.equal(theirs.status, 201);
    const mallory = hs256(claims('patient-mallory', 'patient', { aud: 'vytal-appliance', iss: 'vytalwatch-platform' }));
    const read = await api(sd.url, 'GET', `/webrtc/calls/${theirs.body.id}`, { tok: mallory });
    assert.equal(read.status, 403);
    assert.equal(read.body.error.code, 'forbidden');
    assert.doesNotMatch(read.text, /patient-carol/);
    const end = await api(sd.url, 'POST', `/webrtc/calls/${theirs.body.id}/end`, { tok: mallory });
    assert.equal(end.status, 403);
    assert.equal(end.body.error.code, 'forbidden');
    assert.equal(sql(sd.dataDir, `SELECT status || '/' || version FROM calls WHERE id = '${theirs.body.id}'`), 'scheduled/1');
    // The refused end is audited with the call; the refused read is audited too (asynchronously).
    for (let i = 0; i < 50 && sql(sd.dataDir, `SELECT count(*) FROM audit_log WHERE actor_id = 'patient-mallory'`) !== '2'; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(sql(sd.dataDir, `SELECT group_concat(action || ':' || outcome, ',') FROM (SELECT action, outcome FROM audit_log WHERE actor_id = 'patient-mallory' ORDER BY change_seq)`), 'call.read:denied,call.end:denied');
  });

  test('an unknown call id is 404, a wrong method 405', async () => {
    const missing = await api(sd.url, 'GET', '/webrtc/calls/01a20bb9-0000-7000-8000-000000000000', { tok: valid() });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'call_not_found');
    assert.equal((await api(sd.url, 'GET', '/webrtc/calls/not-a-uuid', { tok: valid() })).status, 404);
    assert.equal((await api(sd.url, 'DELETE', '/webrtc/calls', { tok: valid() })).status, 405);
  });
});

describe('RS256 and ES256 pinned with a public key', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const dir = tempDir();
  const rsaPem = rsa.publicKey.export({ type: 'spki', format: 'pem' });
  writeFileSync(join(dir, 'rsa.pem'), rsaPem);
  writeFileSync(join(dir, 'ec.pem'), ec.publicKey.export({ type: 'spki', format: 'pem' }));
  let rsSd;
  let esSd;
  before(async () => {
    rsSd = await startSignald({ JWT_SECRET: undefined, JWT_ALGORITHM: 'RS256', JWT_PUBLIC_KEY_FILE: join(dir, 'rsa.pem') });
    esSd = await startSignald({ JWT_SECRET: undefined, JWT_ALGORITHM: 'ES256', JWT_PUBLIC_KEY_FILE: join(dir, 'ec.pem') });
  });
  after(async () => {
    await rsSd.stop();
    await esSd.stop();
    rsSd.cleanup();
    esSd.cleanup();
  });

  test('a valid RS256 token is accepted', async () => {
    const r = await api(rsSd.url, 'POST', '/webrtc/calls', { tok: rs256(claims('svc', 'service'), rsa.privateKey), body: CALL });
    assert.equal(r.status, 201);
  });
  test('an HS256 token keyed with the RSA public key is refused when RS256 is pinned', async () => {
    const before = callRows(rsSd);
    const forged = hs256(claims('svc', 'admin'), rsaPem);
    const r = await api(rsSd.url, 'POST', '/webrtc/calls', { tok: forged, body: CALL });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'token_algorithm');
    assert.equal(callRows(rsSd), before);
  });
  test('an RS256 token signed by another key is refused', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const r = await api(rsSd.url, 'POST', '/webrtc/calls', { tok: rs256(claims('svc', 'service'), other.privateKey), body: CALL });
    assert.equal(r.body.error.code, 'token_signature');
  });
  test('a valid ES256 token is accepted and an RS256 one refused', async () => {
    assert.equal((await api(esSd.url, 'POST', '/webrtc/calls', { tok: es256(claims('svc', 'service'), ec.privateKey), body: CALL })).status, 201);
    const r = await api(esSd.url, 'POST', '/webrtc/calls', { tok: rs256(claims('svc', 'service'), rsa.privateKey), body: CALL });
    assert.equal(r.body.error.code, 'token_algorithm');
  });
});

describe('signald refuses to start without a usable key', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'empty.pem'), '');
  const ecPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' });
  writeFileSync(join(dir, 'ec.pem'), ecPem);
  const cases = [
    ['JWT_SECRET missing', { JWT_SECRET: undefined }, /JWT_SECRET/],
    ['JWT_SECRET empty', { JWT_SECRET: '' }, /JWT_SECRET/],
    ['RS256 without a key file', { JWT_ALGORITHM: 'RS256' }, /JWT_PUBLIC_KEY_FILE/],
    ['RS256 with an empty key file', { JWT_ALGORITHM: 'RS256', JWT_PUBLIC_KEY_FILE: join(dir, 'empty.pem') }, /JWT_PUBLIC_KEY_FILE/],
    ['RS256 with an EC key', { JWT_ALGORITHM: 'RS256', JWT_PUBLIC_KEY_FILE: join(dir, 'ec.pem') }, /JWT_PUBLIC_KEY_FILE/],
    ['an unknown algorithm', { JWT_ALGORITHM: 'none' }, /JWT_ALGORITHM/],
    ['a bad port', { JWT_SECRET: 's', PORT: '70000' }, /PORT/],
  ];
  for (const [name, env, key] of cases) {
    test(`${name}: exits 2 with one line naming the key`, async () => {
      const r = await runSignaldExpectingExit({ JWT_SECRET: undefined, ...env });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, key);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    });
  }
});
