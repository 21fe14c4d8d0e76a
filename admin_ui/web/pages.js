// The pages: overview, call log and a call, audit log, accounts, password.
// Each renders into `root` from the JSON API; every figure has a tooltip or
// a line saying what it is.
import { el, svg, api, session, time, duration, ago, bytes, state, figure, table, errorLine, localInputToMs, msToLocalInput, COLORS } from './ui.js';

const STATUSES = ['scheduled', 'active', 'ended', 'missed', 'cancelled', 'failed'];
const STATUS_MEANING = {
  scheduled: 'created, waiting for the second participant',
  active: 'two or more participants joined; the call is running',
  ended: 'ended after being active (billable duration)',
  missed: 'ended before anyone answered',
  cancelled: 'cancelled before it started',
  failed: 'failed (a fault, not a hang-up)',
};

// ---- Overview -------------------------------------------------------------

export async function overview(root) {
  const o = await api('overview');
  const now = o.generatedAt;
  root.append(el('h1', {}, 'Overview'),
    el('p', { class: 'hint' }, `Collected ${time(now)}. Reload the page to refresh.`));

  // Problems first: what needs doing.
  const problems = el('div', { class: 'card', id: 'problems' }, el('h2', {}, 'Problems, worst first'));
  if (!o.problems.length) problems.append(el('p', { class: 'ok-line', dataset: { figure: 'problems' } }, 'Nothing needs attention.'));
  else problems.append(el('ol', { class: 'problems', dataset: { figure: 'problems' } }, o.problems.map((p) =>
    el('li', {}, state(p.severity), ' ', p.title, el('span', { class: 'action' }, 'What to do: ', p.action)))));
  root.append(problems);

  const grid = el('div', { class: 'grid' });
  root.append(grid);

  // Services.
  grid.append(el('div', { class: 'card wide', id: 'services' }, el('h2', {}, 'Services'),
    el('p', { class: 'hint' }, 'Up or down as each service answers (its health check, systemd, or its port); uptime since it last started.'),
    table(['service', 'state', { text: 'version', class: 'hide-narrow' }, 'uptime'], o.services.map((s) =>
      el('tr', { dataset: { service: s.name } },
        el('td', { title: s.detail, class: 'nowrap' }, s.name),
        el('td', { title: `${s.detail} (from ${s.source})` }, state(s.state)),
        el('td', { class: 'hide-narrow', title: 'the version the service reports' }, s.version ?? '—'),
        el('td', { title: s.startedAt ? `running since ${time(s.startedAt)}` : 'the service does not report its start time' },
          s.uptimeSeconds === null ? '—' : ago(now - s.uptimeSeconds * 1000, now)))))));

  // Calls.
  const c = o.calls;
  const today = el('div', { class: 'table-wrap' }, el('table', {}, el('tbody', {}, STATUSES.map((s) =>
    el('tr', { title: STATUS_MEANING[s] }, el('td', {}, state(s)), el('td', { class: 'num', dataset: { figure: `today-${s}` } }, c.today[s] ?? 0))))));
  grid.append(el('div', { class: 'card', id: 'calls-card' }, el('h2', {}, 'Calls'),
    el('div', { class: 'figures' },
      figure('calls-active', c.active, 'active now', 'Calls whose status is active in the call log: two or more participants joined and nobody ended it.'),
      figure('participants-reconnecting', c.reconnectingParticipants, 'reconnecting', 'Participants of active calls who dropped and may rejoin within the reconnect grace period.'),
      figure('calls-today', c.todayTotal, 'created today', `Calls created since ${time(c.todaySince)} (midnight in the appliance's time zone).`)),
    el('p', { class: 'hint' }, c.signaldActive === null ? 'signald did not report its own count.' :
      `signald counts ${c.signaldActive} active call(s), ${c.wsSessions ?? 0} signaling connection(s) and ${c.openConnections ?? 0} open HTTP connection(s) (its /metrics).`),
    el('h2', {}, 'Created today, by status'), today,
    c.error ? el('p', { class: 'error' }, c.error) : null));

  // Sync.
  const y = o.sync;
  const syncBody = !y.configured && !y.reachable
    ? [el('p', { dataset: { figure: 'sync-state' } }, 'Not configured: the call log is not sent to the platform (set VYTAL_SITE_ID and the DATABASE_ settings, then enable vytal-syncd).')]
    : !y.reachable
      ? [el('p', { class: 'error', dataset: { figure: 'sync-state' } }, 'vytal-syncd does not answer.')]
      : [el('div', { class: 'figures' },
          figure('sync-backlog', y.backlogRows, 'rows waiting', 'Changes in the call log that the central PostgreSQL does not have yet.'),
          figure('sync-lag', `${Math.round(y.lagSeconds)} s`, 'lag', 'Age of the oldest change not yet in PostgreSQL; 0 when nothing waits.'),
          figure('sync-parked', y.parkedRows, 'rows parked', 'Rows PostgreSQL refused for their content; they are kept aside and listed in sync_parked.')),
        el('dl', { class: 'facts' },
          el('dt', {}, 'PostgreSQL'), el('dd', { dataset: { figure: 'sync-state' } }, y.connected ? 'connected' : 'not connected'),
          el('dt', {}, 'last success'), el('dd', { title: 'when a batch last committed in PostgreSQL' }, y.lastSuccessAt ? time(y.lastSuccessAt) : 'never'),
          el('dt', {}, 'last error'), el('dd', { title: 'the kind of the latest error and when it happened' }, y.lastErrorKind ? `${y.lastErrorKind} at ${time(y.lastErrorAt)}` : 'none'))];
  grid.append(el('div', { class: 'card', id: 'sync' }, el('h2', {}, 'Sync to the platform'), ...syncBody));

  // Certificates and the key ring.
  const certRows = o.certificates.map((cert) => el('tr', {},
    el('td', {}, cert.label),
    cert.error ? el('td', { class: 'error', colspan: 2 }, `${cert.path}: ${cert.error}`)
      : el('td', { class: 'num', title: `valid until ${time(cert.notAfter)}${cert.selfSigned ? '; self-signed' : ''}`, dataset: { figure: `cert-days` } }, `${cert.daysLeft} days`),
    cert.error ? null : el('td', { class: 'hide-narrow' }, cert.selfSigned ? state('self-signed', 'warning') : state('CA-signed', 'ok'))));
  const k = o.keyRing;
  grid.append(el('div', { class: 'card', id: 'security' }, el('h2', {}, 'Certificates'),
    el('p', { class: 'hint' }, 'Days until each configured certificate expires.'),
    table(['certificate', { text: 'expires in', class: 'num' }, { text: 'issuer', class: 'hide-narrow' }], certRows, { empty: 'no certificate configured' }),
    el('h2', {}, 'TURN key ring'),
    !k.configured ? el('p', {}, 'Not used: TURN credentials use a static TURN_SHARED_SECRET.')
      : k.error ? el('p', { class: 'error' }, k.error)
        : el('dl', { class: 'facts' },
          el('dt', {}, 'current secret'), el('dd', { title: `made ${time(k.rotatedAt)} (vytalctl rotate-turn-secret)`, dataset: { figure: 'keyring-age' } }, `${ago(k.rotatedAt, now)} old`),
          el('dt', {}, 'previous secret'), el('dd', { title: 'TURN credentials minted with the previous secret keep working until then' },
            k.previousAccepted ? `accepted until ${time(k.previousUntil)}` : k.previousUntil ? `stopped working ${time(k.previousUntil)}` : 'none (never rotated)'))));

  // Clock and disk.
  const d = o.disk;
  grid.append(el('div', { class: 'card', id: 'machine' }, el('h2', {}, 'Machine'),
    el('dl', { class: 'facts' },
      el('dt', {}, 'clock'), el('dd', { title: 'the kernel clock discipline (adjtimex): TURN credentials and platform tokens carry expiry times', dataset: { figure: 'clock' } },
        !o.clock.known ? 'unknown' : o.clock.synchronized ? 'synchronized' : 'NOT synchronized'),
      el('dt', {}, 'free space'), el('dd', { title: `where the call log lives: ${d.path}`, dataset: { figure: 'disk-free' } },
        d.freeBytes === null ? 'unknown' : `${bytes(d.freeBytes)} of ${bytes(d.totalBytes)} (${Math.round((100 * d.freeBytes) / d.totalBytes)} % free)`),
      el('dt', {}, 'appliance'), el('dd', {}, `version ${o.version}`),
      el('dt', {}, 'admin audit'), el('dd', { title: 'admin audit records waiting in admin.db for signald to take them into the call log', dataset: { figure: 'audit-outbox' } },
        [o.auditOutbox ? `${o.auditOutbox} record(s) waiting` : 'all delivered to the call log',
          o.auditRefused ? `, ${o.auditRefused} refused (kept in admin.db)` : ''].join('')))));
}

