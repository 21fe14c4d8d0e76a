// The connectivity test, run in a browser: the admin page's "Connectivity"
// page and the public patient test page (network-test.html) both use this
// module, so a clinic runs exactly the admin's test.
//
// For each TURN URL the appliance offers, separately, a peer connection with
// iceTransportPolicy "relay" and the run's fresh credential gathers
// candidates: a relay candidate means the TURN server was reached and
// allocated a relay address; the time to it, and every icecandidateerror
// (code and text) are kept. Then a relayed loopback call: two peer
// connections in this page, relay only, joined directly (no signaling
// server), with data channels for round-trip time, loss (an unreliable
// channel) and throughput (a reliable one). It imports only dom.js: the
// public page serves only these two files, its own, and the style sheet.

import { el as h } from './dom.js';

const MS = (t0) => Math.round(performance.now() - t0);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const addr = (a, p) => (a ? (a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`) : null);

// One TURN URL: resolves with { id, reachable, timedOut, firstRelayMs,
// relayAddress, mappedAddress, errors: [{code, text, address}] }.
// mappedAddress is where the TURN server saw this browser come from: the
// XOR-MAPPED-ADDRESS of its answer. Chromium hides it in a relay
// candidate's related address (0.0.0.0), so for UDP it comes from the
// server-reflexive candidate of a STUN Binding to the same server and port
// (coturn answers both on one socket); over TCP and TLS a browser cannot
// learn it, and the page shows the address the appliance saw instead.
export async function probe(server, credentials, timeoutMs = 10000) {
  const r = await relayProbe(server, credentials, timeoutMs);
  if (r.reachable && server.transport === 'udp') r.mappedAddress = await reflexive(server.url.replace(/^turn:/, 'stun:').replace(/\?.*$/, ''));
  return r;
}

// The server-reflexive address a STUN Binding to `url` returns, or null.
function reflexive(url, timeoutMs = 3000) {
  const pc = new RTCPeerConnection({ iceServers: [{ urls: url }] });
  pc.createDataChannel('stun');
  return new Promise((resolve) => {
    const finish = (a) => {
      clearTimeout(timer);
      pc.close();
      resolve(a);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    pc.addEventListener('icecandidate', (e) => {
      if (!e.candidate) return finish(null);
      if (e.candidate.type === 'srflx') finish(addr(e.candidate.address, e.candidate.port));
    });
    pc.createOffer().then((o) => pc.setLocalDescription(o)).catch(() => finish(null));
  });
}

function relayProbe(server, { username, credential }, timeoutMs) {
  const pc = new RTCPeerConnection({ iceServers: [{ urls: server.url, username, credential }], iceTransportPolicy: 'relay' });
  pc.createDataChannel('probe');
  const errors = [];
  const t0 = performance.now();
  return new Promise((resolve) => {
    let timer = null;
    let done = false;
    const finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // Let a late icecandidateerror land in the list before closing.
      setTimeout(() => {
        pc.close();
        resolve({ id: server.id, errors: errors.slice(0, 5), timedOut: false, ...r });
      }, r.reachable ? 0 : 200);
    };
    pc.addEventListener('icecandidateerror', (e) => {
      errors.push({ code: e.errorCode, text: e.errorText ?? '', address: e.address ? addr(e.address, e.port) : '' });
    });
    pc.addEventListener('icecandidate', (e) => {
      if (!e.candidate) return finish({ reachable: false, firstRelayMs: null });
      const c = e.candidate;
      if (c.type !== 'relay') return;
      finish({ reachable: true, firstRelayMs: MS(t0), relayAddress: addr(c.address, c.port), mappedAddress: null });
    });
    timer = setTimeout(() => finish({ reachable: false, timedOut: true, firstRelayMs: null }), timeoutMs);
    pc.createOffer().then((o) => pc.setLocalDescription(o)).catch((e) => {
      errors.push({ code: 0, text: `could not start: ${e.message}`, address: '' });
      finish({ reachable: false, firstRelayMs: null });
    });
  });
}

function opened(channel) {
  return channel.readyState === 'open' ? Promise.resolve() : new Promise((r) => channel.addEventListener('open', r, { once: true }));
}

// The relayed loopback call over `servers` (those that answered).
export async function loopback(servers, { username, credential }, { seconds = 2, onProgress = () => {} } = {}) {
  const config = { iceServers: [{ urls: servers.map((s) => s.url), username, credential }], iceTransportPolicy: 'relay' };
  const a = new RTCPeerConnection(config);
  const b = new RTCPeerConnection(config);
  const t0 = performance.now();
  try {
    a.addEventListener('icecandidate', (e) => e.candidate && b.addIceCandidate(e.candidate).catch(() => {}));
    b.addEventListener('icecandidate', (e) => e.candidate && a.addIceCandidate(e.candidate).catch(() => {}));
    const rtt = a.createDataChannel('rtt');
    const lossy = a.createDataChannel('loss', { ordered: false, maxRetransmits: 0 });
    const bulk = a.createDataChannel('bulk');
    const got = { loss: new Set(), bulkBytes: 0, bulkFirst: 0, bulkLast: 0 };
    b.addEventListener('datachannel', ({ channel }) => {
      channel.binaryType = 'arraybuffer';
      if (channel.label === 'rtt') channel.addEventListener('message', (m) => channel.send(m.data));
      if (channel.label === 'loss') channel.addEventListener('message', (m) => got.loss.add(new DataView(m.data).getUint32(0)));
      if (channel.label === 'bulk') {
        channel.addEventListener('message', (m) => {
          const now = performance.now();
          if (!got.bulkFirst) got.bulkFirst = now;
          got.bulkLast = now;
          got.bulkBytes += m.data.byteLength;
        });
      }
    });
    await a.setLocalDescription(await a.createOffer());
    await b.setRemoteDescription(a.localDescription);
    await b.setLocalDescription(await b.createAnswer());
    await a.setRemoteDescription(b.localDescription);
    const open = Promise.all([opened(rtt), opened(lossy), opened(bulk)]);
    const timeout = sleep(15000).then(() => { throw new Error('the relayed connection did not come up within 15 s'); });
    await Promise.race([open, timeout]);
    const connectMs = MS(t0);
    onProgress('loopback: round-trip time');

    // Round trips: 20 small messages, one every 50 ms; the median.
    const rtts = [];
    const pending = new Map();
    rtt.addEventListener('message', (m) => {
      const sent = pending.get(m.data);
      if (sent !== undefined) rtts.push(performance.now() - sent);
    });
    for (let i = 0; i < 20; i++) {
      pending.set(`ping ${i}`, performance.now());
      rtt.send(`ping ${i}`);
      await sleep(50);
    }
    await sleep(300);
    rtts.sort((x, y) => x - y);

    // Loss: 200 packets of 200 bytes over an unreliable channel, 10 ms apart.
    onProgress('loopback: loss');
    const N = 200;
    for (let i = 0; i < N; i++) {
      const buf = new ArrayBuffer(200);
      new DataView(buf).setUint32(0, i);
      lossy.send(buf);
      await sleep(10);
    }
    await sleep(500);

    // Throughput: a reliable channel kept full for `seconds`.
    onProgress('loopback: throughput');
    const chunk = new ArrayBuffer(16 * 1024);
    bulk.bufferedAmountLowThreshold = 256 * 1024;
    const until = performance.now() + seconds * 1000;
    while (performance.now() < until) {
      while (bulk.bufferedAmount < 1024 * 1024 && performance.now() < until) bulk.send(chunk);
      await Promise.race([new Promise((r) => bulk.addEventListener('bufferedamountlow', r, { once: true })), sleep(50)]);
    }
    await sleep(300);
    const span = Math.max(1, got.bulkLast - got.bulkFirst);

    // The path the call took: the selected pair's local relay candidate.
    let relayProtocol = null;
    const stats = await a.getStats();
    for (const s of stats.values()) {
      if (s.type === 'transport' && s.selectedCandidatePairId) {
        const pair = stats.get(s.selectedCandidatePairId);
        relayProtocol = stats.get(pair?.localCandidateId)?.relayProtocol ?? null;
      }
    }
    return {
      ok: true,
      relayProtocol,
      connectMs,
      rttMs: rtts.length ? rtts[Math.floor(rtts.length / 2)] : null,
      lossPercent: (100 * (N - got.loss.size)) / N,
      throughputKbps: (got.bulkBytes * 8) / span,
      seconds: (performance.now() - t0) / 1000,
      error: null,
    };
  } catch (e) {
    return { ok: false, error: e.message, seconds: (performance.now() - t0) / 1000 };
  } finally {
    a.close();
    b.close();
  }
}

// The whole test. start: what POST .../start answered ({servers, username,
// credential}). Resolves with the result to post back.
export async function runTest(start, { onProgress = () => {}, probeTimeoutMs = 10000, loopbackSeconds = 2 } = {}) {
  onProgress(`trying ${start.servers.length} TURN URL(s)`);
  const transports = await Promise.all(start.servers.map((s) => probe(s, start, probeTimeoutMs)));
  const reached = start.servers.filter((s, i) => transports[i].reachable);
  let lb;
  if (reached.length) {
    onProgress('loopback call through the relay');
    lb = await loopback(reached, start, { seconds: loopbackSeconds, onProgress });
  } else {
    lb = { ok: false, error: 'no TURN URL answered, so no relayed call was possible' };
  }
  return { transports, loopback: lb };
}

// ---- what the result means -------------------------------------------------

const kind = (s) => (s.transport === 'tls' && s.port === 443 ? 'tls443' : s.transport);
const NAMES = { udp: 'UDP', tcp: 'TCP', tls: 'TLS', tls443: 'TLS on port 443' };

function firstError(t) {
  const e = t?.errors?.find((x) => x.code) ?? t?.errors?.[0];
  if (e) return `error ${e.code}${e.text ? `: ${e.text}` : ''}`;
  return t?.timedOut ? 'no answer within the time allowed' : 'no relay address came back';
}

// [{ situation, ok, text }]: one line per kind of clinic network, and first
// what this network itself let through. ok: 'yes', 'partly' (it connects,
// but not the way it should) or 'no'.
export function verdicts(servers, result) {
  const rows = servers.map((s, i) => ({ s, t: result.transports.find((t) => t.id === s.id) ?? result.transports[i] }));
  const ok = (k) => rows.find((r) => kind(r.s) === k && r.t?.reachable);
  const tried = (k) => rows.filter((r) => kind(r.s) === k);
  const failed = (k) => tried(k).find((r) => !r.t?.reachable);
  const reached = [...new Set(rows.filter((r) => r.t?.reachable).map((r) => NAMES[kind(r.s)]))];
  const missed = [...new Set(rows.filter((r) => !r.t?.reachable).map((r) => NAMES[kind(r.s)]))];
  const out = [];

  let here;
  if (!reached.length) here = 'No TURN transport was reached from this network: calls from here would fail. Check the firewall between this network and the appliance, and that vytal-turnserver and nginx run.';
  else if (!missed.length) here = `Every TURN transport was reached from this network (${reached.join(', ')}): calls from here will connect, over UDP when they can.`;
  else if (tried('udp').length && !ok('udp') && (ok('tcp') || ok('tls') || ok('tls443'))) here = `UDP is blocked from this network: TURN over UDP was not reached (${firstError(failed('udp')?.t)}), while ${reached.join(', ')} ${reached.length > 1 ? 'were' : 'was'} reached. Calls from here will be relayed over TCP or TLS, with somewhat more delay.`;
  else here = `From this network TURN was reached over ${reached.join(', ')} but not over ${missed.join(', ')}.`;
  out.push({ situation: 'This network', ok: !reached.length ? 'no' : missed.length ? 'partly' : 'yes', text: here });

  const udp = ok('udp');
  out.push({
    situation: 'A clinic that allows UDP',
    ok: udp ? 'yes' : ok('tcp') || ok('tls') || ok('tls443') ? 'partly' : 'no',
    text: udp ? `will connect through TURN over UDP on port ${udp.s.port} (the best path).`
      : tried('udp').length ? `not confirmed: TURN over UDP did not answer this test (${firstError(failed('udp')?.t)}), so such a clinic would fall back to TCP or TLS. If this network allows UDP, check that UDP ${tried('udp')[0].s.port} and the relay ports reach the appliance.`
        : 'will use TCP or TLS: the appliance offers no TURN over UDP (WEBRTC_TURN_SERVERS).',
  });
  const tcp = ok('tcp') ?? ok('tls') ?? ok('tls443');
  out.push({
    situation: 'A clinic that blocks UDP but allows TCP',
    ok: tcp ? 'yes' : 'no',
    text: tcp ? `will connect through TURN over ${NAMES[kind(tcp.s)]}${kind(tcp.s) === 'tls443' ? '' : ` on port ${tcp.s.port}`}.`
      : 'will not connect: neither TURN over TCP nor over TLS answered this test.',
  });
  const https = ok('tls443');
  out.push({
    situation: 'A clinic that allows only HTTPS (TCP 443)',
    ok: https ? 'yes' : 'no',
    text: https ? 'will connect through TURN over TLS on port 443 (nginx routes it to the TURN server by name).'
      : tried('tls443').length ? `will not connect: TURN over TLS on port 443 did not answer this test (${firstError(failed('tls443')?.t)}). Check nginx's SNI routing and that the TURN name has a certificate browsers trust (error 701 with a TLS failure is usually the certificate).`
        : 'will not connect: the appliance offers no TURN over TLS on port 443 (add turns:<TURN name>:443?transport=tcp to WEBRTC_TURN_SERVERS).',
  });
  return out;
}

