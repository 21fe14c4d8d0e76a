// Benchmark: signaling relay throughput, latency and cost, vytal-signald
// against a Socket.IO 4 baseline, both in every round, the order flipped each round (A B, B A, ...).
//
// Usage: node bench/relay/relay.mjs [ROUNDS] [SECONDS] [CALLS]   (defaults 5 10 1000)
// Environment (optional):
//   RELAY_SIZE        bytes of each message's text payload (default 1024)
//   RELAY_WINDOW      saturation: messages in flight per connection (default 2)
//   RELAY_RATES       fixed offered rates in messages/s, comma-separated (default 8000,32000,40000)
//   RELAY_SERVERS     which to run: signald,socketio (default both)
//   RELAY_SERVER_CPU  the core the server under test is pinned to (taskset; default 0)
//   RELAY_CLIENT_CPU  the core the load client is pinned to (default 1)
//   RELAY_NICE        nice level of both (default -10, needs root; '' for none)
//   RELAY_RT          real-time (SCHED_FIFO) priority of both during the fixed-rate
//                     phases, so that kernel threads (ksoftirqd, kdamond) wait for
//                     them instead of stalling them (default 10, needs root; '' for none)
//   RELAY_DOC         a Markdown file to write the table into (run.sh: docs/BENCHMARKS.md)
//   VYTAL_RELAY_LOADGEN_BIN  the client (default build/bench/relay/loadgen/vytal-relay-loadgen)
//
// The client is one C++ process (bench/relay/loadgen/, libevent + wslay) that
// holds both sides of every call, so a message's send and receive times come
// from one monotonic clock; it speaks signald's protocol or Engine.IO 4 /
// Socket.IO 5 framing with the same code, so it costs the same on both.
// Calls and tokens are made here (REST and HS256) and handed over in a file.
//
// Each round starts each server fresh, opens CALLS two-party calls (signald:
// POST /webrtc/calls, then both participants join over the WebSocket; the
// baseline: both join a room), warms up for 2 s, then measures: saturation
// (every connection keeps RELAY_WINDOW messages in flight to its peer) and
// each fixed offered rate (spread evenly over the connections, sent every ms).
// Each phase lasts SECONDS, then up to 5 s for the last messages to arrive.
import { execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hs256 } from '../../tests/integration/lib/signald.mjs';
import { startSignald, startBaseline, createCalls, findBinary, spawnPrioritized } from './servers.mjs';
import { newHistogram, percentile, median, pairedRatios, cpuMicros, machineBusyMicros, stealSampler, rssKiB, writeSection } from './stats.mjs';

const ROUNDS = Number(process.argv[2] ?? 5);
const SECONDS = Number(process.argv[3] ?? 10);
const CALLS = Number(process.argv[4] ?? 1000);
const SIZE = Number(process.env.RELAY_SIZE ?? 1024);
const WINDOW = Number(process.env.RELAY_WINDOW ?? 2);
const RATES = (process.env.RELAY_RATES ?? '8000,32000,40000').split(',').filter(Boolean).map(Number);
const SERVERS = (process.env.RELAY_SERVERS ?? 'signald,socketio').split(',');
const SERVER_CPU = process.env.RELAY_SERVER_CPU ?? '0';
const CLIENT_CPU = process.env.RELAY_CLIENT_CPU ?? '1';
const NICE = process.env.RELAY_NICE ?? '-10';
const RT = process.env.RELAY_RT ?? '10';
const SOURCES = Array.from({ length: 8 }, (_, k) => `127.0.20.${k + 1}`);
const WARMUP_SECONDS = 2;
const DRAIN_MS = 5000;
const SECRET = 'relay-bench-secret-0123456789abcdef0123';
const LABEL = { signald: 'signald', socketio: 'Socket.IO' };
const HEADING = '## signald: relay throughput against Socket.IO (issue 15)';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (s) => process.stderr.write(`${s}\n`);

const PHASES = [
  { name: `saturation (window ${WINDOW})`, mode: 'window', window: WINDOW },
  ...RATES.map((rate) => ({ name: `${rate}/s offered`, mode: 'rate', rate })),
];

// `nice -n NICE taskset -c CPU`: the command pinned to one core, exec'd in
// place so that the pid is the program's own.
const pinned = (cpu) => [...(NICE ? ['nice', '-n', NICE] : []), 'taskset', '-c', cpu];

