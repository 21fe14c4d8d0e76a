// vytalctl backup as an admin would use it on a running appliance: while
// signald keeps creating calls, the backup holds every call acknowledged
// before it started, in a copy SQLite checks as sound; the admin page's
// accounts, the --config files and the TURN key ring come along; files are
// 0600 in a 0700 directory; `sha256sum -c MANIFEST` passes, and fails once a
// copy is changed; a second backup into the same directory is refused; and a
// signald started on the copied call log serves the calls (the restore).
import assert from 'node:assert/strict';
import {execFileSync, spawn, spawnSync} from 'node:child_process';
import {appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {test} from 'node:test';

import {api, startSignald, tempDir, VYTALCTL} from './lib/signald.mjs';
import {createCall, SERVICE} from './lib/ws_client.mjs';

// vytalctl run without blocking the test's own event loop (the create loop goes on).
function vytalctl(args, env) {
  return new Promise((resolve) => {
    const p = spawn(VYTALCTL, args, {env: {PATH: process.env.PATH, ...env}});
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({code, stdout, stderr}));
  });
}

const mode = (path) => statSync(path).mode & 0o777;
const sqlite = (file, query) =>
    spawnSync('sqlite3', ['-readonly', '-batch', file, query], {encoding: 'utf8'}).stdout.trim();

