// The live calls page (#/live): who is in which call right now, over which
// network path and with what quality, from signald's live state (GET
// api/live, polled every 2 s while the page is shown). Operators and admins
// end a call or remove a participant: each action asks for a reason and a
// confirmation in the page, then POSTs with the session's CSRF token;
// signald records it in the audit log with the account as the actor.
import { el, svg, api, session, ago, bytes, errorLine, state } from './ui.js';

const POLL_MS = 2000;
const SPARK_W = 120, SPARK_H = 30;

// The same thresholds as the call client's quality indicator
// (signald/web/vytal-client.js): ITU-T G.114's one-way delay, loss, jitter.
export function qualityOf(q) {
  if (!q) return null;
  const rtt = q.rttMs ?? 0, loss = q.packetLoss ?? 0, jitter = q.jitterMs ?? 0;
  if (rtt > 400 || loss > 0.05 || jitter > 50 || q.connectionState === 'failed') return 'poor';
  if (rtt > 200 || loss > 0.01 || jitter > 30) return 'fair';
  return 'good';
}

// "relayed over TLS", "direct over UDP", or null before the first report with a pair.
export function pathOf(q) {
  if (!q?.localCandidateType) return null;
  if (q.localCandidateType === 'relay') return `relayed over ${(q.relayProtocol ?? q.protocol ?? '?').toUpperCase()}`;
  return `direct over ${(q.protocol ?? '?').toUpperCase()}`;
}

