// Slow and stuck clients do not stall a real call: 500 connections that never
// finish their WebSocket upgrade and 500 WebSocket clients that stopped
// reading (while the server keeps sending to them) are held open, and a
// patient and a provider still join and negotiate within a couple of seconds.
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import net from 'node:net';
import {after, before, test} from 'node:test';

import {metric, startSignald} from './lib/signald.mjs';
import {connect, createCall, invite, sleep, withTimeout} from './lib/ws_client.mjs';

const HALF_OPEN = 500;
const NOT_READING = 500;
const ROOMS = 8;  // the non-reading clients sit in 8 calls of up to 64, each with one active sender
const SOURCES = Array.from({length: 8}, (_, i) => `127.0.0.${i + 2}`);  // the slow ones; the real call uses 127.0.0.1

let sd;
const rawSockets = [];
const clients = [];
let senderTimer;

before(async () => {
  sd = await startSignald({
    VYTAL_MAX_CONNECTIONS_PER_IP: '5000',
    VYTAL_REQUEST_TIMEOUT_SECONDS: '30',   // the half-open upgrades stay for the whole test
    VYTAL_WS_PING_INTERVAL_SECONDS: '60',  // the non-reading clients are not dropped for missing pongs meanwhile
    VYTAL_MAX_PARTICIPANTS: '64',
    VYTAL_WS_MESSAGE_RATE: '1000',  // the senders are not rate limited
    VYTAL_WS_MESSAGE_BURST: '1000',
  });
});
after(async () => {
  clearInterval(senderTimer);
  for (const s of rawSockets) s.destroy();
  for (const c of clients) c.close();
  await sd.stop();
  sd.cleanup();
});

async function inBatches(n, size, fn) {
  const out = [];
  for (let i = 0; i < n; i += size)
    out.push(...(await Promise.all(Array.from({length: Math.min(size, n - i)}, (_, j) => fn(i + j)))));
  return out;
}

// A TCP connection that sends the start of an upgrade request and then nothing.
function halfOpenUpgrade(i) {
  return withTimeout(
      new Promise((resolve, reject) => {
        const s = net.connect({port: sd.port, host: '127.0.0.1', localAddress: SOURCES[i % SOURCES.length]}, () => {
          s.write(`GET /webrtc/ws HTTP/1.1\r\nHost: 127.0.0.1:${
              sd.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Ve`);
          resolve(s);
        });
        s.on('error', reject);
        s.on('close', () => (s.closedAt = Date.now()));
        rawSockets.push(s);
      }),
      5000,
      `half-open connection ${i}`,
  );
}

const cand = (i, pad = '') => ({
  candidate: `candidate:${i} 1 udp 2122260223 192.0.2.1 ${50000 + i} typ host${pad}`,
  sdpMid: '0',
  sdpMLineIndex: 0
});

