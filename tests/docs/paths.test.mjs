// The TURN files have one path on an installed appliance, and every document
// that names them names that one: the package's appliance.conf sets it; the
// man pages, docs, READMEs, units, maintainer scripts and tests agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;
const conf = readFileSync(join(ROOT, 'packaging/etc/appliance.conf'), 'utf8');
const setting = (key) => conf.match(new RegExp(`^${key} = (\\S+)$`, 'm'))?.[1];

const files = [
  'README.md', 'ARCHITECTURE.md', 'docs/CONFIG.md', 'docs/PROTOCOL.md', 'packaging/README.md', 'packaging/EDGE.md',
  'turn_plugin/README.md', 'packaging/debian/vytalwatch-appliance.postinst', 'tests/packaging/install_test.sh',
  ...readdirSync(join(ROOT, 'packaging/man')).map((f) => `packaging/man/${f}`),
  ...readdirSync(join(ROOT, 'systemd')).map((f) => `systemd/${f}`),
];

for (const [key, name] of [['VYTAL_TURN_KEYRING_FILE', 'keyring'], ['VYTAL_TURN_REVOKED_FILE', 'revoked'],
  ['VYTAL_TURN_USAGE_SOCKET', 'turn-usage.sock']]) {
  test(`${key}: one path everywhere`, () => {
    const path = setting(key);
    assert.ok(path?.startsWith('/'), `packaging/etc/appliance.conf sets ${key}`);
    let seen = 0;
    for (const file of files) {
      // troff writes a hyphen as \-; a path is a run of path characters ending in the file's name.
      const text = readFileSync(join(ROOT, file), 'utf8').replaceAll('\\-', '-').replaceAll('$ROOT', '');
      const escaped = name.replaceAll('.', '\\.');
      for (const m of text.matchAll(new RegExp(`(/(?:var|run|etc)/[A-Za-z0-9_./-]*?[/-]?${escaped})(?![A-Za-z0-9_.-])`, 'g'))) {
        seen++;
        assert.equal(m[1], path, `${file} names ${m[1]} for ${key} (the package uses ${path})`);
      }
    }
    assert.ok(seen >= 2, `${path} is named in the docs (${seen} times)`);
  });
}
