// A relayed "call" that keeps flowing, run inside admin_turn.test.mjs's
// network namespace against the TURN server at 127.0.0.1:3478:
// `node turn_rotation_probe.mjs SECRET`. Clients A and B allocate with
// credentials signed with SECRET; A sends ChannelData to B's relay address
// every 20 ms, B receives it through its own relay, and A refreshes its
// allocation every second (its credential stays the one it started with,
// as a browser's does until signald sends new ones). Prints "ready", then
// answers one JSON line per command on standard input:
//   allocate SECRET   a new client allocates with a credential signed with SECRET: "ok" or the error code
//   stats             {received: packets B got so far, refresh: A's last refresh answer}
//   stop              the final stats, then exits
import { createInterface } from 'node:readline';
import { turnClient, restCredential } from './turn_raw.mjs';

const secret = process.argv[2];
const server = { host: '127.0.0.1', port: 3478 };
const a = await turnClient({ ...server, ...restCredential(secret, 'rotation-a') });
const b = await turnClient({ ...server, ...restCredential(secret, 'rotation-b') });
if ((await a.allocate()) !== 'ok' || (await b.allocate()) !== 'ok') throw new Error('allocate');
await b.permit(a.relay.ip);
if ((await a.channelBind(0x4001, b.relay.ip, b.relay.port)) !== 'ok') throw new Error('channel');
let sent = 0;
const pump = setInterval(() => a.sendChannel(0x4001, `media ${sent++}`), 20);
let refresh = 'ok';
const refresher = setInterval(async () => {
  refresh = await a.refresh(600);
}, 1000);
const stats = () => ({ sent, received: b.received.length, refresh });
console.log('ready');
let n = 0;
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, arg] = line.trim().split(' ');
  if (cmd === 'allocate') {
    const c = await turnClient({ ...server, ...restCredential(arg, `rotation-new-${n++}`) });
    const r = await c.allocate();
    if (r === 'ok') await c.refresh(0);
    await c.close();
    console.log(JSON.stringify({ allocate: r }));
  } else if (cmd === 'stats') {
    console.log(JSON.stringify(stats()));
  } else if (cmd === 'stop') {
    break;
  }
}
clearInterval(pump);
clearInterval(refresher);
console.log(JSON.stringify(stats()));
for (const c of [a, b]) {
  await c.refresh(0).catch(() => {});
  await c.close();
}
process.exit(0);
