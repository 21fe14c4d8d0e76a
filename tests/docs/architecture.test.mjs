// ARCHITECTURE.md against the tree: the folder table names every folder of
// the repository's root and every folder of a program, and nothing that is
// gone; every source file the text names exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const text = readFileSync(join(root, 'ARCHITECTURE.md'), 'utf8');
const tracked = execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean);

function folderTable() {
  const section = text.slice(text.indexOf('## Folders'), text.indexOf('\n## ', text.indexOf('## Folders') + 1));
  return [...section.matchAll(/^\| `([^`]+)\/` \|/gm)].map((m) => m[1]);
}

test('the folder table lists every folder of the root and of each program', () => {
  const listed = new Set(folderTable());
  const folders = new Set(tracked.filter((f) => f.includes('/') && !f.startsWith('.')).map((f) => f.split('/')[0]));
  for (const f of folders) assert.ok(listed.has(f), `${f}/ is missing from ARCHITECTURE.md's folder table`);
  // A program's own subfolders (signald/rest/, ...) each have a row too.
  const programs = ['signald', 'syncd', 'vytalctl', 'admin_ui'];
  for (const f of tracked) {
    const parts = f.split('/');
    if (parts.length > 2 && programs.includes(parts[0]) && /\.(cc|h|js|html)$/.test(f)) {
      const sub = `${parts[0]}/${parts[1]}`;
      assert.ok(listed.has(sub), `${sub}/ is missing from ARCHITECTURE.md's folder table`);
    }
  }
  for (const f of listed) assert.ok(existsSync(join(root, f)), `ARCHITECTURE.md lists ${f}/, which does not exist`);
});

test('every source file ARCHITECTURE.md names exists', () => {
  const named = new Set([...text.matchAll(/`((?:[a-z_]+\/)+[a-z_0-9.-]+\.(?:cc|h|mjs|sh|js))`/g)].map((m) => m[1]));
  assert.ok(named.size > 20, `only ${named.size} files named: did the pattern break?`);
  for (const f of named) assert.ok(existsSync(join(root, f)), `ARCHITECTURE.md names ${f}, which does not exist`);
});