// ---- showing a result --------------------------------------------------------

const fmtMs = (v) => (v === null || v === undefined ? '—' : `${Math.round(v)} ms`);
function fmtRate(kbps) {
  if (kbps === null || kbps === undefined) return '—';
  return kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbit/s` : `${Math.round(kbps)} kbit/s`;
}

// A result as a table, the loopback line and the verdicts. clientAddress:
// where vytal-admin (behind nginx: the client's address nginx saw) saw the
// browser come from.
export function renderResult(servers, result, { clientAddress } = {}) {
  const rows = servers.map((s, i) => {
    const t = result.transports.find((x) => x.id === s.id) ?? result.transports[i] ?? {};
    const err = t.errors?.length ? t.errors.map((e) => `${e.code ?? ''} ${e.text ?? ''}`.trim()).join('; ') : t.timedOut ? 'no answer in time' : '';
    return h('tr', { dataset: { transport: s.id, kind: kind(s), reached: t.reachable ? 'yes' : 'no' } },
      h('td', { title: s.url }, s.label),
      h('td', {}, h('span', { class: `state ${t.reachable ? 'ok' : 'denied'}` }, t.reachable ? 'reached' : 'not reached')),
      h('td', { class: 'num', title: 'from the start of gathering to the first relay candidate' }, fmtMs(t.firstRelayMs)),
      h('td', { class: 'id', title: 'the XOR-MAPPED-ADDRESS in the TURN server\'s answer (over UDP): this browser\'s address as the TURN server saw it; over TCP and TLS a browser cannot learn it' }, t.mappedAddress ?? '—'),
      h('td', { class: 'hide-narrow' }, err || '—'));
  });
  const table = h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, h('th', {}, 'TURN URL'), h('th', {}, 'result'), h('th', { class: 'num' }, 'first relay'),
      h('th', {}, 'address TURN saw'), h('th', { class: 'hide-narrow' }, 'ICE error'))),
    h('tbody', {}, rows)));
  const lb = result.loopback ?? {};
  const loop = lb.ok
    ? h('p', { dataset: { figure: 'loopback' } }, `Relayed loopback call over ${lb.relayProtocol ? lb.relayProtocol.toUpperCase() : 'TURN'}: round trip ${fmtMs(lb.rttMs)}, loss ${lb.lossPercent ?? '—'} %, throughput ${fmtRate(lb.throughputKbps)}.`)
    : h('p', { class: 'error', dataset: { figure: 'loopback' } }, `Relayed loopback call failed: ${lb.error ?? 'not run'}.`);
  const list = h('ul', { class: 'verdicts' }, verdicts(servers, result).map((v) =>
    h('li', { dataset: { ok: v.ok } }, h('span', { class: `state ${{ yes: 'ok', partly: 'warning', no: 'denied' }[v.ok]}` }, v.ok), ' ', h('strong', {}, `${v.situation}: `), v.text)));
  const seen = clientAddress ? h('p', { class: 'hint', dataset: { figure: 'client-address' } }, `The appliance saw this browser come from ${clientAddress}` +
    ' (over TCP and TLS a browser cannot learn the address TURN saw; it is this one, except on port 443, where TURN sees nginx, 127.0.0.1).') : null;
  return h('div', { class: 'conntest-result' }, h('h3', {}, 'Verdict'), list, table, loop, seen);
}