test(
    'vytalctl backup: a checked copy of a call log in use, with accounts, configuration and key ring; restore serves the calls',
    {timeout: 120000}, async (t) => {
      const work = tempDir('vytal-backup-');
      const sd = await startSignald();
      let restored;
      try {
        const conf = join(work, 'site.conf');
        const keyring = join(sd.dataDir, 'turn', 'keyring');
        mkdirSync(join(sd.dataDir, 'turn'));
        writeFileSync(
            conf,
            `VYTAL_DATA_DIR=${sd.dataDir}\nVYTAL_TURN_KEYRING_FILE=${keyring}\nVYTAL_SETTINGS_FILE=${
                join(work, 'absent.conf')}\n`);
        const ctl = (args) => vytalctl(['--config', conf, ...args], {});
        assert.equal((await ctl(['rotate-turn-secret'])).code, 0);
        const added = spawnSync(
            VYTALCTL, ['--config', conf, 'admin', 'add', 'backup-admin', '--role', 'admin', '--password-stdin'],
            {input: 'a long enough passphrase\n', encoding: 'utf8'});
        assert.equal(added.status, 0, added.stderr);

        const before = [];
        for (let i = 0; i < 20; i++) before.push((await createCall(sd, `patient-bk-${i}`, `provider-bk-${i}`)).id);

        // Creates go on while the backup runs (bounded: 3,000 calls or 30 s).
        let running = true;
        let acknowledged = before.length;
        const loop = (async () => {
          for (let i = 0; running && i < 3000; i++) {
            await createCall(sd, `patient-bk-load-${i}`, 'provider-bk-load');
            acknowledged++;
          }
        })();
        await new Promise((r) => setTimeout(r, 200));
        const ackedBeforeBackup = acknowledged;
        const out = join(work, 'backup');
        const r = await ctl(['backup', out]);
        running = false;
        await loop;
        assert.equal(r.code, 0, r.stderr);
        const callsLine = r.stdout.match(new RegExp(`\\n  ${sd.dataDir}/calls\\.db +(\\d+) call\\(s\\), checked\\n`));
        assert.ok(callsLine, r.stdout);
        assert.match(r.stdout, new RegExp(`\\n  ${sd.dataDir}/admin\\.db +1 admin account\\(s\\), checked\\n`));
        assert.match(r.stdout, new RegExp(`\\n  ${conf} +\\d+ bytes\\n`));
        assert.match(r.stdout, new RegExp(`\\n  ${keyring} +\\d+ bytes\\n`));
        assert.match(r.stdout, /absent\.conf +not there \(nothing to copy\)\n/);

        // The copy: sound, and holding every call acknowledged before the backup began.
        const copy = join(out, 'files', sd.dataDir, 'calls.db');
        assert.equal(sqlite(copy, 'PRAGMA integrity_check'), 'ok');
        const inCopy = Number(sqlite(copy, 'SELECT count(*) FROM calls'));
        assert.equal(inCopy, Number(callsLine[1]));
        assert.ok(
            inCopy >= ackedBeforeBackup && inCopy <= acknowledged,
            `${inCopy} calls in the copy, ${ackedBeforeBackup} acknowledged before`);
        t.diagnostic(`${ackedBeforeBackup} calls acknowledged before the backup, ${inCopy} in the copy, ${
            acknowledged} by the end`);
        const ids = new Set(sqlite(copy, 'SELECT id FROM calls').split('\n'));
        for (const id of before) assert.ok(ids.has(id), `call ${id} in the copy`);
        assert.equal(sqlite(join(out, 'files', sd.dataDir, 'admin.db'), 'SELECT name FROM accounts'), 'backup-admin');

        // Private: patient data and secrets.
        assert.equal(mode(out), 0o700);
        for (const f
                 of ['MANIFEST', `files${sd.dataDir}/calls.db`, `files${sd.dataDir}/admin.db`, `files${conf}`,
                     `files${keyring}`])
          assert.equal(mode(join(out, f)), 0o600, f);

        // OWNERS: each original's mode and owner, for the restore; VERSION: the release.
        const owners = readFileSync(join(out, 'OWNERS'), 'utf8').trim().split('\n');
        assert.equal(owners.length, 4);
        const me = spawnSync('id', ['-un'], {encoding: 'utf8'}).stdout.trim();
        assert.ok(
            owners.includes(
                `0600 ${me}:${spawnSync('id', ['-gn'], {encoding: 'utf8'}).stdout.trim()} ${sd.dataDir}/admin.db`),
            owners.join('\n'));
        assert.ok(
            owners.some((l) => l.endsWith(` ${keyring}`) && l.startsWith(`0${mode(keyring).toString(8)} `)),
            owners.join('\n'));
        assert.match(readFileSync(join(out, 'VERSION'), 'utf8'), /^vytalctl \d+\.\d+\.\d+ \(commit /);

        // The manifest checks the copies, and notices a changed one.
        const check = () => spawnSync('sha256sum', ['-c', 'MANIFEST'], {cwd: out, encoding: 'utf8'});
        const ok = check();
        assert.equal(ok.status, 0, ok.stdout + ok.stderr);
        assert.equal(ok.stdout.trim().split('\n').length, 4);
        appendFileSync(join(out, 'files', conf), '# changed\n');
        const changed = check();
        assert.equal(changed.status, 1);
        assert.match(changed.stdout, new RegExp(`files${conf}: FAILED`));

        // Never into an older backup.
        const again = await ctl(['backup', out]);
        assert.equal(again.code, 1);
        assert.match(again.stderr, /exists and is not empty; give a new directory/);

        // Restore: a new data directory from the copy, and a signald on it.
        const restoredDir = join(work, 'restored');
        mkdirSync(restoredDir);
        copyFileSync(copy, join(restoredDir, 'calls.db'));
        restored = await startSignald({}, {dataDir: restoredDir});
        for (const id of [before[0], before[19]]) {
          const got = await api(restored.url, 'GET', `/webrtc/calls/${id}`, {tok: SERVICE});
          assert.equal(got.status, 200, got.text);
          assert.equal(got.body.id, id);
        }
        const shown = await vytalctl(['call', 'show', before[0]], {VYTAL_DATA_DIR: restoredDir});
        assert.equal(shown.code, 0, shown.stderr);
        assert.match(shown.stdout, new RegExp(before[0]), 'vytalctl reads the call from the restored log');
      } finally {
        await restored?.stop();
        await sd.stop();
        sd.cleanup();
        rmSync(work, {recursive: true, force: true});
      }
    });

test('vytalctl backup: a configured path that is not a regular file, or cannot be read, fails the backup, naming it, after copying the rest', async () => {
  const work = tempDir('vytal-backup-bad-');
  const sd = await startSignald();
  try {
    const conf = join(work, 'site.conf');
    const certDir = join(work, 'cert-is-a-directory');
    mkdirSync(certDir);
    // A regular file whose read fails (EIO at offset 0 of its own memory), for the read error even as root.
    const unreadable = '/proc/self/mem';
    writeFileSync(conf, `VYTAL_DATA_DIR=${sd.dataDir}\nVYTAL_TURN_CERT_FILE=${certDir}\nVYTAL_TURN_KEY_FILE=${unreadable}\n`);
    await createCall(sd, 'patient-bk-bad', 'provider-bk-bad');
    const out = join(work, 'backup');
    const r = await vytalctl(['--config', conf, 'backup', out], {});
    assert.equal(r.code, 1, `exit status 1 when a file could not be copied:\n${r.stdout}${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${certDir}: not a regular file`));
    assert.match(r.stderr, /\/proc\/self\/mem: Input\/output error/);
    // What could be copied is there and checks out, so the admin sees what is missing, not an empty directory.
    assert.equal(sqlite(join(out, 'files', sd.dataDir, 'calls.db'), 'SELECT count(*) FROM calls'), '1');
    const ok = spawnSync('sha256sum', ['-c', 'MANIFEST'], {cwd: out, encoding: 'utf8'});
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.doesNotMatch(readFileSync(join(out, 'MANIFEST'), 'utf8'), /cert-is-a-directory|proc\/self\/mem/);
  } finally {
    await sd.stop();
    sd.cleanup();
    rmSync(work, {recursive: true, force: true});
  }
});

