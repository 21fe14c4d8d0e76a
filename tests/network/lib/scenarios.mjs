// The clinic networks (scenarios 1-8) and one run of a call through each:
// a provider in the hospital and a patient in the clinic, each in Chromium
// on the demo page served by the appliance's nginx, join the same call;
// the patient's time from pressing Join to the first decoded video frame is
// measured in the page; both sides must keep decoding; the selected candidate
// pairs and vytal-turnserver's usage rows for the call are collected.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { hs256, claims } from '../../integration/lib/signald.mjs';
import { removeStale, destroyAll } from './netns.mjs';
import { A, Internet, Hospital, Clinic } from './topology.mjs';
import { Appliance, APP, TURN_NAME, makeCa } from './appliance.mjs';
import { launch, openDemo, joinAndWait, joinAndTimeFirstFrame, callStats, pageLog, screenshot, trace } from './browser.mjs';
import { startSquid } from './squid.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// What an admin writes in site.conf for each placement of the appliance: UDP
// and TCP TURN (and STUN) by address, TURN over TLS on 443 by name (SNI and
// the certificate need it). The public appliance is dual-stack, so
// vytal-turnserver listens on IPv6 too (the default, 0.0.0.0, is IPv4 only)
// and browsers get IPv6 URLs too; the one in the DMZ keeps the defaults and
// announces its public address (VYTAL_TURN_EXTERNAL_IP).
export const SITES = {
  public: {
    VYTAL_TURN_RELAY_IPS: `${A.app4}, ${A.app6}`,
    VYTAL_TURN_LISTEN_IPS: '0.0.0.0, ::',
    WEBRTC_STUN_SERVERS: `stun:${A.app4}:3478, stun:[${A.app6}]:3478`,
    WEBRTC_TURN_SERVERS: [`turn:${A.app4}:3478?transport=udp`, `turn:[${A.app6}]:3478?transport=udp`,
      `turn:${A.app4}:3478?transport=tcp`, `turn:[${A.app6}]:3478?transport=tcp`, `turns:${TURN_NAME}:443?transport=tcp`].join(', '),
  },
  dmz: {
    VYTAL_TURN_RELAY_IPS: A.dmzApp4,
    VYTAL_TURN_EXTERNAL_IP: A.dmzPublic4,
    WEBRTC_STUN_SERVERS: `stun:${A.dmzPublic4}:3478`,
    WEBRTC_TURN_SERVERS: [`turn:${A.dmzPublic4}:3478?transport=udp`, `turn:${A.dmzPublic4}:3478?transport=tcp`,
      `turns:${TURN_NAME}:443?transport=tcp`].join(', '),
  },
};

const isRelay = (c) => c?.type === 'relay';
const describe = (p) => p ? `${p.local.type}${p.local.relayProtocol ? `/${p.local.relayProtocol}` : ''}(${p.local.protocol} ${p.local.address}) -> ${p.remote.type}(${p.remote.protocol} ${p.remote.address})` : 'none';