// ---- Call log -------------------------------------------------------------

function filterForm(fields, values, onSubmit, exportHref) {
  const form = el('form', { class: 'filters card', id: 'filters' });
  for (const f of fields) {
    let input;
    if (f.options) input = el('select', { name: f.name }, el('option', { value: '' }, 'any'), f.options.map((o) => el('option', { value: o, selected: values[f.name] === o }, o)));
    else input = el('input', { name: f.name, type: f.type ?? 'text', value: values[f.name] ?? '', placeholder: f.placeholder, maxlength: 128 });
    form.append(el('label', { title: f.title }, f.label, input));
  }
  const exportLink = el('a', { href: exportHref, download: '', id: 'export', title: 'every matching row as CSV (streamed; the export is audited)' }, 'Export CSV');
  form.append(el('div', { class: 'actions' }, el('button', { type: 'submit' }, 'Search'), exportLink));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    onSubmit(Object.fromEntries(new FormData(form).entries()));
  });
  return form;
}

// The hash's query ("#/calls?status=ended") <-> the API's query.
function toApiQuery(values, timeFields = ['from', 'to']) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) {
    if (!v) continue;
    if (timeFields.includes(k)) q.set(k, String(localInputToMs(v)));
    else q.set(k, v);
  }
  return q;
}

