// Checks real responses of signald against docs/openapi.yaml: the route and
// method must be documented, the status listed (or covered by `default`),
// and the body valid against its schema (JSON Schema 2020-12, with Ajv).
// signald.mjs's api() runs every response through checkResponse(), so every
// integration test that talks REST also checks the description.
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import { parse } from 'yaml';

const SPEC_FILE = new URL('../../../docs/openapi.yaml', import.meta.url);
export const spec = parse(readFileSync(SPEC_FILE, 'utf8'));

// Not JSON REST routes: the WebSocket upgrade and the demo page's files.
const OUTSIDE = [/^\/webrtc\/ws$/, /^\/webrtc\/demo(\/|$)/];

const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addFormat('uuid', true); // checked by the schemas' patterns
ajv.addFormat('date-time', true);
ajv.addSchema({ ...spec, $id: 'spec' });

const pointer = (parts) => parts.map((p) => String(p).replaceAll('~', '~0').replaceAll('/', '~1')).join('/');
const validators = new Map();
function validator(parts) {
  const key = pointer(parts);
  if (!validators.has(key)) validators.set(key, ajv.compile({ $ref: `spec#/${key}` }));
  return validators.get(key);
}

const templates = Object.keys(spec.paths).map((template) => ({
  template,
  regex: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
}));

// The documented path template of a request path (query removed); null when none.
export function routeOf(path) {
  const bare = path.split('?')[0];
  return templates.find((t) => t.regex.test(bare))?.template ?? null;
}

// null when the response agrees with the description, else what is wrong.
export function checkResponse({ method, path, status, contentType = '', body, text }) {
  const bare = path.split('?')[0];
  method = method.toLowerCase();
  if (method === 'options' || OUTSIDE.some((r) => r.test(bare))) return null;
  const where = `${method.toUpperCase()} ${bare} -> ${status}`;
  const errorShape = () => {
    const v = validator(['components', 'schemas', 'Error']);
    return v(body) ? null : `${where}: not an Error object: ${ajv.errorsText(v.errors)}; body ${text}`;
  };
  const template = routeOf(bare);
  if (!template) return status === 404 ? errorShape() : `${where}: undocumented route (docs/openapi.yaml)`;
  const operation = spec.paths[template][method === 'head' ? 'get' : method];
  if (!operation) return status === 405 ? errorShape() : `${where}: undocumented method for ${template}`;
  const key = String(status) in operation.responses ? String(status) : 'default';
  let response = operation.responses[key];
  if (!response) return `${where}: status not documented for ${template}`;
  if (response.$ref) response = spec.components.responses[response.$ref.split('/').pop()];
  if (method === 'head' || !response.content) return null;
  const [mediaType] = Object.keys(response.content);
  if (!contentType.startsWith(mediaType)) return `${where}: Content-Type ${contentType}, documented ${mediaType}`;
  if (mediaType !== 'application/json') return null;
  if (body === undefined) return `${where}: the body is not JSON: ${text}`;
  const parts = response === operation.responses[key]
    ? ['paths', template, method, 'responses', key, 'content', mediaType, 'schema']
    : ['components', 'responses', operation.responses[key].$ref.split('/').pop(), 'content', mediaType, 'schema'];
  const v = validator(parts);
  return v(body) ? null : `${where}: ${ajv.errorsText(v.errors)}\nbody: ${text.slice(0, 2000)}`;
}
