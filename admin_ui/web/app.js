// The admin page's entry point: the login form, the session (CSRF token,
// time zone, idle timeout), and hash routing (#/overview, #/calls?...,
// #/call/<id>, #/live?call=<id>, #/audit?..., #/accounts, #/password).
import { el, api, session, ApiError, errorLine } from './ui.js';
import * as pages from './pages.js';
import { connectivity } from './connectivity-page.js';
import { live } from './live.js';
import * as turnPages from './turn.js';

const $ = (id) => document.getElementById(id);
let idleTimer = null;

function showLogin(notice) {
  session.csrf = '';
  clearTimeout(idleTimer);
  $('nav').hidden = true;
  $('who').hidden = true;
  $('zone').hidden = true;
  $('page').hidden = true;
  $('page').replaceChildren();
  $('login').hidden = false;
  $('login-notice').hidden = !notice;
  $('login-notice').textContent = notice ?? '';
  $('login-form').elements.name.focus();
}

function adoptSession(s) {
  Object.assign(session, s);
  $('login').hidden = true;
  $('nav').hidden = false;
  $('who').hidden = false;
  $('who-name').textContent = `${s.account} (${s.role})`;
  $('zone').hidden = false;
  $('zone').textContent = `Times are in the appliance's time zone, ${s.timeZone}.`;
  for (const a of document.querySelectorAll('nav a[data-role="admin"]')) a.hidden = s.role !== 'admin';
  armIdleTimer();
}

// The server ends a session after idleTimeoutSeconds without use; the page
// notices by asking (without counting as use) once that time has passed.
function armIdleTimer() {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(async () => {
    try {
      await api('session', { background: true });
      armIdleTimer();
    } catch {
      /* vytal:logged-out shows the login */
    }
  }, (session.idleTimeoutSeconds + 1) * 1000);
}

// Renders the page the hash names into a fresh element, swapped in when it is
// complete; a newer render (another click) wins over an older one still loading.
let generation = 0;
async function render() {
  if (!session.csrf) return;
  const gen = ++generation;
  const [path, query] = location.hash.replace(/^#\/?/, '').split('?');
  const [name, arg] = path.split('/');
  const params = new URLSearchParams(query ?? '');
  const page = name || 'overview';
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.page === page || (page === 'call' && a.dataset.page === 'calls'));
  const shown = $('page');
  shown.dataset.ready = '';
  const root = el('div');
  try {
    if (page === 'overview') await pages.overview(root);
    else if (page === 'calls') await pages.calls(root, params);
    else if (page === 'live') await live(root, params);
    else if (page === 'call') await pages.call(root, decodeURIComponent(arg ?? ''));
    else if (page === 'audit') await pages.audit(root, params);
    else if (page === 'accounts') await pages.accounts(root);
    else if (page === 'connectivity') await connectivity(root);
    else if (page === 'turn') await turnPages.turn(root);
    else if (page === 'settings') await turnPages.settings(root);
    else if (page === 'password') await pages.password(root, { onChanged: () => showLogin('Your password was changed and every session of your account ended. Log in with the new password.') });
    else root.append(el('h1', {}, 'No such page'), el('p', {}, el('a', { href: '#/overview' }, 'Overview')));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    root.append(errorLine(e));
  }
  if (gen !== generation || !session.csrf) return;
  shown.replaceChildren(root);
  shown.hidden = false;
  shown.dataset.page = page;
  shown.dataset.ready = 'true';
  document.title = `${root.querySelector('h1')?.textContent ?? 'Admin'} · VytalWatch appliance`;
}

async function login(ev) {
  ev.preventDefault();
  const form = $('login-form');
  const err = $('login-error');
  err.hidden = true;
  const body = { name: form.elements.name.value.trim(), password: form.elements.password.value, code: form.elements.code.value.trim() };
  const button = form.querySelector('button');
  button.disabled = true;
  try {
    await api('login', { method: 'POST', body });
    form.elements.password.value = '';
    form.elements.code.value = '';
    $('code-row').hidden = true;
    adoptSession(await api('session'));
    if (!location.hash || location.hash === '#') location.hash = '#/overview';  // hashchange renders
    else await render();
  } catch (e) {
    if (e.code === 'totp_required') {
      $('code-row').hidden = false;
      form.elements.code.focus();
    }
    err.textContent = e.message;
    err.hidden = false;
  } finally {
    button.disabled = false;
  }
}

async function logout() {
  try {
    await api('logout', { method: 'POST', body: {} });
  } catch {
    /* ended anyway */
  }
  showLogin('You are logged out.');
}

window.addEventListener('vytal:logged-out', () => {
  if (session.csrf) showLogin('Your session ended (no use for a while, a password change, or your account was disabled). Log in again.');
});
window.addEventListener('hashchange', () => {
  armIdleTimer();
  render();
});
document.addEventListener('DOMContentLoaded', async () => {
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  try {
    adoptSession(await api('session'));
  } catch {
    showLogin();
    return;
  }
  if (!location.hash || location.hash === '#') location.hash = '#/overview';
  else await render();
});
