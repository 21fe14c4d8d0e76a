// Clinics behind restrictive networks (issue 14): one call per clinic network,
// in real browsers, through the appliance as installed. The networks are
// namespaces with veth pairs and nftables (tests/network/lib/topology.mjs),
// documentation addresses only, connected to nothing outside the test.
//
// For each scenario: both sides decode video frames and keep decoding, the
// selected candidate pairs are the path the network forces, and
// vytal-turnserver's usage for the call is in the call log. The time from
// pressing Join to the first frame (and, in scenario 8, the time to recover)
// is printed and recorded, not asserted: tests/network/measure.sh measures
// three runs per scenario for docs/NETWORKS.md.
//
// Needs root (namespaces, nftables), Debian's chromium, nginx with
// libnginx-mod-stream, squid, nftables, libnss3-tools (certutil), sqlite3,
// curl, and vytal-turnserver (VYTAL_TURN_BIN_DIR, default
// $VYTAL_BUILD_DIR/turn/bin). VYTAL_NETWORK_SCENARIOS=3,8 runs only those.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD_DIR } from '../integration/lib/signald.mjs';
import { Bed, SCENARIOS } from './lib/scenarios.mjs';
import { TURNSERVER, NGINX } from './lib/appliance.mjs';

const IS_ROOT = process.getuid?.() === 0;
const OUT = join(BUILD_DIR, 'network');
const only = process.env.VYTAL_NETWORK_SCENARIOS?.split(',').map(Number);
const bed = new Bed(OUT, (line) => console.log(line));
const results = [];

before(async () => {
  if (!IS_ROOT) return;
  for (const [what, path] of [['vytal-turnserver', TURNSERVER], ['nginx', NGINX], ['chromium', '/usr/bin/chromium'],
    ['squid', '/usr/sbin/squid'], ['nft', '/usr/sbin/nft'], ['certutil', '/usr/bin/certutil']]) {
    assert.ok(existsSync(path), `${what} is missing: ${path}`);
  }
  await bed.setup();
}, { timeout: 120000 });

after(async () => {
  if (!IS_ROOT) return;
  await bed.teardown();
  writeFileSync(join(OUT, 'results-test.json'), JSON.stringify(results, null, 2));
});

for (const s of SCENARIOS) {
  const skip = !IS_ROOT ? 'needs root (network namespaces)' : only && !only.includes(s.id) ? 'not selected' : false;
  test(`scenario ${s.id}: ${s.name}`, { skip, timeout: 150000 }, async () => {
    const [r] = await bed.scenario(s, { runs: 1 });
    results.push(r);
    const why = `\n${JSON.stringify({ ...r, diagnostics: undefined }, null, 2)}${r.diagnostics ?? ''}`;
    console.log(`scenario ${s.id}: first frame ${r.firstFrameMs} ms${r.recoveryMs !== undefined ? `, recovery ${r.recoveryMs} ms` : ''}; ` +
      `${r.pathText}; TURN ${r.turn.allocations} allocations, ${r.turn.bytes} bytes`);
    assert.equal(r.error, undefined, `the call failed: ${r.error}${why}`);
    assert.ok(r.connected, `video frames did not keep growing on both sides${why}`);
    assert.deepEqual(r.problems, [], why);
    if (s.change) {
      assert.notEqual(r.recoveryMs, null, `frames did not come back after the change${why}`);
    }
    assert.ok(r.turn.allocations >= 1, `no turn_usage row for the call${why}`);
    assert.ok(r.turn.rows.some((u) => u.user.startsWith('patient-')), `no turn_usage row for the patient${why}`);
    if (r.path.patient?.local.type === 'relay') {
      assert.ok(r.turn.bytes > 0, `relayed call, but no TURN bytes in the call log${why}`);
    }
  });
}
