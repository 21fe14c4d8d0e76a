// Starts the real vytal-syncd for a test, like startSignald: configuration
// from the environment alone, /metrics on a port it picks (0), the URL read
// from its "syncd: metrics on http://...:<port>/metrics" log line.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BUILD_DIR, SANITIZER_ENV, stopProcess, tempDir } from './signald.mjs';

export const SYNCD = join(BUILD_DIR, 'syncd/vytal-syncd');

// The DATABASE_* keys for a server from startPostgres() and one database.
export function databaseEnv(pg, dbname) {
  return {
    DATABASE_HOST: pg.host,
    DATABASE_PORT: String(pg.port),
    DATABASE_NAME: dbname,
    DATABASE_USER: pg.user,
    DATABASE_SSLMODE: 'disable',
  };
}

// Resolves with { proc, port, metricsUrl, dataDir, stderr(), stop(), kill(),
// metrics(), metric(series) } once /metrics listens; rejects with its stderr
// if it exits first or does not start within 10 s.
export function startSyncd(env = {}, { dataDir = tempDir(), timeoutMs = 10000 } = {}) {
  const fullEnv = {
    PATH: process.env.PATH, ...SANITIZER_ENV,
    VYTAL_DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    VYTAL_BIND_ADDRESS: '127.0.0.1',
    VYTAL_SYNC_METRICS_PORT: '0',
    DATABASE_SSLMODE: 'disable',
    ...env,
  };
  for (const [k, v] of Object.entries(fullEnv)) if (v === undefined) delete fullEnv[k];
  const proc = spawn(SYNCD, [], { env: fullEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.setEncoding('utf8');
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`syncd did not start within ${timeoutMs} ms:\n${err}`));
    }, timeoutMs);
    proc.stderr.on('data', (chunk) => {
      err += chunk;
      const m = err.match(/syncd: metrics on http:\/\/([^/:]+):(\d+)\/metrics/);
      if (m && !proc.started) {
        proc.started = true;
        clearTimeout(timer);
        const port = Number(m[2]);
        const metricsUrl = `http://${m[1]}:${port}/metrics`;
        const handle = {
          proc,
          port,
          metricsUrl,
          dataDir,
          stderr: () => err,
          stop: () => stopProcess(proc, 'SIGTERM'),
          kill: () => stopProcess(proc, 'SIGKILL'),
          // Every series of /metrics as { 'name{labels}': value }.
          async metrics() {
            const text = await (await fetch(metricsUrl)).text();
            const out = {};
            for (const line of text.split('\n')) {
              if (!line || line.startsWith('#')) continue;
              const space = line.lastIndexOf(' ');
              out[line.slice(0, space)] = Number(line.slice(space + 1));
            }
            return out;
          },
          // One exact series; 0 when absent.
          async metric(series) {
            return (await handle.metrics())[series] ?? 0;
          },
        };
        resolvePromise(handle);
      }
    });
    proc.on('exit', (code, signal) => {
      if (!proc.started) {
        clearTimeout(timer);
        reject(Object.assign(new Error(`syncd exited with ${code ?? signal}:\n${err}`), { code, stderr: err }));
      }
    });
  });
}
