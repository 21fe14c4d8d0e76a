// The TURN controls and settings pages (admin role): the key ring and
// "rotate now", revocations in force, quotas and ports, the relay policy
// and its checker (answered by the code that writes the TURN server's
// configuration), and the settings form with its diff before applying.
// Changes go to vytal-apply (a systemd path unit) as requests; the page
// waits for each result.
import { el, api, time, ago, duration, state, figure, table, errorLine } from './ui.js';

// Polls a request until vytal-apply answers (or a minute passes).
async function waitForResult(id, line) {
  for (let i = 0; i < 120; i++) {
    let r;
    try {
      r = await api(`apply/${id}`, { background: true });
    } catch (e) {
      // vytal-admin itself may be restarting (a LOG_LEVEL change): try again.
      await new Promise((ok) => setTimeout(ok, 1000));
      continue;
    }
    if (r.state !== 'pending') return r;
    line.textContent = `Waiting for vytal-apply (${r.waitingSeconds} s)…`;
    await new Promise((ok) => setTimeout(ok, 500));
  }
  return { state: 'failed', message: 'no answer from vytal-apply within a minute: is vytal-apply.path enabled? (systemctl status vytal-apply.path)' };
}

function resultLine(r) {
  return el('p', { class: r.state === 'done' ? 'ok-line' : 'error', role: 'status', dataset: { result: r.state } },
    r.state === 'done' ? 'Done: ' : `${r.state[0].toUpperCase()}${r.state.slice(1)}: `, r.message);
}

// ---- TURN controls --------------------------------------------------------

// Which ports the newest finished connectivity test reached (from the admin
// page or a clinic's test link).
function lastConnectivityTest(tested, now) {
  if (!tested.run) return el('p', { class: 'hint', id: 'last-conntest' }, 'No connectivity test has run yet: the Connectivity page runs one, or makes a link a clinic can open.');
  const where = `${tested.run.source === 'link' ? 'a clinic\'s test link' : 'the admin page'} at ${tested.run.clientAddress}`;
  return el('div', { id: 'last-conntest' },
    el('p', { class: 'hint' }, `Last connectivity test, ${time(tested.run.finishedAt)} (${ago(tested.run.finishedAt, now)} ago), from ${where}: which of the offered ports it reached.`),
    el('ul', {}, ...tested.ports.map((p) =>
      el('li', { dataset: { transport: p.transport, port: String(p.port), reached: String(p.reached) } },
        `${p.transport.toUpperCase()} ${p.port}: ${p.reached ? 'reached' : 'not reached'}`, p.label ? ` (${p.label})` : ''))));
}

