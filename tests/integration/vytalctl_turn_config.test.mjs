// `vytalctl turn-config` behind NAT: the public address (VYTAL_TURN_EXTERNAL_IP)
// is mapped onto the relay address of its own family, whatever the order of
// VYTAL_TURN_RELAY_IPS (a dual-stack appliance in a DMZ behind IPv4 1:1 NAT
// keeps its public IPv6 relay address as it is); with no relay address of
// that family it refuses, naming the key. The DMZ itself is exercised with
// browsers in tests/network (scenario 6).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { VYTALCTL } from './lib/signald.mjs';

function turnConfig(env) {
  const r = spawnSync(VYTALCTL, ['turn-config'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, VYTAL_TURN_KEYRING_FILE: '/nonexistent/keyring', ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const externalLines = (text) => text.split('\n').filter((l) => l.startsWith('external-ip='));

test('the public IPv4 address maps onto the IPv4 relay address, listed first or not', () => {
  for (const relays of ['198.51.100.130', '198.51.100.130, 2001:db8:1::20', '2001:db8:1::20, 198.51.100.130']) {
    const r = turnConfig({ VYTAL_TURN_RELAY_IPS: relays, VYTAL_TURN_EXTERNAL_IP: '203.0.113.20' });
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(externalLines(r.out), ['external-ip=203.0.113.20/198.51.100.130'], relays);
  }
});

test('a public IPv6 address maps onto the IPv6 relay address', () => {
  const r = turnConfig({ VYTAL_TURN_RELAY_IPS: '198.51.100.130, 2001:db8:5::20', VYTAL_TURN_EXTERNAL_IP: '2001:db8:1::20' });
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(externalLines(r.out), ['external-ip=2001:db8:1::20/2001:db8:5::20']);
});

test('no external-ip without VYTAL_TURN_EXTERNAL_IP; a family with no relay address is refused', () => {
  const none = turnConfig({ VYTAL_TURN_RELAY_IPS: '203.0.113.10' });
  assert.equal(none.code, 0, none.err);
  assert.deepEqual(externalLines(none.out), []);
  const mismatch = turnConfig({ VYTAL_TURN_RELAY_IPS: '2001:db8:1::20', VYTAL_TURN_EXTERNAL_IP: '203.0.113.20' });
  assert.notEqual(mismatch.code, 0);
  assert.match(mismatch.err, /VYTAL_TURN_EXTERNAL_IP: no relay address of the same family/);
  assert.equal(mismatch.out, '');
});
