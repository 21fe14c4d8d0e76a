// The test bed's networks, documentation addresses only (RFC 5737, RFC 3849):
//
//   "internet" namespace: a bridge, 203.0.113.0/24 and 2001:db8:1::/64, with
//   an ISP router on it (203.0.113.1, 2001:db8:1::1) that routes the clinics'
//   IPv6 prefixes and nothing private.
//
//   appliance (public)  203.0.113.10, 2001:db8:1::10   on the internet bridge
//   hospital router     wan 203.0.113.2, lan 198.51.100.1/25, dmz 198.51.100.129/25
//     provider          198.51.100.10 (IPv4 only), NAT to 203.0.113.2
//     appliance (DMZ)   198.51.100.130, 1:1 NAT to 203.0.113.20 (scenario 6)
//   clinic router       wan 203.0.113.30, 2001:db8:1::30; lan 192.0.2.1/24, 2001:db8:2::1/64
//     patient           192.0.2.10 and/or 2001:db8:2::10
//
// Each site's router is also its resolver (lib/dns_server.mjs on its LAN
// address, the site's machines have it in their resolv.conf): it answers for
// the appliance's names from the zone the test writes, NXDOMAIN otherwise.
//
// Nothing is connected to the host's namespace: no packet can leave.
//
// Each router drops new inbound connections to itself (its input chain). Without
// that, a peer's early ICE check to the router's public address and port is
// local traffic: conntrack records it, and the inside host's own packet to that
// peer then gets another source port, so the NAT no longer keeps ports.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Namespace, link } from './netns.mjs';

const DNS_SERVER = new URL('./dns_server.mjs', import.meta.url).pathname;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const A = {
  isp4: '203.0.113.1',
  isp6: '2001:db8:1::1',
  app4: '203.0.113.10',
  app6: '2001:db8:1::10',
  hospWan4: '203.0.113.2',
  hospLan4: '198.51.100.1',
  prov4: '198.51.100.10',
  hospDmz4: '198.51.100.129',
  dmzApp4: '198.51.100.130',
  dmzPublic4: '203.0.113.20',
  clinicWan4: '203.0.113.30',
  clinicWan6: '2001:db8:1::30',
  clinicLan4: '192.0.2.1',
  clinicLan6: '2001:db8:2::1',
  pat4: '192.0.2.10',
  pat6: '2001:db8:2::10',
};

// Starts the site resolver in `router` on `addresses`; returns when it answers.
async function startResolver(router, zoneFile, addresses) {
  const proc = router.spawn(process.execPath, [DNS_SERVER, zoneFile, ...addresses]);
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  for (let i = 0; i < 100 && (out.match(/listening/g) ?? []).length < addresses.length; i++) {
    if (proc.exitCode !== null) break;
    await sleep(50);
  }
  if ((out.match(/listening/g) ?? []).length < addresses.length) throw new Error(`resolver did not start: ${out}`);
  return proc;
}

export class Internet {
  constructor(dir) {
    this.zoneFile = join(dir, 'zone.json');
    this.setZone({});
    this.ns = new Namespace('inet').router();
    this.ns.exec('ip', 'link', 'add', 'br0', 'type', 'bridge');
    this.ns.exec('ip', 'link', 'set', 'br0', 'up');
    this.ns.addr('br0', `${A.isp4}/24`);
    this.ns.addr('br0', `${A.isp6}/64`);
    this.ports = 0;
  }

  // What the sites' resolvers answer: { name: { A: [...], AAAA: [...] } }.
  setZone(zone) {
    writeFileSync(this.zoneFile, JSON.stringify(zone));
  }

  // A machine with public addresses on the internet (the appliance outside
  // any NAT): its namespace.
  addHost(role, cidrs) {
    const ns = new Namespace(role);
    this.attach(ns, 'eth0');
    for (const c of cidrs) ns.addr('eth0', c);
    ns.route('default', A.isp4);
    ns.route('default', A.isp6);
    return ns;
  }

  // Puts `dev` of `ns` on the internet bridge.
  attach(ns, dev) {
    const port = `p${this.ports++}`;
    link(this.ns, port, ns, dev);
    this.ns.exec('ip', 'link', 'set', port, 'master', 'br0');
  }
}

// The hospital: its router (NAT for the provider's LAN, 1:1 NAT for the DMZ)
// and the provider's machine.
export class Hospital {
  constructor(internet) {
    this.router = new Namespace('hosp').router();
    internet.attach(this.router, 'wan');
    this.router.addr('wan', `${A.hospWan4}/24`);
    this.router.route('default', A.isp4);
    this.provider = new Namespace('prov');
    link(this.router, 'lan', this.provider, 'eth0');
    this.router.addr('lan', `${A.hospLan4}/25`);
    this.provider.addr('eth0', `${A.prov4}/25`);
    this.provider.route('default', A.hospLan4);
    this.provider.resolvConf([A.hospLan4]);
    this.dmz = null;
    this.internet = internet;
  }

