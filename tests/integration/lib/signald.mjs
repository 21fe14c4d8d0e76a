// Starts the real vytal-signald for a test: a temporary data directory,
// configuration from the environment alone, port 0, and the URL read from
// its "listening on" log line.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHmac } from 'node:crypto';
import net from 'node:net';
import { checkResponse } from './openapi.mjs';

// The sanitizer build's options (tests/sanitize/run.sh: where reports go),
// passed on to the daemons, whose environment is otherwise built from scratch.
export const SANITIZER_ENV = Object.fromEntries(['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS']
  .filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]));

export const BUILD_DIR = resolve(process.env.VYTAL_BUILD_DIR ?? new URL('../../../build', import.meta.url).pathname);
export const SIGNALD = join(BUILD_DIR, 'signald/vytal-signald');
export const VYTALCTL = join(BUILD_DIR, 'vytalctl/vytalctl');
export const JWT_SECRET = 'integration-test-secret-0123456789abcdef';

export function tempDir(prefix = 'vytal-test-') {
  return mkdtempSync(join(tmpdir(), prefix));
}

// Resolves with { url, port, proc, dataDir, stderr(), stop(), kill() } once
// signald listens; rejects with its stderr if it exits first.
export function startSignald(env = {}, { dataDir = tempDir(), args = [] } = {}) {
  const fullEnv = {
    PATH: process.env.PATH, ...SANITIZER_ENV,
    PORT: '0',
    VYTAL_DATA_DIR: dataDir,
    JWT_SECRET,
    LOG_LEVEL: 'info',
    // signald's local channel in the test's own directory, never /run/vytalwatch.
    VYTAL_SIGNALD_CONTROL_SOCKET: join(dataDir, 'signald.sock'),
    ...env,
  };
  for (const [k, v] of Object.entries(fullEnv)) if (v === undefined) delete fullEnv[k];
  const proc = spawn(SIGNALD, args, { env: fullEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.setEncoding('utf8');
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`signald did not start:\n${err}`)), 10000);
    proc.stderr.on('data', (chunk) => {
      err += chunk;
      const m = err.match(/listening on http:\/\/([^/]+):(\d+)\//);
      if (m && !proc.started) {
        proc.started = true;
        clearTimeout(timer);
        const port = Number(m[2]);
        resolvePromise({
          url: `http://localhost:${port}`,
          port,
          proc,
          dataDir,
          stderr: () => err,
          // SIGTERM and wait: the call log is closed cleanly.
          stop: () => stopProcess(proc, 'SIGTERM'),
          kill: () => stopProcess(proc, 'SIGKILL'),
          cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
        });
      }
    });
    proc.on('exit', (code) => {
      if (!proc.started) {
        clearTimeout(timer);
        reject(Object.assign(new Error(`signald exited with ${code}:\n${err}`), { code, stderr: err }));
      }
    });
  });
}

export function stopProcess(proc, signal) {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    proc.once('exit', () => res());
    proc.kill(signal);
  });
}

// Runs signald expecting it to refuse to start; resolves with { code, stderr }.
export function runSignaldExpectingExit(env, args = []) {
  const dataDir = tempDir();
  const fullEnv = { PATH: process.env.PATH, ...SANITIZER_ENV, PORT: '0', VYTAL_DATA_DIR: dataDir, VYTAL_SIGNALD_CONTROL_SOCKET: join(dataDir, 'signald.sock'), ...env };
  for (const [k, v] of Object.entries(fullEnv)) if (v === undefined) delete fullEnv[k];
  return new Promise((res) => {
    const proc = spawn(SIGNALD, args, { env: fullEnv, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (c) => (err += c));
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      res({ code, signal, stderr: err });
    });
  });
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

// An HS256 JWT signed by Node's own crypto (independent of our signer).
export function hs256(claims, secret = JWT_SECRET, header = { alg: 'HS256', typ: 'JWT' }) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

export function claims(sub, role, extra = {}) {
  const now = Math.floor(Date.now() / 1000);
  return { sub, role, iat: now, exp: now + 600, ...extra };
}

export const token = (sub, role, extra) => hs256(claims(sub, role, extra));

// fetch with a JSON body and Bearer token; returns { status, headers, body, text }.
// Throws when the answer disagrees with docs/openapi.yaml (lib/openapi.mjs).
export async function api(base, method, path, { tok, body, headers = {} } = {}) {
  const h = { ...headers };
  if (tok) h.authorization = `Bearer ${tok}`;
  let payload;
  if (body !== undefined) {
    h['content-type'] ??= 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch(base + path, { method, headers: h, body: payload });
  const text = await res.text();
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  // Every answer must agree with docs/openapi.yaml.
  const wrong = checkResponse({ method, path, status: res.status, contentType: res.headers.get('content-type') ?? '', body: parsed, text });
  if (wrong) throw new Error(`the answer disagrees with docs/openapi.yaml: ${wrong}`);
  return { status: res.status, headers: res.headers, body: parsed, text };
}

// Sends raw bytes to a port on 127.0.0.1; resolves with everything received
// until the server closes (or after 5 s).
export function rawHttp(port, payload) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(payload));
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d) => (buf += d));
    s.on('end', () => resolve(buf));
    s.on('error', (e) => (e.code === 'ECONNRESET' ? resolve(buf) : reject(e)));
    setTimeout(() => { s.destroy(); resolve(buf); }, 5000);
  });
}

// Reads the call log with Debian's sqlite3 shell (read-only).
export function sql(dataDir, query) {
  return execFileSync('sqlite3', ['-readonly', '-batch', join(dataDir, 'calls.db'), query], { encoding: 'utf8' }).trim();
}

// The value of one exact series, e.g. 'vytal_rejected_total{reason="token_expired"}'; 0 when absent.
export async function metric(base, series) {
  const text = await (await fetch(base + '/metrics')).text();
  for (const line of text.split('\n')) {
    const space = line.lastIndexOf(' ');
    if (!line.startsWith('#') && line.slice(0, space) === series) return Number(line.slice(space + 1));
  }
  return 0;
}
