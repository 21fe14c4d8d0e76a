// The public test page a clinic opens from a patient test link
// (/network-test/#<token>). The token stays in the URL's fragment (browsers
// never send it) and goes to the appliance only in an Authorization header.
// Runs connectivity-test.js, the admin page's own test, and posts the result.
import { el as h } from './dom.js';
import { runTest, renderResult } from './connectivity-test.js';

const $ = (id) => document.getElementById(id);
const token = decodeURIComponent(location.hash.replace(/^#/, ''));

async function call(path, body) {
  const res = await fetch(`api/${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify(body ?? {}),
    credentials: 'omit',
  });
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = new Error(data?.error?.message ?? `the appliance answered ${res.status}`);
    err.code = data?.error?.code ?? `http_${res.status}`;
    throw err;
  }
  return data;
}

async function start() {
  const button = $('start');
  const problem = $('problem');
  button.disabled = true;
  problem.hidden = true;
  $('result').hidden = true;
  document.body.dataset.state = 'running';
  try {
    const run = await call('start');
    $('for').hidden = false;
    $('for').textContent = `Test for ${run.label}.`;
    const result = await runTest(run, { onProgress: (m) => { $('progress').textContent = `Testing: ${m}…`; } });
    $('progress').textContent = 'Sending the result to the hospital…';
    const saved = await call(`runs/${run.runId}`, result);
    $('progress').textContent = 'Done. The hospital\'s network team can see this result.';
    $('result').replaceChildren(h('h2', {}, 'Result'), renderResult(run.servers, saved.result, { clientAddress: run.clientAddress }));
    $('result').hidden = false;
    document.body.dataset.state = 'done';
  } catch (e) {
    $('progress').textContent = '';
    problem.textContent = e.message;
    problem.dataset.code = e.code ?? '';
    problem.hidden = false;
    document.body.dataset.state = 'error';
  } finally {
    button.disabled = false;
  }
}

// Another link pasted into the address bar only changes the fragment: start over with it.
window.addEventListener('hashchange', () => location.reload());
document.addEventListener('DOMContentLoaded', () => {
  if (!token) {
    $('problem').textContent = 'This page needs the whole link the hospital sent (it ends with a long code after #).';
    $('problem').hidden = false;
    $('start').disabled = true;
    document.body.dataset.state = 'error';
    return;
  }
  $('start').addEventListener('click', start);
  document.body.dataset.state = 'ready';
});
