// WebSocket signaling on /webrtc/ws as browsers meet it (docs/PROTOCOL.md,
// second half): joining and relaying in order, who may join, the handshake's
// checks and deadline, reconnection within the grace period, bad messages,
// the size and rate limits, dead clients, ending a call and quality reports.
import assert from 'node:assert/strict';
import net from 'node:net';
import {after, afterEach, before, test} from 'node:test';

import {api, claims, hs256, metric, sql, startSignald, token} from './lib/signald.mjs';
import {connect, createCall, eventually, invite, SERVICE, sleep, tryUpgrade} from './lib/ws_client.mjs';

const FRONTEND = 'https://app.example';
let sd;
let open = [];  // clients of the current test, terminated after it

before(async () => {
  sd = await startSignald({
    FRONTEND_URL: FRONTEND,
    VYTAL_MAX_PARTICIPANTS: '3',
    VYTAL_RECONNECT_GRACE_SECONDS: '2',
    VYTAL_QUALITY_SAMPLE_SECONDS: '1',
    VYTAL_REQUEST_TIMEOUT_SECONDS: '1',
    WEBRTC_STUN_SERVERS: 'stun:turn.hospital.example:3478',
    WEBRTC_TURN_SERVERS: 'turn:turn.hospital.example:3478?transport=udp',
    TURN_SHARED_SECRET: 'turn-secret-for-tests',
  });
});
after(async () => {
  await sd.stop();
  sd.cleanup();
});
afterEach(() => {
  for (const c of open) c.close();
  open = [];
});

async function client(server, sub, role, opts) {
  const c = await connect(server, sub, role, opts);
  open.push(c);
  return c;
}

const q = (query) => sql(sd.dataDir, query);
const participantStatus = (callId, userId) =>
    q(`SELECT status FROM call_participants WHERE call_id = '${callId}' AND user_id = '${userId}'`);
const sdp = (kind, n = 1) => ({type: kind, sdp: `v=0\r\no=- ${n} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n`});
const cand = (i) => ({
  candidate: `candidate:${i} 1 udp 2122260223 192.0.2.${i % 250} ${50000 + i} typ host`,
  sdpMid: '0',
  sdpMLineIndex: 0
});

