// The certified relying party `openid-client` runs the whole code flow with PKCE against
// cityos: discovery, authorization (the person signs in and consents through the JSON API
// the consent page uses), code exchange, ID token validation, userinfo, refresh, logout -
// and the negative cases fail as the specifications say.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import * as oidc from 'openid-client';
import { chromium } from 'playwright-core';
import { totp } from './lib.mjs';

const BASE = process.env.CITYOS_URL;
const ADMIN = { username: process.env.CITYOS_ADMIN_USER, password: process.env.CITYOS_ADMIN_PASSWORD };
const CB = 'http://127.0.0.1:9/cb';
const OUT = 'http://127.0.0.1:9/signed-out';
const SKIP = BASE && ADMIN.username && ADMIN.password ? false : 'needs CITYOS_URL, CITYOS_ADMIN_USER and CITYOS_ADMIN_PASSWORD';

async function api(method, path, { token, body, cookie } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (cookie) headers.Cookie = cookie;
  if (body) headers['Content-Type'] = 'application/json';
  const r = await fetch(BASE + path, { method, headers, body: body ? JSON.stringify(body) : undefined, redirect: 'manual' });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { json = null; }
  return { status: r.status, json, headers: r.headers };
}

async function login(username, password) {
  const r = await fetch(`${BASE}/api/v1/auth/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username, password }),
  });
  assert.equal(r.status, 200);
  const j = await r.json();
  return { token: j.token, cookie: r.headers.get('set-cookie').split(';')[0] };
}

async function setup() {
  const admin = await login(ADMIN.username, ADMIN.password);
  const c = await api('POST', '/api/v1/oidc/clients', {
    token: admin.token,
    body: { name: 'Ứng dụng bên thứ ba', type: 'public', redirect_uris: [CB], post_logout_redirect_uris: [OUT],
            scope: 'openid profile cccd offline_access' },
  });
  assert.equal(c.status, 201);
  const suffix = crypto.randomBytes(3).readUIntBE(0, 3) % 1000000;
  const cccd = `001190${String(suffix).padStart(6, '0')}`;   // 1990, female
  const password = `Mat-khau-${crypto.randomBytes(4).toString('hex')}`;
  const u = await api('POST', '/api/v1/users', {
    token: admin.token,
    body: { kind: 'citizen', cccd, birth_date: '1990-08-02', sex: 'female', full_name: 'Vũ Thị Hạnh', password },
  });
  assert.equal(u.status, 201, JSON.stringify(u.json));
  const config = await oidc.discovery(new URL(`${BASE}/api/v1/oidc`), c.json.client_id, undefined, oidc.None(),
    { execute: [oidc.allowInsecureRequests] });
  return { config, client: c.json, cccd, person: { ...(await login(cccd, password)), password } };
}

// What the consent page does for a signed-in person: returns the redirect with the code.
async function consent(authUrl, cookie) {
  const r = await fetch(authUrl, { redirect: 'manual' });
  assert.equal(r.status, 302);
  const rid = new URL(r.headers.get('location'), BASE).searchParams.get('request');
  const d = await api('POST', `/api/v1/oidc/requests/${rid}/decision`, { cookie, body: { approve: true } });
  assert.equal(d.status, 200);
  return new URL(d.json.redirect_to);
}

function verifyJws(jwt, jwks) {
  const [h, p, s] = jwt.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  const sig = Buffer.from(s, 'base64url');
  return header.alg === 'ES256'
    ? crypto.verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, sig)
    : crypto.verify('sha256', Buffer.from(`${h}.${p}`), key, sig);
}

test('openid-client: code flow with PKCE, ID token, userinfo, refresh, logout', { skip: SKIP }, async () => {
  const { config, client, cccd, person } = await setup();
  const meta = config.serverMetadata();
  assert.equal(meta.issuer, `${BASE}/api/v1/oidc`);

  const verifier = oidc.randomPKCECodeVerifier();
  const challenge = await oidc.calculatePKCECodeChallenge(verifier);
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const authUrl = oidc.buildAuthorizationUrl(config, {
    redirect_uri: CB, scope: 'openid profile cccd', code_challenge: challenge, code_challenge_method: 'S256', state, nonce,
  });
  const back = await consent(authUrl, person.cookie);
  const tokens = await oidc.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
  const claims = tokens.claims();
  assert.equal(claims.iss, meta.issuer);
  assert.equal(claims.aud, client.client_id);
  assert.equal(claims.name, 'Vũ Thị Hạnh');
  const jwks = await (await fetch(meta.jwks_uri)).json();
  assert.ok(verifyJws(tokens.id_token, jwks), 'ID token signature');
  const tampered = tokens.id_token.replace(/\.([^.]+)\./, (m, p) => `.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url')), sub: '1' })).toString('base64url')}.`);
  assert.ok(!verifyJws(tampered, jwks), 'a tampered ID token fails');

  const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.cccd, cccd);
  assert.equal(info.birthdate, '1990-08-02');

  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
  await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token), (e) => e.error === 'invalid_grant');
  await assert.rejects(oidc.refreshTokenGrant(config, refreshed.refresh_token), (e) => e.error === 'invalid_grant');

  const logout = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token, post_logout_redirect_uri: OUT, state: 'bye' });
  const r = await fetch(logout, { redirect: 'manual' });
  assert.equal(r.status, 302);
  assert.equal(r.headers.get('location'), `${OUT}?state=bye`);
  assert.equal((await api('GET', '/api/v1/me', { cookie: person.cookie })).status, 401);
});

