// Starts the real vytal-admin for a test beside a signald (same data
// directory, so the same call log and signald's local channel), and makes
// accounts with the real vytalctl.
import { spawn, execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { BUILD_DIR, SANITIZER_ENV, VYTALCTL, stopProcess } from './signald.mjs';
import { track } from './children.mjs';

export const ADMIN = join(BUILD_DIR, 'admin_ui/vytal-admin');

// Resolves with { url, port, proc, stderr(), stop() } once vytal-admin listens.
// args: its command line (--config FILE...).
export function startAdmin(sd, env = {}, args = []) {
  const fullEnv = {
    PATH: process.env.PATH, ...SANITIZER_ENV,
    VYTAL_DATA_DIR: sd.dataDir,
    PORT: String(sd.port),
    VYTAL_ADMIN_PORT: '0',
    VYTAL_SIGNALD_CONTROL_SOCKET: join(sd.dataDir, 'signald.sock'),
    VYTAL_SYNC_METRICS_PORT: '1', // no syncd in these tests: "not configured"
    VYTAL_TURN_PORT: '1',
    LOG_LEVEL: 'info',
    ...env,
  };
  for (const [k, v] of Object.entries(fullEnv)) if (v === undefined) delete fullEnv[k];
  const proc = track(spawn(ADMIN, args, { env: fullEnv, stdio: ['ignore', 'ignore', 'pipe'] }));
  let err = '';
  proc.stderr.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`vytal-admin did not start:\n${err}`)), 10000);
    proc.stderr.on('data', (chunk) => {
      err += chunk;
      const m = err.match(/listening on http:\/\/([^/]+):(\d+)\//);
      if (m && !proc.started) {
        proc.started = true;
        clearTimeout(timer);
        const port = Number(m[2]);
        resolve({ url: `http://localhost:${port}`, port, proc, stderr: () => err, stop: () => stopProcess(proc, 'SIGTERM') });
      }
    });
    proc.on('exit', (code) => {
      if (!proc.started) {
        clearTimeout(timer);
        reject(new Error(`vytal-admin exited with ${code}:\n${err}`));
      }
    });
  });
}

// vytalctl with the data directory's configuration; returns stdout.
export function vytalctl(sd, args, input) {
  return execFileSync(VYTALCTL, args, {
    env: { PATH: process.env.PATH, VYTAL_DATA_DIR: sd.dataDir, PORT: String(sd.port), VYTAL_SIGNALD_CONTROL_SOCKET: join(sd.dataDir, 'signald.sock') },
    input,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

export function addAccount(sd, name, role, password) {
  return vytalctl(sd, ['admin', 'add', name, '--role', role, '--password-stdin'], `${password}\n`);
}

// RFC 6238 TOTP (HMAC-SHA1, 30 s, 6 digits) computed by Node's own crypto.
export function totp(base32Secret, unixSeconds = Date.now() / 1000) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of base32Secret.replace(/=+$/, '')) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[19] & 0x0f;
  const bin = ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) | mac[offset + 3];
  return String(bin % 1e6).padStart(6, '0');
}

// POST a JSON body to vytal-admin as its page would (Origin of its own).
export async function adminPost(admin, path, body, { cookie, csrf, origin = admin.url, headers = {} } = {}) {
  const h = { 'content-type': 'application/json', origin, ...headers };
  if (cookie) h.cookie = cookie;
  if (csrf) h['x-csrf-token'] = csrf;
  const res = await fetch(`${admin.url}/api/${path}`, { method: 'POST', headers: h, body: JSON.stringify(body) });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, body: json, text };
}

export async function adminGet(admin, path, { cookie, headers = {} } = {}) {
  const res = await fetch(`${admin.url}/api/${path}`, { headers: { ...(cookie ? { cookie } : {}), ...headers } });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, body: json, text };
}

// Logs in over HTTP; returns { cookie: '__Host-vytal_admin=...', csrf, setCookie }.
export async function login(admin, name, password, code) {
  const r = await adminPost(admin, 'login', { name, password, code });
  if (r.status !== 200) throw new Error(`login of ${name} answered ${r.status}: ${r.text}`);
  const setCookie = r.headers.get('set-cookie');
  return { cookie: setCookie.split(';')[0], csrf: r.body.csrf, setCookie };
}