export async function calls(root, params) {
  const values = Object.fromEntries(params.entries());
  const q = toApiQuery(values);
  root.append(el('h1', {}, 'Call log'),
    el('p', { class: 'hint' }, 'Every call this appliance handled, newest first. Durations are what the platform bills remote-monitoring minutes from.'));
  root.append(filterForm([
    { name: 'from', label: 'Created from', type: 'datetime-local', title: 'in the appliance\'s time zone' },
    { name: 'to', label: 'Created before', type: 'datetime-local', title: 'in the appliance\'s time zone' },
    { name: 'status', label: 'Status', options: STATUSES },
    { name: 'callId', label: 'Call id', placeholder: 'UUID' },
    { name: 'patientId', label: 'Patient id' },
    { name: 'providerId', label: 'Provider id' },
  ], values, (v) => { location.hash = `#/calls?${new URLSearchParams(Object.entries(v).filter(([, x]) => x))}`; },
  `api/calls.csv?${q}`));

  const list = el('div', { class: 'card', id: 'results' });
  root.append(list);
  const pages = [];  // cursors of the pages before this one
  async function load(cursor) {
    const pq = new URLSearchParams(q);
    if (cursor) pq.set('cursor', cursor);
    list.replaceChildren(el('p', { class: 'hint' }, 'Loading…'));
    let data;
    try {
      data = await api(`calls?${pq}`);
    } catch (e) {
      list.replaceChildren(errorLine(e));
      return;
    }
    const rows = data.calls.map((c) => el('tr', { dataset: { callId: c.id } },
      el('td', {}, time(c.createdAt)),
      el('td', { title: STATUS_MEANING[c.status] }, state(c.status)),
      el('td', { class: 'hide-narrow' }, c.type),
      el('td', { class: 'id' }, c.patientId),
      el('td', { class: 'id' }, c.providerId),
      el('td', { class: 'num', title: 'from the first time two participants were in the call to its end' }, duration(c.durationMs)),
      el('td', { class: 'hide-narrow' }, c.endReason ?? ''),
      el('td', {}, el('a', { href: `#/call/${c.id}` }, 'details'))));
    list.replaceChildren(
      table(['created', 'status', { text: 'type', class: 'hide-narrow' }, 'patient', 'provider', { text: 'duration', class: 'num' }, { text: 'end reason', class: 'hide-narrow' }, ''], rows, { empty: 'no call matches' }),
      el('div', { class: 'pager' },
        el('button', { type: 'button', class: 'secondary', disabled: !pages.length, onclick: () => load(pages.pop() ?? null) }, '← Newer'),
        el('button', { type: 'button', class: 'secondary', id: 'older', disabled: !data.nextCursor, onclick: () => { pages.push(cursor); load(data.nextCursor); } }, 'Older →'),
        el('span', { class: 'hint' }, `${data.calls.length} call(s) on this page`)));
  }
  await load(null);
}

