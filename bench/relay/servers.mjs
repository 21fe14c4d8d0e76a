// The two servers bench/relay compares, each started fresh on a free
// loopback port: vytal-signald (with a temporary call log) and the Socket.IO
// baseline (bench/baseline-socketio/server.mjs).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(new URL('../..', import.meta.url).pathname);
const BUILD = resolve(process.env.VYTAL_BUILD_DIR ?? join(ROOT, 'build'));

// The first of: the environment variable, then each place the build has put it.
export function findBinary(envName, candidates) {
  if (process.env[envName]) return resolve(process.env[envName]);
  const found = candidates.map((c) => join(BUILD, c)).find((p) => existsSync(p));
  if (!found) throw new Error(`no ${candidates.join(' or ')} under ${BUILD}: build first or set ${envName}`);
  return found;
}

export const signaldBinary = () => findBinary('VYTAL_SIGNALD_BIN', ['signald/vytal-signald']);

// Spawns a server that prints "listening on http://HOST:PORT/" on stderr;
// resolves with { pid, port, url, stop() } once it does.
function launch(command, args, env, cleanup = () => {}) {
  const proc = spawn(command, args, { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  const killOnExit = () => proc.kill('SIGKILL'); // the benchmark failed: leave no server behind
  process.on('exit', killOnExit);
  proc.once('exit', () => process.off('exit', killOnExit));
  let log = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk) => {
    log = (log + chunk).slice(-16384); // keep the tail only: joins are logged
  });
  const stop = () =>
    new Promise((res) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return res();
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10000);
      proc.once('exit', () => {
        clearTimeout(timer);
        res();
      });
      proc.kill('SIGTERM');
    }).then(cleanup);
  return new Promise((res, rej) => {
    const deadline = Date.now() + 15000;
    const poll = () => {
      const m = log.match(/listening on http:\/\/[^/]*?:(\d+)\//);
      if (m) return res({ pid: proc.pid, port: Number(m[1]), url: `http://127.0.0.1:${m[1]}`, stop, log: () => log });
      if (proc.exitCode !== null || Date.now() > deadline) {
        stop();
        return rej(new Error(`${command} did not start (exit ${proc.exitCode}):\n${log}`));
      }
      setTimeout(poll, 20);
    };
    poll();
  });
}

export function startSignald(secret, connections) {
  const dataDir = mkdtempSync(join(tmpdir(), 'vytal-relay-'));
  return launch(
    signaldBinary(),
    [],
    {
      PORT: '0',
      VYTAL_BIND_ADDRESS: '127.0.0.1',
      VYTAL_DATA_DIR: dataDir,
      JWT_SECRET: secret,
      LOG_LEVEL: 'info',
      VYTAL_MAX_CONNECTIONS: String(connections + 500),
      VYTAL_MAX_CONNECTIONS_PER_IP: String(connections + 500),
      // The rate limit stays on (every message is charged to its bucket) but
      // set above what one connection sends here.
      VYTAL_WS_MESSAGE_RATE: '10000',
      VYTAL_WS_MESSAGE_BURST: '100000',
    },
    () => rmSync(dataDir, { recursive: true, force: true }),
  );
}

export function startBaseline(secret) {
  return launch(process.execPath, [join(ROOT, 'bench/baseline-socketio/server.mjs'), '0'], { JWT_SECRET: secret, NODE_ENV: 'production' });
}

// Creates `count` calls through the REST API, `concurrency` requests at a
// time; resolves with [{ callId, a: patientId, b: providerId }].
export async function createCalls(url, serviceToken, count, concurrency = 32) {
  const pairs = new Array(count);
  let next = 0;
  const one = async () => {
    for (let i = next++; i < count; i = next++) {
      const body = { patientId: `pat-${i}`, providerId: `doc-${i}`, type: 'video' };
      const res = await fetch(`${url}/webrtc/calls`, {
        method: 'POST',
        headers: { authorization: `Bearer ${serviceToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      if (res.status !== 201) throw new Error(`POST /webrtc/calls: ${res.status} ${text}`);
      pairs[i] = { callId: JSON.parse(text).id, a: body.patientId, b: body.providerId };
    }
  };
  await Promise.all(Array.from({ length: concurrency }, one));
  return pairs;
}