test(
    '1000 slow connections do not delay a real call: offer/answer and ICE arrive within a couple of seconds',
    async (t) => {
      const t0 = Date.now();
      const log = (what) => t.diagnostic(`${((Date.now() - t0) / 1000).toFixed(2)} s: ${what}`);

      // 500 upgrades that never finish.
      await inBatches(HALF_OPEN, 100, halfOpenUpgrade);
      log(`${HALF_OPEN} half-open upgrade requests sent`);

      // 500 WebSocket clients in 8 calls, each call with an active sender (its provider).
      const rooms = [];
      for (let k = 0; k < ROOMS; k++) {
        const size = Math.floor(NOT_READING / ROOMS) + (k < NOT_READING % ROOMS ? 1 : 0);
        const call = await createCall(sd, `slow-pat-${k}`, `slow-dr-${k}`);
        const users = [`slow-pat-${k}`];
        for (let j = 1; j < size; j++) users.push(`slow-obs-${k}-${j}`);
        const invited = await Promise.all(users.slice(1).map((u) => invite(sd, call.id, u, 'observer')));
        assert.ok(invited.every((r) => r.status === 201), 'all observers invited');
        rooms.push({call, users});
      }
      log(`${ROOMS} calls created, observers invited`);
      const slowUsers = rooms.flatMap((r, k) => r.users.map((u) => ({u, k, call: r.call})));
      assert.equal(slowUsers.length, NOT_READING);
      const slow = await inBatches(NOT_READING, 50, async (i) => {
        const {u, call} = slowUsers[i];
        const c = await connect(
            sd, u, u.startsWith('slow-pat') ? 'patient' : 'provider', {localAddress: SOURCES[i % SOURCES.length]});
        clients.push(c);
        await c.join(call.id);
        return c;
      });
      const senders = [];
      for (let k = 0; k < ROOMS; k++) {
        const c = await connect(sd, `slow-dr-${k}`, 'provider');
        clients.push(c);
        await c.join(rooms[k].call.id);
        senders.push(c);
      }
      log(`${NOT_READING} WebSocket clients joined, ${ROOMS} senders joined`);

      // They stop reading; the senders keep broadcasting to them (384 KiB each at
      // once, then 2 KiB every 100 ms: under the 1 MiB of unsent data that gets a
      // non-reader dropped, so they all stay connected).
      for (const c of slow) c.ws._socket.pause();
      const big = 'x'.repeat(8 * 1024);
      for (const s of senders)
        for (let i = 0; i < 48; i++) s.send({type: 'ice-candidate', candidate: cand(i, big)});
      let tick = 0;
      const small = 'y'.repeat(2 * 1024);
      senderTimer = setInterval(() => {
        tick++;
        for (const s of senders) s.send({type: 'ice-candidate', candidate: cand(1000 + tick, small)});
      }, 100);
      // The server really has data stuck on those connections (its send queues).
      // Read until every non-reader holds some, for up to 10 s: a busy machine
      // can take a while to write the first broadcasts to all 500.
      const sendQueues = () => {
        const ss =
            execFileSync('ss', ['-tnH', 'state', 'established', 'sport', '=', `:${sd.port}`], {encoding: 'utf8'});
        return ss.trim().split('\n').map((l) => Number(l.trim().split(/\s+/)[1]));
      };
      let sendQ = sendQueues();  // ss (iproute2, in every Debian) failing fails the test
      const stuckOf = (q) => q.filter((n) => n > 0).length;
      for (const until = Date.now() + 10000; stuckOf(sendQ) < NOT_READING && Date.now() < until;) {
        await sleep(100);
        sendQ = sendQueues();
      }
      const stuck = stuckOf(sendQ);
      log(`server sockets with unsent data: ${stuck}, ${
          (sendQ.reduce((a, b) => a + b, 0) / 2 ** 20).toFixed(1)} MiB queued`);
      assert.ok(stuck >= NOT_READING, `${stuck} server sockets hold unsent data (the non-readers)`);

      const openConns = await metric(sd.url, 'vytal_open_connections');
      const sessions = await metric(sd.url, 'vytal_ws_sessions');
      log(`server: ${openConns} open connections, ${sessions} WebSocket sessions`);
      assert.ok(openConns >= HALF_OPEN + NOT_READING + ROOMS, `open connections ${openConns}`);
      assert.ok(sessions >= NOT_READING + ROOMS, `ws sessions ${sessions}`);

      // The real call.
      const start = Date.now();
      const call = await createCall(sd, 'real-patient', 'real-provider');
      const p = await connect(sd, 'real-patient', 'patient');
      const d = await connect(sd, 'real-provider', 'provider');
      clients.push(p, d);
      await p.join(call.id);
      const jd = await d.join(call.id);
      assert.equal(jd.callStatus, 'active');
      const joinedMs = Date.now() - start;
      await p.next('participant-joined', 2000);

      const latencies = [];
      const relay = async (from, to, msg) => {
        const sentAt = Date.now();
        from.send(msg);
        const got = await to.next(
            msg.type, 2000, (m) => JSON.stringify(m.sdp ?? m.candidate) === JSON.stringify(msg.sdp ?? msg.candidate));
        latencies.push({type: msg.type, ms: got.receivedAt - sentAt});
        return got;
      };
      const offer = await relay(
          d, p, {type: 'offer', to: 'real-patient', sdp: {type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n'}});
      assert.equal(offer.from, 'real-provider');
      const answer = await relay(
          p, d,
          {type: 'answer', to: 'real-provider', sdp: {type: 'answer', sdp: 'v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\n'}});
      assert.equal(answer.from, 'real-patient');
      // Trickle ICE both ways at once.
      await Promise.all([
        (async () => {
          for (let i = 0; i < 10; i++)
            await relay(d, p, {type: 'ice-candidate', to: 'real-patient', candidate: cand(i)});
        })(),
        (async () => {
          for (let i = 10; i < 20; i++)
            await relay(p, d, {type: 'ice-candidate', to: 'real-provider', candidate: cand(i)});
        })(),
      ]);
      const totalMs = Date.now() - start;
      const worst = Math.max(...latencies.map((l) => l.ms));
      log(`real call: joined in ${joinedMs} ms, offer ${latencies[0].ms} ms, answer ${latencies[1].ms} ms, ` +
          `${latencies.length - 2} ICE candidates (worst ${worst} ms), whole exchange ${totalMs} ms`);
      assert.equal(latencies.length, 22);
      assert.ok(worst < 2000, `every message within 2 s (worst ${worst} ms)`);
      assert.ok(totalMs < 5000, `join + negotiation in ${totalMs} ms`);

      // The slow ones were still held open throughout.
      clearInterval(senderTimer);
      const stillOpen = await metric(sd.url, 'vytal_open_connections');
      log(`after the call: ${stillOpen} open connections, ${
          rawSockets.filter((s) => s.closedAt).length} half-open closed by the server`);
      assert.equal(
          rawSockets.filter((s) => s.closedAt).length, 0, 'no half-open upgrade was dropped before its 30 s deadline');
      assert.ok(stillOpen >= HALF_OPEN + NOT_READING + ROOMS + 2, `open connections ${stillOpen}`);
      assert.ok(Date.now() - t0 < 30000, 'all of it within the half-open connections\' deadline');
    });