function qualityChart(samples) {
  // RTT (ms) and bitrate (kbit/s) per participant over the call.
  const users = [...new Set(samples.map((s) => s.userId))];
  const W = 860, H = 220, L = 48, R = 78, T = 14, B = 28;
  const t0 = Math.min(...samples.map((s) => s.at)), t1 = Math.max(...samples.map((s) => s.at), t0 + 1000);
  const maxRtt = Math.max(50, ...samples.map((s) => s.rttMs ?? 0));
  const maxRate = Math.max(100, ...samples.map((s) => s.bitrateKbps ?? 0));
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const yRtt = (v) => T + (1 - v / maxRtt) * (H - T - B);
  const yRate = (v) => T + (1 - v / maxRate) * (H - T - B);
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': 'call quality over time', id: 'quality-chart' },
    svg('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: '#b9c2cc' }),
    svg('line', { x1: L, y1: T, x2: L, y2: H - B, stroke: '#b9c2cc' }),
    svg('text', { x: 4, y: T + 8 }, `${maxRtt} ms`), svg('text', { x: 4, y: H - B }, '0 ms'),
    svg('text', { x: W - R + 4, y: T + 8 }, `${maxRate} kb/s`), svg('text', { x: W - R + 4, y: H - B }, '0'),
    svg('text', { x: L, y: H - 8 }, time(t0)), svg('text', { x: W - R, y: H - 8, 'text-anchor': 'end' }, time(t1)));
  const legend = el('div', { class: 'legend' });
  users.forEach((u, i) => {
    const mine = samples.filter((s) => s.userId === u);
    const color = COLORS[i % COLORS.length];
    const rtt = mine.filter((s) => s.rttMs !== null).map((s) => `${x(s.at).toFixed(1)},${yRtt(s.rttMs).toFixed(1)}`).join(' ');
    const rate = mine.filter((s) => s.bitrateKbps !== null).map((s) => `${x(s.at).toFixed(1)},${yRate(s.bitrateKbps).toFixed(1)}`).join(' ');
    if (rtt) chart.append(svg('polyline', { points: rtt, fill: 'none', stroke: color, 'stroke-width': 2 }));
    if (rate) chart.append(svg('polyline', { points: rate, fill: 'none', stroke: color, 'stroke-width': 1.5, 'stroke-dasharray': '5 4' }));
    for (const s of mine) if (s.rttMs !== null) chart.append(svg('circle', { cx: x(s.at).toFixed(1), cy: yRtt(s.rttMs).toFixed(1), r: 2.5, fill: color },
      svg('title', {}, `${u} at ${time(s.at)}: RTT ${s.rttMs} ms, jitter ${s.jitterMs ?? '—'} ms, loss ${s.lossPermille === null ? '—' : s.lossPermille / 10 + ' %'}, ${s.bitrateKbps ?? '—'} kbit/s`)));
    legend.append(el('span', {}, el('span', { class: `swatch c${i % COLORS.length}` }), u));
  });
  return [legend, chart, el('p', { class: 'hint' }, 'Solid: round-trip time (left axis, ms). Dashed: bitrate (right axis, kbit/s). Each point is one getStats report a browser sent; hover for jitter and loss.')];
}

