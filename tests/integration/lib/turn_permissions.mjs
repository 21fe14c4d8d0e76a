// Run inside the test's network namespace by turn_relay_policy.test.mjs:
// allocates (IPv4 and IPv6 relays) on the TURN server at 127.0.0.1:3478 with a
// REST credential from SECRET and prints, as JSON, the CreatePermission
// outcome for each peer: "ok" or the error code. Sends nothing to any peer.
import net from 'node:net';
import { restCredential, turnClient } from './turn_raw.mjs';

const [secret, ...peers] = process.argv.slice(2);
const { username, password } = restCredential(secret, 'policy-test');
const out = {};
for (const family of ['ipv4', 'ipv6']) {
  const s = await turnClient({ host: '127.0.0.1', port: 3478, username, password });
  const allocated = await s.allocate({ family });
  if (allocated !== 'ok') throw new Error(`allocate ${family}: ${allocated}`);
  for (const ip of peers.filter((p) => (family === 'ipv6') === net.isIPv6(p))) out[ip] = await s.permit(ip);
  await s.close();
}
console.log(JSON.stringify(out));