// Each scenario: the clinic (addresses, what its router lets out, its NAT),
// the hospital's NAT, where the appliance is, and the path the network forces
// (checked on the patient's and the provider's selected pairs).
export const SCENARIOS = [
  {
    id: 1, name: 'open clinic, UDP allowed, address-preserving NAT',
    clinic: { v4: true }, allow: ['meta l4proto { tcp, udp, icmp }'],
    path: ({ patient }) => !isRelay(patient.local) && !isRelay(patient.remote) ? null : 'expected a direct path (no relay)',
  },
  {
    id: 2, name: 'UDP blocked at the clinic: only TCP out',
    clinic: { v4: true }, allow: ['meta l4proto tcp'],
    path: ({ patient }) => isRelay(patient.local) && ['tcp', 'tls'].includes(patient.local.relayProtocol) ? null : 'expected the patient relayed over TCP or TLS',
  },
  {
    id: 3, name: 'only TCP 443 out: TURN over TLS through nginx\'s SNI routing',
    clinic: { v4: true }, allow: ['tcp dport 443'], turnOver443: true,
    path: ({ patient }) => isRelay(patient.local) && patient.local.relayProtocol === 'tls' ? null : 'expected relayProtocol tls on the patient\'s side',
  },
  {
    id: 4, name: 'symmetric NAT at both ends (random, fully-random)',
    clinic: { v4: true }, allow: ['meta l4proto { tcp, udp, icmp }'], nat: 'symmetric', hospital: { symmetric: true },
    path: ({ patient, provider }) => isRelay(patient.local) || isRelay(patient.remote) || isRelay(provider?.local) ? null : 'expected a relayed path',
  },
  {
    id: 5, name: 'IPv6-only clinic, dual-stack appliance, IPv4 provider',
    clinic: { v4: false, v6: true }, allow: ['meta nfproto ipv6'],
    // The patient has no IPv4: its relay allocation is made over IPv6 and
    // gives an IPv4 relay address the provider can reach.
    path: ({ patient }) => isRelay(patient.local) && net.isIPv4(patient.local.address ?? '')
      ? null : 'expected the patient relayed by an IPv4 relay reached over IPv6',
  },
  {
    id: 6, name: 'appliance in a DMZ behind 1:1 NAT (external-ip)',
    appliance: 'dmz', clinic: { v4: true }, allow: [`ip daddr ${A.dmzPublic4}`],
    // The clinic lets out only what goes to the appliance's public address:
    // the relay (the patient's or the provider's) must be announced there.
    path: ({ patient }) => [patient.local, patient.remote].some((c) => isRelay(c) && c.address === A.dmzPublic4)
      ? null : `expected a relay at the public address ${A.dmzPublic4}`,
  },
  {
    id: 7, name: 'only an HTTP proxy out (squid, CONNECT to 443 only)',
    clinic: { v4: true }, allow: [], proxy: true, turnOver443: true,
    path: ({ patient }) => isRelay(patient.local) && patient.local.relayProtocol === 'tls' ? null : 'expected TURN over TLS through the proxy',
  },
  {
    id: 8, name: 'network change mid-call: the clinic starts dropping UDP',
    clinic: { v4: true }, allow: ['meta l4proto { tcp, udp, icmp }'], change: 'drop-udp',
    path: ({ patient }) => !isRelay(patient.local) || patient.local.relayProtocol === 'udp' ? null : 'expected a UDP path before the change',
    after: ({ patient }) => isRelay(patient.local) && ['tcp', 'tls'].includes(patient.local.relayProtocol) ? null : 'expected the patient relayed over TCP or TLS after the change',
  },
];

export class Bed {
  constructor(dir, log = () => {}) {
    this.dir = dir;
    this.log = log;
    this.runs = 0;
  }

  async setup() {
    const stale = removeStale();
    if (stale.length) this.log(`removed stale namespaces: ${stale.join(' ')}`);
    mkdirSync(this.dir, { recursive: true });
    for (const f of readdirSync(this.dir)) {
      if (/^(appliance|scenario)-/.test(f)) rmSync(join(this.dir, f), { recursive: true, force: true });
    }
    this.certs = makeCa(join(this.dir, 'ca'));
    this.internet = new Internet(this.dir);
    this.hospital = await new Hospital(this.internet).start();
    this.appliances = {};
  }

  // The appliance for a placement, started on first use.
  async appliance(kind) {
    if (this.appliances[kind]) return this.appliances[kind];
    let ns;
    if (kind === 'dmz') {
      ns = this.hospital.addDmz();
    } else {
      ns = this.internet.addHost('app', [`${A.app4}/24`, `${A.app6}/64`]);
    }
    const app = new Appliance(ns, join(this.dir, `appliance-${kind}`), this.certs, SITES[kind]);
    this.appliances[kind] = app;
    await app.start();
    app.publicV4 = kind === 'dmz' ? A.dmzPublic4 : A.app4;
    app.publicV6 = kind === 'dmz' ? null : A.app6;
    return app;
  }

