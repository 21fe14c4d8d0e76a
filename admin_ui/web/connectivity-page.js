// The admin page's "Connectivity" page: run the test from this browser,
// make and revoke patient test links, and see recent results (the admin's
// and the clinics'). The test itself is connectivity-test.js, the same
// module the public link page runs.
import { el, api, session, time, ago, table, errorLine } from './ui.js';
import { runTest, renderResult } from './connectivity-test.js';

function reachedLine(run) {
  if (!run.result) return el('span', { class: 'hint' }, 'no result (the page was closed before the test ended)');
  const parts = run.servers.map((s, i) => {
    const t = run.result.transports[i];
    return el('span', { class: `state ${t?.reachable ? 'ok' : 'denied'}`, title: s.url }, `${s.transport.toUpperCase()} ${s.port}`);
  });
  return el('span', { class: 'ports' }, parts);
}

function linkUrl(path) {
  return `${location.origin}${path}`;
}

export async function connectivity(root) {
  const data = await api('conntest');
  const mayLink = session.role === 'operator' || session.role === 'admin';
  root.append(el('h1', {}, 'Connectivity test'),
    el('p', { class: 'hint' }, 'Whether a browser can reach this appliance\'s TURN server over each transport it offers, each tried on its own ' +
      'with a fresh credential and relay-only ICE, then a short call relayed through it. Run it here, or send a clinic a test link.'));

  // Run from this browser.
  const out = el('div', { id: 'conntest-result' });
  const progress = el('p', { class: 'hint', id: 'conntest-progress', role: 'status' });
  const button = el('button', { type: 'button', id: 'conntest-run' }, 'Run the test from this browser');
  button.addEventListener('click', async () => {
    button.disabled = true;
    out.replaceChildren();
    try {
      const start = await api('conntest/start', { method: 'POST', body: {} });
      const result = await runTest(start, { onProgress: (m) => { progress.textContent = `Testing: ${m}…`; } });
      progress.textContent = 'Saving the result…';
      const saved = await api(`conntest/runs/${start.runId}`, { method: 'POST', body: result });
      progress.textContent = `Tested ${time(Date.now())}.`;
      out.append(renderResult(start.servers, saved.result, { clientAddress: start.clientAddress }));
      out.dataset.done = 'true';
      await refreshRuns();
    } catch (e) {
      progress.textContent = '';
      out.append(errorLine(e));
      out.dataset.done = 'error';
    } finally {
      button.disabled = false;
    }
  });
  root.append(el('div', { class: 'card', id: 'conntest-here' }, el('h2', {}, 'From this browser'),
    table(['TURN URL tried', 'transport', { text: 'port', class: 'num' }], data.servers.map((s) =>
      el('tr', {}, el('td', { class: 'id' }, s.url, s.offered ? '' : ' (not offered to clients)'), el('td', {}, s.transport.toUpperCase()), el('td', { class: 'num' }, s.port))),
    { empty: 'The appliance offers no TURN URL: set WEBRTC_TURN_SERVERS.' }),
    el('div', { class: 'actions' }, button), progress, out));

  // Patient test links.
  const links = el('div', { class: 'card', id: 'conntest-links' }, el('h2', {}, 'Patient test links'),
    el('p', { class: 'hint' }, `A link a clinic opens without an account to run the same test; its result appears below. Valid ${data.defaultLinkHours} h unless you say otherwise (at most ${data.maxLinkHours} h), ` +
      'usable a few times, revocable. It gives nothing but this test.'));
  if (mayLink) {
    const made = el('div', { id: 'conntest-new-link' });
    const form = el('form', { class: 'filters', id: 'conntest-link-form' },
      el('label', {}, 'For (clinic or patient reference)', el('input', { name: 'label', required: true, maxlength: 80, placeholder: 'Clinic Nord, room 2' })),
      el('label', {}, 'Valid for (hours)', el('input', { name: 'hours', type: 'number', min: 1, max: data.maxLinkHours, value: data.defaultLinkHours })),
      el('div', { class: 'actions' }, el('button', { type: 'submit' }, 'Make a link')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      made.replaceChildren();
      try {
        const link = await api('conntest/links', { method: 'POST', body: { label: form.elements.label.value.trim(), hours: Number(form.elements.hours.value) } });
        const url = linkUrl(link.path);
        made.append(el('p', {}, `Link for ${link.label}, valid until ${time(link.expiresAt)}. Send it to the clinic; it is shown only now:`),
          el('p', { class: 'secret', id: 'conntest-link-url' }, url));
        await refreshLinks();
      } catch (e) {
        made.append(errorLine(e));
      }
    });
    links.append(form, made);
  }
  const linkList = el('div', { id: 'conntest-link-list' });
  links.append(linkList);
  const refreshLinks = async () => {
    const fresh = await api('conntest');
    linkList.replaceChildren(table(['for', 'state', 'valid until', { text: 'runs', class: 'num' }, { text: 'made by', class: 'hide-narrow' }, ''],
      fresh.links.map((l) => {
        const revoke = mayLink && l.state === 'active' ? el('button', { type: 'button', class: 'danger', dataset: { revoke: l.id } }, 'Revoke') : null;
        revoke?.addEventListener('click', async () => {
          if (!confirm(`Revoke the test link for ${l.label}? The clinic can no longer use it.`)) return;
          try {
            await api(`conntest/links/${l.id}/revoke`, { method: 'POST', body: {} });
            await refreshLinks();
          } catch (e) {
            linkList.append(errorLine(e));
          }
        });
        return el('tr', { dataset: { linkId: l.id, state: l.state } },
          el('td', {}, l.label),
          el('td', { title: l.revokedAt ? `revoked by ${l.revokedBy} at ${time(l.revokedAt)}` : '' }, el('span', { class: `state ${l.state === 'active' ? 'ok' : 'cancelled'}` }, l.state.replace('_', ' '))),
          el('td', {}, time(l.expiresAt)),
          el('td', { class: 'num' }, `${l.runs} of ${l.maxRuns}`),
          el('td', { class: 'hide-narrow' }, l.createdBy),
          el('td', {}, revoke));
      }), { empty: 'No test link yet.' }));
  };
  await refreshLinks();
  root.append(links);

  // Recent results.
  const recent = el('div', { class: 'card', id: 'conntest-runs' }, el('h2', {}, 'Recent results'),
    el('p', { class: 'hint' }, 'Newest first. "From" is the address the appliance saw (behind nginx: the client\'s); open a row for the details and the verdict.'));
  const list = el('div', { class: 'runs' });
  const showRuns = (fresh) => {
    const labels = Object.fromEntries(fresh.links.map((l) => [l.id, l.label]));
    const now = Date.now();
    list.replaceChildren();
    for (const run of fresh.runs) {
      const who = run.source === 'link' ? `clinic link "${labels[run.linkId] ?? run.linkId}"` : run.actor;
      const details = el('details', { dataset: { runId: run.id, source: run.source } },
        el('summary', {}, el('span', { class: 'nowrap' }, `${time(run.startedAt)} (${ago(run.startedAt, now)} ago)`), ' · ', who, ' · from ',
          el('span', { class: 'id' }, run.clientAddress), ' · ', reachedLine(run)));
      if (run.result) details.append(renderResult(run.servers, run.result, { clientAddress: run.clientAddress }));
      list.append(details);
    }
    if (!fresh.runs.length) list.append(el('p', { class: 'hint' }, 'No test has run yet.'));
  };
  const refreshRuns = async () => showRuns(await api('conntest'));
  showRuns(data);
  recent.append(list);
  root.append(recent);
}
