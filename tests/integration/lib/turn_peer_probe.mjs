// Run inside turn_peer_policy.test.mjs's network namespace, against the TURN
// server at 127.0.0.1:3478: `node turn_peer_probe.mjs '<json plan>'` prints
// the answers as JSON. Plans:
//   {"do":"permissions","secret":S,"peers":[...]}: CreatePermission towards
//     each peer (nothing is sent to any of them): "ok" or the error code.
//   {"do":"ports","secret":S,"relay4":IP,"relay6":IP,"closedPort":N}: two
//     clients A and B; what A can reach on the relay address: B's relay port
//     (in the range) and closedPort (outside it, where this probe listens).
//   {"do":"tcp","secret":S}: an RFC 6062 (TCP relay) allocation over TCP.
//   {"do":"channels","secret":S,"targets":[{"peer":IP,"port":N}]}: ChannelBind
//     towards each peer and port (nothing is sent): "ok" or the error code,
//     keyed "peer port".
import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { turnClient, restCredential } from './turn_raw.mjs';

const plan = JSON.parse(process.argv[2]);
const HOST = '127.0.0.1';
const PORT = 3478;
const client = (user, opts = {}) => turnClient({ host: HOST, port: PORT, ...restCredential(plan.secret, user), ...opts });
const out = {};

if (plan.do === 'permissions') {
  for (const family of ['ipv4', 'ipv6']) {
    const c = await client(`probe-${family}`);
    const allocated = await c.allocate({ family });
    if (allocated !== 'ok') throw new Error(`allocate ${family}: ${allocated}`);
    for (const ip of plan.peers.filter((p) => (family === 'ipv6') === p.includes(':'))) out[ip] = await c.permit(ip);
    await c.refresh(0);
    await c.close();
  }
} else if (plan.do === 'ports') {
  // A listener on the relay address, outside the relay ports: an appliance service.
  const service = dgram.createSocket('udp4');
  const atService = [];
  service.on('message', (m) => atService.push(m.toString()));
  await new Promise((r) => service.bind(plan.closedPort, plan.relay4, r));
  const a = await client('probe-a');
  const b = await client('probe-b');
  if ((await a.allocate()) !== 'ok' || (await b.allocate()) !== 'ok') throw new Error('allocate');
  out.permitRelay = await a.permit(plan.relay4);
  await b.permit(plan.relay4); // B accepts what comes from A's relay address
  out.channelToService = await a.channelBind(0x4000, plan.relay4, plan.closedPort);
  out.channelToB = await a.channelBind(0x4001, plan.relay4, b.relay.port);
  a.sendChannel(0x4001, 'channel-to-b');
  a.send(plan.relay4, b.relay.port, 'send-to-b');
  a.send(plan.relay4, plan.closedPort, 'send-to-service');
  await sleep(500);
  out.atB = b.received.map((r) => r.data.toString()).sort();
  out.atService = atService;
  // The same on IPv6.
  const a6 = await client('probe-a6');
  if ((await a6.allocate({ family: 'ipv6' })) !== 'ok') throw new Error('allocate ipv6');
  await a6.permit(plan.relay6);
  out.channelToService6 = await a6.channelBind(0x4000, plan.relay6, plan.closedPort);
  out.channelInRange6 = await a6.channelBind(0x4001, plan.relay6, b.relay.port);
  for (const c of [a, b, a6]) {
    await c.refresh(0);
    await c.close();
  }
  service.close();
} else if (plan.do === 'channels') {
  for (const family of ['ipv4', 'ipv6']) {
    const c = await client(`probe-ch-${family}`);
    if ((await c.allocate({ family })) !== 'ok') throw new Error(`allocate ${family}`);
    let channel = 0x4000;
    for (const t of plan.targets.filter((x) => (family === 'ipv6') === x.peer.includes(':')))
      out[`${t.peer} ${t.port}`] = await c.channelBind(channel++, t.peer, t.port);
    await c.refresh(0);
    await c.close();
  }
} else if (plan.do === 'tcp') {
  const c = await client('probe-tcp', { tcp: true });
  out.tcpRelay = await c.allocate({ transport: 6 });
  out.reason = c.lastReason;
  await c.close();
}
console.log(JSON.stringify(out));
process.exit(0);