test(
    'join, relay and leave: joined lists, participant-joined, targeted offer/answer, ordered ICE, broadcast ICE, media-state, leave',
    async () => {
      const call = await createCall(sd, 'pat-1', 'dr-1');
      const p = await client(sd, 'pat-1', 'patient');
      const jp = await p.join(call.id, 'j-pat');
      assert.equal(jp.requestId, 'j-pat');
      assert.equal(jp.callId, call.id);
      assert.equal(jp.userId, 'pat-1');
      assert.equal(jp.role, 'patient');
      assert.equal(jp.callStatus, 'scheduled', 'one participant in: still scheduled');
      assert.deepEqual(jp.participants, []);
      // As GET /webrtc/ice-servers: STUN, then TURN with a credential minted for this user.
      assert.deepEqual(jp.iceServers[0], {urls: ['stun:turn.hospital.example:3478']});
      // Credentials minted for a call name it: usage is attributed to it, leaving revokes them.
      assert.equal(jp.iceServers[1].username, `${jp.iceServers[1].username.split(':')[0]}:pat-1@${call.id}`);
      assert.equal(typeof jp.iceServers[1].credential, 'string');
      assert.equal(jp.ttlSeconds, 600);
      assert.ok(Date.parse(jp.expiresAt) > Date.now());
      assert.equal(q(`SELECT status FROM calls WHERE id = '${call.id}'`), 'scheduled');

      const d = await client(sd, 'dr-1', 'provider');
      const jd = await d.join(call.id, 42);
      assert.equal(jd.requestId, 42, 'an integer requestId is echoed');
      assert.equal(jd.role, 'provider');
      assert.equal(jd.callStatus, 'active', 'the second join makes the call active');
      assert.deepEqual(jd.participants, [{userId: 'pat-1', role: 'patient', state: 'connected'}]);
      const pj = await p.next('participant-joined');
      assert.equal(pj.callId, call.id);
      assert.equal(pj.userId, 'dr-1');
      assert.equal(pj.role, 'provider');
      assert.equal(pj.reconnected, false);
      assert.equal(pj.callStatus, 'active');
      // The join is committed before `joined` is sent.
      assert.equal(q(`SELECT status FROM calls WHERE id = '${call.id}'`), 'active');
      assert.equal(participantStatus(call.id, 'pat-1'), 'joined');
      assert.equal(participantStatus(call.id, 'dr-1'), 'joined');

      // offer → the patient only, with `from`; answer back.
      d.send({type: 'offer', to: 'pat-1', sdp: sdp('offer')});
      const offer = await p.next('offer');
      assert.deepEqual(
          {type: offer.type, callId: offer.callId, from: offer.from, sdp: offer.sdp},
          {type: 'offer', callId: call.id, from: 'dr-1', sdp: sdp('offer')},
      );
      p.send({type: 'answer', to: 'dr-1', sdp: sdp('answer')});
      const answer = await d.next('answer');
      assert.equal(answer.from, 'pat-1');
      assert.deepEqual(answer.sdp, sdp('answer'));

      // Twenty candidates in a row arrive in order, then end-of-candidates (null).
      for (let i = 0; i < 20; i++) p.send({type: 'ice-candidate', to: 'dr-1', candidate: cand(i)});
      p.send({type: 'ice-candidate', to: 'dr-1', candidate: null});
      const got = [];
      for (let i = 0; i < 21; i++) got.push(await d.next('ice-candidate'));
      assert.deepEqual(got.map((m) => m.candidate), [...Array.from({length: 20}, (_, i) => cand(i)), null]);
      assert.ok(got.every((m) => m.from === 'pat-1' && m.callId === call.id));

      // A broadcast candidate (no `to`) reaches the other but not the sender.
      d.send({type: 'ice-candidate', candidate: cand(99)});
      const bc = await p.next('ice-candidate');
      assert.equal(bc.from, 'dr-1');
      assert.deepEqual(bc.candidate, cand(99));

      // media-state relayed with `from`; it was sent after the broadcast above was
      // relayed, so an echo to the sender would have arrived before it.
      p.send({type: 'media-state', audio: false, video: true});
      const ms = await d.next('media-state');
      assert.deepEqual(
          {from: ms.from, callId: ms.callId, audio: ms.audio, video: ms.video},
          {from: 'pat-1', callId: call.id, audio: false, video: true});
      assert.equal(d.all('ice-candidate').length, 21, 'the sender did not get its own broadcast candidate back');
      assert.equal(d.all('offer').length, 0, 'the sender did not get its own offer back');
      assert.equal(p.all('answer').length, 0, 'the sender did not get its own answer back');
      assert.equal(p.all('offer').length, 1);

      // leave: `left` with the requestId to the sender, participant-left to the other.
      p.send({type: 'leave', requestId: 'bye-1'});
      const left = await p.next('left');
      assert.deepEqual(
          {type: left.type, requestId: left.requestId, callId: left.callId},
          {type: 'left', requestId: 'bye-1', callId: call.id});
      const pl = await d.next('participant-left');
      assert.deepEqual(
          {callId: pl.callId, userId: pl.userId, reason: pl.reason},
          {callId: call.id, userId: 'pat-1', reason: 'left'});
      assert.equal(
          await eventually(() => participantStatus(call.id, 'pat-1') === 'left'), true, 'the patient row is left');
      // After leaving, relaying is refused.
      p.send({type: 'offer', to: 'dr-1', sdp: sdp('offer'), requestId: 'after-leave'});
      assert.equal((await p.next('error', 3000, (m) => m.requestId === 'after-leave')).code, 'not_joined');
    });