  async start() {
    await startResolver(this.router, this.internet.zoneFile, [A.hospLan4]);
    return this;
  }

  // A DMZ behind 1:1 NAT: returns the namespace the appliance runs in.
  addDmz() {
    this.dmz = new Namespace('dmz');
    link(this.router, 'dmz', this.dmz, 'eth0');
    this.router.addr('dmz', `${A.hospDmz4}/25`);
    this.dmz.addr('eth0', `${A.dmzApp4}/25`);
    this.dmz.route('default', A.hospDmz4);
    // The router answers ARP for the public address of the DMZ host.
    this.router.addr('wan', `${A.dmzPublic4}/32`);
    return this.dmz;
  }

  // symmetric: a new random port per flow (masquerade random,fully-random);
  // otherwise Linux's default, which keeps the source port when it can.
  configure({ symmetric = false } = {}) {
    const dmz = this.dmz !== null;
    this.router.nft(`
table ip nat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    ${dmz ? `ip daddr ${A.dmzPublic4} dnat to ${A.dmzApp4}` : ''}
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ${dmz ? `ip saddr ${A.dmzApp4} snat to ${A.dmzPublic4}` : ''}
    oifname "wan" ip saddr ${A.prov4} masquerade${symmetric ? ' random,fully-random' : ''}
  }
}
table inet filter {
  # Nothing from outside reaches the router itself.
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    iifname { "lo", "lan", "dmz" } accept
    meta l4proto { icmp, ipv6-icmp } accept
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "lan" accept
    iifname "dmz" accept
    ${dmz ? `ip daddr ${A.dmzApp4} accept` : ''}
  }
}`);
  }

  async destroy() {
    for (const ns of [this.provider, this.dmz, this.router]) await ns?.destroy();
  }
}

// A clinic: a router doing NAT (IPv4) and filtering, and the patient's machine.
// dns: what the clinic's resolver does with the appliance's names: 'resolves'
// (as the internet's DNS does), 'nxdomain' (an internal-only DNS, common where
// a proxy is the only way out) or 'drops' (queries go unanswered).
export class Clinic {
  constructor(internet, { v4 = true, v6 = false, dns = 'resolves' } = {}) {
    this.dns = dns;
    this.router = new Namespace('clinic').router();
    this.patient = new Namespace('pat');
    internet.attach(this.router, 'wan');
    link(this.router, 'lan', this.patient, 'eth0');
    this.router.addr('wan', `${A.clinicWan4}/24`);
    this.router.addr('wan', `${A.clinicWan6}/64`);
    this.router.route('default', A.isp4);
    this.router.route('default', A.isp6);
    internet.ns.route('2001:db8:2::/64', A.clinicWan6);
    if (v4) {
      this.router.addr('lan', `${A.clinicLan4}/24`);
      this.patient.addr('eth0', `${A.pat4}/24`);
      this.patient.route('default', A.clinicLan4);
    }
    if (v6) {
      this.router.addr('lan', `${A.clinicLan6}/64`);
      this.patient.addr('eth0', `${A.pat6}/64`);
      this.patient.route('default', A.clinicLan6);
    } else {
      this.patient.sysctl('net.ipv6.conf.all.disable_ipv6', '1');
    }
    this.resolvers = v4 ? [A.clinicLan4] : [A.clinicLan6];
    this.patient.resolvConf(this.resolvers);
    this.internet = internet;
  }

  async start() {
    if (this.dns === 'drops') return this;
    let zone = this.internet.zoneFile;
    if (this.dns === 'nxdomain') {
      zone = `${zone}.empty`;
      writeFileSync(zone, '{}');
    }
    await startResolver(this.router, zone, this.resolvers);
    return this;
  }

  // allow: the nft statements that let the LAN's new connections out (an
  // empty list lets nothing out); nat: 'keep-ports' (Linux's default) or
  // 'symmetric' (random, fully-random).
  configure({ allow, nat = 'keep-ports' }) {
    this.rules = { allow, nat };
    this.router.nft(`
table ip nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" masquerade${nat === 'symmetric' ? ' random,fully-random' : ''}
  }
}
table inet filter {
  # Nothing from outside reaches the router itself.
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
${this.dns === 'drops' ? '    udp dport 53 drop\n' : ''}    iifname { "lo", "lan" } accept
    meta l4proto { icmp, ipv6-icmp } accept
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
${allow.map((rule) => `    iifname "lan" oifname "wan" ${rule} accept`).join('\n')}
  }
}`);
  }

  // Mid-call change (scenario 8): from now on no UDP crosses the router, not
  // even on flows it already tracks.
  dropUdp() {
    this.router.nftCommand('insert', 'rule', 'inet', 'filter', 'forward', 'meta', 'l4proto', 'udp', 'counter', 'drop');
  }

  async destroy() {
    await this.patient.destroy();
    await this.router.destroy();
    this.internet.ns.tryExec('ip', '-6', 'route', 'del', '2001:db8:2::/64');
  }
}
