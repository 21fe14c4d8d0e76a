// The baseline for bench/relay: a Socket.IO 4 signaling server doing what the
// platform's NestJS gateway did before the appliance. JWT (HS256, the same
// secret as signald) checked at the handshake, a room per call (`join` with
// callId), and offer / answer / ice-candidate relayed to one user of the room
// with `from` and `callId` added. WebSocket transport only (no polling).
// Calls are not created first: a room exists once someone joins it.
//
// Usage: JWT_SECRET=... node bench/baseline-socketio/server.mjs [PORT]
// Prints "listening on http://127.0.0.1:<port>/" on stderr once it listens.
import { createServer } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Server } from 'socket.io';

const secret = process.env.JWT_SECRET;
if (!secret) {
  console.error('JWT_SECRET is required');
  process.exit(2);
}
const port = Number(process.argv[2] ?? 0);

// HS256 verification with node:crypto: pinned algorithm, signature, exp.
function verifyJwt(token) {
  const parts = typeof token === 'string' ? token.split('.') : [];
  if (parts.length !== 3) throw new Error('token_malformed');
  const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
  if (header.alg !== 'HS256') throw new Error('token_algorithm');
  const expected = createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2], 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new Error('token_signature');
  const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) throw new Error('token_expired');
  if (typeof claims.sub !== 'string' || !claims.sub) throw new Error('token_claims');
  return claims;
}

const http = createServer((req, res) => {
  res.writeHead(404).end();
});
const io = new Server(http, { transports: ['websocket'], serveClient: false, cors: { origin: false } });

// callId → Map(userId → socket): who is in each call's room.
const rooms = new Map();

io.use((socket, next) => {
  try {
    const claims = verifyJwt(socket.handshake.auth?.token ?? socket.handshake.query?.token);
    socket.data.userId = claims.sub;
    socket.data.role = claims.role;
    next();
  } catch (e) {
    next(new Error(e.message));
  }
});

io.on('connection', (socket) => {
  const { userId } = socket.data;

  socket.on('join', (msg) => {
    const callId = msg?.callId;
    if (typeof callId !== 'string' || !callId || socket.data.callId) {
      socket.emit('error', { code: 'validation', message: 'join needs a callId, once' });
      return;
    }
    socket.data.callId = callId;
    socket.join(`call:${callId}`);
    let members = rooms.get(callId);
    if (!members) rooms.set(callId, (members = new Map()));
    members.set(userId, socket);
    socket.emit('joined', { callId, userId, participants: [...members.keys()].filter((u) => u !== userId) });
    socket.to(`call:${callId}`).emit('participant-joined', { callId, userId, role: socket.data.role });
  });

  const relay = (type) => (msg) => {
    const callId = socket.data.callId;
    if (!callId) return socket.emit('error', { code: 'not_joined', message: 'join a call first' });
    const target = rooms.get(callId)?.get(msg?.to);
    if (!target) return socket.emit('error', { code: 'participant_not_found', message: `${msg?.to} is not in the call` });
    const { to, ...rest } = msg;
    target.emit(type, { ...rest, callId, from: userId });
  };
  socket.on('offer', relay('offer'));
  socket.on('answer', relay('answer'));
  socket.on('ice-candidate', relay('ice-candidate'));

  socket.on('disconnect', () => {
    const callId = socket.data.callId;
    const members = callId && rooms.get(callId);
    if (!members || members.get(userId) !== socket) return;
    members.delete(userId);
    if (members.size === 0) rooms.delete(callId);
    else io.to(`call:${callId}`).emit('participant-left', { callId, userId, reason: 'left' });
  });
});

http.listen(port, '127.0.0.1', () => {
  console.error(`listening on http://127.0.0.1:${http.address().port}/`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