test(
    'an invited interpreter joins as the third participant, both others see it, and a targeted offer skips it; the cap refuses a fourth',
    async () => {
      const call = await createCall(sd, 'pat-2', 'dr-2');
      const drTok = token('dr-2', 'provider');
      const inv = await invite(sd, call.id, 'interp-2', 'interpreter', drTok);
      assert.equal(inv.status, 201);
      const p = await client(sd, 'pat-2', 'patient');
      await p.join(call.id);
      const d = await client(sd, 'dr-2', 'provider');
      await d.join(call.id);
      await p.next('participant-joined', 3000, (m) => m.userId === 'dr-2');

      const i = await client(sd, 'interp-2', 'provider');
      const ji = await i.join(call.id, 'ji');
      assert.equal(ji.role, 'interpreter', 'the role comes from the invitation');
      assert.equal(ji.callStatus, 'active');
      assert.deepEqual(
          [...ji.participants].sort((a, b) => a.userId.localeCompare(b.userId)),
          [
            {userId: 'dr-2', role: 'provider', state: 'connected'},
            {userId: 'pat-2', role: 'patient', state: 'connected'}
          ],
      );
      for (const other of [p, d]) {
        const pj = await other.next('participant-joined', 3000, (m) => m.userId === 'interp-2');
        assert.equal(pj.role, 'interpreter');
        assert.equal(pj.reconnected, false);
      }
      assert.equal(participantStatus(call.id, 'interp-2'), 'joined');

      // A targeted offer reaches the patient only; the broadcast after it reaches both.
      d.send({type: 'offer', to: 'pat-2', sdp: sdp('offer', 2)});
      assert.equal((await p.next('offer')).from, 'dr-2');
      d.send({type: 'media-state', audio: true});
      await i.next('media-state', 3000, (m) => m.from === 'dr-2');
      await p.next('media-state', 3000, (m) => m.from === 'dr-2');
      assert.equal(i.all('offer').length, 0, 'the interpreter did not receive an offer meant for the patient');
      // The interpreter's broadcast candidate reaches both others.
      i.send({type: 'ice-candidate', candidate: cand(7)});
      assert.equal((await p.next('ice-candidate')).from, 'interp-2');
      assert.equal((await d.next('ice-candidate')).from, 'interp-2');
      d.send({type: 'media-state', audio: false});
      await i.next('media-state', 3000, (m) => m.from === 'dr-2' && m.audio === false);
      assert.equal(i.all('ice-candidate').length, 0, 'the interpreter did not get its own broadcast back');

      // VYTAL_MAX_PARTICIPANTS=3: a fourth is refused.
      const full = await invite(sd, call.id, 'family-2', 'family', drTok);
      assert.equal(full.status, 409);
      assert.equal(full.body.error.code, 'call_full');
    });

test('a stranger\'s token cannot join (forbidden, audited) nor inject offers or candidates into the call', async () => {
  const call = await createCall(sd, 'pat-3', 'dr-3');
  const p = await client(sd, 'pat-3', 'patient');
  await p.join(call.id);
  const d = await client(sd, 'dr-3', 'provider');
  await d.join(call.id);
  await p.next('participant-joined');

  const x = await client(sd, 'pat-evil', 'patient');
  // Without a join, nothing is relayed.
  x.send({type: 'offer', to: 'pat-3', sdp: sdp('offer', 666), requestId: 'inj-1'});
  x.send({type: 'ice-candidate', to: 'dr-3', candidate: cand(66), requestId: 'inj-2'});
  x.send({type: 'ice-candidate', candidate: cand(67), requestId: 'inj-3'});
  x.send({type: 'media-state', audio: false, requestId: 'inj-4'});
  for (const rid of ['inj-1', 'inj-2', 'inj-3', 'inj-4']) {
    const e = await x.next('error', 3000, (m) => m.requestId === rid);
    assert.equal(e.code, 'not_joined', `${rid}: ${JSON.stringify(e)}`);
  }
  // Joining someone else's call is refused and audited.
  x.send({type: 'join', callId: call.id, requestId: 'sneak'});
  const refused = await x.next(['joined', 'error'], 3000, (m) => m.requestId === 'sneak');
  assert.equal(refused.type, 'error');
  assert.equal(refused.code, 'forbidden');
  assert.equal(
      await eventually(
          () => q(`SELECT outcome FROM audit_log WHERE action = 'call.join' AND actor_id = 'pat-evil' AND call_id = '${
                    call.id}'`) === 'denied'),
      true,
      'an audit_log row call.join / denied',
  );
  x.send({type: 'offer', to: 'pat-3', sdp: sdp('offer', 667), requestId: 'inj-5'});
  assert.equal((await x.next('error', 3000, (m) => m.requestId === 'inj-5')).code, 'not_joined');
  assert.ok((await metric(sd.url, 'vytal_rejected_total{reason="ws_not_joined"}')) >= 5, 'each refusal is counted');

  // Markers through the real call: anything injected would have arrived before them.
  d.send({type: 'media-state', video: false});
  p.send({type: 'media-state', video: false});
  await p.next('media-state', 3000, (m) => m.from === 'dr-3');
  await d.next('media-state', 3000, (m) => m.from === 'pat-3');
  for (const c of [p, d]) {
    assert.equal(c.all('offer').length, 0, `${c.label} received no offer`);
    assert.equal(c.all('ice-candidate').length, 0, `${c.label} received no candidate`);
    assert.equal(c.all('participant-joined').filter((m) => m.userId === 'pat-evil').length, 0);
    assert.ok(c.all('media-state').every((m) => m.from !== 'pat-evil'));
  }
  assert.equal(q(`SELECT count(*) FROM call_participants WHERE call_id = '${call.id}' AND user_id = 'pat-evil'`), '0');
});

