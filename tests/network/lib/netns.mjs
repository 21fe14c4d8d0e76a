// Network namespaces, veth pairs and nftables for the network test bed.
//
// Every namespace is named "vytalnet-<pid>-<role>", so runs never collide and
// a namespace left by a run that was SIGKILLed (its pid gone) is recognised
// and removed by the next run. Veth pairs are created with both ends directly
// inside their namespaces (nothing appears in the host's namespace, no name
// can clash with anyone else's); deleting a namespace deletes its links and
// nftables tables. Processes started in a namespace are tracked by PID and
// killed before their namespace is deleted.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { onExit, stopChild, track } from '../../integration/lib/children.mjs';

const PREFIX = 'vytalnet';
const RUN = `${PREFIX}-${process.pid}`;
const created = new Set();

function run(cmd, args, { input, quiet = false } = {}) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    if (quiet) return null;
    throw new Error(`${cmd} ${args.join(' ')} failed (${e.status}): ${e.stderr || e.message}${input ? `\n--- input ---\n${input}` : ''}`);
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

// `ip netns exec NAME` bind-mounts the files of /etc/netns/NAME/ over /etc
// for the program it runs: that is how a namespace gets its own resolv.conf.
const ETC = '/etc/netns';

function remove(name) {
  run('ip', ['netns', 'del', name], { quiet: true });
  rmSync(`${ETC}/${name}`, { recursive: true, force: true });
}

// Namespaces (and their /etc/netns folders) of earlier runs of this test bed
// whose process is gone.
export function removeStale() {
  const removed = [];
  for (const dir of ['/run/netns', ETC]) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const m = name.match(/^vytalnet-(\d+)-/);
      if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) {
        remove(name);
        removed.push(name);
      }
    }
  }
  return [...new Set(removed)];
}

export function destroyAll() {
  for (const name of [...created].reverse()) {
    remove(name);
    created.delete(name);
  }
}
onExit(destroyAll);

export class Namespace {
  constructor(role) {
    this.role = role;
    this.name = `${RUN}-${role}`;
    this.procs = new Set();
    run('ip', ['netns', 'add', this.name]);
    created.add(this.name);
    this.exec('ip', 'link', 'set', 'lo', 'up');
    // No router advertisements or DAD delays: every address is static.
    this.sysctl('net.ipv6.conf.all.accept_ra', '0');
    this.sysctl('net.ipv6.conf.default.accept_ra', '0');
    this.sysctl('net.ipv6.conf.default.accept_dad', '0');
  }

  exec(cmd, ...args) {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args]);
  }

  execInput(input, cmd, ...args) {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], { input });
  }

  tryExec(cmd, ...args) {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], { quiet: true });
  }

  sysctl(key, value) {
    this.exec('sysctl', '-q', '-w', `${key}=${value}`);
  }

  router() {
    this.sysctl('net.ipv4.ip_forward', '1');
    this.sysctl('net.ipv6.conf.all.forwarding', '1');
    return this;
  }

  addr(dev, cidr) {
    this.exec('ip', ...(cidr.includes(':') ? ['-6'] : []), 'addr', 'add', cidr, 'dev', dev, ...(cidr.includes(':') ? ['nodad'] : []));
  }

  route(dest, via) {
    this.exec('ip', ...(via.includes(':') ? ['-6'] : []), 'route', 'replace', dest, 'via', via);
  }

  // Replaces the namespace's whole nftables ruleset.
  nft(ruleset) {
    this.execInput(`flush ruleset\n${ruleset}\n`, 'nft', '-f', '-');
  }

  nftCommand(...args) {
    this.exec('nft', ...args);
  }

  ruleset() {
    return this.exec('nft', 'list', 'ruleset');
  }

  // The resolver the namespace's programs use (its own /etc/resolv.conf).
  resolvConf(nameservers) {
    mkdirSync(`${ETC}/${this.name}`, { recursive: true });
    writeFileSync(`${ETC}/${this.name}/resolv.conf`,
      `${nameservers.map((n) => `nameserver ${n}`).join('\n')}\n`);
  }

  // A process inside the namespace (`ip netns exec` execs it: the PID is the program's).
  spawn(cmd, args, opts = {}) {
    const proc = track(spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts }));
    this.procs.add(proc);
    proc.on('exit', () => this.procs.delete(proc));
    return proc;
  }

  async destroy() {
    await Promise.all([...this.procs].map((p) => stopChild(p)));
    remove(this.name);
    created.delete(this.name);
  }
}

// A veth pair between two namespaces, each end named in its own namespace.
export function link(a, aDev, b, bDev, { mtu } = {}) {
  run('ip', ['link', 'add', 'name', aDev, 'netns', a.name, 'type', 'veth', 'peer', 'name', bDev, 'netns', b.name]);
  for (const [ns, dev] of [[a, aDev], [b, bDev]]) {
    if (mtu) ns.exec('ip', 'link', 'set', dev, 'mtu', String(mtu));
    ns.exec('ip', 'link', 'set', dev, 'up');
  }
}
