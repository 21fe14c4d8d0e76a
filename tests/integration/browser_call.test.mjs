// Two headless Chromium instances (Debian's chromium, driven by
// playwright-core, fake camera and microphone) open signald's demo page as
// the call's patient and provider, join the same call and send media to each
// other; the provider hangs up, and in a second call the patient does.
// Checked as a user would: each side's getStats() shows video frames decoded
// and audio packets received, growing; each page lists who is in the call,
// how the media flows (direct over UDP here) and a quality indicator; after
// the end, each page says how the call ended, shows no error, has no tile of
// the other side, and its camera and microphone tracks have ended; the call
// log shows the call active, then ended with both durations. Screenshots of
// both pages go to the build directory (browser-call-*.png).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { join } from 'node:path';
import { startSignald, token, api, sql, BUILD_DIR } from './lib/signald.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
];

let sd;
const browsers = [];
before(async () => {
  sd = await startSignald({ VYTAL_QUALITY_SAMPLE_SECONDS: '1' });
});
after(async () => {
  for (const b of browsers) await b.close().catch(() => {});
  await sd.stop();
  sd.cleanup();
});

async function openAs(sub, role, callId) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  browsers.push(browser);
  const page = await (await browser.newContext()).newPage();
  page.on('pageerror', (e) => console.log(`[${sub}] page error: ${e.message}`));
  const url = `${sd.url}/webrtc/demo/?token=${token(sub, role)}&callId=${callId}&autojoin=1&qualityMs=1000&debug=1`;
  await page.goto(url);
  await page.waitForFunction(() => window.vytalDemo?.joined === true, null, { timeout: 20000 });
  return page;
}

const stats = (page) => page.evaluate(() => window.vytalDemo.stats());
const shot = (page, name) => page.screenshot({ path: join(BUILD_DIR, `browser-call-${name}.png`), fullPage: true });

// What the page shows a person: the status line, the participant list (each
// entry's text and state), the remote tiles, the log; and whether the local
// camera and microphone tracks have ended.
const pageState = (page) =>
  page.evaluate(() => ({
    status: document.getElementById('status').textContent,
    people: [...document.querySelectorAll('#participants li')].map((li) => ({ user: li.dataset.user, state: li.dataset.state ?? null, text: li.textContent })),
    remoteTiles: document.querySelectorAll('figure[data-user]').length,
    log: document.getElementById('log').textContent,
    tracks: (window.vytalDemo.localStream?.getTracks() ?? []).map((t) => `${t.kind}:${t.readyState}`),
  }));

// Until the page lists `other` with a media path and a quality indicator.
async function waitForPeerShown(page, other) {
  await page.waitForFunction((user) => {
    const li = document.querySelector(`#participants li[data-user="${user}"]`);
    return li && /^(direct|relayed)/.test(li.dataset.state ?? '') && li.querySelector('.quality')?.dataset.quality;
  }, other, { timeout: 20000 });
}

// After an end: the page says how, shows no error and no other tile, and
// its camera and microphone are off.
function assertEnded(state, who, endedBy) {
  assert.match(state.status, new RegExp(`^Call ended by ${endedBy} \\(completed\\) after \\d+ s$`), `${who}: ${state.status}`);
  assert.doesNotMatch(state.log, /could not end|error /, `${who}'s log:\n${state.log}`);
  assert.equal(state.remoteTiles, 0, `${who} still shows another participant's tile`);
  assert.deepEqual(state.people, [], `${who} still lists participants`);
  assert.equal(state.tracks.length, 2, `${who}: ${state.tracks}`);
  assert.ok(state.tracks.every((t) => t.endsWith(':ended')), `${who}'s camera or microphone still on: ${state.tracks}`);
}
// The page's log and each peer connection's states: what a support engineer would look at.
const demoLog = (page) =>
  page.evaluate(() => {
    const peers = [...(window.vytalDemo.call?.peers ?? new Map()).entries()].map(
      ([user, p]) => `${user}: signaling ${p.pc.signalingState}, ice ${p.pc.iceConnectionState}, connection ${p.pc.connectionState}, candidates sent ${p.candidatesSent ?? 0} added ${p.candidatesAdded ?? 0} failed ${p.candidatesFailed ?? 0}`);
    return `${document.getElementById('log').textContent}peers: ${peers.join('; ') || 'none'}`;
  });

