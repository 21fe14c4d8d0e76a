// GET /readyz needs no token: a client hammering it must not turn requests
// into durable writes. At most one probe write a second, whatever the number
// of requests; every answer is still the truth about the call log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSignald, token, api, metric } from './lib/signald.mjs';

let sd;
before(async () => {
  sd = await startSignald();
});
after(async () => {
  await sd.stop();
  sd.cleanup();
});

test('a flood of /readyz makes at most one probe write per second, and each answer is ready', async () => {
  const probesBefore = await metric(sd.url, 'vytal_readiness_probes_total');
  const writesBefore = await metric(sd.url, 'vytal_db_writes_total');
  const started = Date.now();
  let answered = 0;
  for (let round = 0; round < 10; round++) {
    const replies = await Promise.all(Array.from({ length: 100 }, () => api(sd.url, 'GET', '/readyz')));
    for (const r of replies) {
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body, { status: 'ready' });
    }
    answered += replies.length;
  }
  const elapsedS = (Date.now() - started) / 1000;
  const probes = (await metric(sd.url, 'vytal_readiness_probes_total')) - probesBefore;
  const writes = (await metric(sd.url, 'vytal_db_writes_total')) - writesBefore;
  assert.equal(answered, 1000);
  // One probe per started second at most (the first one included); the
  // heartbeat (every 30 s) may add one write.
  const bound = Math.ceil(elapsedS) + 1;
  assert.ok(probes >= 1 && probes <= bound, `${probes} probes for 1000 requests in ${elapsedS} s (bound ${bound})`);
  assert.ok(writes <= bound + 1, `${writes} durable writes for 1000 /readyz in ${elapsedS} s`);
});

test('readiness still follows the call log: a create after the flood is acknowledged', async () => {
  const r = await api(sd.url, 'POST', '/webrtc/calls', {
    tok: token('platform-backend', 'service'),
    body: { patientId: 'p-ready', providerId: 'dr-ready', type: 'video' },
  });
  assert.equal(r.status, 201);
  assert.equal((await api(sd.url, 'GET', '/readyz')).status, 200);
});