test(
    'the upgrade is refused before 101: foreign Origin 403, bad token 401, no token 401; FRONTEND_URL and same-origin accepted',
    async () => {
      const good = token('pat-h', 'patient');
      const evil = await tryUpgrade(sd, {tok: good, origin: 'https://evil.example'});
      assert.equal(evil.status, 403);
      assert.equal(evil.body?.error?.code, 'origin_not_allowed');

      const forged = hs256(claims('pat-h', 'patient'), 'not-the-secret-0123456789abcdef-xx');
      const bad = await tryUpgrade(sd, {tok: forged, origin: FRONTEND});
      assert.equal(bad.status, 401);
      assert.equal(bad.body?.error?.code, 'token_signature');

      const expired = hs256(claims('pat-h', 'patient', {exp: Math.floor(Date.now() / 1000) - 3600}));
      const exp = await tryUpgrade(sd, {tok: expired});
      assert.equal(exp.status, 401);
      assert.equal(exp.body?.error?.code, 'token_expired');

      const none = await tryUpgrade(sd, {origin: FRONTEND});
      assert.equal(none.status, 401);
      assert.equal(none.body?.error?.code, 'token_missing');

      // Subprotocols offered without vytal.v1.
      const proto = await tryUpgrade(sd, {protocols: ['chat', `bearer.${good}`]});
      assert.equal(proto.status, 400);
      assert.equal(proto.body?.error?.code, 'websocket_protocol');

      const ok = await tryUpgrade(sd, {tok: good, origin: FRONTEND});
      assert.equal(ok.status, 101);
      assert.equal(ok.protocol, 'vytal.v1', 'the server confirms vytal.v1');
      const same = await tryUpgrade(sd, {tok: good, origin: `http://127.0.0.1:${sd.port}`});
      assert.equal(same.status, 101, 'the page\'s own origin');
      // The Authorization header works too (no Origin: not a browser).
      const c = await client(sd, 'pat-h', 'patient', {auth: 'header'});
      c.send({type: 'hello', requestId: 'h'});
      assert.equal((await c.next('error', 3000, (m) => m.requestId === 'h')).code, 'unknown_type');
    });

// Raw TCP: collects what the server sends until it closes (or limitMs).
function rawUntilClosed(s, limitMs) {
  return new Promise((resolve) => {
    let buf = '';
    const t0 = Date.now();
    s.setEncoding('utf8');
    s.on('data', (d) => (buf += d));
    s.on('error', () => {});
    const timer = setTimeout(() => {
      s.destroy();
      resolve({text: buf, ms: Infinity});
    }, limitMs);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({text: buf, ms: Date.now() - t0});
    });
  });
}
const rawConnect = (port) => new Promise((resolve, reject) => {
  const s = net.connect({port, host: '127.0.0.1'}, () => resolve(s));
  s.once('error', reject);
});

test(
    'an upgrade that does not arrive within the handshake timeout (1 s) gets 408 and is closed; a silent socket is closed',
    async () => {
      const partial = await rawConnect(sd.port);
      const silent = await rawConnect(sd.port);
      partial.write(`GET /webrtc/ws HTTP/1.1\r\nHost: 127.0.0.1:${
          sd.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Ver`);
      const [a, b] = await Promise.all([rawUntilClosed(partial, 6000), rawUntilClosed(silent, 6000)]);
      assert.match(a.text, /^HTTP\/1\.1 408 /, `partial upgrade answered: ${JSON.stringify(a.text.slice(0, 80))}`);
      assert.doesNotMatch(a.text, / 101 /);
      assert.match(a.text, /"code":"request_timeout"/);
      assert.ok(a.ms < 3000, `partial upgrade closed after ${a.ms} ms`);
      assert.ok(b.ms < 3000, `silent socket closed after ${b.ms} ms`);
      assert.doesNotMatch(b.text, / 101 /);
    });