test('vytalctl backup: refused, with the figures, where the copies would not fit or would leave the call log\'s disk under 10 % free',
     {skip: process.getuid() === 0 ? false : 'needs root to mount small tmpfs file systems'}, async () => {
       const work = tempDir('vytal-backup-room-');
       const mounts = [];
       const mount = (name, size) => {
         const at = join(work, name);
         mkdirSync(at);
         execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', at]);
         mounts.push(at);
         return at;
       };
       const free = (at) => {
         const s = statfsSync(at);
         return s.bavail * s.bsize;
       };
       // Leaves `room` bytes free on the file system at `at`.
       const fill = (at, room) => writeFileSync(join(at, 'filler'), Buffer.alloc(Math.max(0, free(at) - room), 1));
       try {
         // The call log on an 8 MiB disk of its own, as on a small appliance.
         const disk = mount('disk', '8m');
         const sd = await startSignald({}, {dataDir: join(disk, 'data')});
         for (let i = 0; i < 5; i++) await createCall(sd, `patient-room-${i}`, 'provider-room');
         await sd.stop();
         const conf = join(work, 'site.conf');
         writeFileSync(conf, `VYTAL_DATA_DIR=${join(disk, 'data')}\n`);
         const backup = (dir) => vytalctl(['--config', conf, 'backup', dir], {});
         // What the copies may take: the databases with their write-ahead logs, and the configuration.
         const need = ['calls.db', 'calls.db-wal', 'admin.db', 'admin.db-wal']
                          .map((f) => join(disk, 'data', f))
                          .concat([conf])
                          .reduce((n, f) => n + (existsSync(f) ? statSync(f).size : 0), 0);
         const fivePercent = Math.floor(statfsSync(disk).blocks * statfsSync(disk).bsize / 20);

         // Beside the call log: room for the copies, but not for them and the 10 % as well.
         fill(disk, need + fivePercent);
         const beside = await backup(join(disk, 'backup'));
         assert.equal(beside.code, 1, beside.stdout + beside.stderr);
         const keepKiB = Math.ceil(Math.floor(statfsSync(disk).blocks * statfsSync(disk).bsize / 10) / 1024);
         assert.match(beside.stderr, new RegExp(`the copies need up to \\d+ [KM]iB and its file system has \\d+ [KM]iB free, which must keep ${
                                                    keepKiB} KiB \\(10 %\\) for the call log beside it; give a directory on another disk`));
         assert.ok(!beside.stdout.includes('calls.db'), 'nothing was copied');

         // Another disk with the same room takes it.
         const other = mount('other', '8m');
         fill(other, need + fivePercent);
         const elsewhere = await backup(join(other, 'backup'));
         assert.equal(elsewhere.code, 0, elsewhere.stderr);
         assert.equal(sqlite(join(other, 'backup', 'files', disk, 'data', 'calls.db'), 'SELECT count(*) FROM calls'), '5');

         // A disk too small for the copies at all.
         const tiny = mount('tiny', '64k');
         const small = await backup(join(tiny, 'backup'));
         assert.equal(small.code, 1, small.stdout + small.stderr);
         assert.match(small.stderr, /the copies need up to \d+ [KM]iB and its file system has 64 KiB free; give a directory on another disk/);
       } finally {
         for (const at of mounts.reverse()) spawnSync('umount', [at]);
         rmSync(work, {recursive: true, force: true});
       }
     });
