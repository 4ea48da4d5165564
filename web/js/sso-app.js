// The single sign-on screens: /portal/ (citizen portal: public services and reports),
// /console/ (officer console: dossier inbox and report queue) and /ops/ (operations
// center). Each page is <body data-app="portal|console|ops"> with this module; each is
// its own OIDC client (oidc-client.js) and reuses the shell's views (web/js/*.js), which
// call the API through api.js in Bearer mode. One sign-in at the provider serves all
// three; signing out of one ends the provider session, and the others notice at their
// next check (every 10 s, on focus, and at once when a tab of this browser signs out)
// or API call: their tokens are revoked, so they answer 401 and the screen signs out.
import { initLang, setLang, getLang, applyTranslations, onLangChange, setText, LANGS, addMessages, t } from '../i18n.js';
import { api, setAuth, onUnauthorized, ApiError } from './api.js';
import { h, clear } from './dom.js';
import { SsoClient } from './oidc-client.js';
import { servicesView } from './services.js';
import { reportsView } from './reports.js';
import { opsView } from './ops.js';

addMessages({
  vi: {
    'sso.app.portal': 'Cổng dịch vụ công',
    'sso.app.console': 'Bàn làm việc cán bộ',
    'sso.app.ops': 'Trung tâm điều hành',
    'sso.apps': 'Các màn hình cityos',
    'sso.redirecting': 'Đang chuyển tới trang đăng nhập một lần…',
    'sso.signedOut': 'Bạn đã đăng xuất khỏi mọi màn hình cityos.',
    'sso.ended': 'Phiên đăng nhập đã kết thúc (có thể bạn đã đăng xuất ở một màn hình khác). Vui lòng đăng nhập lại.',
    'sso.signin': 'Đăng nhập',
    'sso.signinAgain': 'Đăng nhập lại',
    'sso.failed': 'Đăng nhập không thành công ({code}). Vui lòng thử lại.',
    'sso.denied': 'Bạn đã từ chối đăng nhập vào màn hình này.',
    'sso.forbidden': 'Tài khoản {name} không có quyền dùng màn hình này.',
  },
  en: {
    'sso.app.portal': 'Citizen portal',
    'sso.app.console': 'Officer console',
    'sso.app.ops': 'Operations center',
    'sso.apps': 'cityos screens',
    'sso.redirecting': 'Going to the single sign-on page…',
    'sso.signedOut': 'You have signed out of every cityos screen.',
    'sso.ended': 'Your sign-in has ended (perhaps you signed out on another screen). Please sign in again.',
    'sso.signin': 'Sign in',
    'sso.signinAgain': 'Sign in again',
    'sso.failed': 'Signing in failed ({code}). Please try again.',
    'sso.denied': 'You declined to sign in to this screen.',
    'sso.forbidden': 'The account {name} may not use this screen.',
  },
});

const SCOPE_OFFICIAL = 'openid profile unit roles offline_access';
const APPS = {
  portal: { clientId: 'cityos-portal', path: '/portal/', scope: 'openid profile offline_access',
    views: [servicesView, reportsView] },
  console: { clientId: 'cityos-console', path: '/console/', scope: SCOPE_OFFICIAL,
    views: [servicesView, reportsView], allowed: (p) => !!p && p.kind === 'official' },
  ops: { clientId: 'cityos-ops', path: '/ops/', scope: SCOPE_OFFICIAL,
    views: [opsView], allowed: (p) => opsView.allowed(p) },
};
const CHECK_MS = 10000;

const name = document.body.dataset.app;
const app = APPS[name];
const client = new SsoClient({ clientId: app.clientId, scope: app.scope, redirectUri: `${location.origin}${app.path}` });
const channel = 'BroadcastChannel' in window ? new BroadcastChannel('cityos-sso') : null;
const state = { principal: null, view: null };

