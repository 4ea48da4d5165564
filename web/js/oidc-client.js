// OpenID Connect for cityos' own screens (citizen portal, officer console, operations
// center): each is a first-party public client of the city's provider (/api/v1/oidc) and
// signs in with the authorization code flow and PKCE S256. Tokens are held per screen and
// per tab in sessionStorage (never in a cookie the other screens could use); the access
// token goes out as Authorization: Bearer; refresh tokens rotate (one refresh at a time,
// since presenting a used one revokes the whole family). The provider's own session (its
// HttpOnly cookie, set by its sign-in page) is what makes one sign-in serve every screen.
// The ID token comes straight from the token endpoint of this origin, so its claims are
// checked (iss, aud, nonce, exp) and its signature is left to TLS (OIDC Core 3.1.3.7).
// keepFresh() refreshes the access token REFRESH_AHEAD_MS before it expires (a 401 still
// triggers one refresh in api.js, for a token revoked or a timer that ran late).

const ISSUER_PATH = '/api/v1/oidc';
// ahead of expiry: more than the minute a hidden tab's timers may be delayed by
export const REFRESH_AHEAD_MS = 2 * 60 * 1000;
const RETRY_MS = 30 * 1000;   // after a network failure

function b64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomText(n = 32) {
  return b64url(crypto.getRandomValues(new Uint8Array(n)));
}

async function s256(text) {
  return b64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))));
}

function claimsOf(jwt) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

export class SsoError extends Error {
  constructor(code, message) {
    super(message || code);
    this.name = 'SsoError';
    this.code = code;
  }
}

export class SsoClient {
  /** clientId: e.g. 'cityos-portal'; scope: space-separated; redirectUri: this screen's URL. */
  constructor({ clientId, scope, redirectUri }) {
    this.clientId = clientId;
    this.scope = scope;
    this.redirectUri = redirectUri || `${location.origin}${location.pathname}`;
    this.issuer = `${location.origin}${ISSUER_PATH}`;
    this.key = `cityos.sso.${clientId}`;
    this.refreshing = null;
    this.timer = null;
    this.onEnded = null;
  }

  get tokens() {
    try {
      return JSON.parse(sessionStorage.getItem(this.key) || 'null');
    } catch {
      return null;
    }
  }

  set tokens(v) {
    if (v) sessionStorage.setItem(this.key, JSON.stringify(v));
    else sessionStorage.removeItem(this.key);
  }

  get accessToken() {
    const t = this.tokens;
    return t ? t.access_token : null;
  }

  /** Goes to the provider's authorization endpoint (the page is left). */
  async signIn() {
    const pending = { verifier: randomText(32), state: randomText(16), nonce: randomText(16), hash: location.hash };
    sessionStorage.setItem(`${this.key}.pending`, JSON.stringify(pending));
    const u = new URL(`${this.issuer}/authorize`);
    u.search = new URLSearchParams({
      response_type: 'code',
      client_id: this.clientId,
      redirect_uri: this.redirectUri,
      scope: this.scope,
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await s256(pending.verifier),
      code_challenge_method: 'S256',
    }).toString();
    location.assign(u.toString());
  }

  /** True when this page load is the provider's answer (code or error in the query). */
  isCallback() {
    const q = new URLSearchParams(location.search);
    return q.has('code') || q.has('error');
  }

  /** Finishes a sign-in: checks state and iss, exchanges the code, keeps the tokens.
   *  Leaves the address without the answer's parameters. Throws SsoError. */
  async handleCallback() {
    const q = new URLSearchParams(location.search);
    let pending = null;
    try {
      pending = JSON.parse(sessionStorage.getItem(`${this.key}.pending`) || 'null');
    } catch {
      pending = null;
    }
    sessionStorage.removeItem(`${this.key}.pending`);
    history.replaceState(null, '', `${location.pathname}${(pending && pending.hash) || ''}`);
    if (!pending || q.get('state') !== pending.state) throw new SsoError('state', 'unexpected answer (state)');
    if (q.get('iss') && q.get('iss') !== this.issuer) throw new SsoError('iss', 'answer from another issuer');
    if (q.has('error')) throw new SsoError(q.get('error'), q.get('error_description') || q.get('error'));
    const got = await this.tokenRequest({
      grant_type: 'authorization_code',
      code: q.get('code'),
      redirect_uri: this.redirectUri,
      code_verifier: pending.verifier,
    });
    if (!got) throw new SsoError('token', 'the code was refused');
    const c = claimsOf(got.id_token);
    if (!c || c.iss !== this.issuer || c.aud !== this.clientId || c.nonce !== pending.nonce ||
        !(c.exp * 1000 > Date.now())) {
      this.tokens = null;
      throw new SsoError('id_token', 'the ID token does not match this sign-in');
    }
  }

