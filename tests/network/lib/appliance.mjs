// The appliance inside a namespace, run as the package installs it: the
// package's appliance.conf (only its file paths moved into a temporary
// folder), a site.conf and secrets.conf as an admin writes them, nginx with
// the package's example site and stream files (only file paths replaced: the
// real ports 443, 80, 8443, 8444, 3000 and 5349 are free in the namespace),
// vytal-turnserver with the configuration `vytalctl turn-config` generates,
// and vytal-signald. Certificates come from the test's own CA.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stopChild } from '../../integration/lib/children.mjs';
import { BUILD_DIR, VYTALCTL, SIGNALD, JWT_SECRET, hs256, claims } from '../../integration/lib/signald.mjs';

const REPO = resolve(new URL('../../..', import.meta.url).pathname);
export const TURN_BIN_DIR = resolve(process.env.VYTAL_TURN_BIN_DIR ?? join(BUILD_DIR, 'turn/bin'));
export const TURNSERVER = join(TURN_BIN_DIR, 'vytal-turnserver');
export const PLUGIN = join(BUILD_DIR, 'turn_plugin/libvytal_turn.so');
export const NGINX = process.env.VYTAL_NGINX ?? '/usr/sbin/nginx';
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';
export const APP = 'appliance.example.org';
export const TURN_NAME = 'turn.example.org';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function openssl(args) {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

// The test's CA and a certificate for both names signed by it.
export function makeCa(dir) {
  mkdirSync(dir, { recursive: true });
  const ca = { crt: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', ca.key, '-out', ca.crt,
    '-days', '2', '-subj', '/CN=VytalWatch network test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const leaf = { crt: join(dir, 'appliance.crt'), key: join(dir, 'appliance.key') };
  const csr = join(dir, 'appliance.csr');
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', leaf.key, '-out', csr,
    '-subj', `/CN=${APP}`]);
  const ext = join(dir, 'ext.cnf');
  writeFileSync(ext, `subjectAltName=DNS:${APP},DNS:${TURN_NAME}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.crt, '-CAkey', ca.key, '-CAcreateserial', '-out', leaf.crt, '-days', '2',
    '-extfile', ext]);
  return { ca, leaf };
}

// Replaces each key everywhere; each must occur (a changed example file fails
// here instead of silently using a system path).
function substitute(text, map, file) {
  let out = text;
  for (const [from, to] of Object.entries(map)) {
    if (!out.includes(from)) throw new Error(`${file}: expected "${from}" in the shipped file`);
    out = out.split(from).join(to);
  }
  return out;
}

function conf(entries) {
  return Object.entries(entries).filter(([, v]) => v !== undefined && v !== null).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n';
}

async function waitFor(get, re, ms, proc) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (re.test(get())) return true;
    if (proc && proc.exitCode !== null) return false;
    await sleep(50);
  }
  return re.test(get());
}

function capture(proc) {
  const out = { text: '' };
  for (const s of [proc.stdout, proc.stderr]) {
    s?.setEncoding('utf8');
    s?.on('data', (c) => {
      out.text += c;
      if (out.text.length > 4e6) out.text = out.text.slice(-2e6);
    });
  }
  return out;
}

export class Appliance {
  // ns: the namespace; dir: its files; certs: makeCa()'s; site: site.conf keys
  // (addresses and URLs, as the admin sets them for this network).
  constructor(ns, dir, certs, site) {
    this.ns = ns;
    this.dir = dir;
    this.certs = certs;
    this.site = site;
    for (const sub of ['etc', 'tls', 'data/turn', 'run', 'logs', 'webroot', 'nginx-temp']) mkdirSync(join(dir, sub), { recursive: true });
    this.dataDir = join(dir, 'data');
  }

  writeConfig() {
    const d = this.dir;
    const shipped = join(REPO, 'packaging/etc/appliance.conf');
    const appliance = substitute(readFileSync(shipped, 'utf8'), {
      '/var/lib/vytalwatch': join(d, 'data'),
      '/run/vytalwatch': join(d, 'run'),
      '/usr/lib/vytalwatch/libvytal_turn.so': PLUGIN,
      '/etc/vytalwatch/tls': join(d, 'tls'),
    }, shipped);
    writeFileSync(join(d, 'etc/appliance.conf'), appliance);
    writeFileSync(join(d, 'etc/site.conf'), conf(this.site));
    writeFileSync(join(d, 'etc/secrets.conf'), conf({ JWT_SECRET }));
    for (const name of ['https', 'turn']) {
      writeFileSync(join(d, `tls/${name}.crt`), readFileSync(this.certs.leaf.crt));
      writeFileSync(join(d, `tls/${name}.key`), readFileSync(this.certs.leaf.key), { mode: 0o600 });
    }
    this.configArgs = ['--config', join(d, 'etc/appliance.conf'), '--config', join(d, 'etc/site.conf'), '--config', join(d, 'etc/secrets.conf')];
  }

  vytalctl(...args) {
    return execFileSync(VYTALCTL, [...this.configArgs.slice(0, 4), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  renderNginx() {
    const d = this.dir;
    const siteFile = join(REPO, 'packaging/nginx/vytalwatch-https.conf');
    const streamFile = join(REPO, 'packaging/nginx/vytalwatch-stream.conf');
    const logs = join(d, 'logs');
    const site = substitute(readFileSync(siteFile, 'utf8'), {
      '/etc/vytalwatch/tls/https.crt': join(d, 'tls/https.crt'),
      '/etc/vytalwatch/tls/https.key': join(d, 'tls/https.key'),
      '/var/www/letsencrypt': join(d, 'webroot'),
      '/var/log/nginx/vytalwatch-access.log': join(logs, 'vytalwatch-access.log'),
      '/var/log/nginx/vytalwatch-error.log': join(logs, 'vytalwatch-error.log'),
    }, siteFile);
    const stream = substitute(readFileSync(streamFile, 'utf8'), {
      '/var/log/nginx/vytalwatch-stream.log': join(logs, 'vytalwatch-stream.log'),
    }, streamFile);
    for (const [name, text] of [['site', site], ['stream', stream]]) {
      const left = text.replace(/#.*$/gm, '').match(/.*\/(etc|var)\/.*/);
      if (left) throw new Error(`${name}: a system path is left: ${left[0]}`);
    }
    const t = join(d, 'nginx-temp');
    for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(t, sub), { recursive: true });
    writeFileSync(join(d, 'etc/vytalwatch-site.conf'), site);
    writeFileSync(join(d, 'etc/vytalwatch-stream.conf'), stream);
    const main = join(d, 'etc/nginx.conf');
    writeFileSync(main, [
      `load_module ${STREAM_MODULE};`,
      'user root;', // the workers reach the 0700 temporary folder
      'worker_processes 1;',
      `pid ${join(d, 'run/nginx.pid')};`,
      `error_log ${join(logs, 'error.log')} info;`,
      'events { worker_connections 1024; }',
      'http {',
      `    access_log ${join(logs, 'access.log')};`,
      ...['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((s) => `    ${s === 'body' ? 'client_body' : s}_temp_path ${join(t, s)};`),
      `    include ${join(d, 'etc/vytalwatch-site.conf')};`,
      '}',
      `include ${join(d, 'etc/vytalwatch-stream.conf')};`,
      '',
    ].join('\n'));
    return main;
  }

  async start() {
    this.writeConfig();
    if (!existsSync(join(this.dataDir, 'turn/keyring'))) this.vytalctl('rotate-turn-secret');

    // signald first: it owns the usage socket vytal-turnserver's plugin sends to.
    this.signald = this.ns.spawn(SIGNALD, this.configArgs);
    this.signaldOut = capture(this.signald);
    if (!(await waitFor(() => this.signaldOut.text, /listening on http/, 10000, this.signald))) {
      throw new Error(`vytal-signald did not start:\n${this.signaldOut.text}`);
    }

    // As the unit does: generate, then run.
    const turnConf = join(this.dir, 'run/vytal-turnserver.conf');
    execFileSync(VYTALCTL, [...this.configArgs.slice(0, 4), 'turn-config', '--output', turnConf], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.turnConfig = readFileSync(turnConf, 'utf8');
    // VYTAL_NETWORK_TURN_VERBOSE=1: coturn's -v (every request in the log), for diagnosis.
    const verbose = process.env.VYTAL_NETWORK_TURN_VERBOSE === '1' ? ['-v'] : [];
    this.turn = this.ns.spawn(TURNSERVER, ['-c', turnConf, '--log-file=stdout', ...verbose]);
    this.turnOut = capture(this.turn);
    // Ready once its TLS port (nginx's TURN route) and UDP port listen (its log says so only with -v).
    const listening = () => {
      const tcp = this.ns.tryExec('ss', '-Hltn', 'sport = :5349') ?? '';
      const udp = this.ns.tryExec('ss', '-Hlun', 'sport = :3478') ?? '';
      return tcp.includes(':5349') && udp.includes(':3478') ? 'yes' : '';
    };
    if (!(await waitFor(listening, /yes/, 10000, this.turn))) {
      throw new Error(`vytal-turnserver did not start:\n${this.turnOut.text}\n--- config ---\n${this.turnConfig}`);
    }

    const main = this.renderNginx();
    this.nginxArgs = ['-p', `${this.dir}/`, '-c', main];
    this.ns.exec(NGINX, ...this.nginxArgs, '-t');
    this.nginx = this.ns.spawn(NGINX, [...this.nginxArgs, '-g', 'daemon off;']);
    this.nginxOut = capture(this.nginx);
    for (let i = 0; i < 100; i++) {
      const r = this.ns.tryExec('curl', '-sk', '--max-time', '2', '--resolve', `${APP}:443:127.0.0.1`, `https://${APP}/healthz`);
      if (r && r.includes('"ok"')) return this;
      await sleep(100);
    }
    throw new Error(`nginx did not come up:\n${this.nginxOut.text}\n${this.tail('logs/error.log')}`);
  }

  tail(file, lines = 40) {
    try {
      return readFileSync(join(this.dir, file), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(none)';
    }
  }

  // signald's REST API on its loopback port, from inside the namespace.
  api(method, path, body, tok = hs256(claims('network-platform', 'service'))) {
    const args = ['-sS', '--max-time', '10', '-X', method, '-H', `Authorization: Bearer ${tok}`, '-w', '\n%{http_code}'];
    if (body !== undefined) args.push('-H', 'Content-Type: application/json', '-d', JSON.stringify(body));
    const out = this.ns.exec('curl', ...args, `http://127.0.0.1:3000${path}`);
    const i = out.lastIndexOf('\n');
    const text = out.slice(0, i);
    let parsed;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { status: Number(out.slice(i + 1)), body: parsed, text };
  }

  sql(query) {
    return execFileSync('sqlite3', ['-readonly', '-batch', join(this.dataDir, 'calls.db'), query], { encoding: 'utf8' }).trim();
  }

  diagnostics() {
    return `\n--- nginx error log ---\n${this.tail('logs/error.log', 20)}\n--- stream log ---\n${this.tail('logs/vytalwatch-stream.log', 20)}` +
      `\n--- signald (tail) ---\n${this.signaldOut?.text.split('\n').slice(-30).join('\n')}` +
      `\n--- vytal-turnserver (tail) ---\n${this.turnOut?.text.split('\n').slice(-40).join('\n')}`;
  }

  async stop() {
    await stopChild(this.nginx);
    await Promise.all([stopChild(this.turn), stopChild(this.signald, 5000)]);
  }
}
