// Debian's squid as a clinic's only way out (scenario 7): CONNECT to port 443
// only, for the clinic's LAN only, no cache. It runs in the clinic router's
// namespace and resolves the appliance's names from its own hosts file (the
// namespaces have no DNS).
import { chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { stopChild } from '../../integration/lib/children.mjs';

const SQUID = '/usr/sbin/squid';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function startSquid(ns, dir, { listen, lan, hosts }) {
  mkdirSync(dir, { recursive: true });
  // squid drops to its own user (proxy) for logs and its pid file.
  const uid = Number(execFileSync('id', ['-u', 'proxy'], { encoding: 'utf8' }));
  const gid = Number(execFileSync('id', ['-g', 'proxy'], { encoding: 'utf8' }));
  chownSync(dir, uid, gid);
  writeFileSync(join(dir, 'hosts'), Object.entries(hosts).map(([name, ip]) => `${ip} ${name}`).join('\n') + '\n');
  const conf = join(dir, 'squid.conf');
  writeFileSync(conf, `# The clinic's proxy: CONNECT to 443 only.
http_port ${listen}
acl clinic src ${lan}
acl SSL_ports port 443
acl CONNECT method CONNECT
http_access allow clinic CONNECT SSL_ports
http_access deny all
hosts_file ${join(dir, 'hosts')}
dns_nameservers 127.0.0.1
cache deny all
cache_mem 8 MB
access_log stdio:${join(dir, 'access.log')}
cache_log ${join(dir, 'cache.log')}
cache_store_log none
pid_filename ${join(dir, 'squid.pid')}
coredump_dir ${dir}
cache_effective_user proxy
shutdown_lifetime 1 seconds
`);
  const proc = ns.spawn(SQUID, ['-N', '-f', conf]);
  let out = '';
  for (const s of [proc.stdout, proc.stderr]) s.on('data', (d) => (out += d));
  for (let i = 0; i < 100; i++) {
    let log = '';
    try {
      log = readFileSync(join(dir, 'cache.log'), 'utf8');
    } catch {}
    if (/Accepting HTTP Socket connections/.test(log)) {
      return { proc, dir, accessLog: () => { try { return readFileSync(join(dir, 'access.log'), 'utf8'); } catch { return ''; } }, stop: () => stopChild(proc) };
    }
    if (proc.exitCode !== null) break;
    await sleep(100);
  }
  let log = '';
  try {
    log = readFileSync(join(dir, 'cache.log'), 'utf8');
  } catch {}
  await stopChild(proc);
  throw new Error(`squid did not start:\n${out}\n${log}`);
}