// --- the page --------------------------------------------------------------------------
const el = {};
function build() {
  el.nav = h('nav', { id: 'app-nav', class: 'app-nav', i18nAriaLabel: 'nav.label', hidden: true });
  el.user = h('span', { id: 'session-user', class: 'session-user', 'data-testid': 'sso-user' });
  el.signout = h('button', { type: 'button', id: 'signout', class: 'btn btn-small btn-quiet', 'data-testid': 'sso-signout',
    i18n: 'auth.signout', onclick: signOut });
  el.session = h('div', { id: 'session', class: 'session', 'data-testid': 'session', hidden: true }, el.user, el.signout);
  const links = h('nav', { class: 'sso-apps', i18nAriaLabel: 'sso.apps' }, ...Object.entries(APPS)
    .filter(([id]) => id !== name)
    .map(([id, a]) => h('a', { class: 'header-link', id: `sso-link-${id}`, href: a.path, i18n: `sso.app.${id}` })));
  const langs = h('div', { class: 'lang-switch', role: 'group', i18nAriaLabel: 'lang.label' }, ...LANGS.map((l) =>
    h('button', { type: 'button', id: `lang-${l}`, lang: l, 'aria-pressed': String(l === getLang()), onclick: () => setLang(l) },
      t(`lang.${l}`))));
  const header = h('header', { class: 'app-header' },
    h('div', { class: 'brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }),
      h('span', { class: 'brand-name' }, h('span', { i18n: 'app.name' }), ' · ', h('span', { id: 'sso-title', i18n: `sso.app.${name}` }))),
    el.nav,
    h('div', { class: 'header-tools' }, links, langs, el.session));
  el.message = h('p', { id: 'sso-message', 'data-testid': 'sso-message', role: 'status' });
  el.signin = h('button', { type: 'button', id: 'sso-signin', class: 'btn btn-primary', 'data-testid': 'sso-signin',
    i18n: 'sso.signin', onclick: () => client.signIn() });
  el.panel = h('section', { id: 'sso-panel', class: 'login-view', 'data-testid': 'sso-panel', hidden: true },
    h('div', { class: 'panel login-form' }, h('h1', { i18n: `sso.app.${name}` }), el.message, el.signin));
  el.root = h('div', { id: 'view-root', class: 'view-root', hidden: true });
  el.boot = document.getElementById('boot');
  const main = document.getElementById('main');
  main.append(el.panel, el.root);
  document.body.prepend(h('a', { class: 'skip-link', href: '#main', i18n: 'app.skip' }), header);
}

function retitle() {
  document.title = `${t(`sso.app.${name}`)} — ${t('app.name')}`;
  for (const l of LANGS) {
    const b = document.getElementById(`lang-${l}`);
    if (b) b.setAttribute('aria-pressed', String(l === getLang()));
  }
}

function status(key, params) {
  el.boot.hidden = false;
  setText(el.boot, key, params);
}

// --- views -------------------------------------------------------------------------------
function unmount() {
  if (state.view) {
    try {
      state.view.handle.unmount();
    } catch (e) {
      console.warn('unmount failed', e);
    }
    state.view = null;
  }
  clear(el.root);
  el.root.hidden = true;
  el.nav.hidden = true;
}

function allowedViews() {
  return app.views.filter((v) => !v.allowed || v.allowed(state.principal));
}

function route() {
  if (!state.principal) return;
  const views = allowedViews();
  const id = location.hash.replace(/^#\/?/, '');
  const def = views.find((v) => v.id === id) || views[0];
  if (!def) return;
  if (!state.view || state.view.def !== def) {
    unmount();
    el.root.hidden = false;
    state.view = { def, handle: def.mount(el.root, { principal: state.principal, api }) };
  }
  clear(el.nav);
  el.nav.hidden = views.length < 2;
  el.nav.append(h('ul', {}, ...views.map((v) => h('li', {}, h('a', {
    href: `#/${v.id}`, id: `nav-${v.id}`, i18n: v.titleKey, 'aria-current': state.view.def === v ? 'page' : undefined,
  })))));
}

// --- signed in / out ------------------------------------------------------------------------
function showPanel(key, params, buttonKey = 'sso.signin') {
  state.principal = null;
  unmount();
  el.boot.hidden = true;
  el.session.hidden = true;
  document.body.dataset.auth = 'out';
  setText(el.message, key, params);
  setText(el.signin, buttonKey);
  el.signin.hidden = false;
  el.panel.hidden = false;
  el.signin.focus();
}

function signedIn(principal) {
  state.principal = principal;
  el.boot.hidden = true;
  el.session.hidden = false;
  el.user.textContent = principal.name || principal.display_name || principal.username || '';
  el.user.title = principal.username || '';
  document.body.dataset.auth = 'in';
  if (app.allowed && !app.allowed(principal)) {
    unmount();
    setText(el.message, 'sso.forbidden', { name: principal.username || '' });
    el.signin.hidden = true;
    el.panel.hidden = false;
    return;
  }
  el.panel.hidden = true;
  route();
}

/** The sign-in has ended elsewhere (or expired): forget the tokens, offer to sign in. */
function ended() {
  if (document.body.dataset.auth === 'out') return;
  client.tokens = null;
  showPanel('sso.ended', null, 'sso.signinAgain');
}

function signOut() {
  el.signout.disabled = true;
  if (channel) channel.postMessage('signed-out');
  client.signOut();
}

let checking = false;
/** Asks the API whether this screen's sign-in still holds (refreshing once if needed). */
async function check() {
  if (checking || !state.principal) return;
  checking = true;
  try {
    await client.refreshIfDue();
    if (!client.tokens) return;   /* the refresh found the sign-in ended */
    await api('/api/v1/me', { quiet401: true });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) ended();
  } finally {
    checking = false;
  }
}

// --- start ------------------------------------------------------------------------------------
async function boot() {
  initLang();
  build();
  applyTranslations(document);
  retitle();
  onLangChange(retitle);
  setAuth({ token: () => client.accessToken, refresh: () => client.refresh() });
  onUnauthorized(ended);
  if (client.isCallback()) {
    try {
      await client.handleCallback();
    } catch (e) {
      showPanel(e.code === 'access_denied' ? 'sso.denied' : 'sso.failed', { code: e.code || 'client' });
      return;
    }
  } else if (client.takeSignedOut()) {
    showPanel('sso.signedOut');
    return;
  }
  if (!client.tokens) {
    status('sso.redirecting');
    await client.signIn();
    return;
  }
  try {
    const me = await api('/api/v1/me', { quiet401: true });
    signedIn((me && me.principal) || me);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      client.tokens = null;
      showPanel('sso.ended', null, 'sso.signinAgain');
    } else {
      showPanel('error.generic', { code: (e && e.code) || 'client' }, 'sso.signinAgain');
    }
    return;
  }
  client.keepFresh(ended);
  window.addEventListener('hashchange', route);
  setInterval(check, CHECK_MS);
  window.addEventListener('focus', check);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') check();
  });
  if (channel) channel.onmessage = () => check();
}

boot();