// Polls until media arrives at `page`, then checks that it keeps arriving.
async function assertMediaFlows(page, who) {
  const deadline = Date.now() + 30000;
  let first;
  while (Date.now() < deadline) {
    first = await stats(page);
    if (first.video.framesDecoded > 0 && first.audio.packetsReceived > 0) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.ok(first.video.framesDecoded > 0, `${who}: no video frames decoded\n${await demoLog(page)}`);
  assert.ok(first.audio.packetsReceived > 0, `${who}: no audio packets received`);
  await new Promise((r) => setTimeout(r, 2000));
  const later = await stats(page);
  assert.ok(later.video.framesDecoded > first.video.framesDecoded, `${who}: video frames stopped at ${first.video.framesDecoded}`);
  assert.ok(later.audio.packetsReceived > first.audio.packetsReceived, `${who}: audio stopped`);
  return later;
}

test('a patient and a provider in two browsers complete a video call through signald', { timeout: 120000 }, async () => {
  const created = await api(sd.url, 'POST', '/webrtc/calls', {
    tok: token('platform', 'service'),
    body: { patientId: 'patient-browser', providerId: 'provider-browser', type: 'video' },
  });
  assert.equal(created.status, 201);
  const callId = created.body.id;

  const patient = await openAs('patient-browser', 'patient', callId);
  const provider = await openAs('provider-browser', 'provider', callId);

  let p;
  try {
    p = await assertMediaFlows(patient, 'patient');
  } catch (e) {
    e.message += `\n--- provider's page:\n${await demoLog(provider)}`;
    throw e;
  }
  const d = await assertMediaFlows(provider, 'provider');
  console.log(`patient decoded ${p.video.framesDecoded} frames, provider ${d.video.framesDecoded}; candidates ${p.candidates} / ${d.candidates}`);

  // Who is in the call, how the media flows, and how well.
  await waitForPeerShown(patient, 'provider-browser');
  await waitForPeerShown(provider, 'patient-browser');
  const during = await pageState(patient);
  assert.equal(during.status, 'In the call');
  assert.deepEqual(during.people.map((x) => x.user), ['patient-browser', 'provider-browser']);
  assert.match(during.people[0].text, /^You: patient-browser \(patient\)/);
  assert.equal(during.people[1].state, 'direct (UDP)', 'host candidates on loopback: a direct UDP path');
  assert.match(during.people[1].text, /(good|fair|poor) · RTT \d+ ms/);
  assert.equal(during.remoteTiles, 1);
  await shot(patient, 'patient-in-call');
  await shot(provider, 'provider-in-call');

  assert.equal(sql(sd.dataDir, `SELECT status FROM calls WHERE id = '${callId}'`), 'active');
  assert.equal(sql(sd.dataDir, `SELECT group_concat(user_id || ':' || status, ',') FROM (SELECT user_id, status FROM call_participants WHERE call_id = '${callId}' ORDER BY user_id)`),
    'patient-browser:joined,provider-browser:joined');

  // The provider hangs up for everyone; the patient's page is told.
  await provider.click('#end');
  await patient.waitForFunction(() => window.vytalDemo.ended === true, null, { timeout: 10000 });
  await provider.waitForFunction(() => window.vytalDemo.ended === true, null, { timeout: 10000 });
  assertEnded(await pageState(provider), 'provider', 'you');
  assertEnded(await pageState(patient), 'patient', 'provider-browser');
  await shot(patient, 'patient-ended-by-provider');
  await shot(provider, 'provider-ended-it');

  const [status, duration, reason] = sql(sd.dataDir, `SELECT status, duration_ms, end_reason FROM calls WHERE id = '${callId}'`).split('|');
  assert.equal(status, 'ended');
  assert.equal(reason, 'completed');
  assert.ok(Number(duration) >= 2000, `call duration ${duration} ms`);
  const rows = sql(sd.dataDir, `SELECT user_id, status, duration_ms FROM call_participants WHERE call_id = '${callId}' ORDER BY user_id`)
    .split('\n').map((l) => l.split('|'));
  assert.deepEqual(rows.map((r) => r.slice(0, 2)), [['patient-browser', 'left'], ['provider-browser', 'left']]);
  for (const [user, , ms] of rows) {
    assert.ok(Number(ms) > 1000 && Number(ms) <= Number(duration), `${user} duration ${ms} of ${duration}`);
  }
  const events = sql(sd.dataDir, `SELECT group_concat(type, ',') FROM (SELECT type FROM call_events WHERE call_id = '${callId}' ORDER BY change_seq)`);
  assert.equal(events, 'created,participant_joined,participant_joined,started,ended');
  assert.ok(Number(sql(sd.dataDir, `SELECT count(*) FROM call_quality_samples WHERE call_id = '${callId}'`)) >= 2,
    'quality reports from getStats were recorded');
});

test('the patient ends the call: both pages say so, tiles gone, camera and microphone off', { timeout: 120000 }, async () => {
  const created = await api(sd.url, 'POST', '/webrtc/calls', {
    tok: token('platform', 'service'),
    body: { patientId: 'patient-two', providerId: 'provider-two', type: 'video' },
  });
  assert.equal(created.status, 201);
  const callId = created.body.id;
  const patient = await openAs('patient-two', 'patient', callId);
  const provider = await openAs('provider-two', 'provider', callId);
  await assertMediaFlows(provider, 'provider');
  await waitForPeerShown(provider, 'patient-two');

  await patient.click('#end');
  await patient.waitForFunction(() => window.vytalDemo.ended === true, null, { timeout: 10000 });
  await provider.waitForFunction(() => window.vytalDemo.ended === true, null, { timeout: 10000 });
  assertEnded(await pageState(patient), 'patient', 'you');
  assertEnded(await pageState(provider), 'provider', 'patient-two');
  await shot(provider, 'provider-ended-by-patient');
  const [status, reason] = sql(sd.dataDir, `SELECT status, end_reason FROM calls WHERE id = '${callId}'`).split('|');
  assert.equal(status, 'ended');
  assert.equal(reason, 'completed');
});
