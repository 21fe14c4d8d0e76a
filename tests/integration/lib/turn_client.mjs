// A minimal TURN client (RFC 5766 / RFC 8656, long-term credentials) for one
// thing coturn's own tools cannot do safely: ask for permissions towards
// addresses that must never receive a packet. CreatePermission sends nothing
// to the peer; this client never sends Send indications or ChannelData.
import dgram from 'node:dgram';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import net from 'node:net';

const MAGIC = 0x2112a442;
const T = { ALLOCATE: 0x003, CREATE_PERMISSION: 0x008 };
const A = {
  USERNAME: 0x0006, MESSAGE_INTEGRITY: 0x0008, ERROR_CODE: 0x0009, REALM: 0x0014, NONCE: 0x0015,
  XOR_PEER_ADDRESS: 0x0012, REQUESTED_TRANSPORT: 0x0019, XOR_RELAYED_ADDRESS: 0x0016, REQUESTED_ADDRESS_FAMILY: 0x0017,
};

function attr(type, value) {
  const pad = (4 - (value.length % 4)) % 4;
  const b = Buffer.alloc(4 + value.length + pad);
  b.writeUInt16BE(type, 0);
  b.writeUInt16BE(value.length, 2);
  value.copy(b, 4);
  return b;
}

function xorAddress(ip, port, tid) {
  const v6 = net.isIPv6(ip);
  const b = Buffer.alloc(v6 ? 20 : 8);
  b.writeUInt8(v6 ? 2 : 1, 1);
  b.writeUInt16BE(port ^ (MAGIC >>> 16), 2);
  const raw = v6 ? ipv6Bytes(ip) : Buffer.from(ip.split('.').map(Number));
  const mask = Buffer.concat([Buffer.from([0x21, 0x12, 0xa4, 0x42]), tid]);
  for (let i = 0; i < raw.length; i++) b[4 + i] = raw[i] ^ mask[i];
  return b;
}

function ipv6Bytes(ip) {
  // Expand "::" and a trailing dotted IPv4 part.
  let s = ip;
  const v4 = s.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4) {
    const [a, b, c, d] = v4[1].split('.').map(Number);
    s = s.replace(v4[1], `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`);
  }
  const [head, tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined ? (tail ? tail.split(':') : []) : [];
  const groups = tail !== undefined ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function encode(method, attrs, key) {
  const tid = randomBytes(12);
  const body = Buffer.concat(attrs(tid));
  const header = Buffer.alloc(20);
  header.writeUInt16BE(method, 0); // request class
  header.writeUInt32BE(MAGIC, 4);
  tid.copy(header, 8);
  let msg = Buffer.concat([header, body]);
  if (key) {
    // MESSAGE-INTEGRITY over the message with its length covering the attribute (RFC 5389 15.4).
    msg.writeUInt16BE(body.length + 24, 2);
    const mac = createHmac('sha1', key).update(msg).digest();
    msg = Buffer.concat([msg, attr(A.MESSAGE_INTEGRITY, mac)]);
  }
  msg.writeUInt16BE(msg.length - 20, 2);
  return { msg, tid };
}

function decode(buf) {
  const type = buf.readUInt16BE(0);
  const attrs = {};
  for (let off = 20; off + 4 <= buf.length;) {
    const t = buf.readUInt16BE(off);
    const len = buf.readUInt16BE(off + 2);
    attrs[t] = buf.subarray(off + 4, off + 4 + len);
    off += 4 + len + ((4 - (len % 4)) % 4);
  }
  const cls = ((type & 0x0100) >> 7) | ((type & 0x0010) >> 4);
  const err = attrs[A.ERROR_CODE];
  return { cls, type, attrs, error: err ? err[2] * 100 + err[3] : 0, tid: buf.subarray(8, 20) };
}

// One UDP TURN client session: allocate({family}) then permit(ip) -> 'ok' | error code.
export async function turnSession({ host, port, username, password }) {
  const sock = dgram.createSocket('udp4');
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  const waiting = new Map();
  sock.on('message', (m) => {
    const d = decode(m);
    const w = waiting.get(d.tid.toString('hex'));
    if (w) w(d);
  });
  const request = (method, attrs, key) =>
    new Promise((resolve, reject) => {
      const { msg, tid } = encode(method, attrs, key);
      const timer = setTimeout(() => reject(new Error('TURN request timed out')), 3000);
      waiting.set(tid.toString('hex'), (d) => {
        clearTimeout(timer);
        resolve(d);
      });
      sock.send(msg, port, host);
    });
  let realm = '';
  let nonce = '';
  let key = null;
  const auth = () => [attr(A.USERNAME, Buffer.from(username)), attr(A.REALM, Buffer.from(realm)), attr(A.NONCE, Buffer.from(nonce))];
  const session = {
    async allocate(family = 'ipv4') {
      const base = () => [attr(A.REQUESTED_TRANSPORT, Buffer.from([17, 0, 0, 0])),
        ...(family === 'ipv6' ? [attr(A.REQUESTED_ADDRESS_FAMILY, Buffer.from([2, 0, 0, 0]))] : [])];
      let r = await request(T.ALLOCATE, base);
      if (r.error === 401) {
        realm = r.attrs[A.REALM].toString();
        nonce = r.attrs[A.NONCE].toString();
        key = createHash('md5').update(`${username}:${realm}:${password}`).digest();
        r = await request(T.ALLOCATE, () => [...base(), ...auth()], key);
      }
      return r.cls === 2 ? 'ok' : r.error;
    },
    async permit(ip) {
      const r = await request(T.CREATE_PERMISSION, (tid) => [xorAddress(ip, 0, tid) && attr(A.XOR_PEER_ADDRESS, xorAddress(ip, 0, tid)), ...auth()], key);
      return r.cls === 2 ? 'ok' : r.error;
    },
    close: () => sock.close(),
  };
  return session;
}
