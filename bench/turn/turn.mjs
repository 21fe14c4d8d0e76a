// Benchmark: vytal-turnserver (coturn 4.6.1 with our patches and the plugin
// loaded, usage reporting on) against Debian's stock turnserver with the same
// configuration otherwise, in alternating rounds, under turnutils_uclient load.
//
// Usage: node bench/turn/turn.mjs [ROUNDS]   (default 5)
// Environment (optional):
//   TURN_LENGTH                    bytes per message (uclient -l, default 200)
//   TURN_PACED_CLIENTS, _MESSAGES  the paced load: clients sending every 20 ms (default 200, 1000)
//   TURN_HEAVY_CLIENTS, _MESSAGES  the heavy load: clients sending every 1 ms (default 50, 20000)
//   VYTAL_TURNSERVER_BIN (default build/turn/bin/vytal-turnserver), VYTAL_TURN_PLUGIN
//   (default build/turn_plugin/libvytal_turn.so), STOCK_TURNSERVER_BIN (default turnserver),
//   UCLIENT_BIN (default Debian's turnutils_uclient, the same client for both)
//   TURN_IR_ROUNDS                 rounds of the instruction count (default 5; 0 for none)
//   TURN_DOC                       a Markdown file to write the table into
//
// CPU time per message swings by about 15 % from round to round on a VM, for
// the same binary. So each server also runs under valgrind's cachegrind, whose
// count of the instructions it executes is the same whatever else the machine
// does: instructions per message, with what starting and stopping costs taken
// off. The kernel's share is compared by system calls per message, counted in
// the timed rounds by perf's raw_syscalls tracepoint (when perf is installed).
//
// Both servers: loopback only, REST API credentials (use-auth-secret) with the
// same secret (stock: static-auth-secret; ours: the plugin's key ring), the
// same relay range, no TLS/DTLS, no CLI, non-verbose log to a file,
// allow-loopback-peers (this benchmark only: the clients are on loopback).
// uclient runs with -y (client to client: each message is relayed through two
// allocations of the server under test), -c (no RTCP), -W (it signs REST
// credentials with the secret itself).
import { spawn, execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { median, pairedRatios, cpuMicros, statCpuMicros, machineBusyMicros, writeSection } from '../relay/stats.mjs';

const ROOT = resolve(new URL('../..', import.meta.url).pathname);
const BUILD = resolve(process.env.VYTAL_BUILD_DIR ?? join(ROOT, 'build'));
const ROUNDS = Number(process.argv[2] ?? 5);
const env = (k, d) => process.env[k] ?? d;
const LENGTH = Number(env('TURN_LENGTH', 200));
// Under cachegrind the server runs many times slower: smaller loads of the same two kinds.
const IR_ROUNDS = Number(env('TURN_IR_ROUNDS', 5));
const IR_LOADS = [
  { name: 'paced: 20 clients × 50 msg/s', clients: 20, messages: 500, interval: 20 },
  { name: 'heavy: 10 clients × 1000 msg/s', clients: 10, messages: 2000, interval: 1 },
];
const LOADS = [
  { name: `paced: ${env('TURN_PACED_CLIENTS', 200)} clients × 50 msg/s`, clients: env('TURN_PACED_CLIENTS', 200), messages: env('TURN_PACED_MESSAGES', 1000), interval: 20 },
  { name: `heavy: ${env('TURN_HEAVY_CLIENTS', 50)} clients × 1000 msg/s`, clients: env('TURN_HEAVY_CLIENTS', 50), messages: env('TURN_HEAVY_MESSAGES', 20000), interval: 1 },
];
const VYTAL = resolve(env('VYTAL_TURNSERVER_BIN', join(BUILD, 'turn/bin/vytal-turnserver')));
const PLUGIN = resolve(env('VYTAL_TURN_PLUGIN', join(BUILD, 'turn_plugin/libvytal_turn.so')));
const STOCK = env('STOCK_TURNSERVER_BIN', 'turnserver');
const UCLIENT = env('UCLIENT_BIN', 'turnutils_uclient');
const SECRET = 'turn-bench-secret-6d0c1e2f';
const HOST = '127.0.0.1';
const HEADING = '## vytal-turnserver against stock coturn (issue 15)';
const LABEL = { vytal: 'vytal-turnserver', stock: 'stock turnserver' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (s) => process.stderr.write(`${s}\n`);

for (const f of [VYTAL, PLUGIN]) if (!existsSync(f)) throw new Error(`${f} is missing: build it (turn_plugin/build-turnserver.sh build/turn) or set its variable`);

// A port nobody holds on UDP (the probe binds it and lets go).
function udpBindable(port) {
  return new Promise((res) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => res(false));
    s.bind(port, HOST, () => s.close(() => res(true)));
  });
}

