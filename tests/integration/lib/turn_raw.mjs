// A raw TURN client over UDP or TCP (RFC 8656, long-term credentials) for the
// tests: one request at a time, with the server's answer as 'ok' or the error
// code. It does what coturn's own tools cannot do safely (permissions towards
// addresses that must never receive a packet: CreatePermission sends nothing
// to the peer) and everything an attacker's client does: Allocate (UDP or, to
// see it refused, TCP relaying), Refresh (lifetime 0 deallocates),
// CreatePermission, ChannelBind, Send indications and ChannelData, and what
// the relay delivers back (Data indications, ChannelData). Sends only where
// the test says.
import dgram from 'node:dgram';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import net from 'node:net';

const MAGIC = 0x2112a442;
export const METHOD = { BINDING: 0x001, ALLOCATE: 0x003, REFRESH: 0x004, SEND: 0x006, DATA: 0x007, CREATE_PERMISSION: 0x008, CHANNEL_BIND: 0x009 };
const A = {
  USERNAME: 0x0006, MESSAGE_INTEGRITY: 0x0008, ERROR_CODE: 0x0009, CHANNEL_NUMBER: 0x000c, LIFETIME: 0x000d,
  XOR_PEER_ADDRESS: 0x0012, DATA: 0x0013, REALM: 0x0014, NONCE: 0x0015, XOR_RELAYED_ADDRESS: 0x0016,
  REQUESTED_ADDRESS_FAMILY: 0x0017, REQUESTED_TRANSPORT: 0x0019,
};

function attr(type, value) {
  const pad = (4 - (value.length % 4)) % 4;
  const b = Buffer.alloc(4 + value.length + pad);
  b.writeUInt16BE(type, 0);
  b.writeUInt16BE(value.length, 2);
  value.copy(b, 4);
  return b;
}

