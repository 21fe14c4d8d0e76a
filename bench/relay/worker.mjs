// One client process of bench/relay/relay.mjs (started with fork, driven over
// IPC). It holds both sides of its calls, so a message's send time and its
// receive time are read from the same monotonic clock (performance.now()).
//
// Two dialects, the same shape of traffic:
//  - vytal: signald's /webrtc/ws, JWT in the `bearer.` subprotocol,
//    {"type":"join"} then {"type":"offer","to","sdp":{...}} messages;
//  - sio: Engine.IO 4 / Socket.IO 5 framing spoken directly over ws
//    (open packet `0{...}`, connect `40{"token"}`, events `42["offer",{...}]`,
//    pings `2` answered with `3`), so the client does the same work for both.
//
// Messages from parent:
//   {cmd:'setup', dialect, url, secret, pairs:[{callId, a, b}], sources, size}
//       → {ev:'ready', joined, failed, errors}
//   {cmd:'phase', mode:'window'|'rate', window, rate, seconds, drainMs}
//       → {ev:'result', sent, received, receivedInTime, skipped, stale, errors, closes, cpuMicros, hist}
//   {cmd:'exit'}
import WebSocket from 'ws';
import { performance } from 'node:perf_hooks';
import { hs256 } from '../../tests/integration/lib/signald.mjs';
import { newHistogram, record } from './stats.mjs';

const MAX_LIFETIME_MS = 30 * 60 * 1000; // never outlive a forgotten run
const TS_WIDTH = 14; // performance.now() in ms, 3 decimals, zero-padded
const MARK = Buffer.from('~ts');
const SEND_BUFFER_LIMIT = 64 * 1024; // a connection this far behind is skipped in rate mode

setTimeout(() => process.exit(3), MAX_LIFETIME_MS).unref();
process.on('disconnect', () => process.exit(0));

let conns = []; // { ws, peer, user, callId, token, frame, tsAt, joined }
let phase = null;
let errors = 0;
let closes = 0;

// A connection's message as one Buffer, padded so that the whole text frame is
// exactly `size` bytes; send() writes the send time into it at `tsAt`.
function frameTemplate(dialect, to, size) {
  const head =
    dialect === 'vytal'
      ? `{"type":"offer","to":${JSON.stringify(to)},"sdp":{"type":"offer","sdp":"~ts`
      : `42["offer",{"to":${JSON.stringify(to)},"sdp":{"type":"offer","sdp":"~ts`;
  const close = dialect === 'vytal' ? '"}}' : '"}}]';
  const pad = size - head.length - TS_WIDTH - 1 - close.length;
  if (pad < 0) throw new Error(`message size ${size} is too small`);
  return { frame: Buffer.from(`${head}${'0'.repeat(TS_WIDTH)}~${'v'.repeat(pad)}${close}`, 'latin1'), tsAt: head.length };
}

// ws copies a Buffer while masking it, so the template can be reused at once.
function send(c) {
  c.frame.write(performance.now().toFixed(3).padStart(TS_WIDTH, '0'), c.tsAt, 'latin1');
  c.ws.send(c.frame, { binary: false });
  phase.sent++;
}

function onMessage(c, data) {
  const i = data.indexOf(MARK);
  if (i >= 0) {
    const now = performance.now();
    const sentAt = Number(data.toString('latin1', i + 3, i + 3 + TS_WIDTH));
    if (!phase) return;
    if (sentAt < phase.startsAt) {
      phase.stale++; // sent in an earlier phase that stopped waiting for it: not counted
      return;
    }
    record(phase.hist, (now - sentAt) * 1000);
    phase.received++;
    if (now <= phase.endsAt) phase.receivedInTime++;
    if (phase.mode === 'window' && now < phase.endsAt) send(c.peer);
    else if (phase.draining && phase.sent === phase.received) phase.drained();
    return;
  }
  const text = data.toString('utf8');
  if (c.dialect === 'sio') {
    if (text === '2') return c.ws.send('3');
    if (text.startsWith('0{')) return c.ws.send(`40${JSON.stringify({ token: c.token })}`);
    if (text.startsWith('40')) return c.ws.send(`42${JSON.stringify(['join', { callId: c.callId }])}`);
    if (text.startsWith('44') || text.startsWith('42["error"')) return onError(c, text);
    if (text.startsWith('42["joined"')) return c.onJoined();
    return;
  }
  let msg;
  try {
    msg = JSON.parse(text);
  } catch {
    return onError(c, text);
  }
  if (msg.type === 'joined') c.onJoined();
  else if (msg.type === 'error') onError(c, text);
}

