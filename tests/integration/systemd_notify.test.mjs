// systemd's side of Type=notify: the daemons tell the socket in NOTIFY_SOCKET
// when they are ready, ping the watchdog at half of WATCHDOG_USEC while they
// work, and say STOPPING=1 on SIGTERM. The receiving end is socat on a Unix
// datagram socket, as systemd's own would be.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startSignald, tempDir, stopProcess } from './lib/signald.mjs';
import { startSyncd } from './lib/syncd.mjs';

// A datagram listener that keeps everything it receives.
async function notifySocket(dir) {
  const path = join(dir, 'notify.sock');
  const proc = spawn('socat', ['-u', `UNIX-RECV:${path}`, 'STDOUT'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let received = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk) => (received += chunk));
  for (let i = 0; i < 100 && !existsSync(path); i++) await sleep(20);
  assert.ok(existsSync(path), 'socat did not bind the notify socket');
  return {
    path,
    text: () => received,
    count: (what) => received.split(what).length - 1,
    stop: () => stopProcess(proc, 'SIGTERM'),
  };
}

async function waitFor(what, check, timeoutMs = 5000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (check()) return;
    await sleep(50);
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('vytal-signald: READY=1 once listening, WATCHDOG=1 every half period, STOPPING=1 on SIGTERM', async () => {
  const dir = tempDir();
  const notify = await notifySocket(dir);
  const s = await startSignald({ NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '1000000' });
  try {
    await waitFor('READY=1', () => notify.text().includes('READY=1'));
    assert.match(notify.text(), /STATUS=listening on port \d+/);
    await sleep(2300);
    const pings = notify.count('WATCHDOG=1');
    assert.ok(pings >= 3 && pings <= 6, `expected about 4 watchdog pings in 2.3 s at 500 ms, got ${pings}`);
    await s.stop();
    await waitFor('STOPPING=1', () => notify.text().includes('STOPPING=1'));
  } finally {
    await s.stop();
    await notify.stop();
    s.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vytal-signald: no NOTIFY_SOCKET, no watchdog: runs as before', async () => {
  const s = await startSignald({ NOTIFY_SOCKET: undefined, WATCHDOG_USEC: undefined });
  try {
    const r = await fetch(`${s.url}/healthz`);
    assert.equal(r.status, 200);
    assert.doesNotMatch(s.stderr(), /watchdog/);
  } finally {
    await s.stop();
    s.cleanup();
  }
});

test('vytal-syncd: ready and pinging while its sync loop turns, even with PostgreSQL unreachable', async () => {
  const dir = tempDir();
  const notify = await notifySocket(dir);
  // Port 9 on loopback: nothing listens, connections are refused at once.
  const d = await startSyncd({
    NOTIFY_SOCKET: notify.path,
    WATCHDOG_USEC: '1000000',
    VYTAL_SITE_ID: 'site-notify',
    DATABASE_HOST: '127.0.0.1',
    DATABASE_PORT: '9',
    VYTAL_SYNC_BACKOFF_MAX_SECONDS: '1',
  });
  try {
    await waitFor('READY=1', () => notify.text().includes('READY=1'));
    assert.match(notify.text(), /STATUS=syncing site site-notify/);
    await sleep(2300);
    assert.ok(notify.count('WATCHDOG=1') >= 3, `expected watchdog pings, got: ${JSON.stringify(notify.text())}`);
    await d.stop();
    await waitFor('STOPPING=1', () => notify.text().includes('STOPPING=1'));
  } finally {
    await d.stop();
    await notify.stop();
    rmSync(d.dataDir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