test('the same user joining from a second tab takes the slot: the first is told replaced and closed with 4000, nobody sees it reconnect', async () => {
  const call = await createCall(sd, 'pat-tab', 'dr-tab');
  const first = await client(sd, 'pat-tab', 'patient');
  await first.join(call.id);
  const d = await client(sd, 'dr-tab', 'provider');
  await d.join(call.id);
  await first.next('participant-joined');

  const second = await client(sd, 'pat-tab', 'patient');
  const joined = await second.join(call.id);
  assert.deepEqual(joined.participants, [{userId: 'dr-tab', role: 'provider', state: 'connected'}]);
  const told = await first.next('error');
  assert.equal(told.code, 'replaced');
  assert.equal((await first.waitClosed()).code, 4000);
  const pj = await d.next('participant-joined', 3000, (m) => m.userId === 'pat-tab');
  assert.equal(pj.reconnected, false);
  // The relay reaches the new tab only, both ways.
  d.send({type: 'offer', to: 'pat-tab', sdp: sdp('offer', 7)});
  assert.equal((await second.next('offer')).from, 'dr-tab');
  second.send({type: 'answer', to: 'dr-tab', sdp: sdp('answer', 7)});
  assert.equal((await d.next('answer')).from, 'pat-tab');
  assert.equal(participantStatus(call.id, 'pat-tab'), 'joined');
  // Leaving from the new tab is a leave; the old tab's close never read as a drop.
  second.send({type: 'leave', requestId: 'bye'});
  await second.next('left');
  const gone = await d.next('participant-left');
  assert.deepEqual({userId: gone.userId, reason: gone.reason}, {userId: 'pat-tab', reason: 'left'});
  assert.equal(d.all('participant-reconnecting').length, 0, 'the replaced tab is not a reconnecting participant');
  assert.equal(await eventually(() => participantStatus(call.id, 'pat-tab') === 'left'), true, 'row left');
});

test('reconnect within the grace period keeps the slot; a drop without return times out after it', async () => {
  const call = await createCall(sd, 'pat-r', 'dr-r');
  const p = await client(sd, 'pat-r', 'patient');
  await p.join(call.id);
  const d = await client(sd, 'dr-r', 'provider');
  await d.join(call.id);
  await p.next('participant-joined');

  p.ws.terminate();  // the network drops: no leave
  const rc = await d.next('participant-reconnecting');
  assert.deepEqual(
      {callId: rc.callId, userId: rc.userId, graceSeconds: rc.graceSeconds},
      {callId: call.id, userId: 'pat-r', graceSeconds: 2});
  assert.equal(
      await eventually(() => participantStatus(call.id, 'pat-r') === 'reconnecting'), true, 'row reconnecting');

  const p2 = await client(sd, 'pat-r', 'patient');
  const back = await p2.join(call.id);
  assert.equal(back.callStatus, 'active');
  assert.deepEqual(back.participants, [{userId: 'dr-r', role: 'provider', state: 'connected'}]);
  const pj = await d.next('participant-joined', 3000, (m) => m.userId === 'pat-r');
  assert.equal(pj.reconnected, true);
  assert.equal(participantStatus(call.id, 'pat-r'), 'joined');
  // The relay works over the new connection.
  d.send({type: 'offer', to: 'pat-r', sdp: sdp('offer', 3)});
  assert.equal((await p2.next('offer')).from, 'dr-r');

  // Past the grace period the slot is gone.
  await sleep(2500);  // longer than the grace: the first drop must not count against the new session
  assert.equal(d.all('participant-left').length, 0, 'no timeout while the patient is back');
  p2.ws.terminate();
  const dropAt = Date.now();
  await d.next('participant-reconnecting', 3000, (m) => m.userId === 'pat-r');
  const gone = await d.next('participant-left', 5000);
  const waited = Date.now() - dropAt;
  assert.deepEqual({userId: gone.userId, reason: gone.reason}, {userId: 'pat-r', reason: 'timeout'});
  assert.ok(waited >= 1500 && waited < 4500, `participant-left after ${waited} ms (grace 2 s)`);
  assert.equal(await eventually(() => participantStatus(call.id, 'pat-r') === 'left'), true, 'row left');
  // And coming back now is a fresh join, not a reconnection.
  const p3 = await client(sd, 'pat-r', 'patient');
  await p3.join(call.id);
  assert.equal((await d.next('participant-joined', 3000, (m) => m.userId === 'pat-r')).reconnected, false);
});