export async function turn(root) {
  const [t, tested] = await Promise.all([api('turn'), api('conntest/latest')]);
  const now = Date.now();
  root.append(el('h1', {}, 'TURN controls'),
    el('p', { class: 'hint' }, 'The relay\'s shared secret, who is shut out, its limits and ports, and which peers it relays to. Read from the appliance\'s configuration files as they are now.'));
  const grid = el('div', { class: 'grid' });
  root.append(grid);

  // Key ring.
  const k = t.keyRing;
  const ringCard = el('div', { class: 'card', id: 'key-ring' }, el('h2', {}, 'Key ring'));
  if (!k.path) ringCard.append(el('p', {}, 'No key ring (VYTAL_TURN_KEYRING_FILE is empty): credentials use the static TURN_SHARED_SECRET.'));
  else if (k.error) ringCard.append(el('p', { class: 'error' }, `${k.path}: ${k.error}`));
  else {
    const p = k.previous;
    ringCard.append(el('div', { class: 'figures' },
      figure('current-age', ago(k.currentSince, now), 'current secret\'s age', `The current secret signs every new credential since ${time(k.currentSince)} (the key ring's last change).`),
      figure('previous-stops', !p ? 'none' : p.accepted ? duration(p.stopsInSeconds * 1000) : 'stopped', 'previous secret stops in',
        !p ? 'There is no previous secret.' : `Credentials signed with the previous secret (current until ${time(p.replacedAt)}) are accepted until ${time(p.acceptedUntil)}.`)),
    el('dl', { class: 'facts' },
      el('dt', {}, 'current since'), el('dd', { dataset: { figure: 'current-since' } }, time(k.currentSince)),
      el('dt', {}, 'previous'), el('dd', { dataset: { figure: 'previous' } }, !p ? 'none' : p.accepted
        ? `replaced ${ago(p.replacedAt, now)} ago; accepted until ${time(p.acceptedUntil)}`
        : `replaced ${time(p.replacedAt)}; no longer accepted since ${time(p.acceptedUntil)}`),
      p ? el('dt', {}, 'previous secret\'s age') : null,
      p ? el('dd', { dataset: { figure: 'previous-age' }, title: 'from when it became current to now' }, p.since ? `${ago(p.since, now)} (current from ${time(p.since)})` : 'not recorded (made before the key ring kept it)') : null,
      el('dt', {}, 'file'), el('dd', { class: 'id' }, k.path)));
    const form = el('form', { id: 'rotate-form' },
      el('label', { title: 'How long credentials signed with the secret being replaced keep working: calls in progress refresh theirs well within it.' },
        'Overlap (seconds the old secret keeps working)', el('input', { name: 'overlap', type: 'number', min: 0, max: 2592000, value: k.defaultOverlapSeconds, required: true })),
      p?.accepted ? el('p', { class: 'notice' }, `The previous secret is still accepted for ${duration(p.stopsInSeconds * 1000)}: rotating now ends that at once (only the secret being replaced gets the overlap).`) : null,
      el('button', { type: 'submit', id: 'rotate' }, 'Rotate now…'));
    const confirmBox = el('div', { hidden: true, class: 'notice', id: 'rotate-confirm' });
    const line = el('p', { role: 'status' });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const overlap = Number(form.elements.overlap.value);
      confirmBox.replaceChildren(
        el('p', {}, `Make a new TURN secret now? New credentials use it at once; credentials signed with the current one keep working for ${duration(overlap * 1000)}, then stop.`),
        el('button', { type: 'button', id: 'rotate-yes', onclick: async (e) => {
          e.target.disabled = true;
          try {
            const r = await api('turn/rotate', { method: 'POST', body: { overlapSeconds: overlap } });
            confirmBox.hidden = true;
            line.replaceChildren('Requested…');
            const res = await waitForResult(r.id, line);
            line.replaceWith(resultLine(res));
            setTimeout(() => window.dispatchEvent(new HashChangeEvent('hashchange')), 1500);
          } catch (err) {
            line.replaceChildren(errorLine(err));
          }
        } }, 'Yes, rotate'), ' ',
        el('button', { type: 'button', class: 'secondary', onclick: () => { confirmBox.hidden = true; } }, 'Cancel'));
      confirmBox.hidden = false;
    });
    ringCard.append(el('h2', {}, 'Rotate now'), form, confirmBox, line);
  }
  grid.append(ringCard);

  // Quotas and ports.
  const q = t.quotas;
  const ports = t.ports;
  grid.append(el('div', { class: 'card', id: 'quotas-ports' }, el('h2', {}, 'Quotas and ports'),
    el('div', { class: 'figures' },
      figure('user-quota', q.userQuota, 'allocations per user', 'VYTAL_TURN_USER_QUOTA: one person\'s relays at once, across calls (coturn answers 486 beyond).'),
      figure('total-quota', q.totalQuota, 'allocations in all', 'VYTAL_TURN_TOTAL_QUOTA: the TURN server\'s relays at once.'),
      figure('credential-ttl', duration(q.credentialTtlSeconds * 1000), 'credential lifetime', `TURN_CREDENTIAL_TTL_SECONDS; the server refuses credentials living longer than ${q.maxCredentialTtlSeconds} s.`)),
    el('dl', { class: 'facts' },
      el('dt', {}, 'TURN/STUN'), el('dd', { dataset: { figure: 'ports' } }, `UDP and TCP ${ports.port}`, ports.tls ? `, TLS ${ports.tlsPort} (and 443 through nginx)` : ' (no TLS: no certificate configured)'),
      el('dt', {}, 'listening on'), el('dd', {}, ports.listenIps.join(', ') || '—'),
      el('dt', {}, 'relay addresses'), el('dd', { dataset: { figure: 'relay-ips' } }, ports.relayIps.join(', ') || '—', ports.externalIp ? ` (announced as ${ports.externalIp})` : ''),
      el('dt', {}, 'relay ports'), el('dd', { dataset: { figure: 'relay-ports' } }, `UDP ${ports.minPort}–${ports.maxPort}`),
      el('dt', {}, 'realm'), el('dd', {}, ports.realm),
      el('dt', {}, 'offered to clients'), el('dd', { class: 'id' }, [...ports.turnUrls, ...ports.stunUrls].join(' ') || 'nothing (WEBRTC_TURN_SERVERS is empty)')),
    lastConnectivityTest(tested, now)));

  // Revocations.
  const r = t.revocations;
  grid.append(el('div', { class: 'card wide', id: 'revocations' }, el('h2', {}, 'Revocations in force'),
    el('p', { class: 'hint' }, r.path ? `Participants who left or were removed: the TURN server refuses their credentials until these times (${r.path}, at most ${r.max} entries).` : 'No revocations file (VYTAL_TURN_REVOKED_FILE is empty).'),
    el('div', { class: 'figures' }, figure('revocations', r.inForce, 'in force', 'Entries whose time has not passed.')),
    table(['user', 'call', 'refused until'], r.entries.map((e) => el('tr', {}, el('td', {}, e.user), el('td', { class: 'id' }, e.callId ?? 'every call'), el('td', {}, time(e.until)))),
      { empty: 'nobody is shut out' }),
    r.inForce > r.entries.length ? el('p', { class: 'hint' }, `${r.inForce - r.entries.length} more not shown.`) : null));

  // Relay policy and the checker.
  const policyCard = el('div', { class: 'card wide', id: 'relay-policy' }, el('h2', {}, 'Relay policy'));
  if (t.policyError) policyCard.append(el('p', { class: 'error' }, t.policyError));
  else {
    const checker = el('form', { id: 'peer-check', class: 'filters' },
      el('label', {}, 'Peer address', el('input', { name: 'peer', required: true, placeholder: '10.0.0.5 or 2001:db8::5', autocapitalize: 'none' })),
      el('label', {}, 'Port (optional)', el('input', { name: 'port', type: 'number', min: 1, max: 65535, placeholder: '5000' })),
      el('div', { class: 'actions' }, el('button', { type: 'submit' }, 'Would it relay?')));
    const answer = el('div', { id: 'peer-answer', role: 'status' });
    checker.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const peer = checker.elements.peer.value.trim();
      const port = checker.elements.port.value.trim();
      try {
        const v = await api(`turn/check?${new URLSearchParams(port ? { peer, port } : { peer })}`);
        answer.replaceChildren(el('p', { dataset: { relayed: String(v.relayed) } },
          state(v.relayed ? 'relayed' : 'refused', v.relayed ? 'ok' : 'denied'), ' ',
          `The TURN server ${v.relayed ? 'would relay' : 'would refuse to relay'} to ${v.canonical}${v.port ? ` port ${v.port}` : ''}.`),
        el('dl', { class: 'facts' }, el('dt', {}, 'deciding rule'), el('dd', { class: 'id', dataset: { figure: 'rule' } }, v.rule),
          el('dt', {}, 'why'), el('dd', {}, v.reason)));
      } catch (e) {
        answer.replaceChildren(errorLine(e));
      }
    });
    const p = t.policy;
    const rangeRows = (list, kind) => list.map((x) => el('tr', {}, el('td', {}, state(kind, kind === 'allowed' ? 'ok' : 'denied')), el('td', { class: 'id' }, x.range), el('td', {}, x.why)));
    policyCard.append(
      el('p', { class: 'hint' }, 'Checked by the same code that writes vytal-turnserver\'s configuration (turn_policy/), in coturn\'s order.'),
      checker, answer,
      el('h2', {}, 'Rules in code, before any range'), el('ul', {}, p.inCode.map((s) => el('li', {}, s))),
      el('details', {}, el('summary', {}, `Ranges: ${p.allowed.length} allowed, ${p.denied.length} denied`),
        table(['', 'range', 'what'], [...rangeRows(p.allowed, 'allowed'), ...rangeRows(p.denied, 'denied')])));
  }
  grid.append(policyCard);
}

