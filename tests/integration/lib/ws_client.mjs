// WebSocket signaling clients for the integration tests: a connection that
// records every JSON message it receives and lets a test await the next one of
// a type (always with a timeout), plus REST helpers to set up calls.
import WebSocket from 'ws';
import { token, api } from './signald.mjs';

export const SERVICE = token('platform-backend', 'service');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const wsUrl = (sd) => `ws://127.0.0.1:${sd.port}/webrtc/ws`;

// Rejects after ms with a message naming what was awaited.
export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${typeof what === 'function' ? what() : what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// A connected client. `messages` holds everything received, in order.
export class Client {
  constructor(ws, label) {
    this.ws = ws;
    this.label = label;
    this.messages = [];
    this.pings = 0;
    this.taken = new Set(); // indexes of messages handed out by next()
    this.waiters = [];
    this.closeInfo = null;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString(), at: Date.now() };
        resolve(this.closeInfo);
      });
    });
    ws.on('ping', () => this.pings++);
    ws.on('error', () => {}); // surfaced through 'close'
    ws.on('message', (data, isBinary) => {
      let m;
      try {
        m = JSON.parse(isBinary ? Buffer.from(data).toString('utf8') : data.toString());
      } catch {
        m = { type: '<unparseable>', raw: data.toString() };
      }
      m.receivedAt = Date.now();
      const index = this.messages.push(m) - 1;
      for (let i = 0; i < this.waiters.length; i++) {
        const w = this.waiters[i];
        if (w.types.includes(m.type) && w.pred(m)) {
          this.waiters.splice(i, 1);
          this.taken.add(index);
          w.resolve(m);
          return;
        }
      }
    });
  }

  send(obj) {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  // The next message of `type` (a type or a list of types), matching pred,
  // not yet handed out.
  next(type, timeoutMs = 3000, pred = () => true) {
    const types = Array.isArray(type) ? type : [type];
    for (let i = 0; i < this.messages.length; i++) {
      if (!this.taken.has(i) && types.includes(this.messages[i].type) && pred(this.messages[i])) {
        this.taken.add(i);
        return Promise.resolve(this.messages[i]);
      }
    }
    let waiter;
    const p = new Promise((resolve) => {
      waiter = { types, pred, resolve };
      this.waiters.push(waiter);
    });
    return withTimeout(p, timeoutMs, () => `${types.join('|')} on ${this.label} (received so far: ${this.summary()})`).catch((e) => {
      const i = this.waiters.indexOf(waiter);
      if (i >= 0) this.waiters.splice(i, 1);
      throw e;
    });
  }

  // All messages of a type received so far.
  all(type) {
    return this.messages.filter((m) => m.type === type);
  }

  summary() {
    const counts = {};
    for (const m of this.messages) counts[m.type] = (counts[m.type] ?? 0) + 1;
    return JSON.stringify(counts);
  }

  // Joins a call and resolves with the `joined` message (rejects on `error`).
  async join(callId, requestId = `join-${callId}`) {
    this.send({ type: 'join', callId, requestId });
    const reply = await this.next(['joined', 'error'], 5000, (m) => m.requestId === requestId);
    if (reply.type === 'error') throw new Error(`join refused for ${this.label}: ${JSON.stringify(reply)}`);
    return reply;
  }

  waitClosed(timeoutMs = 5000) {
    return withTimeout(this.closed, timeoutMs, `close of ${this.label}`);
  }

  close() {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }
}

// Opens a signaling connection for (sub, role); resolves once open with a Client.
// The token goes in the subprotocol list as browsers send it, unless `tok` is
// null (no token) or `auth: 'header'` (Authorization header).
export function connect(sd, sub, role, { tok, origin, protocols, headers, auth = 'protocol', timeoutMs = 5000, ...wsOptions } = {}) {
  const jwt = tok === undefined ? token(sub, role) : tok;
  const protos = protocols ?? (jwt && auth === 'protocol' ? ['vytal.v1', `bearer.${jwt}`] : ['vytal.v1']);
  const h = { ...(headers ?? {}) };
  if (jwt && auth === 'header') h.authorization = `Bearer ${jwt}`;
  const ws = new WebSocket(wsUrl(sd), protos, { origin, headers: h, handshakeTimeout: timeoutMs, ...wsOptions });
  const client = new Client(ws, `${sub}/${role}`);
  const opened = new Promise((resolve, reject) => {
    ws.once('open', () => {
      client.openedAt = Date.now();
      resolve(client);
    });
    ws.once('unexpected-response', (req, res) => {
      reject(Object.assign(new Error(`upgrade refused with ${res.statusCode}`), { status: res.statusCode }));
      req.destroy();
    });
    ws.once('error', reject);
  });
  return withTimeout(opened, timeoutMs + 1000, `open of ${sub}`);
}

// Attempts an upgrade and reports what the server answered: { status, body,
// headers } for a refusal, { status: 101, protocol } when it was accepted
// (the socket is then closed).
export function tryUpgrade(sd, { tok, origin, protocols, headers = {}, timeoutMs = 5000 } = {}) {
  const protos = protocols ?? (tok ? ['vytal.v1', `bearer.${tok}`] : ['vytal.v1']);
  const ws = new WebSocket(wsUrl(sd), protos, { origin, headers, handshakeTimeout: timeoutMs });
  const result = new Promise((resolve, reject) => {
    ws.once('open', () => {
      resolve({ status: 101, protocol: ws.protocol });
      ws.terminate();
    });
    ws.once('unexpected-response', (req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let body;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, body, text });
        req.destroy();
      });
    });
    ws.on('error', (e) => reject(e));
  });
  return withTimeout(result, timeoutMs + 1000, 'the upgrade answer');
}

// REST: creates a call (service token) and returns its body.
export async function createCall(sd, patientId, providerId, type = 'video') {
  const r = await api(sd.url, 'POST', '/webrtc/calls', { tok: SERVICE, body: { patientId, providerId, type } });
  if (r.status !== 201) throw new Error(`create call: ${r.status} ${r.text}`);
  return r.body;
}

// A call created over REST with both participants connected and joined:
// { callId, patient, provider } (the two Clients).
export async function joinedCall(sd, patientId, providerId) {
  const { id: callId } = await createCall(sd, patientId, providerId);
  const patient = await connect(sd, patientId, 'patient');
  const provider = await connect(sd, providerId, 'provider');
  await patient.join(callId);
  await provider.join(callId);
  return { callId, patient, provider };
}

// REST: invites userId into a call; returns { status, body }.
export function invite(sd, callId, userId, role, tok = SERVICE) {
  return api(sd.url, 'POST', `/webrtc/calls/${callId}/participants`, { tok, body: { userId, role } });
}

// Polls fn() until it returns a truthy value; returns it, or the last value after timeoutMs.
export async function eventually(fn, timeoutMs = 3000, stepMs = 50) {
  const end = Date.now() + timeoutMs;
  let v = await fn();
  while (!v && Date.now() < end) {
    await sleep(stepMs);
    v = await fn();
  }
  return v;
}