test('openid-client: wrong redirect URI, wrong verifier and a reused code are refused', { skip: SKIP }, async () => {
  const { config, person } = await setup();
  const verifier = oidc.randomPKCECodeVerifier();
  const challenge = await oidc.calculatePKCECodeChallenge(verifier);
  const params = { redirect_uri: CB, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', state: oidc.randomState() };
  const wrong = oidc.buildAuthorizationUrl(config, { ...params, redirect_uri: `${CB}/other` });
  assert.equal((await fetch(wrong, { redirect: 'manual' })).status, 422);

  let back = await consent(oidc.buildAuthorizationUrl(config, params), person.cookie);
  await assert.rejects(
    oidc.authorizationCodeGrant(config, back, { pkceCodeVerifier: oidc.randomPKCECodeVerifier(), expectedState: params.state }),
    (e) => e.error === 'invalid_grant');

  back = await consent(oidc.buildAuthorizationUrl(config, params), person.cookie);
  await oidc.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: params.state });
  await assert.rejects(
    oidc.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: params.state }),
    (e) => e.error === 'invalid_grant');
});

test('the sign-in and consent page in Chromium: sign in, consent, back to the client with a code', { skip: SKIP }, async () => {
  const { config, cccd, person } = await setup();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    let landed = null;
    await page.route(`${CB}**`, (route) => { landed = route.request().url(); route.fulfill({ status: 200, body: 'ok' }); });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: CB, scope: 'openid profile cccd', state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    await page.goto(url.href);
    await page.getByTestId('oidc-login').waitFor();
    assert.match(await page.getByTestId('oidc-status').textContent(), /Đăng nhập để tiếp tục/);
    await page.fill('input[name=username]', cccd);
    await page.fill('input[name=password]', person.password);
    await page.click('#oidc-login button[type=submit]');
    await page.getByTestId('oidc-consent').waitFor();
    assert.match(await page.locator('#oidc-scopes').textContent(), /Số CCCD/);
    if (process.env.CITYOS_SCREENSHOT_DIR) await page.screenshot({ path: `${process.env.CITYOS_SCREENSHOT_DIR}/oidc-consent.png` });
    await page.getByTestId('oidc-approve').click();
    for (let i = 0; i < 50 && !landed; i++) await page.waitForTimeout(100);
    assert.ok(landed, 'the browser went back to the client');
    const back = new URL(landed);
    assert.equal(back.searchParams.get('state'), state);
    const tokens = await oidc.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state });
    assert.equal(tokens.claims().preferred_username, cccd);
    // prompt=login with max_age: the live provider session is not enough, the page asks
    // for the password again and the ID token's auth_time is the new sign-in
    await page.waitForTimeout(1100);   // auth_time is in seconds
    landed = null;
    const v2 = oidc.randomPKCECodeVerifier();
    const s2 = oidc.randomState();
    await page.goto(oidc.buildAuthorizationUrl(config, {
      redirect_uri: CB, scope: 'openid profile cccd', state: s2, prompt: 'login', max_age: '600',
      code_challenge: await oidc.calculatePKCECodeChallenge(v2), code_challenge_method: 'S256',
    }).href);
    await page.getByTestId('oidc-login').waitFor();
    assert.match(await page.getByTestId('oidc-status').textContent(), /yêu cầu đăng nhập lại/);
    await page.fill('input[name=username]', cccd);
    await page.fill('input[name=password]', person.password);
    await page.click('#oidc-login button[type=submit]');
    await page.getByTestId('oidc-consent').waitFor();
    await page.getByTestId('oidc-approve').click();
    for (let i = 0; i < 50 && !landed; i++) await page.waitForTimeout(100);
    assert.ok(landed, 'the browser went back to the client after the fresh sign-in');
    const again = await oidc.authorizationCodeGrant(config, new URL(landed),
      { pkceCodeVerifier: v2, expectedState: s2, maxAge: 600 });
    assert.ok(again.claims().auth_time > tokens.claims().auth_time, 'auth_time is the new sign-in');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});