// ---- Settings -------------------------------------------------------------

export async function settings(root) {
  const s = await api('settings');
  root.append(el('h1', {}, 'Settings'),
    el('p', { class: 'hint' }, 'What a network admin changes. Saved in ', el('code', {}, s.file),
      ' (the appliance\'s own file, kept on upgrades), checked first by the start-up code of each service that reads it; you see the difference and choose whether to restart those services now.'));
  if (!s.fileRead) root.append(el('p', { class: 'notice' }, `vytal-admin was not started with --config ${s.file}: check the units (the services may not read it).`));
  if (s.fileError) root.append(el('p', { class: 'error' }, s.fileError));
  const form = el('form', { class: 'card', id: 'settings-form' });
  const fields = el('div', { class: 'fields' });
  form.append(fields);
  for (const x of s.settings) {
    fields.append(el('label', { title: `${x.help} Default: ${x.default || '(empty)'}.` },
      `${x.label} `, el('code', {}, x.key),
      el('input', { name: x.key, value: x.value, autocapitalize: 'none', spellcheck: 'false', dataset: { original: x.value } }),
      el('span', { class: 'hint' }, x.fromEnvironment ? 'set in the environment (the file cannot change it); ' : x.fileValue !== null ? 'from the settings file; ' : 'from appliance.conf, site.conf or the default; ',
        `restarts ${x.restarts.join(', ')}`)));
  }
  const preview = el('div', { id: 'settings-preview', role: 'status' });
  form.append(el('button', { type: 'submit', id: 'settings-review' }, 'Review changes'), preview);
  root.append(form);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const changes = {};
    for (const input of form.querySelectorAll('input[name]')) if (input.value.trim() !== input.dataset.original) changes[input.name] = input.value.trim();
    if (!Object.keys(changes).length) {
      preview.replaceChildren(el('p', { class: 'hint' }, 'Nothing changed.'));
      return;
    }
    let p;
    for (const input of form.querySelectorAll('input[name]')) input.removeAttribute('aria-invalid');
    try {
      p = await api('settings/preview', { method: 'POST', body: { changes } });
    } catch (e) {
      if (e.key) form.elements[e.key]?.setAttribute('aria-invalid', 'true');
      preview.replaceChildren(el('p', { class: 'error', role: 'alert', dataset: { refused: e.key ?? '' } }, `Refused: ${e.message}`));
      return;
    }
    const restart = el('input', { type: 'checkbox', name: 'restart', id: 'settings-restart' });
    const line = el('p', { role: 'status' });
    preview.replaceChildren(el('h2', {}, 'Changes'),
      table(['setting', 'now', 'after'], p.changes.map((c) => el('tr', { dataset: { key: c.key } }, el('td', {}, el('code', {}, c.key)), el('td', { class: 'id' }, c.before || '(empty)'), el('td', { class: 'id' }, c.after || '(empty)')))),
      el('p', {}, 'These services read them at start: ', el('strong', { dataset: { figure: 'restarts' } }, p.restarts.join(', ')), '.'),
      el('label', { class: 'check' }, restart, ' Restart them now (calls relayed by vytal-turnserver drop when it restarts; clients reconnect)'),
      el('button', { type: 'button', id: 'settings-apply', onclick: async (e) => {
        e.target.disabled = true;
        try {
          const r = await api('settings/apply', { method: 'POST', body: { changes, restart: restart.checked } });
          line.replaceChildren('Requested…');
          const res = await waitForResult(r.id, line);
          line.replaceWith(resultLine(res));
        } catch (err) {
          line.replaceChildren(errorLine(err));
          e.target.disabled = false;
        }
      } }, 'Apply'), line);
  });
}