// Every process started here is killed if the benchmark itself fails; a
// `group` (detached, its own process group) is killed with its children.
function track(proc, group = false) {
  proc.killAll = () => {
    try {
      process.kill(group ? -proc.pid : proc.pid, 'SIGKILL');
    } catch {}
  };
  process.on('exit', proc.killAll);
  proc.once('exit', () => process.off('exit', proc.killAll));
  return proc;
}

// Runs a command in its own process group; resolves with { code, out }.
function run(command, args, timeoutMs) {
  return new Promise((res) => {
    const proc = track(spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true }), true);
    let out = '';
    proc.stdout.on('data', (c) => (out += c));
    proc.stderr.on('data', (c) => (out += c));
    const timer = setTimeout(proc.killAll, timeoutMs);
    proc.on('close', (code) => {
      clearTimeout(timer);
      res({ code, out });
    });
  });
}

function stop(proc, signal = 'SIGTERM', timeoutMs = 5000) {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.once('exit', () => {
      clearTimeout(timer);
      res();
    });
    proc.kill(signal);
  });
}

// `wrapper`: a command the server runs under (valgrind), exec'ing it in the same process.
async function startServer(kind, dir, wrapper = []) {
  let port;
  for (let i = 0; i < 20 && !port; i++) {
    const p = 34000 + Math.floor(Math.random() * 1000);
    if (await udpBindable(p)) port = p;
  }
  const args = [
    '-n', // no configuration file
    '--listening-ip', HOST, '--listening-port', String(port), '--relay-ip', HOST,
    '--min-port', '20000', '--max-port', '29999',
    '--use-auth-secret', '--realm', 'bench.test',
    '--no-cli', '--no-tls', '--no-dtls',
    '--log-file', join(dir, 'turn.log'), '--simple-log', '--no-stdout-log',
    '--allow-loopback-peers', '--no-multicast-peers',
    '--pidfile', join(dir, 'turn.pid'), '--db', join(dir, 'turndb'),
  ];
  let sink;
  if (kind === 'vytal') {
    writeFileSync(join(dir, 'keyring'), `current ${SECRET}\n`);
    const usage = join(dir, 'usage.sock');
    sink = track(spawn('python3', [join(ROOT, 'bench/turn/usage_sink.py'), usage], { stdio: ['ignore', 'pipe', 'inherit'] }));
    sink.output = '';
    sink.stdout.on('data', (c) => (sink.output += c));
    for (let i = 0; i < 100 && !sink.output.includes('ready'); i++) await sleep(20);
    args.push(`--plugin=${PLUGIN}`, `--plugin-config=keyring=${join(dir, 'keyring')};revoked=${join(dir, 'revoked')};usage=${usage}`);
  } else {
    args.push(`--static-auth-secret=${SECRET}`);
  }
  const binary = kind === 'vytal' ? VYTAL : STOCK;
  const command = wrapper.length ? [...wrapper, binary] : [binary];
  const proc = track(spawn(command[0], [...command.slice(1), ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  proc.stderr.on('data', (c) => (stderr += c));
  // Listening once its UDP port shows in /proc/net/udp (looked up, not bound).
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (let i = 0; i < (wrapper.length ? 2400 : 200); i++) {
    if (proc.exitCode !== null || readFileSync('/proc/net/udp', 'utf8').includes(` ${local} `)) break;
    await sleep(25);
  }
  if (proc.exitCode !== null) throw new Error(`${kind} turnserver exited with ${proc.exitCode}: ${stderr}`);
  await sleep(300);
  return { proc, port, sink };
}

// Delivered messages/s from uclient's once-a-second counters: the median of
// the per-second deliveries from the first second anything was sent to the
// second the last message was sent. uclient starts each client 1 to 6 s after
// connecting, so the median is taken where most clients overlap.
function parseUclient(out) {
  const lines = [...out.matchAll(/^(\d+): : start_mclient: msz=\d+, tot_send_msgs=(\d+), tot_recv_msgs=(\d+)/gm)].map((m) => m.slice(1).map(Number));
  const final = out.match(/^(\d+): : start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)/m);
  if (!final) return null;
  const [, sentAll, receivedAll] = final.slice(1).map(Number);
  lines.push(final.slice(1).map(Number)); // the end, when nothing was lost (no wait for stragglers)
  const first = lines.findIndex(([, s]) => s > 0);
  const last = lines.findIndex(([, s]) => s === sentAll);
  const perSecond = [];
  for (let i = Math.max(first, 1); i <= last; i++) {
    const dt = lines[i][0] - lines[i - 1][0];
    if (dt > 0) perSecond.push((lines[i][2] - lines[i - 1][2]) / dt);
  }
  return { sent: sentAll, received: Math.min(receivedAll, sentAll), rate: median(perSecond) };
}

const PERF = (() => {
  try {
    execFileSync('perf', ['stat', '-x,', '-e', 'raw_syscalls:sys_enter', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

// Counts the system calls of every thread of `pid` until the returned function is called.
function countSyscalls(pid) {
  if (!PERF) return async () => NaN;
  const perf = track(spawn('perf', ['stat', '-x,', '-e', 'raw_syscalls:sys_enter', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let err = '';
  perf.stderr.on('data', (c) => (err += c));
  return async () => {
    await stop(perf, 'SIGINT');
    return Number(err.match(/^(\d+),[^\n]*raw_syscalls:sys_enter/m)?.[1] ?? NaN);
  };
}

// Runs uclient's load against `server`; resolves with its parsed counts, its
// CPU time and the run's wall-clock seconds.
async function loadServer(kind, server, load) {
  const t0 = performance.now();
  const args = ['-y', '-c', '-m', String(load.clients), '-n', String(load.messages), '-l', String(LENGTH), '-z', String(load.interval),
    '-W', SECRET, '-u', 'bench', '-p', String(server.port), HOST];
  // The shell that waited for uclient holds its CPU time (cutime, cstime): printed last.
  const r = await run('sh', ['-c', '"$@"; s=$?; echo; cat /proc/$$/stat; exit $s', 'sh', UCLIENT, ...args], 180000);
  const wall = (performance.now() - t0) / 1000;
  const u = parseUclient(r.out);
  if (!u || u.received === 0) throw new Error(`${kind}: uclient failed (exit ${r.code}):\n${r.out.slice(-2000)}`);
  return { ...u, lostPct: (100 * (u.sent - u.received)) / u.sent, wall, clientCpu: statCpuMicros(r.out.trimEnd().split('\n').at(-1)).children };
}

async function stopSink(server) {
  if (!server.sink) return NaN;
  await sleep(200);
  await stop(server.sink);
  return Number(server.sink.output.match(/datagrams (\d+)/)?.[1] ?? 0);
}

// Starts a server in a folder of its own (under `wrapper(dir)`, if given),
// runs `body` with it, and kills what is left and removes the folder
// whatever happened.
async function withServer(kind, wrapper, body) {
  const dir = mkdtempSync(join(tmpdir(), 'vytal-turn-bench-'));
  const server = await startServer(kind, dir, wrapper ? wrapper(dir) : []);
  try {
    return await body(server, dir);
  } finally {
    await stop(server.proc, 'SIGKILL');
    if (server.sink) await stop(server.sink, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

function oneRun(kind, load) {
  return withServer(kind, null, async (server) => {
    const cpu0 = cpuMicros(server.proc.pid);
    const busy0 = machineBusyMicros();
    const syscalls = countSyscalls(server.proc.pid);
    const u = await loadServer(kind, server, load);
    const calls = await syscalls();
    const cpu = cpuMicros(server.proc.pid) - cpu0;
    const busy = machineBusyMicros() - busy0;
    const hwm = Number(readFileSync(`/proc/${server.proc.pid}/status`, 'utf8').match(/VmHWM:\s+(\d+)/)[1]);
    await stop(server.proc);
    return {
      rate: u.rate,
      received: u.received,
      lostPct: u.lostPct,
      cpuPerMsg: cpu / u.received,
      syscallsPerMsg: calls / u.received,
      cores: cpu / 1e6 / u.wall,
      clientCores: u.clientCpu / 1e6 / u.wall,
      busyCores: busy / 1e6 / u.wall,
      hwm,
      usage: await stopSink(server),
    };
  });
}

// The instructions one life of the server executes under cachegrind, from
// start to SIGTERM, with `load` run against it (none: started and stopped).
function countInstructions(kind, load) {
  const out = (dir) => join(dir, 'cachegrind.out');
  const cachegrind = (dir) => ['valgrind', '--tool=cachegrind', '--cache-sim=no', '--branch-sim=no', `--cachegrind-out-file=${out(dir)}`, '-q'];
  return withServer(kind, cachegrind, async (server, dir) => {
    const u = load ? await loadServer(kind, server, load) : null;
    await stop(server.proc, 'SIGTERM', 60000);
    const usage = await stopSink(server);
    const instructions = Number(readFileSync(out(dir), 'utf8').match(/^summary: (\d+)/m)?.[1]);
    if (!Number.isFinite(instructions)) throw new Error(`${kind}: no instruction count in ${out(dir)}`);
    return { instructions, received: u?.received ?? 0, lostPct: u?.lostPct ?? 0, usage };
  });
}

// ---------------------------------------------------------------- run

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130)); // runs the 'exit' cleanups

const started = new Date();
const load0 = loadavg();
const KINDS = ['vytal', 'stock'];
const runs = Object.fromEntries(LOADS.map((l) => [l.name, { vytal: [], stock: [] }]));
// The order flips every round (ours first, then stock first): when the
// machine speeds up or slows down over the run, as VMs do, the drift falls on
// both servers alike instead of always favouring the one that runs second.
const orderOf = (round) => (round % 2 ? KINDS : [...KINDS].reverse());
for (let round = 1; round <= ROUNDS; round++) {
  for (const load of LOADS) {
    for (const kind of orderOf(round)) {
      const r = await oneRun(kind, load);
      runs[load.name][kind].push(r);
      log(`round ${round} ${load.name} ${kind}: ${JSON.stringify(r, (k, v) => (typeof v === 'number' ? Number(v.toFixed(2)) : v))}`);
    }
  }
}
// Instruction counts: alternating too, though they barely move between rounds.
const counts = Object.fromEntries(IR_LOADS.map((l) => [l.name, { vytal: [], stock: [] }]));
const idle = { vytal: [], stock: [] };
for (let round = 1; round <= IR_ROUNDS; round++) {
  for (const kind of orderOf(round)) {
    const base = await countInstructions(kind, null);
    idle[kind].push(base.instructions);
    for (const load of IR_LOADS) {
      const c = await countInstructions(kind, load);
      c.perMsg = (c.instructions - base.instructions) / c.received;
      counts[load.name][kind].push(c);
      log(`instructions round ${round} ${load.name} ${kind}: ${JSON.stringify({ ...c, idle: base.instructions }, (k, v) => (typeof v === 'number' ? Number(v.toFixed(1)) : v))}`);
    }
  }
}
const load1 = loadavg();

const fmt = (v, d = 0) => (Number.isFinite(v) ? v.toFixed(d) : '–');
const rows = [
  '| load | server | delivered msg/s | lost % | server CPU µs/msg | system calls/msg | server CPU (cores) | server peak RSS KiB | usage datagrams | uclient CPU (cores) | machine busy (cores) |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
];
for (const load of LOADS) {
  const m = (kind, key) => median(runs[load.name][kind].map((r) => r[key]));
  for (const kind of KINDS) {
    rows.push(`| ${kind === 'vytal' ? load.name : ''} | ${LABEL[kind]} | ${fmt(m(kind, 'rate'))} | ${fmt(m(kind, 'lostPct'), 2)} | ${fmt(m(kind, 'cpuPerMsg'), 2)} | ${fmt(m(kind, 'syscallsPerMsg'), 2)} | ${fmt(m(kind, 'cores'), 2)} | ${fmt(m(kind, 'hwm'))} | ${kind === 'vytal' ? fmt(m(kind, 'usage')) : '(none)'} | ${fmt(m(kind, 'clientCores'), 2)} | ${fmt(m(kind, 'busyCores'), 2)} |`);
  }
  // Ratios of medians; "stock/ours" for CPU so that above 1 is better for us, like throughput.
  const ratio = (a, b) => (Number.isFinite(a / b) ? `${(a / b).toFixed(3)}x` : '–');
  rows.push(`| | **ours/stock** | **${ratio(m('vytal', 'rate'), m('stock', 'rate'))}** | | CPU efficiency stock/ours: **${ratio(m('stock', 'cpuPerMsg'), m('vytal', 'cpuPerMsg'))}** | stock/ours: ${ratio(m('stock', 'syscallsPerMsg'), m('vytal', 'syscallsPerMsg'))} | | ${ratio(m('vytal', 'hwm'), m('stock', 'hwm'))} | | | |`);
}
const series = (load, kind, key) => runs[load.name][kind].map((r) => r[key]);
const pairRows = [
  '| ours/stock, round by round: median (min–max) | delivered msg/s | CPU efficiency stock/ours |',
  '| --- | --- | --- |',
  ...LOADS.map((l) => `| ${l.name} | ${pairedRatios(series(l, 'vytal', 'rate'), series(l, 'stock', 'rate'))} | ${pairedRatios(series(l, 'stock', 'cpuPerMsg'), series(l, 'vytal', 'cpuPerMsg'))} |`),
];
const irRows = [
  '| load under cachegrind | server | messages delivered | lost % | instructions, started and stopped with no load | instructions per message | usage datagrams |',
  '| --- | --- | --- | --- | --- | --- | --- |',
];
for (const load of IR_LOADS) {
  const m = (kind, key) => median(counts[load.name][kind].map((c) => c[key]));
  for (const kind of KINDS)
    irRows.push(`| ${kind === 'vytal' ? load.name : ''} | ${LABEL[kind]} | ${fmt(m(kind, 'received'))} | ${fmt(m(kind, 'lostPct'), 2)} | ${fmt(median(idle[kind]))} | ${fmt(m(kind, 'perMsg'))} | ${kind === 'vytal' ? fmt(m(kind, 'usage')) : '(none)'} |`);
  const all = (kind) => counts[load.name][kind].map((c) => c.perMsg.toFixed(0)).join(', ');
  irRows.push(`| | **instruction efficiency stock/ours** | | | | **${(m('stock', 'perMsg') / m('vytal', 'perMsg')).toFixed(3)}x** (rounds: ours ${all('vytal')}; stock ${all('stock')}) | |`);
}
const table = `${rows.join('\n')}\n\n${pairRows.join('\n')}${IR_ROUNDS > 0 ? `\n\n${irRows.join('\n')}` : ''}`;
console.log(table);

if (process.env.TURN_DOC) {
  const git = (...a) => execFileSync('git', a, { cwd: ROOT, encoding: 'utf8' }).trim();
  const commit = git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '--untracked-files=no', '--', '.', ':!docs/BENCHMARKS.md') ? ' (with uncommitted changes)' : '');
  const stockVersion = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'coturn'], { encoding: 'utf8' }).trim();
  const body = `\`bench/turn/run.sh ${ROUNDS}\` — measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC at commit ${commit}
on ${cpus().length} vCPUs (${cpus()[0].model.trim()}), Linux ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()};
load average ${load0[0].toFixed(2)} at the start, ${load1[0].toFixed(2)} at the end.

vytal-turnserver (coturn 4.6.1 built by \`turn_plugin/build-turnserver.sh\`, RelWithDebInfo, with
\`libvytal_turn.so\` loaded: key ring, revocation file, usage reports to a Unix datagram socket read by
\`bench/turn/usage_sink.py\`) against Debian's \`turnserver\` (coturn ${stockVersion}) with the same flags otherwise
(\`bench/turn/turn.mjs\`: loopback, REST credentials with one secret, relay ports 20000–29999, no TLS/DTLS,
non-verbose log to a file, allow-loopback-peers for this benchmark only; default threads: one relay thread per CPU).
Load: Debian's \`turnutils_uclient -y -c -l ${LENGTH}\` (client to client: each message crosses two allocations of
the server), paced (\`-z 20\`, RTP-like) and heavy (\`-z 1\`). Each run against a fresh server; the
servers alternate within each round, ours first in odd rounds and stock first in even ones; medians of ${ROUNDS} rounds. Delivered msg/s: the median of uclient's
once-a-second receive counts from the first to the last second of sending (uclient starts each client 1 to 6 s
after connecting; the median falls where they overlap). Server CPU: utime + stime from \`/proc/<pid>/stat\`
over the uclient run (connecting and the staggered start included, for the cores column), divided by the messages
delivered. CPU efficiency stock/ours above 1: ours spends less CPU per message. System calls/msg: every thread's
system calls over the uclient run (perf's \`raw_syscalls:sys_enter\` tracepoint), per message delivered. Machine busy: all the machine's busy time (\`/proc/stat\`)
in cores, of 2: what is beyond the server and uclient is other users' work on this shared machine (and kernel
work no process was charged for).
${IR_ROUNDS > 0 ? `
The last table: each server run under valgrind's cachegrind (\`--cache-sim=no\`), which counts the instructions
the process executes in user space, the same for the same work whatever else the machine does. Smaller loads
of the same kinds (under cachegrind the server runs many times slower), ${IR_ROUNDS} alternating rounds, medians;
instructions per message: (one life with the load − one life started and stopped with no load) / messages delivered.
The kernel's part of the CPU is compared by the system calls per message above.
` : ''}
${table}`;
  writeSection(process.env.TURN_DOC, HEADING, body);
  log(`wrote the table into ${process.env.TURN_DOC}`);
}