// The C++ client, with a promise for its next JSON line on stdout.
function startClient(kind, port, pairsFile) {
  const argv = [
    ...pinned(CLIENT_CPU),
    findBinary('VYTAL_RELAY_LOADGEN_BIN', ['bench/relay/loadgen/vytal-relay-loadgen']),
    '--server', `127.0.0.1:${port}`,
    '--path', kind === 'signald' ? '/webrtc/ws' : '/socket.io/?EIO=4&transport=websocket',
    '--dialect', kind === 'signald' ? 'vytal' : 'sio',
    '--pairs', pairsFile,
    '--size', String(SIZE),
    '--sources', SOURCES.join(','),
    '--max-seconds', String(ROUNDS * 60 + 1800),
  ];
  const proc = spawnPrioritized(argv, { stdio: ['pipe', 'pipe', 'inherit'] }, NICE);
  const killOnExit = () => proc.kill('SIGKILL');
  process.on('exit', killOnExit);
  proc.once('exit', () => process.off('exit', killOnExit));
  const lines = [];
  let waiting = null;
  createInterface({ input: proc.stdout }).on('line', (line) => (waiting ? waiting(line) : lines.push(line)));
  proc.on('exit', (code) => waiting?.(JSON.stringify({ ev: 'exit', code })));
  const next = (command, timeoutMs) =>
    new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`the load client did not answer ${command ?? 'setup'}`)), timeoutMs);
      waiting = (line) => {
        clearTimeout(timer);
        waiting = null;
        const m = JSON.parse(line);
        m.ev === 'exit' ? rej(new Error(`the load client exited with ${m.code}`)) : res(m);
      };
      if (command) proc.stdin.write(`${command}\n`);
      else if (lines.length) waiting(lines.shift());
    });
  const stop = () =>
    new Promise((res) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return res();
      proc.once('exit', res);
      proc.stdin.end('exit\n');
      setTimeout(() => proc.kill('SIGKILL'), 5000).unref();
    });
  return { pid: proc.pid, next, stop };
}

// `chrt -a -p`: every thread of each pid to a scheduling policy and priority.
// Back to normal, each pid on its own: one that has exited must not keep the
// other real-time, nor hide why the phase failed.
const realtime = (pids) => {
  for (const pid of pids) execFileSync('chrt', ['-a', '-f', '-p', RT, String(pid)]);
};
const normal = (pids) => {
  for (const pid of pids) {
    try {
      execFileSync('chrt', ['-a', '-o', '-p', '0', String(pid)], { stdio: 'ignore' });
    } catch {
      // exited: nothing to put back
    }
  }
};

async function runPhase(server, client, phase, seconds) {
  const cpu0 = cpuMicros(server.pid);
  const busy0 = machineBusyMicros();
  const steal = stealSampler();
  const t0 = performance.now();
  const amount = phase.mode === 'window' ? phase.window : phase.rate;
  // Never real-time while saturating: the two would take both cores whole.
  // (A server that cannot keep up with a fixed rate, Socket.IO at 32,000/s
  // and up, is saturated all the same; the kernel's real-time throttling,
  // checked at the start, leaves the core's other work 5 % of each second.)
  const rt = RT && phase.mode === 'rate';
  let r;
  try {
    if (rt) realtime([server.pid, client.pid]);
    r = await client.next(`phase ${phase.mode} ${amount} ${seconds} ${DRAIN_MS / 1000}`, (seconds + 30) * 1000);
  } finally {
    if (rt) normal([server.pid, client.pid]);
  }
  const wallS = (performance.now() - t0) / 1000;
  const serverCpu = cpuMicros(server.pid) - cpu0;
  const busyCores = (machineBusyMicros() - busy0) / 1e6 / wallS;
  const stolen = steal.stop();
  const hist = newHistogram();
  for (const [i, n] of r.hist) hist[i] += n;
  return {
    delivered: r.receivedInTime / seconds,
    p50: percentile(hist, 0.5) / 1000,
    p99: percentile(hist, 0.99) / 1000,
    p999: percentile(hist, 0.999) / 1000,
    cpuPerMsg: r.received ? serverCpu / r.received : NaN,
    serverCores: serverCpu / 1e6 / wallS,
    clientCores: r.cpuMicros / 1e6 / wallS,
    busyCores,
    stolenMsPerS: stolen.totalMicros / 1000 / wallS,
    stolenWorstMs: stolen.worstMicros / 1000,
    rss: rssKiB(server.pid),
    sent: r.sent,
    lost: r.sent - r.received,
    skipped: r.skipped,
    stale: r.stale,
    errors: r.errors,
    closes: r.closes,
    late: r.late, // [window start ms, messages over 2 ms], the worst 100 ms windows
  };
}