test(
    'malformed JSON, a message without type and an unknown type get errors and the connection stays usable',
    async () => {
      const call = await createCall(sd, 'pat-m', 'dr-m');
      const c = await client(sd, 'pat-m', 'patient');
      c.send('{"type": "join", ');
      assert.equal((await c.next('error')).code, 'invalid_json');
      c.send('[1, 2, 3]');
      assert.equal((await c.next('error')).code, 'invalid_json');
      c.send({callId: call.id, requestId: 'no-type'});
      const v = await c.next('error');
      assert.equal(v.code, 'validation');
      assert.equal(v.requestId, 'no-type');
      c.send({type: 'teleport', requestId: 'tp'});
      const u = await c.next('error');
      assert.equal(u.code, 'unknown_type');
      assert.equal(u.requestId, 'tp');
      // Still open and working.
      const j = await c.join(call.id, 'after-garbage');
      assert.equal(j.callId, call.id);
      assert.equal(c.closeInfo, null);
    });

test('a message over 64 KiB closes the connection with 1009', async () => {
  const c = await client(sd, 'pat-big', 'patient');
  c.send(JSON.stringify({type: 'media-state', pad: 'x'.repeat(70000)}));
  const closed = await c.waitClosed(5000);
  assert.equal(closed.code, 1009);
});

test('a message in more than 63 fragments (empty ones too) closes with 1008 and is counted', async () => {
  const ok = await client(sd, 'pat-frag-ok', 'patient');
  // 63 fragments are still one message (an unknown type: answered, not fatal).
  ok.ws.send('{"type":"teleport",', {fin: false});
  for (let i = 0; i < 61; i++) ok.ws.send('', {fin: false});
  ok.ws.send('"requestId":"frag"}', {fin: true});
  assert.equal((await ok.next('error')).requestId, 'frag');
  const c = await client(sd, 'pat-frag', 'patient');
  c.ws.send('{', {fin: false});
  for (let i = 0; i < 200; i++) c.ws.send('', {fin: false});
  const closed = await c.waitClosed(5000);
  assert.equal(closed.code, 1008);
  assert.ok((await metric(sd.url, 'vytal_rejected_total{reason="ws_too_many_fragments"}')) >= 1);
  assert.equal(ok.closeInfo, null);
});

test(
    'end-call by the provider: call-ended to both, call ended and participants left in the call log; REST /end pushes call-ended',
    async () => {
      const call = await createCall(sd, 'pat-e', 'dr-e');
      const p = await client(sd, 'pat-e', 'patient');
      await p.join(call.id);
      const d = await client(sd, 'dr-e', 'provider');
      await d.join(call.id);
      await p.next('participant-joined');
      await sleep(300);  // some time in the call
      d.send({type: 'end-call', requestId: 'end-1'});
      for (const c of [p, d]) {
        const e = await c.next('call-ended');
        assert.equal(e.callId, call.id);
        assert.equal(e.status, 'ended');
        assert.equal(e.endedBy, 'dr-e');
        assert.equal(e.reason, 'hung_up');
        assert.ok(Number.isInteger(e.durationMs) && e.durationMs >= 250, `durationMs ${e.durationMs}`);
      }
      const row =
          q(`SELECT status || '|' || end_reason || '|' || (duration_ms > 0) FROM calls WHERE id = '${call.id}'`);
      assert.equal(row, 'ended|hung_up|1');
      const parts = await eventually(() => {
        const r =
            q(`SELECT user_id || ':' || status || ':' || (duration_ms > 0) FROM call_participants WHERE call_id = '${
                call.id}' ORDER BY user_id`);
        return r === 'dr-e:left:1\npat-e:left:1' && r;
      });
      assert.equal(parts, 'dr-e:left:1\npat-e:left:1');
      // The call is over: the connection is out of it.
      p.send({type: 'offer', to: 'dr-e', sdp: sdp('offer'), requestId: 'late'});
      assert.equal((await p.next('error', 3000, (m) => m.requestId === 'late')).code, 'not_joined');

      // Ended through REST while both are connected.
      const call2 = await createCall(sd, 'pat-e2', 'dr-e2');
      const p2 = await client(sd, 'pat-e2', 'patient');
      await p2.join(call2.id);
      const d2 = await client(sd, 'dr-e2', 'provider');
      await d2.join(call2.id);
      await p2.next('participant-joined');
      const r = await api(sd.url, 'POST', `/webrtc/calls/${call2.id}/end`, {tok: SERVICE, body: {reason: 'admin_end'}});
      assert.equal(r.status, 200);
      assert.equal(r.body.status, 'ended');
      for (const c of [p2, d2]) {
        const e = await c.next('call-ended');
        assert.deepEqual(
            {callId: e.callId, status: e.status, reason: e.reason, endedBy: e.endedBy},
            {callId: call2.id, status: 'ended', reason: 'admin_end', endedBy: 'platform-backend'});
        assert.equal(typeof e.durationMs, 'number');
      }
    });

