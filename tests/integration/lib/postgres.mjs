// A throwaway PostgreSQL 15 for the sync tests: its own data directory in a
// temporary folder, a free loopback port, the socket in that folder, trust
// authentication on loopback only. initdb refuses root, so as root the server
// binaries run as the postgres user (runuser) and the folder is theirs.
//
// startPostgres() resolves with { host, port, dir, dataDir, user, query(sql, db),
// queryAsync(sql, db), createDatabase(name), stop(), start(), kill(), cleanup(),
// log() }. Every wait has a timeout; a server still running when the Node process
// exits is stopped (immediate mode) and its folder removed.
import { execFileSync, execFile, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PG_BIN = process.env.VYTAL_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const HOST = '127.0.0.1';
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

const sleepSync = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Runs a server binary, as postgres when we are root. Throws with its output on failure.
function runPg(bin, args, { timeoutMs = 60000 } = {}) {
  const cmd = isRoot ? 'runuser' : join(PG_BIN, bin);
  const argv = isRoot ? ['-u', 'postgres', '--', join(PG_BIN, bin), ...args] : args;
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}`;
    throw new Error(`${bin} ${args.join(' ')}: ${why}\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  }
  return r.stdout;
}

// A port nobody listens on right now (the server binds it a moment later;
// start() retries with another port if it was taken in between).
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

// Children of pid, from /proc (the postmaster's backends and helpers).
function childPids(pid) {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const live = new Set();
// Interrupted (Ctrl-C, the runner's timeout): exit normally so the handler below runs.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 })[sig]));
}
process.on('exit', () => {
  for (const pg of live) {
    try {
      pg.stopSync('immediate');
    } catch {
      // best effort
    }
    try {
      rmSync(pg.dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
});

// durable: keep PostgreSQL's defaults for fsync and synchronous commit (benchmarks).
// ssl: { certFile, keyFile }: TLS on, with that pair (copied into the folder,
// the key made 0600 for the server's user), and loopback TCP only over TLS.
export async function startPostgres({ startTimeoutMs = 30000, durable = false, ssl = null } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'vytal-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  if (isRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  runPg('initdb', ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']);
  // Loopback only: no other address is ever listened on or trusted.
  writeFileSync(
    join(dir, 'hba.conf'),
    `local all all trust\n${ssl ? 'hostssl' : 'host'} all all 127.0.0.1/32 trust\n`,
  );
  if (ssl) {
    copyFileSync(ssl.certFile, join(dir, 'server.crt'));
    copyFileSync(ssl.keyFile, join(dir, 'server.key'));
    chmodSync(join(dir, 'server.key'), 0o600);
  }
  if (isRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(join(dir, 'hba.conf'), uid, gid);
    if (ssl) for (const f of ['server.crt', 'server.key']) chownSync(join(dir, f), uid, gid);
  }

  const pg = {
    host: HOST,
    port: 0,
    dir,
    dataDir,
    user: 'postgres',
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),

    // psql -X -q -At -F'|': rows on lines, columns separated by |. Throws on error.
    query(sql, db = 'postgres') {
      return execFileSync('psql', pg.psqlArgs(db), {
        input: sql,
        encoding: 'utf8',
        maxBuffer: 512 * 1024 * 1024,
        timeout: 60000,
        env: { ...process.env, PGCONNECT_TIMEOUT: '5' },
      }).replace(/\n$/, '');
    },
    // The same without blocking the event loop (for queries while clients run).
    queryAsync(sql, db = 'postgres') {
      return new Promise((resolve, reject) => {
        const child = execFile(
          'psql',
          pg.psqlArgs(db),
          { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024, timeout: 60000, env: { ...process.env, PGCONNECT_TIMEOUT: '5' } },
          (err, stdout, stderr) => (err ? reject(Object.assign(err, { stderr })) : resolve(stdout.replace(/\n$/, ''))),
        );
        child.stdin.end(sql);
      });
    },
    psqlArgs(db) {
      return ['-X', '-q', '-At', '-F', '|', '-v', 'ON_ERROR_STOP=1', '-h', HOST, '-p', String(pg.port), '-U', 'postgres', '-d', db, '-f', '-'];
    },
    createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name ${name}: use [a-z0-9_]`);
      pg.query(`CREATE DATABASE ${name}`);
      return name;
    },

    isReady() {
      const r = spawnSync('pg_isready', ['-q', '-h', HOST, '-p', String(pg.port), '-t', '2'], { timeout: 5000 });
      return r.status === 0;
    },
    waitReady(timeoutMs = startTimeoutMs) {
      const end = Date.now() + timeoutMs;
      while (!pg.isReady()) {
        if (Date.now() > end) throw new Error(`PostgreSQL on ${HOST}:${pg.port} not ready after ${timeoutMs} ms\n${pg.log().slice(-3000)}`);
        sleepSync(100);
      }
    },
    postmasterPid() {
      try {
        return Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      } catch {
        return 0;
      }
    },

    // Starts the server (again) on its port and data directory; waits until it accepts connections.
    async start() {
      for (let attempt = 0; ; attempt++) {
        if (!pg.port) pg.port = await freePort();
        const opts = [
          `-p ${pg.port}`,
          `-c listen_addresses=${HOST}`,
          `-k ${dir}`,
          `-c hba_file=${join(dir, 'hba.conf')}`,
          // A test server: no durability work, quick shutdown (benchmarks keep the defaults).
          ...(durable ? [] : ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off']),
          ...(ssl ? ['-c ssl=on', `-c ssl_cert_file=${join(dir, 'server.crt')}`, `-c ssl_key_file=${join(dir, 'server.key')}`] : []),
          '-c max_connections=50',
          '-c shared_buffers=64MB',
        ].join(' ');
        try {
          runPg('pg_ctl', ['-D', dataDir, '-l', logFile, '-o', opts, '-w', '-t', String(Math.ceil(startTimeoutMs / 1000)), 'start'], {
            timeoutMs: startTimeoutMs + 5000,
          });
          pg.waitReady();
          live.add(pg);
          return pg;
        } catch (e) {
          // The port was taken between freePort() and the bind: pick another (first start only).
          if (attempt < 3 && !pg.everStarted && /could not bind|Address already in use/i.test(pg.log() + e.message)) {
            pg.port = 0;
            continue;
          }
          throw e;
        } finally {
          if (pg.isReady()) pg.everStarted = true;
        }
      }
    },

    stopSync(mode = 'fast') {
      if (!pg.postmasterPid()) return;
      runPg('pg_ctl', ['-D', dataDir, '-m', mode, '-w', '-t', '30', 'stop'], { timeoutMs: 35000 });
    },
    // pg_ctl stop -m fast: clients are disconnected, the server shuts down cleanly.
    async stop() {
      pg.stopSync('fast');
      const end = Date.now() + 10000;
      while (pg.isReady() && Date.now() < end) await sleep(50);
      if (pg.isReady()) throw new Error('PostgreSQL still answers after pg_ctl stop');
    },
    // SIGKILL to the postmaster and its processes: a crash (start() recovers it).
    async kill() {
      const pid = pg.postmasterPid();
      if (!pid) return;
      const kids = childPids(pid);
      for (const p of [pid, ...kids]) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      const end = Date.now() + 10000;
      while ([pid, ...kids].some(pidAlive) && Date.now() < end) await sleep(50);
    },
    async cleanup() {
      try {
        pg.stopSync('immediate');
      } catch {
        await pg.kill();
      }
      live.delete(pg);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await pg.start();
  return pg;
}

// CREATE DATABASE name on a server from startPostgres().
export function createDatabase(pg, name) {
  return pg.createDatabase(name);
}