function onError(c, text) {
  errors++;
  if (errors <= 5) process.stderr.write(`worker ${process.pid}: ${c.user}: ${text.slice(0, 200)}\n`);
  if (!c.joined) c.onFailed(text);
}

function open(c, url, source) {
  return new Promise((resolve) => {
    const protocols = c.dialect === 'vytal' ? ['vytal.v1', `bearer.${c.token}`] : [];
    const ws = new WebSocket(url, protocols, { localAddress: source, perMessageDeflate: false, handshakeTimeout: 20000 });
    c.ws = ws;
    const timer = setTimeout(() => c.onFailed('join timed out'), 30000);
    c.onJoined = () => {
      clearTimeout(timer);
      c.joined = true;
      resolve(true);
    };
    c.onFailed = (why) => {
      clearTimeout(timer);
      if (!c.failedOnce) process.stderr.write(`worker ${process.pid}: ${c.user} did not join: ${String(why).slice(0, 200)}\n`);
      c.failedOnce = true;
      resolve(false);
    };
    ws.on('open', () => {
      if (c.dialect === 'vytal') ws.send(JSON.stringify({ type: 'join', callId: c.callId, requestId: 'j' }));
    });
    ws.on('message', (data) => onMessage(c, data));
    ws.on('error', (e) => c.onFailed(e.message));
    ws.on('close', () => {
      if (c.joined) closes++;
      else c.onFailed('closed');
    });
  });
}

async function setup({ dialect, url, secret, pairs, sources, size }) {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  conns = [];
  for (const { callId, a, b } of pairs) {
    const ca = { dialect, callId, user: a, token: hs256({ sub: a, role: 'patient', exp }, secret) };
    const cb = { dialect, callId, user: b, token: hs256({ sub: b, role: 'provider', exp }, secret) };
    ca.peer = cb;
    cb.peer = ca;
    Object.assign(ca, frameTemplate(dialect, b, size));
    Object.assign(cb, frameTemplate(dialect, a, size));
    conns.push(ca, cb);
  }
  const BATCH = 100; // connections (and joins) in flight at once
  let joined = 0;
  for (let i = 0; i < conns.length; i += BATCH) {
    const batch = conns.slice(i, i + BATCH);
    const ok = await Promise.all(batch.map((c, k) => open(c, url, sources[(i + k) % sources.length])));
    joined += ok.filter(Boolean).length;
  }
  process.send({ ev: 'ready', joined, failed: conns.length - joined, errors });
}

function runPhase({ mode, window, rate, seconds, drainMs }) {
  const cpuStart = process.cpuUsage();
  const startErrors = errors;
  const startCloses = closes;
  const live = conns.filter((c) => c.joined && c.ws.readyState === WebSocket.OPEN);
  const startsAt = performance.now();
  phase = { mode, startsAt, sent: 0, received: 0, receivedInTime: 0, skipped: 0, stale: 0, hist: newHistogram(), endsAt: startsAt + seconds * 1000, draining: false };
  const finish = () => {
    clearTimeout(phase.drainTimer);
    const cpu = process.cpuUsage(cpuStart);
    const p = phase;
    phase = null;
    process.send({
      ev: 'result',
      sent: p.sent,
      received: p.received,
      receivedInTime: p.receivedInTime,
      skipped: p.skipped,
      stale: p.stale,
      errors: errors - startErrors,
      closes: closes - startCloses,
      cpuMicros: cpu.user + cpu.system,
      hist: Array.from(p.hist),
    });
  };
  const drain = () => {
    phase.draining = true;
    phase.drained = finish;
    if (phase.sent === phase.received) return finish();
    phase.drainTimer = setTimeout(finish, drainMs);
  };

  if (mode === 'window') {
    for (const c of live) for (let k = 0; k < window; k++) send(c);
    setTimeout(drain, seconds * 1000);
    return;
  }
  // Fixed offered rate: every 2 ms, send what is due since the start, round
  // robin over the connections; one that cannot write (its send buffer is
  // over the limit) is skipped and counted.
  let next = 0;
  let due = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    if (now >= phase.endsAt) {
      clearInterval(tick);
      return drain();
    }
    const target = Math.floor(((now - startsAt) / 1000) * rate);
    for (; due < target; due++) {
      const c = live[next++ % live.length];
      if (c.ws.bufferedAmount > SEND_BUFFER_LIMIT) phase.skipped++;
      else send(c);
    }
  }, 2);
}

process.on('message', (m) => {
  if (m.cmd === 'setup') setup(m);
  else if (m.cmd === 'phase') runPhase(m);
  else if (m.cmd === 'exit') {
    for (const c of conns) c.ws?.terminate();
    process.exit(0);
  }
});