test('quality reports are sampled: one row per participant per second, packetLoss stored in permille', async () => {
  const call = await createCall(sd, 'pat-q', 'dr-q');
  const p = await client(sd, 'pat-q', 'patient');
  await p.join(call.id);
  const d = await client(sd, 'dr-q', 'provider');
  await d.join(call.id);
  await p.next('participant-joined');
  const report = (i) => ({type: 'quality-report', rttMs: 40 + i, jitterMs: 3.4, packetLoss: 0.02, bitrateKbps: 1500});
  for (let i = 0; i < 5; i++) p.send(report(i));
  for (let i = 0; i < 5; i++) d.send(report(20 + i));
  await sleep(1300);
  for (let i = 10; i < 15; i++) p.send(report(i));
  const rows = (user) => q(
      `SELECT rtt_ms || ',' || jitter_ms || ',' || packet_loss_permille || ',' || bitrate_kbps FROM call_quality_samples WHERE call_id = '${
          call.id}' AND user_id = '${user}' ORDER BY sampled_at`);
  await eventually(() => rows('pat-q').split('\n').filter(Boolean).length >= 2, 3000);
  await sleep(300);  // nothing more lands late
  assert.equal(rows('pat-q'), '40,3,20,1500\n50,3,20,1500', 'the first report of each second, converted');
  assert.equal(rows('dr-q'), '60,3,20,1500');
  // No reply to a quality report.
  assert.equal(p.all('error').length, 0);
});

test('a client that stops answering pings is closed within two ping intervals; a normal client stays', async () => {
  const sp = await startSignald({VYTAL_WS_PING_INTERVAL_SECONDS: '2'});
  try {
    const normal = await connect(sp, 'pat-alive', 'patient');
    const silent = await connect(sp, 'pat-silent', 'patient', {autoPong: false});
    open.push(normal, silent);
    assert.ok(normal.ws._autoPong === true && !silent.ws._autoPong, 'this ws version honours autoPong: false');
    const closed = await silent.waitClosed(8000);
    const ms = closed.at - silent.openedAt;
    assert.ok(silent.pings >= 1, 'a ping came before the close');
    assert.ok(ms < 2 * 2000 + 1000, `silent client closed after ${ms} ms`);
    assert.ok(ms >= 2000, `not before the first ping interval (${ms} ms)`);
    // The normal client outlives the same period and still works.
    await sleep(Math.max(0, normal.openedAt + 5500 - Date.now()));
    assert.equal(normal.closeInfo, null, 'the answering client is still open');
    assert.ok(normal.pings >= 1, 'it was pinged too');
    normal.send({type: 'nope', requestId: 'alive'});
    assert.equal((await normal.next('error', 3000, (m) => m.requestId === 'alive')).code, 'unknown_type');
    assert.ok((await metric(sp.url, 'vytal_rejected_total{reason="ws_ping_timeout"}')) >= 1);
  } finally {
    await sp.stop();
    sp.cleanup();
  }
});

const RATE_ENV = {
  VYTAL_WS_MESSAGE_RATE: '20',
  VYTAL_WS_MESSAGE_BURST: '20'
};

async function joinOn(server, sub, role, id) {
  const c = await connect(server, sub, role);
  open.push(c);
  await c.join(id);
  return c;
}