async function oneServer(kind, round) {
  const connections = CALLS * 2;
  const server = kind === 'signald' ? await startSignald(SECRET, connections, pinned(SERVER_CPU), NICE) : await startBaseline(SECRET, pinned(SERVER_CPU), NICE);
  const dir = mkdtempSync(join(tmpdir(), 'vytal-relay-client-'));
  let client = null;
  try {
    const service = hs256({ sub: 'bench-service', role: 'service', exp: Math.floor(Date.now() / 1000) + 3600 }, SECRET);
    const pairs =
      kind === 'signald'
        ? await createCalls(server.url, service, CALLS)
        : Array.from({ length: CALLS }, (_, i) => ({ callId: randomUUID(), a: `pat-${i}`, b: `doc-${i}` }));
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const tok = (sub, role) => hs256({ sub, role, exp }, SECRET);
    const pairsFile = join(dir, 'pairs.tsv');
    writeFileSync(pairsFile, pairs.map((p) => [p.callId, p.a, tok(p.a, 'patient'), p.b, tok(p.b, 'provider')].join('\t')).join('\n') + '\n', { mode: 0o600 });
    await sleep(300);
    const rssIdle = rssKiB(server.pid); // calls created, nobody connected
    const joinStart = performance.now();
    client = startClient(kind, server.port, pairsFile);
    const ready = await client.next(null, 120000);
    if (ready.joined !== connections) throw new Error(`${kind}: only ${ready.joined} of ${connections} connections joined`);
    await sleep(1000);
    const rssJoined = rssKiB(server.pid);
    log(`round ${round} ${kind}: ${ready.joined} joined in ${((performance.now() - joinStart) / 1000).toFixed(1)} s, RSS ${rssIdle} → ${rssJoined} KiB`);
    await runPhase(server, client, PHASES[0], WARMUP_SECONDS);
    const phases = {};
    for (const phase of PHASES) {
      await sleep(500);
      const r = await runPhase(server, client, phase, SECONDS);
      phases[phase.name] = r;
      log(`round ${round} ${kind} ${phase.name}: ${JSON.stringify(r, (k, v) => (typeof v === 'number' ? Number(v.toFixed(3)) : v))}`);
    }
    return { rssIdle, rssJoined, perConnBytes: ((rssJoined - rssIdle) * 1024) / connections, phases };
  } finally {
    await client?.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- run

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130)); // runs the 'exit' cleanups

// Real-time phases: refused before anything runs when this user may not
// (root or CAP_SYS_NICE), or when the kernel would let a saturated real-time
// process hold a core without end (sched_rt_runtime_us -1).
if (RT) {
  try {
    execFileSync('chrt', ['-f', RT, 'true'], { stdio: 'ignore' });
  } catch {
    log(`RELAY_RT=${RT}: chrt -f ${RT} is not allowed here (needs root or CAP_SYS_NICE); RELAY_RT= runs without it`);
    process.exit(2);
  }
  if (readFileSync('/proc/sys/kernel/sched_rt_runtime_us', 'utf8').trim() === '-1') {
    log('RELAY_RT: kernel.sched_rt_runtime_us is -1 (no real-time throttling); RELAY_RT= runs without real-time');
    process.exit(2);
  }
}

const started = new Date();
const load0 = loadavg();
const runs = Object.fromEntries(SERVERS.map((k) => [k, []]));
// Which server runs first flips every round (the first in odd rounds), so
// that a machine drifting faster or slower over the run falls on both alike.
for (let round = 1; round <= ROUNDS; round++)
  for (const kind of round % 2 ? SERVERS : [...SERVERS].reverse()) runs[kind].push(await oneServer(kind, round));
const load1 = loadavg();

// ---------------------------------------------------------------- table

