// The Prometheus alert rules and the Grafana dashboard the package ships
// (packaging/prometheus/), checked with Debian's promtool: the rules are
// valid, every alert has a test case that fires and one that does not, and
// promtool's unit tests pass. Then every metric the rules and the dashboard
// use is one the real signald and syncd export, so neither can drift from
// the code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startSignald, tempDir, VYTALCTL } from '../integration/lib/signald.mjs';
import { startSyncd } from '../integration/lib/syncd.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const RULES = join(ROOT, 'packaging/prometheus/vytalwatch-alerts.yml');
const TESTS = join(ROOT, 'tests/packaging/vytalwatch-alerts.test.yml');
const DASHBOARD = join(ROOT, 'packaging/prometheus/vytalwatch-dashboard.json');
const PROMTOOL = process.env.PROMTOOL ?? 'promtool';

const alerts = parse(readFileSync(RULES, 'utf8')).groups.flatMap((g) => g.rules).map((r) => r.alert);
const cases = parse(readFileSync(TESTS, 'utf8')).tests.flatMap((t) => t.alert_rule_test);
const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8'));

function promtool(...args) {
  const r = spawnSync(PROMTOOL, args, { encoding: 'utf8', cwd: ROOT });
  assert.equal(r.error, undefined, `${PROMTOOL} cannot run (Debian package prometheus)`);
  return r;
}

test('promtool check rules accepts every rule', () => {
  const r = promtool('check', 'rules', RULES);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`SUCCESS: ${alerts.length} rules found`));
});

test('every alert has a case that fires and a case that does not', () => {
  assert.ok(alerts.length >= 10);
  for (const alert of alerts) {
    const mine = cases.filter((c) => c.alertname === alert);
    assert.ok(mine.some((c) => c.exp_alerts.length > 0), `${alert}: no case where it fires`);
    assert.ok(mine.some((c) => c.exp_alerts.length === 0), `${alert}: no case where it stays quiet`);
  }
  for (const c of cases) assert.ok(alerts.includes(c.alertname), `a case for an unknown alert ${c.alertname}`);
});

test('promtool test rules: every case passes', () => {
  const r = promtool('test', 'rules', TESTS);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /SUCCESS/);
});

test('the dashboard is a Grafana dashboard whose queries promtool can parse', () => {
  assert.equal(dashboard.uid, 'vytalwatch-appliance');
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  assert.ok(exprs.length >= 15);
  // Each query, as an alert of a throw-away rule file, through promtool's parser.
  const dir = tempDir('vytal-dash-');
  const file = join(dir, 'dashboard-queries.yml');
  const rules = exprs.map((e, i) => `      - record: dashboard:q${i}\n        expr: ${JSON.stringify(e.replaceAll('$instance', '.*'))}`);
  execFileSync('sh', ['-c', `cat > ${file}`], { input: `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n` });
  const r = promtool('check', 'rules', file);
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

// The metric names a PromQL text uses (vytal_* and process_*), histogram
// suffixes removed.
function metricNames(text) {
  return new Set([...text.matchAll(/\b((?:vytal|process)_[a-z_]+)/g)].map((m) => m[1].replace(/_(bucket|count|sum)$/, '')));
}

test('every metric the rules and the dashboard use is exported by signald or syncd', { timeout: 60000 }, async () => {
  const dir = tempDir();
  const keyring = join(dir, 'keyring');
  execFileSync(VYTALCTL, ['rotate-turn-secret', '--overlap', '0'], { env: { PATH: process.env.PATH, VYTAL_TURN_KEYRING_FILE: keyring } });
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '30',
    '-subj', '/CN=t', '-keyout', join(dir, 't.key'), '-out', join(dir, 't.crt')], { stdio: 'ignore' });
  // Everything configured that adds series: certificates, the key ring, a local TURN server to probe.
  const sd = await startSignald({ VYTAL_TLS_CERT_FILES: join(dir, 't.crt'), VYTAL_TURN_KEYRING_FILE: keyring,
    VYTAL_TURN_USAGE_SOCKET: join(dir, 'usage.sock'), VYTAL_TURN_LISTEN_IPS: '127.0.0.1' }, { dataDir: dir });
  // syncd with no PostgreSQL to reach: its series are there all the same.
  const syncd = await startSyncd({ DATABASE_HOST: '127.0.0.1', DATABASE_PORT: '1', VYTAL_SITE_ID: 'alerts' }, { dataDir: dir });
  try {
    const exported = new Set();
    for (const url of [`${sd.url}/metrics`, syncd.metricsUrl]) {
      const text = await (await fetch(url)).text();
      for (const m of text.matchAll(/^# TYPE (\S+) /gm)) exported.add(m[1]);
    }
    const used = metricNames(readFileSync(RULES, 'utf8') + JSON.stringify(dashboard));
    assert.ok(used.size >= 20);
    for (const name of used) assert.ok(exported.has(name), `${name} is used but neither daemon exports it`);
  } finally {
    await syncd.stop();
    await sd.stop();
    sd.cleanup();
  }
});
