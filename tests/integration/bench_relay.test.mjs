// The relay benchmark's harness, run small so that it keeps working between
// measurements: bench/relay/relay.mjs with its C++ load client (built with
// -DVYTAL_BUILD_BENCH=ON, as scripts/test-all.sh does), against vytal-signald
// and the Socket.IO baseline in alternation, at saturation and at a fixed
// rate. Every message sent must arrive, with no close and no error; the
// figures themselves are measured on a quiet machine (docs/BENCHMARKS.md),
// not here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { BUILD_DIR } from './lib/signald.mjs';

const RELAY = fileURLToPath(new URL('../../bench/relay/relay.mjs', import.meta.url));

test('bench/relay: signald and Socket.IO relay every message at saturation and at 400/s, none lost, no close or error', async () => {
  // 1 round, 2 s per load, 20 calls; no nice or real-time priority, no document.
  const { stdout } = await promisify(execFile)(process.execPath, [RELAY, '1', '2', '20'], {
    env: { ...process.env, VYTAL_BUILD_DIR: BUILD_DIR, RELAY_RATES: '400', RELAY_NICE: '', RELAY_RT: '', RELAY_DOC: '' },
    timeout: 240000,
  });
  // | load | server | delivered msg/s | p50 | p99 | p99.9 | CPU/msg | cores | RSS | lost | closes | errors | client | busy |
  const rows = stdout.split('\n').filter((l) => /^\| [^|]* \| (signald|Socket\.IO) \| \d/.test(l))
    .map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
  assert.deepEqual(rows.map((r) => r[1]), ['signald', 'Socket.IO', 'signald', 'Socket.IO'], stdout);
  assert.deepEqual([rows[0][0], rows[2][0]], ['saturation (window 2)', '400/s offered']);
  for (const [load, server, delivered, , , , , , , lost, closes, errors] of rows) {
    const what = `${server}, ${load || 'the same load'}`;
    assert.ok(Number(delivered) > 0, `${what}: nothing delivered\n${stdout}`);
    assert.deepEqual({ lost, closes, errors }, { lost: '0', closes: '0', errors: '0' }, what);
  }
  // Each server's CPU per message and memory were measured (numbers, not dashes).
  for (const r of rows) assert.match(`${r[6]} ${r[8]}`, /^\d+(\.\d+)? \d+$/, r.join(' | '));
});
