// The admin page's live view on signald's local channel (GET /internal/live)
// with more calls than one answer lists: it lists LiveApi::kMaxLiveCalls of
// them, says how many there are, and puts first the calls an operator should
// look at (someone reconnecting, a failed media connection), however new.
// Then the live page in headless Chromium, logged into vytal-admin as a
// viewer: 100 call cards, those two first, and a line saying how many calls
// there are; its screenshot goes to VYTAL_ADMIN_SCREENSHOTS or the build
// directory (live-many.png).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';

import { addAccount, startAdmin } from './lib/admin.mjs';
import { BUILD_DIR, startSignald } from './lib/signald.mjs';
import { eventually, joinedCall } from './lib/ws_client.mjs';

const MAX_LISTED = 100; // LiveApi::kMaxLiveCalls
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = process.env.VYTAL_ADMIN_SCREENSHOTS ?? join(BUILD_DIR, 'admin-screenshots');
const PASSWORD = 'a long viewer passphrase 7';

const live = (sd) =>
  new Promise((resolve, reject) => {
    const req = request({ socketPath: join(sd.dataDir, 'signald.sock'), path: '/internal/live', method: 'GET' }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(Buffer.concat(chunks).toString()) }));
    });
    req.on('error', reject);
    req.end();
  });

test('the live view lists at most 100 calls, the ones needing attention first, and says how many there are; so does the page', { timeout: 120000 }, async () => {
  const sd = await startSignald({ VYTAL_MAX_CONNECTIONS_PER_IP: '1000', VYTAL_RECONNECT_GRACE_SECONDS: '120' });
  const clients = [];
  let admin, browser;
  try {
    const calls = [];
    for (let i = 0; i < MAX_LISTED + 2; i++) {
      const { callId, patient, provider } = await joinedCall(sd, `patient-lv-${i}`, `dr-lv-${i}`);
      clients.push(patient, provider);
      calls.push(callId);
    }
    // The two newest calls need attention: in one the patient's browser
    // reports a failed media connection, in the other the patient is gone
    // (reconnecting, within the grace period).
    const [failing, away] = calls.slice(-2);
    clients.at(-4).send({ type: 'quality-report', rttMs: 80, connectionState: 'failed' });
    clients.at(-2).ws.terminate();

    const seen = (r) =>
      r.status === 200 &&
      r.body.calls.some((c) => c.callId === away && c.members.some((m) => m.state === 'reconnecting')) &&
      r.body.calls.some((c) => c.callId === failing && c.members.some((m) => m.quality?.connectionState === 'failed'));
    const r = await eventually(async () => {
      const answer = await live(sd);
      return seen(answer) ? answer : null;
    }, 5000);
    assert.ok(r, 'the two calls needing attention are listed, the patient away and the failed connection shown');
    const body = r.body;
    assert.equal(body.totalCalls, MAX_LISTED + 2);
    assert.equal(body.calls.length, MAX_LISTED);
    const listed = body.calls.map((c) => c.callId);
    // Attention first (in id order), then the others oldest first; the two
    // newest calm calls are the ones left out.
    const calm = calls.slice(0, -2).sort();
    assert.deepEqual(listed, [...[failing, away].sort(), ...calm.slice(0, MAX_LISTED - 2)]);
    assert.ok(!listed.includes(calm.at(-1)) && !listed.includes(calm.at(-2)));
    assert.ok(body.calls.every((c) => c.members.length === 2), 'every listed call has both its members');

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
    const shown = await page.evaluate(() => ({
      status: document.querySelector('#live-status').textContent,
      cards: [...document.querySelectorAll('#live-calls section[data-call]')].map((s) => s.dataset.call),
    }));
    assert.match(shown.status, new RegExp(`^${MAX_LISTED + 2} calls with someone in them; the ${MAX_LISTED} shown are those needing attention first`));
    assert.deepEqual(shown.cards, listed, 'the page shows the calls signald listed, in its order');
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, 'live-many.png') });
    assert.deepEqual(errors, []);
  } finally {
    await browser?.close();
    await admin?.stop();
    for (const c of clients) c.ws.terminate();
    await sd.stop();
    sd.cleanup();
  }
});
