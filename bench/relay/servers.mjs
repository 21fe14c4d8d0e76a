// The two servers bench/relay compares, each started fresh on a free
// loopback port: vytal-signald (with a temporary call log) and the Socket.IO
// baseline (bench/baseline-socketio/server.mjs).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

// Spawns `argv` in a session of its own and, with `nice`, gives that
// session's autogroup the nice level. With kernel.sched_autogroup_enabled (on
// here), a process's nice value only weighs against processes of its own
// session: against everything else on the machine (other users' builds, each
// in its own session) it is the autogroup's nice that counts.
export function spawnPrioritized(argv, options, nice) {
  const proc = spawn(argv[0], argv.slice(1), { ...options, detached: true });
  if (nice && proc.pid && existsSync('/proc/self/autogroup')) {
    try {
      writeFileSync(`/proc/${proc.pid}/autogroup`, nice);
    } catch (e) {
      process.stderr.write(`could not set the autogroup nice of ${proc.pid}: ${e.message}\n`);
    }
  }
  return proc;
}

// Spawns a server that prints "listening on http://HOST:PORT/" on stderr;
// resolves with { pid, port, url, stop() } once it does. `wrap` is a command
// that execs the server in its place (nice, taskset), so pid stays the
// server's; `nice` goes to its autogroup (spawnPrioritized).
function launch(command, args, env, cleanup = () => {}, wrap = [], nice = '') {
  const proc = spawnPrioritized([...wrap, command, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'ignore', 'pipe'] }, nice);
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

export function startSignald(secret, connections, wrap = [], nice = '') {
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
    wrap,
    nice,
  );
}

export function startBaseline(secret, wrap = [], nice = '') {
  return launch(process.execPath, [join(ROOT, 'bench/baseline-socketio/server.mjs'), '0'], { JWT_SECRET: secret, NODE_ENV: 'production' }, () => {}, wrap, nice);
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