export function ipv6Bytes(ip) {
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

function readXorAddress(v, tid) {
  const family = v[1];
  const port = v.readUInt16BE(2) ^ (MAGIC >>> 16);
  const mask = Buffer.concat([Buffer.from([0x21, 0x12, 0xa4, 0x42]), tid]);
  const raw = Buffer.alloc(family === 2 ? 16 : 4);
  for (let i = 0; i < raw.length; i++) raw[i] = v[4 + i] ^ mask[i];
  const ip = family === 2 ? [...Array(8).keys()].map((i) => raw.readUInt16BE(i * 2).toString(16)).join(':') : [...raw].join('.');
  return { ip, port };
}

function encode(type, attrs, key) {
  const tid = randomBytes(12);
  const body = Buffer.concat(attrs(tid));
  const header = Buffer.alloc(20);
  header.writeUInt16BE(type, 0);
  header.writeUInt32BE(MAGIC, 4);
  tid.copy(header, 8);
  let msg = Buffer.concat([header, body]);
  if (key) {
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
  const method = (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);
  const err = attrs[A.ERROR_CODE];
  // coturn's reason phrases may carry their C string's NUL.
  return { cls, method, attrs, error: err ? err[2] * 100 + err[3] : 0, reason: err ? err.subarray(4).toString().replace(/\0+$/, '') : '', tid: buf.subarray(8, 20) };
}

// REST API credentials: username "<expiry>:<user>", password base64(HMAC-SHA1(secret, username)).
export function restCredential(secret, user, ttlSeconds = 600) {
  const username = `${Math.floor(Date.now() / 1000) + ttlSeconds}:${user}`;
  return { username, password: createHmac('sha1', secret).update(username).digest('base64') };
}

// One session with the TURN server at host:port: over UDP (one 5-tuple) or
// over one TCP connection (tcp: true; messages framed by their lengths).
export async function turnClient({ host, port, username, password, tcp = false, bind = host.includes(':') ? '::1' : '127.0.0.1', timeoutMs = 3000 }) {
  let sock;
  let write;
  if (tcp) {
    sock = net.connect({ host, port, localAddress: bind });
    await new Promise((res, rej) => {
      sock.once('connect', res);
      sock.once('error', rej);
    });
    sock.on('error', () => {});
    let pending = Buffer.alloc(0);
    sock.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        if (pending.length < 4) break;
        const channel = (pending[0] & 0xc0) === 0x40;
        const len = channel ? 4 + pending.readUInt16BE(2) + ((4 - (pending.readUInt16BE(2) % 4)) % 4) : 20 + pending.readUInt16BE(2);
        if (pending.length < len) break;
        onMessage(pending.subarray(0, len));
        pending = pending.subarray(len);
      }
    });
    write = (msg) => sock.write(msg);
  } else {
    sock = dgram.createSocket(net.isIPv6(bind) ? 'udp6' : 'udp4');
    await new Promise((r) => sock.bind(0, bind, r));
    sock.on('message', (m) => onMessage(m));
    write = (msg) => sock.send(msg, port, host);
  }
  // A client a failed assertion left open does not keep the test's process
  // alive (a request waiting for its answer does, by its timer).
  sock.unref();
  const waiting = new Map();
  const received = []; // what the relay delivered: { from: {ip, port} | {channel}, data }
  function onMessage(m) {
    if (m.length >= 4 && (m[0] & 0xc0) === 0x40) { // ChannelData
      received.push({ channel: m.readUInt16BE(0), data: m.subarray(4, 4 + m.readUInt16BE(2)) });
      return;
    }
    if (m.length < 20) return;
    const d = decode(m);
    if (d.method === METHOD.DATA && d.cls === 1) {
      const peer = d.attrs[A.XOR_PEER_ADDRESS] && readXorAddress(d.attrs[A.XOR_PEER_ADDRESS], d.tid);
      received.push({ from: peer, data: d.attrs[A.DATA] });
      return;
    }
    const w = waiting.get(d.tid.toString('hex'));
    if (w) w(d);
  }
  const request = (method, attrs, key) =>
    new Promise((resolve, reject) => {
      const { msg, tid } = encode(method, attrs, key);
      const id = tid.toString('hex');
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`TURN request 0x${method.toString(16)} timed out`));
      }, timeoutMs);
      waiting.set(id, (d) => {
        clearTimeout(timer);
        waiting.delete(id);
        resolve(d);
      });
      write(msg);
    });
  let realm = '';
  let nonce = '';
  let key = null;
  const auth = () => [attr(A.USERNAME, Buffer.from(username)), attr(A.REALM, Buffer.from(realm)), attr(A.NONCE, Buffer.from(nonce))];
  // An authenticated request; a stale nonce (438) is answered once with the new one.
  const authed = async (method, attrs) => {
    let r = await request(method, (tid) => [...attrs(tid), ...auth()], key);
    if (r.error === 438 && r.attrs[A.NONCE]) {
      nonce = r.attrs[A.NONCE].toString();
      r = await request(method, (tid) => [...attrs(tid), ...auth()], key);
    }
    return r;
  };
  const answer = (r) => (r.cls === 2 ? 'ok' : r.error);
  const client = {
    sock,
    received,
    relay: null,
    // transport: 17 (UDP) or 6 (TCP, RFC 6062). Resolves 'ok' or the error code.
    async allocate({ family = 'ipv4', transport = 17, lifetime } = {}) {
      const base = () => [attr(A.REQUESTED_TRANSPORT, Buffer.from([transport, 0, 0, 0])),
        ...(family === 'ipv6' ? [attr(A.REQUESTED_ADDRESS_FAMILY, Buffer.from([2, 0, 0, 0]))] : []),
        ...(lifetime !== undefined ? [attr(A.LIFETIME, u32(lifetime))] : [])];
      let r = await request(METHOD.ALLOCATE, base);
      if (r.error === 401 && r.attrs[A.NONCE]) {
        realm = r.attrs[A.REALM].toString();
        nonce = r.attrs[A.NONCE].toString();
        key = createHash('md5').update(`${username}:${realm}:${password}`).digest();
        r = await authed(METHOD.ALLOCATE, base);
      }
      if (r.cls === 2 && r.attrs[A.XOR_RELAYED_ADDRESS]) client.relay = readXorAddress(r.attrs[A.XOR_RELAYED_ADDRESS], r.tid);
      client.lastReason = r.reason;
      return answer(r);
    },
    async refresh(lifetime) {
      return answer(await authed(METHOD.REFRESH, () => [attr(A.LIFETIME, u32(lifetime))]));
    },
    async permit(ip) {
      return answer(await authed(METHOD.CREATE_PERMISSION, (tid) => [attr(A.XOR_PEER_ADDRESS, xorAddress(ip, 0, tid))]));
    },
    async channelBind(channel, ip, peerPort) {
      return answer(await authed(METHOD.CHANNEL_BIND, (tid) => [attr(A.CHANNEL_NUMBER, Buffer.from([channel >> 8, channel & 0xff, 0, 0])),
        attr(A.XOR_PEER_ADDRESS, xorAddress(ip, peerPort, tid))]));
    },
    // A Send indication (no answer, no credentials).
    send(ip, peerPort, data) {
      const { msg } = encode(0x0016, (tid) => [attr(A.XOR_PEER_ADDRESS, xorAddress(ip, peerPort, tid)), attr(A.DATA, Buffer.from(data))]);
      write(msg);
    },
    sendChannel(channel, data) {
      const d = Buffer.from(data);
      const b = Buffer.alloc(4 + d.length + ((4 - (d.length % 4)) % 4));
      b.writeUInt16BE(channel, 0);
      b.writeUInt16BE(d.length, 2);
      d.copy(b, 4);
      write(b);
    },
    // A STUN Binding request without credentials (what a browser's stun: URL does).
    async binding() {
      return answer(await request(METHOD.BINDING, () => []));
    },
    close: () => new Promise((r) => (tcp ? sock.end(r) : sock.close(r))),
  };
  return client;
}

function u32(v) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}
