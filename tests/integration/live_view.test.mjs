// The admin page's live view on signald's local channel (GET /internal/live)
// with more calls than one answer lists: it lists LiveApi::kMaxLiveCalls of
// them, says how many there are, and puts first the call asked for
// (?call=ID), then the calls an operator should look at (someone
// reconnecting, poor quality, a failed media connection), however new. A
// participant who rejoins after a failed connection no longer shows it.
// Then the live page in headless Chromium, logged into vytal-admin as a
// viewer: 100 call cards in signald's order and a line saying how many calls
// there are; opened from a call's record (#/live?call=ID), that call first.
// Screenshots go to VYTAL_ADMIN_SCREENSHOTS or the build directory
// (live-many.png, live-asked.png).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';

import { addAccount, startAdmin } from './lib/admin.mjs';
import { BUILD_DIR, startSignald } from './lib/signald.mjs';
import { connect, eventually, joinedCall } from './lib/ws_client.mjs';

const MAX_LISTED = 100; // LiveApi::kMaxLiveCalls
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = process.env.VYTAL_ADMIN_SCREENSHOTS ?? join(BUILD_DIR, 'admin-screenshots');
const PASSWORD = 'a long viewer passphrase 7';

const live = (sd, query = '') =>
  new Promise((resolve, reject) => {
    const req = request({ socketPath: join(sd.dataDir, 'signald.sock'), path: `/internal/live${query}`, method: 'GET' }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(Buffer.concat(chunks).toString()) }));
    });
    req.on('error', reject);
    req.end();
  });

test('the live view lists at most 100 calls, the one asked for and those needing attention first, and says how many there are; so does the page', { timeout: 120000 }, async () => {
  const sd = await startSignald({ VYTAL_MAX_CONNECTIONS_PER_IP: '1000', VYTAL_RECONNECT_GRACE_SECONDS: '120' });
  const clients = [];
  let admin, browser;
  try {
    const calls = [];
    for (let i = 0; i < MAX_LISTED + 3; i++) {
      const { callId, patient, provider } = await joinedCall(sd, `patient-lv-${i}`, `dr-lv-${i}`);
      clients.push(patient, provider);
      calls.push(callId);
    }
    // The three newest calls need attention: in one the patient's browser
    // reports poor quality (RTT over 400 ms), in one a failed media
    // connection, in the last the patient is gone (reconnecting, within the
    // grace period).
    const [poor, failing, away] = calls.slice(-3);
    clients.at(-6).send({ type: 'quality-report', rttMs: 650, packetLoss: 0.01 });
    clients.at(-4).send({ type: 'quality-report', rttMs: 80, connectionState: 'failed' });
    clients.at(-2).ws.terminate();

    const member = (r, callId, user) => r.body.calls.find((c) => c.callId === callId)?.members.find((m) => m.userId === user);
    const seen = (r) =>
      r.status === 200 &&
      member(r, away, `patient-lv-${MAX_LISTED + 2}`)?.state === 'reconnecting' &&
      member(r, failing, `patient-lv-${MAX_LISTED + 1}`)?.quality?.connectionState === 'failed' &&
      member(r, poor, `patient-lv-${MAX_LISTED}`)?.quality?.rttMs === 650;
    const r = await eventually(async () => {
      const answer = await live(sd);
      return seen(answer) ? answer : null;
    }, 5000);
    assert.ok(r, 'the three calls needing attention are listed: poor quality, the failed connection, the patient away');
    const body = r.body;
    assert.equal(body.totalCalls, MAX_LISTED + 3);
    assert.equal(body.calls.length, MAX_LISTED);
    const listed = body.calls.map((c) => c.callId);
    // Attention first (in id order), then the others oldest first; the three
    // newest calm calls are the ones left out.
    const calm = calls.slice(0, -3).sort();
    assert.deepEqual(listed, [...[poor, failing, away].sort(), ...calm.slice(0, MAX_LISTED - 3)]);
    assert.ok(body.calls.every((c) => c.members.length === 2), 'every listed call has both its members');

    // A call asked for comes first, even one the list leaves out.
    const newestCalm = calm.at(-1);
    assert.ok(!listed.includes(newestCalm));
    const asked = await live(sd, `?call=${newestCalm}`);
    assert.equal(asked.status, 200);
    assert.deepEqual(asked.body.calls.map((c) => c.callId), [newestCalm, ...listed.slice(0, MAX_LISTED - 1)]);
    for (const bad of ['?call=nope', '?other=1', `?call=${newestCalm}&x=1`]) {
      const refused = await live(sd, bad);
      assert.equal(refused.status, 400, bad);
      assert.equal(refused.body.error.code, 'validation');
    }

    // The patient whose connection failed comes back: the new connection has
    // no failure, and the call no longer needs attention.
    const back = await connect(sd, `patient-lv-${MAX_LISTED + 1}`, 'patient');
    clients.push(back);
    await back.join(failing);
    const after = await live(sd);
    assert.equal(member(after, failing, `patient-lv-${MAX_LISTED + 1}`)?.quality?.connectionState ?? null, null);
    assert.deepEqual(after.body.calls.slice(0, 2).map((c) => c.callId), [poor, away].sort());

    // The live page as a viewer sees it.
    admin = await startAdmin(sd);
    addAccount(sd, 'vera', 'viewer', PASSWORD);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless=new', '--no-sandbox', '--disable-gpu'], headless: true });
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${admin.url}/`);
    await page.fill('#login-form input[name=name]', 'vera');
    await page.fill('#login-form input[name=password]', PASSWORD);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#page[data-ready=true]');
    await page.evaluate(() => { location.hash = '#/live'; });
    await page.waitForSelector('#page[data-page=live][data-ready=true]');
    await page.waitForSelector('#live-calls section[data-call]');
    const shownNow = () => page.evaluate(() => ({
      status: document.querySelector('#live-status').textContent,
      cards: [...document.querySelectorAll('#live-calls section[data-call]')].map((s) => s.dataset.call),
    }));
    const shown = await shownNow();
    assert.match(shown.status, new RegExp(`^${MAX_LISTED + 3} calls with someone in them; the ${MAX_LISTED} shown are those needing attention first`));
    assert.deepEqual(shown.cards, (await live(sd)).body.calls.map((c) => c.callId), 'the page shows the calls signald listed, in its order');
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, 'live-many.png') });

    // From the call's record in the call log to the call, live.
    await page.evaluate((id) => { location.hash = `#/call/${id}`; }, newestCalm);
    await page.waitForSelector('#page[data-page=call][data-ready=true]');
    await page.click('#call-live');
    await page.waitForSelector(`#live-calls section[data-call="${newestCalm}"]`);
    const opened = await shownNow();
    assert.equal(opened.cards[0], newestCalm, 'the call asked for is the first card');
    assert.equal(opened.cards.length, MAX_LISTED);
    assert.match(opened.status, /the 100 shown are the one asked for, then those needing attention first/);
    await page.screenshot({ path: join(SHOTS, 'live-asked.png') });
    assert.deepEqual(errors, []);
  } finally {
    await browser?.close();
    await admin?.stop();
    for (const c of clients) c.ws.terminate();
    await sd.stop();
    sd.cleanup();
  }
});