test('a flood from one connection is rate limited without slowing another call', async () => {
  const sr = await startSignald(RATE_ENV);
  try {
    const [callA, callB] = [await createCall(sr, 'pat-fa', 'dr-fa'), await createCall(sr, 'pat-fb', 'dr-fb')];
    const flooder = await joinOn(sr, 'pat-fa', 'patient', callA.id);
    const peerA = await joinOn(sr, 'dr-fa', 'provider', callA.id);
    const pb = await joinOn(sr, 'pat-fb', 'patient', callB.id);
    const db = await joinOn(sr, 'dr-fb', 'provider', callB.id);
    await flooder.next('participant-joined');
    await pb.next('participant-joined');
    await sleep(1100);  // the buckets refill after the joins

    const t0 = Date.now();
    for (let i = 0; i < 2000; i++) flooder.send({type: 'media-state', audio: i % 2 === 0});

    // Meanwhile call B negotiates: offer/answer and 10 candidates each way.
    db.send({type: 'offer', to: 'pat-fb', sdp: sdp('offer', 9)});
    for (let i = 0; i < 10; i++) db.send({type: 'ice-candidate', to: 'pat-fb', candidate: cand(i)});
    const offer = await pb.next('offer', 2000);
    pb.send({type: 'answer', to: 'dr-fb', sdp: sdp('answer', 9)});
    for (let i = 10; i < 20; i++) pb.send({type: 'ice-candidate', to: 'dr-fb', candidate: cand(i)});
    const answer = await db.next('answer', 2000);
    const toP = [];
    const toD = [];
    for (let i = 0; i < 10; i++) toP.push(await pb.next('ice-candidate', 2000));
    for (let i = 0; i < 10; i++) toD.push(await db.next('ice-candidate', 2000));
    const negotiationMs = Date.now() - t0;
    assert.equal(offer.from, 'dr-fb');
    assert.equal(answer.from, 'pat-fb');
    assert.deepEqual(toP.map((m) => m.candidate), Array.from({length: 10}, (_, i) => cand(i)));
    assert.deepEqual(toD.map((m) => m.candidate), Array.from({length: 10}, (_, i) => cand(i + 10)));
    assert.ok(negotiationMs < 2000, `call B negotiated in ${negotiationMs} ms during the flood`);
    assert.equal(pb.all('error').length + db.all('error').length, 0, 'call B was not rate limited');

    // The flooder's peer got only what the bucket let through.
    await Promise.race([flooder.closed, sleep(1500)]);
    const elapsed = ((flooder.closeInfo?.at ?? Date.now()) - t0) / 1000;
    await sleep(300);
    const relayed = peerA.all('media-state').length;
    const cap = 20 + 20 * elapsed + 5;
    assert.ok(relayed >= 1 && relayed <= cap, `peer in call A got ${relayed} of 2000 (cap ${cap.toFixed(1)})`);
    assert.ok((await metric(sr.url, 'vytal_rejected_total{reason="ws_rate_limited"}')) > 0);
    // The peer in call A is still served.
    peerA.send({type: 'nope', requestId: 'peer-ok'});
    assert.equal((await peerA.next('error', 2000, (m) => m.requestId === 'peer-ok')).code, 'unknown_type');
  } finally {
    await sr.stop();
    sr.cleanup();
  }
});

test('a flooding client is told: error rate_limited, and one that floods on is cut off with close code 1008', async () => {
  const sr = await startSignald(RATE_ENV);
  try {
    // A short flood (under ten bursts dropped): told and kept.
    const call1 = await createCall(sr, 'pat-f1', 'dr-f1');
    const mild = await joinOn(sr, 'pat-f1', 'patient', call1.id);
    await sleep(1100);
    for (let i = 0; i < 100; i++) mild.send({type: 'media-state', video: true});
    assert.equal((await mild.next('error', 3000)).code, 'rate_limited');
    await sleep(500);
    assert.equal(mild.closeInfo, null, 'a short flood does not cut the connection');
    assert.equal(mild.all('error').length, 1, 'one rate_limited error per second of flooding');

    // 2000 as fast as it can (far past 10 bursts dropped within a second): told, then cut off with 1008, not an abrupt reset.
    const call2 = await createCall(sr, 'pat-f2', 'dr-f2');
    const hard = await joinOn(sr, 'pat-f2', 'patient', call2.id);
    let socketError = null;
    hard.ws._socket.on('error', (e) => (socketError = e.code));
    await sleep(1100);
    for (let i = 0; i < 2000; i++) hard.send({type: 'media-state', audio: i % 2 === 0});
    await Promise.race([hard.closed, sleep(2000)]);
    const errors = hard.all('error').map((m) => m.code);
    const observed =
        `errors ${JSON.stringify(errors)}, close ${JSON.stringify(hard.closeInfo)}, socket error ${socketError}`;
    assert.equal(hard.closeInfo?.code, 1008, `cut off with 1008 — observed: ${observed}`);
    assert.ok(errors.includes('rate_limited'), `the flooder received error rate_limited — observed: ${observed}`);
  } finally {
    await sr.stop();
    sr.cleanup();
  }
});
