// Debian's Chromium inside a network namespace, driven by playwright-core:
// playwright launches a wrapper script that runs Chromium under
// `ip netns exec` (the pipe playwright talks over is inherited, so the
// browser's network is the namespace's and its control channel is not).
//
// Each browser has its own HOME, whose NSS database (~/.pki/nssdb, where
// Chromium on Linux keeps its trust settings) trusts the test's CA: the
// certificate of the page, the WebSocket and TURN over TLS is verified as in
// a clinic with a proper certificate. The appliance's names resolve through
// --host-resolver-rules, which Chromium honours for pages, WebSockets and
// turn:/turns: URLs over TCP or TLS (the ICE servers signald hands out name
// UDP and TCP TURN by address; see docs/NETWORKS.md).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
];

function profile(dir, caFile) {
  const home = join(dir, 'home');
  const db = join(home, '.pki/nssdb');
  mkdirSync(db, { recursive: true });
  execFileSync('certutil', ['-N', '-d', `sql:${db}`, '--empty-password']);
  execFileSync('certutil', ['-A', '-d', `sql:${db}`, '-n', 'VytalWatch network test CA', '-t', 'C,,', '-i', caFile]);
  return home;
}

// ns: the Namespace; resolve: { name: ip } for --host-resolver-rules;
// proxy: an http://ip:port proxy for everything (scenario 7).
export async function launch({ ns, dir, caFile, resolve, proxy }) {
  mkdirSync(dir, { recursive: true });
  const home = profile(dir, caFile);
  const wrapper = join(dir, 'chromium-in-netns');
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns.name} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  const rules = Object.entries(resolve).map(([name, ip]) => `MAP ${name} ${ip.includes(':') ? `[${ip}]` : ip}`).join(',');
  const args = [...ARGS, `--host-resolver-rules=${rules}`];
  if (proxy) args.push(`--proxy-server=${proxy}`);
  const browser = await chromium.launch({
    executablePath: wrapper, args, headless: true, timeout: 30000,
    env: { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_CACHE_HOME: join(home, '.cache') },
  });
  return browser;
}

// Recorded in each page before its scripts run: every peer connection's ICE
// events with their time since the page loaded (window.__vytalTrace), so a
// slow or failed scenario shows which candidates came when and which TURN
// URLs failed (icecandidateerror).
function tracePeerConnections() {
  const t0 = performance.now();
  const trace = (window.__vytalTrace = []);
  const log = (m) => trace.length < 2000 && trace.push(`${Math.round(performance.now() - t0)} ${m}`);
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = function RTCPeerConnection(config, ...rest) {
    const pc = new Native(config, ...rest);
    log(`new RTCPeerConnection ${JSON.stringify((config?.iceServers ?? []).map((s) => s.urls))}`);
    pc.addEventListener('icecandidate', (e) => log(`local ${e.candidate ? `${e.candidate.candidate} ${e.candidate.url ?? ''}` : 'end of candidates'}`));
    pc.addEventListener('icecandidateerror', (e) => log(`candidate error ${e.url} ${e.errorCode} ${e.errorText}`));
    pc.addEventListener('icegatheringstatechange', () => log(`gathering ${pc.iceGatheringState}`));
    pc.addEventListener('iceconnectionstatechange', () => log(`ice ${pc.iceConnectionState}`));
    pc.addEventListener('connectionstatechange', () => log(`connection ${pc.connectionState}`));
    pc.addEventListener('signalingstatechange', () => log(`signaling ${pc.signalingState}`));
    const add = pc.addIceCandidate.bind(pc);
    pc.addIceCandidate = (c, ...r) => {
      log(`remote ${c?.candidate || 'end of candidates'}`);
      return add(c, ...r);
    };
    return pc;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
}

export function trace(page) {
  return page.evaluate(() => window.__vytalTrace ?? []).catch(() => []);
}

// The demo page, the token and call in the URL fragment.
export async function openDemo(browser, { base, token, callId, who, log }) {
  const context = await browser.newContext();
  await context.addInitScript(tracePeerConnections);
  const page = await context.newPage();
  page.on('pageerror', (e) => log?.(`[${who}] page error: ${e.message}`));
  const fragment = new URLSearchParams({ token, callId, qualityMs: '1000', debug: '1' });
  const response = await page.goto(`${base}/webrtc/demo/#${fragment}`, { timeout: 20000 });
  if (response?.status() !== 200) throw new Error(`${who}: the demo page answered ${response?.status()}`);
  return page;
}

// Presses Join; resolves with the milliseconds until the first decoded video
// frame (null if none within the page's own bound), measured in the page.
export function joinAndTimeFirstFrame(page, boundMs = 40000) {
  return page.evaluate(async (bound) => {
    const t0 = performance.now();
    document.getElementById('join').click();
    while (performance.now() - t0 < bound) {
      const s = await window.vytalDemo.stats();
      if (s && s.video.framesDecoded > 0) return performance.now() - t0;
      await new Promise((r) => setTimeout(r, 20));
    }
    return null;
  }, boundMs);
}

export async function joinAndWait(page, timeout = 20000) {
  await page.click('#join');
  await page.waitForFunction(() => window.vytalDemo?.joined === true, null, { timeout });
}

// Media counters and the selected candidate pair of every peer connection.
export function callStats(page) {
  return page.evaluate(async () => {
    const out = { framesDecoded: 0, audioPackets: 0, pairs: [] };
    const call = window.vytalDemo.call;
    for (const [user, { pc }] of call?.peers ?? []) {
      const report = await pc.getStats();
      let pairId;
      for (const s of report.values()) {
        if (s.type === 'inbound-rtp' && s.kind === 'video') out.framesDecoded += s.framesDecoded ?? 0;
        if (s.type === 'inbound-rtp' && s.kind === 'audio') out.audioPackets += s.packetsReceived ?? 0;
        if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
      }
      const pair = pairId && report.get(pairId);
      if (!pair) continue;
      const c = (id) => {
        const x = report.get(id) ?? {};
        return { type: x.candidateType, protocol: x.protocol, address: x.address, port: x.port, relayProtocol: x.relayProtocol, url: x.url };
      };
      out.pairs.push({ user, state: pair.state, local: c(pair.localCandidateId), remote: c(pair.remoteCandidateId),
        bytes: (pair.bytesSent ?? 0) + (pair.bytesReceived ?? 0), ice: pc.iceConnectionState, connection: pc.connectionState });
    }
    return out;
  });
}

// The demo page's log and each peer connection's state, for failure messages.
export function pageLog(page) {
  return page.evaluate(() => {
    const peers = [...(window.vytalDemo.call?.peers ?? new Map()).entries()].map(
      ([user, p]) => `${user}: signaling ${p.pc.signalingState}, ice ${p.pc.iceConnectionState}, connection ${p.pc.connectionState}`);
    return `${document.getElementById('log').textContent}peers: ${peers.join('; ') || 'none'}`;
  }).catch((e) => `(page log unavailable: ${e.message})`);
}

export async function screenshot(page, file) {
  await page.screenshot({ path: file, fullPage: true }).catch(() => {});
}
