// The call log's disk fills (a flood of writes, or anything else): creates
// get 503 and nothing acknowledged is lost, /healthz keeps answering, and
// signald recovers by itself once space returns. The call log lives on a
// 8 MiB tmpfs, which needs root (mount); the test is skipped otherwise. Not
// smaller: until the first checkpoint (100 ms) the write-ahead log grows by
// each small transaction's pages, some 200 KiB, which filled 4 MiB after
// fewer than 100 calls once commits got faster.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { api, metric, sql, startSignald, tempDir, token } from './lib/signald.mjs';
import { sleep } from './lib/ws_client.mjs';

const isRoot = process.getuid?.() === 0;
const service = token('platform-backend', 'service');

test('a full disk: creates get 503, acknowledged calls all survive, /healthz answers, it recovers when space returns',
  { skip: isRoot ? false : 'needs root to mount an 8 MiB tmpfs for the call log (run the suite as root)', timeout: 120000 },
  async () => {
    const dir = tempDir('vytal-diskfull-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir]);
    let sd;
    try {
      // Room that the test gives back later: a filler file.
      const filler = join(dir, 'filler');
      writeFileSync(filler, Buffer.alloc(512 * 1024, 1));
      sd = await startSignald({}, { dataDir: dir });
      const acked = [];
      const refusals = new Map();
      let full = false;
      const create = async (n) => {
        const r = await api(sd.url, 'POST', '/webrtc/calls', {
          tok: service,
          body: { patientId: `p-full-${n % 50}`, providerId: 'dr-full', type: 'video', appointmentId: `appt-${n}-${'x'.repeat(60)}` },
        });
        if (r.status === 201) acked.push(r.body.id);
        else refusals.set(`${r.status} ${r.body?.error?.code}`, (refusals.get(`${r.status} ${r.body?.error?.code}`) ?? 0) + 1);
        return r.status;
      };
      // Fill it: 8 clients until creates are refused for a while (bounded).
      for (let round = 0; round < 2000 && !full; round++) {
        const statuses = await Promise.all(Array.from({ length: 8 }, (_, i) => create(round * 8 + i)));
        if (statuses.every((s) => s === 503)) full = true;
      }
      assert.ok(full, `the disk never filled: ${acked.length} calls acknowledged`);
      assert.ok(acked.length > 100, `only ${acked.length} calls before the disk filled`);
      for (const key of refusals.keys()) assert.match(key, /^503 (call_log_unavailable|overloaded)$/, `unexpected refusal ${key}`);
      assert.ok(await metric(sd.url, 'vytal_db_commit_failures_total') > 0);

      // Still serving: health, reads, and readiness says what is true.
      assert.equal((await api(sd.url, 'GET', '/healthz')).status, 200);
      assert.equal((await api(sd.url, 'GET', `/webrtc/calls/${acked[0]}`, { tok: service })).status, 200);
      // Readiness answers (a probe is one small row: it may still fit in the
      // write-ahead log's reused space while a batch of creates does not).
      assert.ok([200, 503].includes((await api(sd.url, 'GET', '/readyz')).status));

      // Space returns: signald takes writes again by itself.
      unlinkSync(filler);
      let recovered = false;
      for (let i = 0; i < 100 && !recovered; i++) {
        recovered = (await create(100000 + i)) === 201;
        if (!recovered) await sleep(100);
      }
      assert.ok(recovered, `no create succeeded after space returned: ${JSON.stringify([...refusals])}`);
      await sleep(1100);
      assert.equal((await api(sd.url, 'GET', '/readyz')).status, 200);

      // Nothing acknowledged was lost: every 201's call is readable, over the
      // API and in the file after a clean stop.
      for (const id of acked) {
        const r = await api(sd.url, 'GET', `/webrtc/calls/${id}`, { tok: service });
        assert.equal(r.status, 200, `acknowledged call ${id} is missing`);
      }
      await sd.stop();
      const onDisk = new Set(sql(dir, "SELECT id FROM calls WHERE provider_id = 'dr-full'").split('\n'));
      for (const id of acked) assert.ok(onDisk.has(id), `acknowledged call ${id} is not in the call log file`);
      assert.equal(sql(dir, 'PRAGMA integrity_check'), 'ok');
    } finally {
      await sd?.stop();
      execFileSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