const fmt = (v, digits = 0) => (Number.isFinite(v) ? v.toFixed(digits) : '–');
const ratio = (a, b) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : '–');
const med = (kind, phase, key) => median(runs[kind].map((r) => r.phases[phase][key]));
const total = (kind, phase, key) => runs[kind].reduce((a, r) => a + r.phases[phase][key], 0);
const [A, B] = SERVERS;
const rows = [
  '| load | server | delivered msg/s | p50 ms | p99 ms | p99.9 ms | server CPU µs/msg | server CPU (cores) | server RSS KiB | lost | closes | errors | client CPU (cores) | machine busy (cores) | stolen by the host (ms/s) | most stolen in 100 ms (ms) |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
];
for (const { name } of PHASES) {
  for (const kind of SERVERS) {
    const m = (key, d) => fmt(med(kind, name, key), d);
    rows.push(
      `| ${kind === A ? name : ''} | ${LABEL[kind]} | ${m('delivered')} | ${m('p50', 2)} | ${m('p99', 2)} | ${m('p999', 2)} | ${m('cpuPerMsg', 1)} | ${m('serverCores', 2)} | ${m('rss')} | ${total(kind, name, 'lost')} | ${total(kind, name, 'closes')} | ${total(kind, name, 'errors')} | ${m('clientCores', 2)} | ${m('busyCores', 2)} | ${m('stolenMsPerS', 1)} | ${m('stolenWorstMs')} |`,
    );
  }
  if (B) {
    const r = (key) => ratio(med(A, name, key), med(B, name, key));
    rows.push(`| | **${LABEL[A]}/${LABEL[B]}** | **${r('delivered')}** | ${r('p50')} | ${r('p99')} | ${r('p999')} | ${r('cpuPerMsg')} | | ${r('rss')} | | | | | | | |`);
  }
}
const series = (kind, phase, key) => runs[kind].map((r) => r.phases[phase][key]);
const pairRows = B
  ? [
      `| ${LABEL[A]}/${LABEL[B]}, round by round: median (min–max) | delivered msg/s | server CPU µs/msg |`,
      '| --- | --- | --- |',
      ...PHASES.map(({ name }) => `| ${name} | ${pairedRatios(series(A, name, 'delivered'), series(B, name, 'delivered'))} | ${pairedRatios(series(A, name, 'cpuPerMsg'), series(B, name, 'cpuPerMsg'))} |`),
    ]
  : [];
const memRows = [
  '| memory (median) | ' + SERVERS.map((k) => LABEL[k]).join(' | ') + ' |',
  '| --- |' + SERVERS.map(() => ' --- |').join(''),
  `| RSS before any connection, calls created (KiB) | ${SERVERS.map((k) => fmt(median(runs[k].map((r) => r.rssIdle)))).join(' | ')} |`,
  `| RSS with ${CALLS * 2} joined connections, before load (KiB) | ${SERVERS.map((k) => fmt(median(runs[k].map((r) => r.rssJoined)))).join(' | ')} |`,
  `| per joined connection (KiB) | ${SERVERS.map((k) => fmt(median(runs[k].map((r) => r.perConnBytes)) / 1024, 2)).join(' | ')} |`,
];
const notSent = SERVERS.flatMap((k) => PHASES.map((p) => [k, p.name, total(k, p.name, 'skipped')])).filter(([, , n]) => n > 0);
const stale = SERVERS.flatMap((k) => PHASES.map((p) => [k, p.name, total(k, p.name, 'stale')])).filter(([, , n]) => n > 0);
const list = (l) => l.map(([k, p, n]) => `${LABEL[k]} ${p} ${n}`).join('; ');
const notes =
  (notSent.length ? `\n\nNot sent because the client's send buffer to that connection was over 64 KiB (sum over the rounds): ${list(notSent)}.` : '') +
  (stale.length ? `\n\nArrived during a later load, after its own had stopped waiting (not counted there): ${list(stale)}.` : '');
