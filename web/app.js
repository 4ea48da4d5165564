// The shell: header, language switch, sign-in state and the views that plug into it.
// A view is { id, titleKey, mount(rootElement, ctx) -> { unmount(), focus?() }, allowed?(principal) }.
import { initLang, setLang, getLang, applyTranslations, onLangChange, setText, LANGS } from './i18n.js';
import { api, onUnauthorized, ApiError } from './js/api.js';
import { h, clear } from './js/dom.js';
import { VIEWS } from './js/views.js';

const $ = (id) => document.getElementById(id);
const el = {
  boot: $('boot'),
  nav: $('app-nav'),
  session: $('session'),
  sessionUser: $('session-user'),
  signout: $('signout'),
  loginView: $('login-view'),
  loginForm: $('login-form'),
  username: $('login-username'),
  password: $('login-password'),
  loginError: $('login-error'),
  loginNotice: $('login-notice'),
  loginSubmit: $('login-submit'),
  viewRoot: $('view-root'),
};

const shell = {
  principal: null,
  view: null, // { def, handle }
};

// --- language -------------------------------------------------------------------------
function renderLangButtons() {
  for (const lang of LANGS) {
    const b = $(`lang-${lang}`);
    if (b) b.setAttribute('aria-pressed', lang === getLang() ? 'true' : 'false');
  }
}

for (const lang of LANGS) {
  const b = $(`lang-${lang}`);
  if (b) b.addEventListener('click', () => setLang(lang));
}
onLangChange(renderLangButtons);

// --- sign-in state --------------------------------------------------------------------
function showError(key, params) {
  el.loginError.hidden = false;
  setText(el.loginError, key, params);
}

function hideError() {
  el.loginError.hidden = true;
  setText(el.loginError, null);
}

function errorKey(e) {
  if (!(e instanceof ApiError)) return ['error.generic', { code: 'client' }];
  switch (e.code) {
    case 'bad_credentials':
    case 'account_locked':
    case 'validation_failed':
    case 'network':
      return [`error.${e.code}`];
    case 'rate_limited':
      return e.retryAfter > 0 ? ['error.rate_limited_after', { seconds: e.retryAfter }] : ['error.rate_limited'];
    default:
      if (e.status === 401) return ['error.bad_credentials'];
      if (e.status === 423) return ['error.account_locked'];
      if (e.status === 429) return ['error.rate_limited'];
      if (e.status === 422 || e.status === 400) return ['error.validation_failed'];
      return ['error.generic', { code: e.code || e.status }];
  }
}

function renderNav() {
  clear(el.nav);
  const allowed = VIEWS.filter((v) => !v.allowed || v.allowed(shell.principal));
  el.nav.hidden = allowed.length < 1;
  const list = h('ul', {});
  for (const v of allowed) {
    list.append(
      h(
        'li',
        {},
        h('a', {
          href: `#/${v.id}`,
          id: `nav-${v.id}`,
          i18n: v.titleKey,
          'aria-current': shell.view && shell.view.def === v ? 'page' : undefined,
        }),
      ),
    );
  }
  el.nav.append(list);
  return allowed;
}

function unmountView() {
  if (shell.view) {
    try {
      shell.view.handle.unmount();
    } catch (e) {
      console.warn('unmount failed', e);
    }
    shell.view = null;
  }
  clear(el.viewRoot);
}

function routeView() {
  if (!shell.principal) return;
  const allowed = VIEWS.filter((v) => !v.allowed || v.allowed(shell.principal));
  const id = location.hash.replace(/^#\/?/, '');
  const def = allowed.find((v) => v.id === id) || allowed[0];
  if (!def) return;
  if (!shell.view || shell.view.def !== def) {
    unmountView();
    el.viewRoot.hidden = false;
    const handle = def.mount(el.viewRoot, { principal: shell.principal, api });
    shell.view = { def, handle };
  }
  renderNav();
}

function signedIn(principal, focus) {
  shell.principal = principal;
  el.boot.hidden = true;
  el.loginView.hidden = true;
  hideError();
  el.loginNotice.hidden = true;
  el.password.value = '';
  el.session.hidden = false;
  document.body.dataset.auth = 'in';
  el.sessionUser.textContent = '';
  el.sessionUser.append(
    h('span', { class: 'visually-hidden', i18n: 'auth.signedInAs', i18nArgs: { name: '' } }),
    h('span', { id: 'session-name' }, principal.display_name || principal.name || principal.username || ''),
  );
  el.sessionUser.title = principal.username || '';
  routeView();
  if (focus && shell.view && shell.view.handle.focus) shell.view.handle.focus();
}

function signedOut(noticeKey) {
  shell.principal = null;
  unmountView();
  el.viewRoot.hidden = true;
  el.nav.hidden = true;
  el.session.hidden = true;
  el.boot.hidden = true;
  el.loginView.hidden = false;
  document.body.dataset.auth = 'out';
  el.password.value = '';
  el.loginSubmit.disabled = false;
  if (noticeKey) {
    el.loginNotice.hidden = false;
    setText(el.loginNotice, noticeKey);
  } else {
    el.loginNotice.hidden = true;
  }
  el.username.focus();
}

// A session that still owes the second factor (officials by default) cannot use this shell:
// the city's sign-in page (reached through the officer console's single sign-on) enrols or
// asks for the code, and the same session then works here too.
async function secondFactorOwed() {
  let t = null;
  try {
    t = await api('/api/v1/me/totp', { quiet401: true });
  } catch {
    return false;
  }
  if (!t || !t.required || t.verified) return false;
  el.loginNotice.hidden = false;
  setText(el.loginNotice, 'login.secondFactor');
  location.assign('/console/');
  return true;
}

el.loginForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  hideError();
  el.loginNotice.hidden = true;
  const username = el.username.value.trim();
  const password = el.password.value;
  if (!username || !password) {
    showError('error.validation_failed');
    (username ? el.password : el.username).focus();
    return;
  }
  el.loginSubmit.disabled = true;
  setText(el.loginSubmit, 'login.busy');
  el.loginForm.setAttribute('aria-busy', 'true');
  try {
    const res = await api('/api/v1/auth/login', { method: 'POST', body: { username, password }, quiet401: true });
    if (await secondFactorOwed()) return;
    signedIn((res && res.principal) || { username }, true);
  } catch (e) {
    const [key, params] = errorKey(e);
    showError(key, params);
    el.password.focus();
    el.password.select();
  } finally {
    el.loginSubmit.disabled = false;
    setText(el.loginSubmit, 'login.submit');
    el.loginForm.removeAttribute('aria-busy');
  }
});

el.signout.addEventListener('click', async () => {
  el.signout.disabled = true;
  try {
    await api('/api/v1/auth/logout', { method: 'POST', quiet401: true });
  } catch {
    /* signed out on this page either way; the cookie is the server's to clear */
  } finally {
    el.signout.disabled = false;
  }
  signedOut('auth.signedOut');
});

onUnauthorized(() => {
  if (shell.principal) signedOut('error.unauthorized');
});

window.addEventListener('hashchange', routeView);

// --- start ----------------------------------------------------------------------------
async function boot() {
  initLang();
  applyTranslations(document);
  renderLangButtons();
  try {
    const me = await api('/api/v1/me', { quiet401: true });
    if (await secondFactorOwed()) return;
    signedIn((me && me.principal) || me, false);
  } catch (e) {
    signedOut(e instanceof ApiError && e.code === 'network' ? 'error.network' : null);
  }
}

boot();