test('an official who must use two-factor enrols on the sign-in page before consenting', { skip: SKIP }, async () => {
  const { config } = await setup();
  const admin = await login(ADMIN.username, ADMIN.password);
  const username = `sso-${crypto.randomBytes(4).toString('hex')}`;
  const password = `Mat-khau-${crypto.randomBytes(4).toString('hex')}`;
  const u = await api('POST', '/api/v1/users', {
    token: admin.token, body: { kind: 'official', username, password, full_name: 'Cán bộ Hai Lớp', roles: [] },
  });
  assert.equal(u.status, 201);
  assert.equal((await api('PUT', `/api/v1/oidc/mfa/accounts/${u.json.id}`, { token: admin.token, body: { required: true } })).status, 200);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    let landed = null;
    await page.route(`${CB}**`, (route) => { landed = route.request().url(); route.fulfill({ status: 200, body: 'ok' }); });
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: CB, scope: 'openid profile', state: 's1',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    await page.goto(url.href);
    await page.fill('input[name=username]', username);
    await page.fill('input[name=password]', password);
    await page.click('#oidc-login button[type=submit]');
    await page.getByTestId('oidc-enrol').waitFor();
    const secret = await page.locator('#oidc-secret').textContent();
    await page.fill('#oidc-enrol input[name=code]', totp(secret));
    await page.click('#oidc-enrol button[type=submit]');
    await page.locator('#oidc-recovery li').first().waitFor();
    assert.equal(await page.locator('#oidc-recovery li').count(), 10);
    if (process.env.CITYOS_SCREENSHOT_DIR) await page.screenshot({ path: `${process.env.CITYOS_SCREENSHOT_DIR}/oidc-enrol.png` });
    await page.click('#oidc-enrol button[type=submit]');
    await page.getByTestId('oidc-consent').waitFor();
    await page.getByTestId('oidc-approve').click();
    for (let i = 0; i < 50 && !landed; i++) await page.waitForTimeout(100);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(landed), { pkceCodeVerifier: verifier, expectedState: 's1' });
    assert.equal(tokens.claims().preferred_username, username);
  } finally {
    await browser.close();
  }
});
