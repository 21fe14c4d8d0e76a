// Two headless Chromium instances (Debian's chromium, driven by
// playwright-core, fake camera and microphone) open signald's demo page as
// the call's patient and provider, join the same call and send media to each
// other; the provider hangs up. Checked as a user would: each side's
// getStats() shows video frames decoded and audio packets received, growing;
// the call log shows the call active, then ended with both durations.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startSignald, token, api, sql } from './lib/signald.mjs';

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

  assert.equal(sql(sd.dataDir, `SELECT status FROM calls WHERE id = '${callId}'`), 'active');
  assert.equal(sql(sd.dataDir, `SELECT group_concat(user_id || ':' || status, ',') FROM (SELECT user_id, status FROM call_participants WHERE call_id = '${callId}' ORDER BY user_id)`),
    'patient-browser:joined,provider-browser:joined');

  // The provider hangs up for everyone; the patient's page is told.
  await provider.click('#end');
  await patient.waitForFunction(() => window.vytalDemo.ended === true, null, { timeout: 10000 });
  await provider.waitForFunction(() => window.vytalDemo.ended === true, null, { timeout: 10000 });
  assert.match(await demoLog(patient), /call ended by provider-browser \(completed\)/);

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