export async function call(root, id) {
  let d;
  try {
    d = await api(`calls/${encodeURIComponent(id)}`);
  } catch (e) {
    root.append(el('h1', {}, 'Call'), errorLine(e));
    return;
  }
  const c = d.call;
  root.append(el('p', {}, el('a', { href: '#/calls' }, '← Call log'),
    c.status === 'active' || c.status === 'scheduled' ? [' · ', el('a', { href: `#/live?call=${encodeURIComponent(c.id)}`, id: 'call-live' }, 'live now: who is in it, and how')] : []),
    el('h1', {}, 'Call ', el('span', { class: 'id' }, c.id)));
  root.append(el('div', { class: 'card', id: 'call-summary' }, el('dl', { class: 'facts' },
    el('dt', {}, 'status'), el('dd', { title: STATUS_MEANING[c.status] }, state(c.status), c.endReason ? ` (${c.endReason})` : ''),
    el('dt', {}, 'type'), el('dd', {}, c.type),
    el('dt', {}, 'patient'), el('dd', { class: 'id', dataset: { figure: 'patient' } }, c.patientId),
    el('dt', {}, 'provider'), el('dd', { class: 'id' }, c.providerId),
    el('dt', {}, 'appointment'), el('dd', { class: 'id' }, c.appointmentId ?? '—'),
    el('dt', {}, 'created'), el('dd', {}, `${time(c.createdAt)} by ${c.createdBy}`),
    el('dt', {}, 'scheduled for'), el('dd', {}, time(c.scheduledAt)),
    el('dt', {}, 'started'), el('dd', { title: 'when the second participant joined' }, time(c.startedAt)),
    el('dt', {}, 'ended'), el('dd', {}, time(c.endedAt)),
    el('dt', {}, 'duration'), el('dd', { title: 'start to end; the billable time', dataset: { figure: 'duration' } }, duration(c.durationMs)))));

  root.append(el('div', { class: 'card', id: 'participants' }, el('h2', {}, 'Participants'),
    el('p', { class: 'hint' }, 'Time in call sums each participant\'s sessions while the call was active (rejoins included).'),
    table(['user', 'role', 'status', 'joined', 'left', { text: 'time in call', class: 'num' }], d.participants.map((p) => el('tr', {},
      el('td', { class: 'id' }, p.userId), el('td', {}, p.role), el('td', {}, state(p.status)),
      el('td', {}, time(p.joinedAt)), el('td', {}, time(p.leftAt)),
      el('td', { class: 'num', dataset: { figure: `participant-duration-${p.userId}` } }, duration(p.durationMs)))), { empty: 'nobody joined' })));

  // An event's detail is a small JSON object: shown as "key: value" pairs.
  const detail = (text) => {
    try {
      const o = JSON.parse(text);
      if (o && typeof o === 'object') return Object.entries(o).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ');
    } catch {
      /* not JSON: as it is */
    }
    return text;
  };
  root.append(el('div', { class: 'card', id: 'timeline' }, el('h2', {}, 'Timeline'),
    table(['time', 'event', 'by', { text: 'detail', class: 'hide-narrow' }], d.events.map((e) => el('tr', {},
      el('td', {}, time(e.at)), el('td', {}, e.type), el('td', { class: 'id' }, e.actorId ?? ''), el('td', { class: 'hide-narrow' }, e.detail ? detail(e.detail) : ''))))));

  const q = el('div', { class: 'card', id: 'quality' }, el('h2', {}, 'Quality'));
  if (d.quality.length) q.append(...qualityChart(d.quality), el('p', { class: 'hint', dataset: { figure: 'quality-samples' } }, `${d.quality.length} sample(s)`));
  else q.append(el('p', { class: 'hint', dataset: { figure: 'quality-samples' } }, 'No quality reports were recorded for this call.'));
  root.append(q);

  root.append(el('div', { class: 'card', id: 'turn' }, el('h2', {}, 'TURN relay usage'),
    el('p', { class: 'hint' }, 'One row per relay allocation the TURN server reported for this call; sent and received are bytes relayed to and from the peer.'),
    table(['user', 'transport', { text: 'relay address', class: 'hide-narrow' }, 'state', 'started', { text: 'sent', class: 'num' }, { text: 'received', class: 'num' }],
      d.turn.map((t) => el('tr', {}, el('td', { class: 'id' }, t.userId), el('td', {}, t.transport ?? '—'), el('td', { class: 'hide-narrow' }, t.relayAddress ?? '—'),
        el('td', {}, state(t.state)), el('td', {}, time(t.startedAt)), el('td', { class: 'num' }, bytes(t.bytesSent)), el('td', { class: 'num' }, bytes(t.bytesReceived)))),
      { empty: 'no relayed media (the participants connected directly, or TURN usage is not reported)' })));
}