const kbps = (v) => (v === null || v === undefined ? '—' : v >= 1000 ? `${(v / 1000).toFixed(1)} Mbit/s` : `${Math.round(v)} kbit/s`);
const bps = (v) => kbps(v / 1000);
const pct = (v) => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)} %`);
const ms = (v) => (v === null || v === undefined ? '—' : `${Math.round(v)} ms`);

// A small line chart of one figure over the member's recent reports.
function sparkline(points, key, { cls, max, label }) {
  const values = points.map((p) => p[key]).filter((v) => v !== null && v !== undefined);
  const top = Math.max(max ?? 0, ...values, 1e-9);
  const n = points.length;
  const xy = [];
  points.forEach((p, i) => {
    if (p[key] === null || p[key] === undefined) return;
    const x = n < 2 ? SPARK_W : (i / (n - 1)) * (SPARK_W - 2) + 1;
    const y = SPARK_H - 2 - (p[key] / top) * (SPARK_H - 4);
    xy.push(`${x.toFixed(1)},${y.toFixed(1)}`);
  });
  return svg('svg', { class: `spark ${cls}`, viewBox: `0 0 ${SPARK_W} ${SPARK_H}`, width: SPARK_W, height: SPARK_H, role: 'img', 'aria-label': label },
    svg('title', {}, label),
    svg('line', { x1: 0, y1: SPARK_H - 1, x2: SPARK_W, y2: SPARK_H - 1, class: 'base' }),
    xy.length ? svg('polyline', { points: xy.join(' '), class: 'line' }) : null,
    xy.length === 1 ? svg('circle', { cx: xy[0].split(',')[0], cy: xy[0].split(',')[1], r: 2, class: 'dot' }) : null);
}

function turnCell(allocations) {
  if (!allocations?.length) return el('span', { class: 'hint' }, 'no TURN allocation');
  return allocations.map((a) => el('div', { class: 'turn', dataset: { transport: a.transport, bytesSent: a.bytesSent, bytesReceived: a.bytesReceived } },
    el('span', { class: 'nowrap' }, `${(a.transport || '?').toUpperCase()} → ${a.relay ?? '?'}`),
    el('div', { class: 'hint', title: 'bytes the TURN server relayed to this browser and from it, and the rates over the last seconds' },
      el('span', { class: 'nowrap' }, `↓ to it ${bytes(a.bytesSent)} (${bps(a.sentBps)})`), ' · ',
      el('span', { class: 'nowrap' }, `↑ from it ${bytes(a.bytesReceived)} (${bps(a.receivedBps)})`))));
}

function memberRow(call, m, now, canAct, ask) {
  const q = m.quality;
  const quality = qualityOf(q);
  const path = pathOf(q);
  const st = m.state === 'connected'
    ? el('span', {}, state('connected', 'ok'), el('div', { class: 'hint' }, `for ${ago(m.connectedSince, now)}`))
    : el('span', {}, state('reconnecting'), el('div', { class: 'hint' }, `since ${ago(m.reconnectingSince, now)}`));
  const figures = q
    ? el('div', { class: 'nowrap' }, `RTT ${ms(q.rttMs)} · jitter ${ms(q.jitterMs)}`, el('br'), `loss ${pct(q.packetLoss)} · ${kbps(q.bitrateKbps)}`,
      el('div', { class: 'hint' }, `reported ${ago(q.at, now)} ago`))
    : el('span', { class: 'hint' }, 'no report yet');
  return el('tr', { dataset: { user: m.userId, role: m.role, state: m.state, path: path ?? '', quality: quality ?? '' } },
    el('td', {}, el('div', { class: 'id' }, m.userId), el('span', { class: `role ${m.role}` }, m.role), m.address ? el('div', { class: 'hint' }, m.address) : null),
    el('td', {}, st),
    el('td', { class: 'path' }, path ? state(path, path.startsWith('relayed') ? 'info' : 'ok') : el('span', { class: 'hint' }, 'not known yet'),
      q?.localCandidateType ? el('div', { class: 'hint' }, `${q.localCandidateType} ↔ ${q.remoteCandidateType ?? '?'}`) : null),
    el('td', {}, quality ? state(quality, quality === 'poor' ? 'critical' : quality === 'fair' ? 'warning' : 'ok') : null, figures),
    el('td', { class: 'charts' },
      sparkline(m.history, 'bitrateKbps', { cls: 'bitrate', label: `bitrate, last ${m.history.length} reports` }),
      sparkline(m.history, 'packetLoss', { cls: 'loss', max: 0.05, label: `packet loss, last ${m.history.length} reports (scale 0–5 % or more)` })),
    el('td', { class: 'turn-cell' }, turnCell(m.turn)),
    canAct ? el('td', {}, el('button', { type: 'button', class: 'danger small', dataset: { action: 'remove' },
      onclick: () => ask({ kind: 'remove', callId: call.callId, userId: m.userId, role: m.role }) }, 'Remove')) : null);
}

function callCard(call, now, canAct, ask) {
  const members = call.members;
  const poor = members.filter((m) => qualityOf(m.quality) === 'poor').length;
  const head = el('div', { class: 'call-head' },
    el('h2', {}, 'Call ', el('span', { class: 'id' }, call.callId)),
    state(call.active ? 'active' : 'waiting', call.active ? 'active' : 'scheduled'),
    el('span', { class: 'hint' }, `${members.length} participant(s)`),
    poor ? state(`${poor} with poor quality`, 'critical') : null,
    el('a', { href: `#/call/${encodeURIComponent(call.callId)}` }, 'in the call log'),
    canAct ? el('button', { type: 'button', class: 'danger', dataset: { action: 'end' }, onclick: () => ask({ kind: 'end', callId: call.callId }) }, 'End call') : null);
  const headers = ['participant', 'state', 'path', 'quality', { text: 'bitrate / loss', title: 'the last reports: bitrate (blue) and packet loss (red)' }, 'TURN allocations'];
  if (canAct) headers.push('');
  const head_ = el('tr', {}, headers.map((h) => (typeof h === 'string' ? el('th', {}, h) : el('th', { title: h.title }, h.text))));
  return el('section', { class: 'card live-call', dataset: { call: call.callId } }, head,
    el('div', { class: 'table-wrap' }, el('table', {}, el('thead', {}, head_), el('tbody', {}, members.map((m) => memberRow(call, m, now, canAct, ask))))));
}