  /** POSTs a grant to the token endpoint; keeps and returns the answer, or null. */
  async tokenRequest(params) {
    let res;
    try {
      res = await fetch(`${this.issuer}/token`, {
        method: 'POST',
        credentials: 'omit',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...params, client_id: this.clientId }).toString(),
      });
    } catch {
      throw new SsoError('network', 'the provider could not be reached');
    }
    const body = await res.json().catch(() => null);
    if (!res.ok || !body || !body.access_token) return null;
    const c = claimsOf(body.id_token) || {};
    this.tokens = {
      access_token: body.access_token,
      refresh_token: body.refresh_token,
      id_token: body.id_token,
      expires_at: Date.now() + (body.expires_in || 0) * 1000,
      sid: c.sid,
      sub: c.sub,
    };
    this.schedule();
    return body;
  }

  /** Keeps the access token fresh from now on: a refresh REFRESH_AHEAD_MS before it
   *  expires, again after every refresh. onEnded() runs when the sign-in has ended (the
   *  refresh token was refused). */
  keepFresh(onEnded) {
    this.onEnded = onEnded;
    this.schedule();
  }

  schedule(delay) {
    clearTimeout(this.timer);
    this.timer = null;
    const t = this.tokens;
    if (!this.onEnded || !t || !t.refresh_token || !t.expires_at) return;
    const wait = delay ?? Math.max(0, t.expires_at - REFRESH_AHEAD_MS - Date.now());
    this.timer = setTimeout(() => this.refreshAhead(), Math.min(wait, 2 ** 31 - 1));
  }

  async refreshAhead() {
    let ok;
    try {
      ok = await this.refresh();   // success reschedules (tokenRequest)
    } catch {
      this.schedule(RETRY_MS);
      return;
    }
    if (!ok && this.onEnded) this.onEnded();
  }

  /** Refreshes now when the access token expires within REFRESH_AHEAD_MS (a timer may
   *  have run late: a sleeping computer, a hidden tab). */
  async refreshIfDue() {
    const t = this.tokens;
    if (t && t.expires_at && t.expires_at - Date.now() < REFRESH_AHEAD_MS) await this.refreshAhead();
  }

  /** New tokens from the refresh token (one at a time). true, or false when the sign-in
   *  has ended (the tokens are then forgotten). A network failure keeps them and throws. */
  refresh() {
    if (this.refreshing) return this.refreshing;
    const t = this.tokens;
    if (!t || !t.refresh_token) return Promise.resolve(false);
    this.refreshing = this.tokenRequest({ grant_type: 'refresh_token', refresh_token: t.refresh_token })
      .then((got) => {
        if (!got) this.tokens = null;
        return !!got;
      })
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  /** Signs out of every screen: RP-initiated logout at the provider, back to this screen. */
  signOut() {
    const t = this.tokens;
    this.tokens = null;
    this.onEnded = null;
    this.schedule();
    const state = randomText(12);
    sessionStorage.setItem(`${this.key}.signedout`, state);
    if (!t || !t.id_token) {
      location.assign(this.redirectUri);
      return;
    }
    const u = new URL(`${this.issuer}/logout`);
    u.search = new URLSearchParams({
      id_token_hint: t.id_token,
      post_logout_redirect_uri: this.redirectUri,
      state,
    }).toString();
    location.assign(u.toString());
  }

  /** True (once) when this page load follows this screen's own sign-out. */
  takeSignedOut() {
    const v = sessionStorage.getItem(`${this.key}.signedout`);
    sessionStorage.removeItem(`${this.key}.signedout`);
    const q = new URLSearchParams(location.search);
    if (q.has('state')) history.replaceState(null, '', `${location.pathname}${location.hash}`);
    return !!v;
  }
}