// ---- Audit log ------------------------------------------------------------

export async function audit(root, params) {
  const values = Object.fromEntries(params.entries());
  const q = toApiQuery(values);
  root.append(el('h1', {}, 'Audit log'),
    el('p', { class: 'hint' }, 'Who did what: call changes and refusals from signald, and admin logins, failures, exports and account changes. The same rows reach the platform\'s database.'));
  root.append(filterForm([
    { name: 'from', label: 'From', type: 'datetime-local' },
    { name: 'to', label: 'Before', type: 'datetime-local' },
    { name: 'actor', label: 'Actor', title: 'an account, a platform user id, or cli:<user>' },
    { name: 'action', label: 'Action', placeholder: 'admin.login or admin.', title: 'exact, or a prefix ending with a dot' },
    { name: 'callId', label: 'Call id', placeholder: 'UUID' },
  ], values, (v) => { location.hash = `#/audit?${new URLSearchParams(Object.entries(v).filter(([, x]) => x))}`; }, `api/audit.csv?${q}`));
  const list = el('div', { class: 'card', id: 'results' });
  root.append(list);
  const pages = [];
  async function load(cursor) {
    const pq = new URLSearchParams(q);
    if (cursor) pq.set('cursor', cursor);
    let data;
    try {
      data = await api(`audit?${pq}`);
    } catch (e) {
      list.replaceChildren(errorLine(e));
      return;
    }
    const rows = data.entries.map((a) => el('tr', {},
      el('td', {}, time(a.at)), el('td', { class: 'id' }, a.actor), el('td', { class: 'hide-narrow' }, a.role), el('td', {}, a.action),
      el('td', {}, state(a.outcome)), el('td', { class: 'id hide-narrow' }, a.callId ? el('a', { href: `#/call/${a.callId}` }, a.callId.slice(0, 8) + '…') : ''),
      el('td', { class: 'hide-narrow' }, a.remoteAddr ?? ''), el('td', {}, a.detail ?? '')));
    list.replaceChildren(
      table(['time', 'actor', { text: 'role', class: 'hide-narrow' }, 'action', 'outcome', { text: 'call', class: 'hide-narrow' }, { text: 'from', class: 'hide-narrow' }, 'detail'], rows, { empty: 'no entry matches' }),
      el('div', { class: 'pager' },
        el('button', { type: 'button', class: 'secondary', disabled: !pages.length, onclick: () => load(pages.pop() ?? null) }, '← Newer'),
        el('button', { type: 'button', class: 'secondary', disabled: !data.nextCursor, onclick: () => { pages.push(cursor); load(data.nextCursor); } }, 'Older →'),
        el('span', { class: 'hint' }, `${data.entries.length} entr${data.entries.length === 1 ? 'y' : 'ies'} on this page`)));
  }
  await load(null);
}

// ---- Accounts -------------------------------------------------------------