  async teardown() {
    for (const app of Object.values(this.appliances ?? {})) await app.stop().catch(() => {});
    await this.hospital?.destroy();
    for (const app of Object.values(this.appliances ?? {})) await app.ns.destroy();
    destroyAll();
  }

  // Builds the scenario's clinic, runs `runs` calls through it, tears it down.
  async scenario(s, { runs = 1, shots = true } = {}) {
    const app = await this.appliance(s.appliance ?? 'public');
    const zone = { A: [app.publicV4], AAAA: app.publicV6 ? [app.publicV6] : [] };
    this.internet.setZone({ [APP]: zone, [TURN_NAME]: zone });
    this.hospital.configure(s.hospital ?? {});
    const clinic = new Clinic(this.internet, s.clinic);
    const dir = join(this.dir, `scenario-${s.id}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    let squid = null;
    const results = [];
    try {
      clinic.configure({ allow: s.allow, nat: s.nat });
      await clinic.start();
      if (s.proxy) {
        squid = await startSquid(clinic.router, join(dir, 'squid'), {
          listen: `${A.clinicLan4}:3128`, lan: '192.0.2.0/24', hosts: { [APP]: app.publicV4, [TURN_NAME]: app.publicV4 },
        });
      }
      for (let i = 0; i < runs; i++) {
        if (i > 0) clinic.configure(clinic.rules); // undo a mid-call change of the previous run
        results.push(await this.call(s, app, clinic, squid, join(dir, `run-${i + 1}`), { shots: shots && i === 0 }));
      }
    } finally {
      await squid?.stop();
      await clinic.destroy();
    }
    return results;
  }

  async call(s, app, clinic, squid, dir, { shots }) {
    mkdirSync(dir, { recursive: true });
    const n = ++this.runs;
    const patientId = `patient-s${s.id}-${n}`;
    const providerId = `provider-s${s.id}-${n}`;
    const created = app.api('POST', '/webrtc/calls', { patientId, providerId, type: 'video' });
    if (created.status !== 201) throw new Error(`creating the call: ${created.status} ${created.text}`);
    const callId = created.body.id;
    const base = `https://${APP}`;
    const patientV6Only = s.clinic.v4 === false;
    const appAddr = patientV6Only ? app.publicV6 : app.publicV4;
    const browsers = [];
    const result = { scenario: s.id, name: s.name, callId, connected: false, problems: [] };
    let provider;
    let patient;
    try {
      const pb = await launch({ ns: this.hospital.provider, dir: join(dir, 'provider'), caFile: this.certs.ca.crt,
        resolve: { [APP]: app.publicV4, [TURN_NAME]: app.publicV4 } });
      browsers.push(pb);
      const cb = await launch({ ns: clinic.patient, dir: join(dir, 'patient'), caFile: this.certs.ca.crt,
        resolve: { [APP]: appAddr, [TURN_NAME]: appAddr }, proxy: squid ? `http://${A.clinicLan4}:3128` : undefined });
      browsers.push(cb);
      provider = await openDemo(pb, { base, token: hs256(claims(providerId, 'provider')), callId, who: 'provider', log: this.log });
      patient = await openDemo(cb, { base, token: hs256(claims(patientId, 'patient')), callId, who: 'patient', log: this.log });
      await joinAndWait(provider);
      const ms = await joinAndTimeFirstFrame(patient);
      result.firstFrameMs = ms === null ? null : Math.round(ms);
      if (ms === null) throw new Error('no video frame decoded on the patient\'s side');

      // Media keeps flowing both ways.
      const p0 = await callStats(patient);
      const d0 = await waitFrames(provider);
      await sleep(2000);
      const p1 = await callStats(patient);
      const d1 = await callStats(provider);
      result.frames = { patient: [p0.framesDecoded, p1.framesDecoded], provider: [d0.framesDecoded, d1.framesDecoded] };
      result.connected = p1.framesDecoded > p0.framesDecoded && d1.framesDecoded > d0.framesDecoded;
      result.path = { patient: p1.pairs[0], provider: d1.pairs[0] };
      // What the browsers sent and received through their own relay so far
      // (the call log has UDP relays' bytes only once the allocation ends).
      result.relayedBytes = [p1.pairs[0], d1.pairs[0]].filter((x) => isRelay(x?.local)).reduce((a, x) => a + x.bytes, 0);
      result.pathText = `patient ${describe(p1.pairs[0])}; provider ${describe(d1.pairs[0])}`;
      const bad = s.path(result.path);
      if (bad) result.problems.push(`${bad}: ${result.pathText}`);
      if (shots) {
        await screenshot(patient, join(dir, 'patient.png'));
        await screenshot(provider, join(dir, 'provider.png'));
      }

      if (s.change === 'drop-udp') {
        const r = await this.dropUdpMidCall(clinic, patient, provider);
        Object.assign(result, r);
        const badAfter = s.after(r.pathAfter);
        if (badAfter) result.problems.push(`${badAfter}: ${r.pathAfterText}`);
        if (shots) await screenshot(patient, join(dir, 'patient-after-change.png'));
      }

      // The provider ends the call; the browsers free their allocations.
      await provider.click('#end');
      await patient.waitForFunction(() => window.vytalDemo.ended === true, null, { timeout: 10000 }).catch(() => {});
      // Closed peer connections release their allocations (a refresh with
      // lifetime 0, sent asynchronously): give them a moment before the browsers go.
      await sleep(1500);
    } catch (e) {
      result.error = e.message;
      result.log = { patient: patient && await pageLog(patient), provider: provider && await pageLog(provider) };
      if (patient) await screenshot(patient, join(dir, 'patient-failure.png'));
    } finally {
      result.trace = { patient: patient ? await trace(patient) : [], provider: provider ? await trace(provider) : [] };
      result.pageLog = { patient: patient ? await pageLog(patient) : '', provider: provider ? await pageLog(provider) : '' };
      for (const b of browsers) await b.close().catch(() => {});
    }
    result.turn = await this.turnUsage(app, callId);
    if (s.turnOver443) {
      // nginx's SNI router logged the clinic's TURN connection (at its end) on the TURN route.
      const routed = new RegExp(`^${A.clinicWan4.replace(/\./g, '\\.')} .* sni="${TURN_NAME.replace(/\./g, '\\.')}" upstream=127\\.0\\.0\\.1:8444 `, 'm');
      const log = () => app.tail('logs/vytalwatch-stream.log', 400);
      for (let i = 0; i < 20 && !routed.test(log()); i++) await sleep(100);
      if (!routed.test(log())) result.problems.push('nginx\'s stream log shows no TURN connection from the clinic routed by SNI');
    }
    if (squid) {
      // squid logs a tunnel when it closes: TURN over TLS went through the proxy.
      const tunnel = new RegExp(`TCP_TUNNEL/200 \\d+ CONNECT ${TURN_NAME.replace(/\./g, '\\.')}:443 `);
      for (let i = 0; i < 20 && !tunnel.test(squid.accessLog()); i++) await sleep(100);
      result.proxyLog = squid.accessLog().trim().split('\n').filter((l) => !/google/.test(l)).slice(-20);
      if (!tunnel.test(squid.accessLog())) result.problems.push(`no TURN tunnel (CONNECT ${TURN_NAME}:443) in squid's log`);
    }
    if (!result.connected || result.error) result.diagnostics = app.diagnostics();
    return result;
  }

  // Scenario 8: the clinic's router starts dropping every UDP packet. The
  // patient's page samples its decoded frame count every 50 ms (in the page,
  // on the machine's clock); frames "stop" once none is decoded for 500 ms,
  // and recovery is the first frame decoded after that, counted from the
  // change (0 when frames never stopped).
  async dropUdpMidCall(clinic, patient, provider) {
    await patient.evaluate(() => {
      const samples = (window.__vytalFrames = []);
      const tick = async () => {
        const s = await window.vytalDemo.stats();
        samples.push([Date.now(), s?.video.framesDecoded ?? 0]);
        if (samples.length < 3000 && !window.vytalDemo.ended) setTimeout(tick, 50);
      };
      tick();
    });
    await sleep(1000);
    const changeAt = Date.now();
    clinic.dropUdp();
    await patient.evaluate(() => window.vytalDemo.log('test: the clinic router drops UDP from now on'));
    await provider.evaluate(() => window.vytalDemo.log('test: the clinic router drops UDP from now on'));
    let verdict = null;
    for (let i = 0; i < 90 && !verdict; i++) {
      await sleep(500);
      const samples = await patient.evaluate(() => window.__vytalFrames);
      verdict = recovery(samples, changeAt);
    }
    const p = await callStats(patient);
    const d = await callStats(provider);
    return {
      recoveryMs: verdict?.recoveryMs ?? null,
      stalledMs: verdict?.stalledMs ?? null,
      pathAfter: { patient: p.pairs[0], provider: d.pairs[0] },
      pathAfterText: `patient ${describe(p.pairs[0])}; provider ${describe(d.pairs[0])}`,
    };
  }

  // vytal-turnserver's usage rows for the call. A TCP or TLS allocation ends
  // (and reports its last usage) when the browser closes its connection; a
  // UDP allocation stays active: the browsers' releases are refused once the
  // call has ended (credentials revoked, see docs/NETWORKS.md), so it ends,
  // and reports, when its lifetime runs out.
  async turnUsage(app, callId) {
    let rows = [];
    for (let i = 0; i < 30; i++) {
      const text = app.sql(`SELECT user_id, transport, state, bytes_sent, bytes_received, relay_address FROM turn_usage WHERE call_id = '${callId}' ORDER BY started_at`);
      rows = text ? text.split('\n').map((l) => {
        const [user, transport, state, sent, received, relay] = l.split('|');
        return { user, transport, state, sent: Number(sent), received: Number(received), relay };
      }) : [];
      if (rows.length && rows.every((r) => r.state !== 'active' || r.transport === 'udp')) break;
      await sleep(200);
    }
    return { rows, allocations: rows.length, bytes: rows.reduce((a, r) => a + r.sent + r.received, 0) };
  }
}

// From [time, framesDecoded] samples: null while undecided; otherwise when
// frames came back after stopping (or that they never stopped within 8 s).
function recovery(samples, changeAt) {
  let lastGrowth = changeAt;
  let last = null;
  let stoppedAt = null;
  for (const [t, f] of samples) {
    if (last === null || t < changeAt) {
      last = f;
      continue;
    }
    if (f > last) {
      if (stoppedAt !== null) return { recoveryMs: t - changeAt, stalledMs: t - stoppedAt };
      lastGrowth = t;
      last = f;
    } else if (stoppedAt === null && t - lastGrowth >= 500) {
      stoppedAt = lastGrowth;
    }
  }
  const end = samples.at(-1)?.[0] ?? changeAt;
  if (stoppedAt === null && end - changeAt > 8000) return { recoveryMs: 0, stalledMs: 0 };
  if (end - changeAt > 40000) return { recoveryMs: null, stalledMs: null };
  return null;
}

async function waitFrames(page) {
  for (let i = 0; i < 150; i++) {
    const s = await callStats(page);
    if (s.framesDecoded > 0) return s;
    await sleep(100);
  }
  return callStats(page);
}
