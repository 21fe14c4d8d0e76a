// A site's DNS resolver for the test bed, run inside a router's namespace:
//   node dns_server.mjs ZONE_FILE ADDRESS...
// answers A and AAAA queries over UDP port 53 on each ADDRESS from ZONE_FILE
// ({"name": {"A": ["ip", ...], "AAAA": [...]}, ...}, read again for every
// query, so the test can change it); NXDOMAIN for every other name. Browsers
// look up the TURN server's name themselves (see docs/NETWORKS.md): without
// a resolver every lookup times out, which no real clinic has.
import dgram from 'node:dgram';
import net from 'node:net';
import { readFileSync } from 'node:fs';

const [zoneFile, ...addresses] = process.argv.slice(2);
const TYPES = { 1: 'A', 28: 'AAAA' };

function zone() {
  try {
    return JSON.parse(readFileSync(zoneFile, 'utf8'));
  } catch {
    return {};
  }
}

function parseQuestion(msg) {
  let i = 12;
  const labels = [];
  while (i < msg.length && msg[i] !== 0) {
    if (msg[i] > 63) return null; // no compression in questions
    labels.push(msg.subarray(i + 1, i + 1 + msg[i]).toString('latin1'));
    i += 1 + msg[i];
  }
  if (i + 5 > msg.length) return null;
  return { name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(i + 1), end: i + 5 };
}

function rdata(type, ip) {
  if (type === 'A') return Buffer.from(ip.split('.').map(Number));
  // AAAA: expand "::" and write eight 16-bit groups.
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, null];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === null ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, k) => b.writeUInt16BE(parseInt(g || '0', 16), 2 * k));
  return b;
}

function answer(msg) {
  if (msg.length < 17 || msg.readUInt16BE(4) !== 1) return null;
  const q = parseQuestion(msg);
  if (!q) return null;
  const records = zone()[q.name];
  const type = TYPES[q.type];
  const ips = records && type ? records[type] ?? [] : [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(msg.readUInt16BE(0), 0); // id
  const rd = msg.readUInt16BE(2) & 0x0100;
  header.writeUInt16BE(0x8000 | 0x0400 | rd | 0x0080 | (records ? 0 : 3), 2); // QR AA RD RA, NXDOMAIN
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(ips.length, 6);
  const parts = [header, msg.subarray(12, q.end)];
  for (const ip of ips) {
    const data = rdata(type, ip);
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // the question's name
    rr.writeUInt16BE(q.type, 2);
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(60, 6);
    rr.writeUInt16BE(data.length, 10);
    parts.push(rr, data);
  }
  return Buffer.concat(parts);
}

for (const address of addresses) {
  const s = dgram.createSocket(net.isIPv6(address) ? 'udp6' : 'udp4');
  s.on('message', (msg, rinfo) => {
    const reply = answer(msg);
    if (reply) s.send(reply, rinfo.port, rinfo.address);
  });
  s.on('error', (e) => {
    console.error(`dns ${address}: ${e.message}`);
    process.exit(1);
  });
  s.bind(53, address, () => console.log(`dns listening on ${address}:53`));
}