export async function accounts(root) {
  root.append(el('h1', {}, 'Accounts'),
    el('p', { class: 'hint' }, 'Who may use this page. viewer: reads everything. operator: also acts on calls. admin: also accounts and settings. Every change is audited.'));
  const listCard = el('div', { class: 'card', id: 'account-list' });
  root.append(listCard);
  const message = el('p', { role: 'status' });
  async function refresh() {
    let data;
    try {
      data = await api('accounts');
    } catch (e) {
      listCard.replaceChildren(errorLine(e));
      return;
    }
    listCard.replaceChildren(el('h2', {}, 'Accounts'), message, table(['name', 'role', 'state', { text: 'one-time codes', title: 'TOTP from an authenticator app; recovery codes left in brackets' }, 'last login', ''],
      data.accounts.map((a) => el('tr', { dataset: { account: a.name } },
        el('td', {}, a.name), el('td', {}, a.role), el('td', {}, state(a.disabled ? 'disabled' : 'active', a.disabled ? 'denied' : 'ok')),
        el('td', { title: 'enable on the appliance: vytalctl admin totp enable NAME' }, a.totp ? `on (${a.recoveryCodesLeft} recovery codes)` : 'off'),
        el('td', {}, time(a.lastLoginAt)),
        el('td', {},
          a.disabled || a.name === session.account ? null : el('button', { type: 'button', class: 'danger', onclick: () => act(a.name, 'disable', `Disable ${a.name}? Their sessions end at once.`) }, 'Disable'), ' ',
          a.totp ? el('button', { type: 'button', class: 'secondary', onclick: () => act(a.name, 'reset-totp', `Turn off one-time codes for ${a.name}? They log in with the password alone until they enable them again.`) }, 'Reset TOTP') : null)))));
  }
  async function act(name, action, question) {
    if (!window.confirm(question)) return;
    try {
      await api(`accounts/${encodeURIComponent(name)}/${action}`, { method: 'POST', body: {} });
      message.textContent = action === 'disable' ? `${name} is disabled.` : `One-time codes are off for ${name}.`;
    } catch (e) {
      message.textContent = e.message;
    }
    await refresh();
  }
  const form = el('form', { class: 'card narrow', id: 'add-account' }, el('h2', {}, 'Add an account'),
    el('label', {}, 'Name', el('input', { name: 'name', required: true, maxlength: 64, pattern: '[a-z0-9._\\-]+', title: 'a-z, 0-9, . _ -', autocomplete: 'off' })),
    el('label', {}, 'Role', el('select', { name: 'role' }, ['viewer', 'operator', 'admin'].map((r) => el('option', { value: r }, r)))),
    el('label', { title: 'at least 12 characters, not containing the name' }, 'Password (12 characters or more)', el('input', { name: 'password', type: 'password', required: true, minlength: 12, autocomplete: 'new-password' })),
    el('button', { type: 'submit' }, 'Add'));
  const formMessage = el('p', { role: 'status' });
  form.append(formMessage);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = Object.fromEntries(new FormData(form).entries());
    try {
      await api('accounts', { method: 'POST', body: v });
      formMessage.textContent = `${v.name} added as ${v.role}.`;
      form.reset();
      await refresh();
    } catch (e) {
      formMessage.textContent = e.message;
    }
  });
  root.append(form);
  await refresh();
}

// ---- Own password ---------------------------------------------------------

export async function password(root, { onChanged }) {
  const form = el('form', { class: 'card narrow', id: 'password-form' }, el('h1', {}, 'Change your password'),
    el('p', { class: 'hint' }, 'At least 12 characters, not containing your account name. Every session of your account ends; log in again afterwards.'),
    el('label', {}, 'Current password', el('input', { name: 'current', type: 'password', required: true, autocomplete: 'current-password' })),
    el('label', {}, 'New password', el('input', { name: 'new', type: 'password', required: true, minlength: 12, autocomplete: 'new-password' })),
    el('label', {}, 'New password again', el('input', { name: 'again', type: 'password', required: true, minlength: 12, autocomplete: 'new-password' })),
    el('button', { type: 'submit' }, 'Change password'));
  const message = el('p', { role: 'alert', class: 'error' });
  form.append(message);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = Object.fromEntries(new FormData(form).entries());
    if (v.new !== v.again) {
      message.textContent = 'The two new passwords differ.';
      return;
    }
    try {
      await api('password', { method: 'POST', body: { current: v.current, new: v.new } });
      onChanged();
    } catch (e) {
      message.textContent = e.message;
    }
  });
  root.append(form);
}