// The confirmation of one action: what it does, a required reason, confirm or cancel.
function confirmPanel(action, onDone) {
  const what = action.kind === 'end'
    ? `End call ${action.callId} for everyone in it.`
    : `Remove ${action.userId} (${action.role}) from call ${action.callId}: its connection closes, its TURN relay ends, and it cannot rejoin this call.`;
  // Required, checked here (not by the browser's own bubble) so the page says why.
  const reason = el('input', { name: 'reason', 'aria-required': 'true', maxlength: 500, placeholder: 'why (shown to the participant and kept in the audit log)', autocomplete: 'off' });
  const error = el('div', { class: 'error', role: 'alert', hidden: true });
  const confirm = el('button', { type: 'submit', class: 'danger', dataset: { confirm: action.kind } }, action.kind === 'end' ? 'Confirm: end the call' : 'Confirm: remove');
  const form = el('form', { class: 'card confirm', id: 'live-confirm' },
    el('h2', {}, action.kind === 'end' ? 'End this call?' : 'Remove this participant?'),
    el('p', {}, what),
    el('label', {}, 'Reason (required)', reason),
    el('div', { class: 'actions' }, confirm, el('button', { type: 'button', class: 'secondary', onclick: () => onDone(null) }, 'Cancel')),
    error);
  reason.addEventListener('input', () => { error.hidden = true; });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const why = reason.value.trim();
    if (!why) {
      error.textContent = 'Say why: the reason is required.';
      error.hidden = false;
      return;
    }
    confirm.disabled = true;
    const path = action.kind === 'end'
      ? `live/calls/${encodeURIComponent(action.callId)}/end`
      : `live/calls/${encodeURIComponent(action.callId)}/participants/${encodeURIComponent(action.userId)}/remove`;
    try {
      await api(path, { method: 'POST', body: { reason: why } });
      onDone(action.kind === 'end' ? `Call ${action.callId} ended.` : `${action.userId} removed from call ${action.callId}.`);
    } catch (e) {
      error.replaceChildren(errorLine(e));
      error.hidden = false;
      confirm.disabled = false;
    }
  });
  setTimeout(() => reason.focus(), 0);
  return form;
}

// `params`: the hash's query; call=<id> asks for that call first (signald
// lists at most 100).
export async function live(root, params = new URLSearchParams()) {
  const asked = params.get('call');
  const canActRole = session.role === 'operator' || session.role === 'admin';
  const status = el('p', { class: 'hint', id: 'live-status' });
  const notice = el('p', { class: 'notice', id: 'live-notice', hidden: true });
  const panel = el('div', { id: 'live-panel' });
  const list = el('div', { id: 'live-calls' });
  root.append(el('h1', {}, 'Live calls'),
    el('p', { class: 'hint' }, 'Who is in which call now, how their media flows (direct, or relayed by the TURN server over UDP, TCP or TLS) and its quality as their browsers report it. Updated every 2 s.',
      canActRole ? ' Ending a call or removing a participant asks for a reason, which the audit log keeps.' : ' Your role can look; operators and admins can end calls and remove participants.'),
    notice, panel, status, list);

  let pending = null;
  const ask = (action) => {
    pending = action;
    notice.hidden = true;
    panel.replaceChildren(confirmPanel(action, (done) => {
      pending = null;
      panel.replaceChildren();
      if (done) {
        notice.textContent = done;
        notice.hidden = false;
        refresh();
      }
    }));
  };

  // Polls while this render is the page shown (a newer render or another page stops it).
  let timer = null, shown = false;
  const stillShown = () => {
    if (root.isConnected) shown = true;
    return !(shown && !root.isConnected) && location.hash.startsWith('#/live');
  };
  async function refresh() {
    clearTimeout(timer);
    if (!stillShown()) return;
    try {
      // The call being acted on stays listed, else the one the link asked for.
      const first = pending?.callId ?? asked;
      const data = await api(first ? `live?call=${encodeURIComponent(first)}` : 'live', { background: true });
      const now = data.now ?? Date.now();
      const calls = data.calls ?? [];
      const total = data.totalCalls ?? calls.length;
      const count = total > calls.length
        ? `${total} calls with someone in them; the ${calls.length} shown are ${asked ? 'the one asked for, then ' : ''}those needing attention first (someone reconnecting, poor quality, a failed connection), then the oldest. Open a call from the call log to see it here.`
        : `${calls.length} call(s) with someone in them`;
      const missing = asked && !calls.some((c) => c.callId === asked) ? ` · call ${asked} has nobody in it now` : '';
      status.textContent = `${count}${missing} · updated ${new Date().toLocaleTimeString('en-GB')}`;
      status.dataset.updated = String(now);
      list.replaceChildren(...(calls.length ? calls.map((c) => callCard(c, now, data.canAct, ask)) : [el('p', { class: 'hint card' }, 'No call has anyone in it right now.')]));
      if (pending && !calls.some((c) => c.callId === pending.callId)) {
        pending = null;
        panel.replaceChildren();
      }
    } catch (e) {
      if (e.status === 401) return;
      status.replaceChildren(errorLine(e));
    }
    if (stillShown()) timer = setTimeout(refresh, POLL_MS);
  }
  await refresh();
}