// Each round's tail at the fixed rates beside the time the host stole then:
// the medians above hide which rounds a stalled machine spoiled.
const ratePhases = PHASES.filter((p) => p.mode === 'rate');
const roundRows = ratePhases.length
  ? [
      `| ${LABEL[A]}, round by round: p99 ms (stolen ms/s, most in 100 ms) | ${ratePhases.map((p) => p.name).join(' | ')} |`,
      `| --- |${ratePhases.map(() => ' --- |').join('')}`,
      ...runs[A].map(
        (r, i) =>
          `| round ${i + 1} | ${ratePhases
            .map(({ name }) => {
              const x = r.phases[name];
              return `${fmt(x.p99, 2)} (${fmt(x.stolenMsPerS, 1)}, ${fmt(x.stolenWorstMs)})`;
            })
            .join(' | ')} |`,
      ),
    ]
  : [];
const table = [rows.join('\n') + notes, pairRows.join('\n'), roundRows.join('\n'), memRows.join('\n')].filter(Boolean).join('\n\n');
console.log(table);

if (process.env.RELAY_DOC) {
  const git = (...a) => execFileSync('git', a, { encoding: 'utf8' }).trim();
  const commit = git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '--untracked-files=no', '--', '.', ':!docs/BENCHMARKS.md') ? ' (with uncommitted changes)' : '');
  const machine = `${cpus().length} vCPUs (${cpus()[0].model.trim()}), Linux ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}, Node ${process.version}`;
  const body = `\`bench/relay/run.sh ${ROUNDS} ${SECONDS} ${CALLS}\` — measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC at commit ${commit}
on ${machine}; load average ${load0[0].toFixed(2)} at the start, ${load1[0].toFixed(2)} at the end.

${CALLS} two-party calls (${CALLS * 2} WebSocket connections), ${SIZE}-byte \`offer\` messages (the whole text payload),
each peer sending to the other. The server under test runs pinned to core ${SERVER_CPU} (\`taskset -c ${SERVER_CPU}\`), the load
client (\`bench/relay/loadgen/\`, one C++ process on libevent and wslay's frame layer, holding both sides of every
call from ${SOURCES.length} 127.0.20.x source addresses) pinned to core ${CLIENT_CPU}; ${NICE ? `both at \`nice -n ${NICE}\`, each in a session of its
own whose autogroup nice is also ${NICE} (with \`kernel.sched_autogroup_enabled\`, a process's nice only counts inside its
session)` : 'both at the default priority'}.${RT ? ` During the fixed-rate loads both also run at real-time priority
(\`chrt -a -f -p ${RT}\`, all threads, SCHED_FIFO), so that the kernel's own threads (ksoftirqd, this VM's kdamond) wait for them
instead of stalling them for milliseconds; not while saturating, where the two would hold both cores whole.` : ''} signald: calls created with \`POST /webrtc/calls\`, both participants join; its
per-connection rate limit raised above the load (still charged). Socket.IO 4 (\`bench/baseline-socketio/server.mjs\`,
WebSocket transport only): the same client speaks Engine.IO 4 / Socket.IO 5 framing over the same WebSocket code.
Each round runs ${SERVERS.map((k) => LABEL[k]).join(' and ')}, each against a fresh server, ${LABEL[A]} first in odd rounds${B ? ` and ${LABEL[B]} first in even ones` : ''}; medians of ${ROUNDS} rounds of
${SECONDS} s per load, after a 2 s warm-up. Latency: send to receive, both ends in one process
(\`CLOCK_MONOTONIC\`). Delivered: messages received within the ${SECONDS} s. Lost: sent but not received
${DRAIN_MS / 1000} s after the end (sum over the rounds, like closes and errors; with no close, what is counted lost
under overload was still queued in the server's or the kernel's buffers). Server CPU: utime + stime from
\`/proc/<pid>/stat\` over the phase and its drain, divided by the messages received in that time. RSS: \`VmRSS\` at the end of the phase.
Client CPU: the load client's own (\`getrusage\`). Machine busy: all the machine's busy time (\`/proc/stat\`) in cores,
of ${cpus().length}: what is beyond the server and the client is other work on this shared machine (and kernel work no process was
charged for). Stolen by the host: the time the hypervisor ran something else while this machine's vCPUs had work
(\`steal\` in \`/proc/stat\`, sampled every 100 ms, in 10 ms ticks), summed over the vCPUs per second of the phase,
and the most one vCPU lost in one 100 ms: every message due during such a stall is late, and the client then catches
up at what is left of its core.

${table}`;
  writeSection(process.env.RELAY_DOC, HEADING, body);
  log(`wrote the table into ${process.env.RELAY_DOC}`);
}
