// Small helpers shared by the pages: DOM building that only ever sets text
// (dom.js: never HTML, so a patient id like "<script>" shows as text), the API
// client (relative URLs: the page works at / and under nginx's /admin/),
// and formatting in the appliance's time zone.

import { el } from './dom.js';

export { el };

export const COLORS = ['#0b5c7a', '#c2410c', '#6d28d9', '#15803d', '#b91c1c', '#a16207'];

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== undefined && c !== null) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

export const session = { csrf: '', account: '', role: '', timeZoneId: 'UTC', timeZone: 'UTC', utcOffsetMinutes: 0, idleTimeoutSeconds: 900 };

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// fetch a JSON route under api/; throws ApiError. `background` requests do
// not count as use of the session (its idle timeout keeps running).
export async function api(path, { method = 'GET', body, background = false } = {}) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = session.csrf;
  if (background) headers['X-Vytal-Background'] = '1';
  const res = await fetch(`api/${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data?.error?.code ?? 'http_' + res.status, data?.error?.message ?? res.statusText);
    err.key = data?.error?.key;
    if (res.status === 401 && path !== 'login') window.dispatchEvent(new CustomEvent('vytal:logged-out', { detail: err }));
    throw err;
  }
  return data;
}

function formatter(options) {
  try {
    return new Intl.DateTimeFormat('en-GB', { timeZone: session.timeZoneId, ...options });
  } catch {
    return new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', ...options });
  }
}

// "2026-11-29 10:32:05" in the appliance's zone (the header names the zone).
export function time(ms, { seconds = true } = {}) {
  if (ms === null || ms === undefined) return '—';
  const parts = Object.fromEntries(formatter({ year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: seconds ? '2-digit' : undefined, hourCycle: 'h23' })
    .formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}${seconds ? ':' + parts.second : ''}`;
}

export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function ago(ms, now = Date.now()) {
  if (!ms) return '—';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 2 * 86400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

export function bytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

// A datetime-local value ("2026-11-29T10:30") read in the appliance's zone
// (its current UTC offset) -> Unix ms.
export function localInputToMs(value) {
  if (!value) return null;
  const [d, t] = value.split('T');
  const [y, mo, da] = d.split('-').map(Number);
  const [h, mi] = (t ?? '00:00').split(':').map(Number);
  return Date.UTC(y, mo - 1, da, h, mi) - session.utcOffsetMinutes * 60000;
}

export function msToLocalInput(ms) {
  if (!ms) return '';
  const d = new Date(ms + session.utcOffsetMinutes * 60000);
  return d.toISOString().slice(0, 16);
}

export function state(text, cls = text) {
  return el('span', { class: `state ${cls}` }, String(text).replaceAll('_', ' '));
}

// A figure with its meaning: the number big, a label, and a tooltip.
export function figure(name, value, label, explanation) {
  return el('div', { title: explanation }, el('div', { class: 'figure', dataset: { figure: name } }, value), el('div', { class: 'label' }, label));
}

export function table(headers, rows, { empty = 'nothing to show' } = {}) {
  const head = el('tr', {}, headers.map((h) => (typeof h === 'string' ? el('th', {}, h) : el('th', { class: h.class, title: h.title }, h.text))));
  const body = rows.length ? rows : [el('tr', {}, el('td', { colspan: headers.length, class: 'hint' }, empty))];
  return el('div', { class: 'table-wrap' }, el('table', {}, el('thead', {}, head), el('tbody', {}, body)));
}

export function errorLine(e) {
  return el('p', { class: 'error', role: 'alert' }, e instanceof ApiError ? `${e.message} (${e.code})` : String(e));
}
