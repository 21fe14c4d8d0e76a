// Measures each clinic network (tests/network/lib/scenarios.mjs) over several
// calls for docs/NETWORKS.md: the time from pressing Join to the patient's
// first decoded frame (median, min, max), in scenario 8 the time from the
// network change to frames flowing again, the path, and TURN usage.
// Run through tests/network/measure.sh (root).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD_DIR } from '../integration/lib/signald.mjs';
import { Bed, SCENARIOS } from './lib/scenarios.mjs';

const runs = Number(process.env.RUNS ?? 3);
const only = process.env.VYTAL_NETWORK_SCENARIOS?.split(',').map(Number);
// VYTAL_NETWORK_CLINIC_DNS=nxdomain|drops: the clinic's resolver does not know
// the appliance's names (see lib/topology.mjs), for the doc's DNS table.
const clinicDns = process.env.VYTAL_NETWORK_CLINIC_DNS;
const out = join(BUILD_DIR, 'network');
const bed = new Bed(out, (l) => console.error(l));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : Math.round((s[s.length / 2 - 1] + s[s.length / 2]) / 2)) : null;
};
const stat = (xs) => (xs.length ? { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) } : null);

const summary = [];
try {
  await bed.setup();
  for (const s of SCENARIOS) {
    if (only && !only.includes(s.id)) continue;
    console.error(`scenario ${s.id}: ${s.name} (${runs} runs)`);
    const rs = await bed.scenario(clinicDns ? { ...s, clinic: { ...s.clinic, dns: clinicDns } } : s, { runs });
    for (const r of rs) {
      console.error(`  run: connected=${r.connected} first frame ${r.firstFrameMs} ms${r.recoveryMs !== undefined ? ` recovery ${r.recoveryMs} ms` : ''} ` +
        `${r.pathText ?? ''} TURN ${r.turn.bytes} B${r.error ? ` ERROR ${r.error}` : ''}${r.problems.length ? ` PROBLEMS ${r.problems.join('; ')}` : ''}`);
    }
    const ok = rs.filter((r) => r.connected && !r.error && r.problems.length === 0);
    summary.push({
      id: s.id, name: s.name, clinicDns: clinicDns ?? 'resolves', runs: rs.length, connected: ok.length,
      firstFrameMs: stat(rs.filter((r) => r.firstFrameMs != null).map((r) => r.firstFrameMs)),
      recoveryMs: s.change ? stat(rs.filter((r) => r.recoveryMs != null).map((r) => r.recoveryMs)) : undefined,
      paths: [...new Set(rs.map((r) => r.pathText))],
      pathsAfter: s.change ? [...new Set(rs.map((r) => r.pathAfterText))] : undefined,
      turnBytes: stat(rs.map((r) => r.turn.bytes)),
      relayedBytes: stat(rs.map((r) => r.relayedBytes ?? 0)),
      turnAllocations: stat(rs.map((r) => r.turn.allocations)),
      results: rs.map((r) => ({ ...r, diagnostics: r.diagnostics ? r.diagnostics.slice(-6000) : undefined })),
    });
    writeFileSync(join(out, `results${clinicDns ? `-dns-${clinicDns}` : ''}.json`), JSON.stringify(summary, null, 2));
  }
} finally {
  await bed.teardown();
}

const fmt = (x) => (x ? `${x.median} (${x.min}–${x.max})` : '–');
console.log('| # | scenario | connects | path (patient; provider) | first frame ms, median (min–max) | TURN bytes in the call log at the end | relayed bytes seen by the browsers |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const s of summary) {
  console.log(`| ${s.id} | ${s.name} | ${s.connected}/${s.runs} | ${s.paths.join('<br>')}${s.pathsAfter ? `<br>after: ${s.pathsAfter.join('<br>')}` : ''} | ` +
    `${fmt(s.firstFrameMs)}${s.recoveryMs ? `; recovery ${fmt(s.recoveryMs)}` : ''} | ${fmt(s.turnBytes)} | ${fmt(s.relayedBytes)} |`);
}
