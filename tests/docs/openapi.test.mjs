// docs/openapi.yaml against the code: an OpenAPI 3.1 document whose paths
// are exactly the REST routes signald/rest/rest_api.cc serves. (The
// responses themselves are checked against it by every integration test
// that calls api(): tests/integration/lib/openapi.mjs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spec } from '../integration/lib/openapi.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;

test('docs/openapi.yaml is OpenAPI 3.1 and documents exactly the routes signald serves', () => {
  assert.match(spec.openapi, /^3\.1\./);
  const source = readFileSync(`${ROOT}signald/rest/rest_api.cc`, 'utf8');
  const routes = new Set([...source.matchAll(/x\.route = "(\/[^"]*)"/g)].map((m) => m[1]));
  // The end and cancel routes are named from the path's last segment.
  assert.match(source, /x\.route = seg\[3\] == "end" \? "\/webrtc\/calls\/\{id\}\/end" : "\/webrtc\/calls\/\{id\}\/cancel"/);
  routes.add('/webrtc/calls/{id}/end');
  routes.add('/webrtc/calls/{id}/cancel');
  routes.delete('/webrtc/demo'); // the demo page's files, not JSON
  assert.deepEqual([...routes].sort(), Object.keys(spec.paths).sort());
  const version = readFileSync(`${ROOT}CMakeLists.txt`, 'utf8').match(/project\(\S+ VERSION (\S+)/)[1];
  assert.equal(spec.info.version, version, 'info.version follows the project version');
});
