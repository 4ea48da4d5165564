// Citizen sign-up and password reset through the screens (web/sso/signup.html,
// reset.html) on a phone-sized window: a resident is put into the register with
// `cityos population import`, the one-time code is read from the notification outbox
// through the gateway API (POST /api/v1/outbox/claim, as an SMS gateway would), the
// account is finished and signed in to; then the password is reset the same way.
// Environment as set by tests/browser/run (CITYOS_BIN and CITYOS_DB for the import).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { BASE, USER, PASSWORD, SHOTS, SKIP as BASE_SKIP, browser, setupBrowser, call } from './lib.mjs';

const BIN = process.env.CITYOS_BIN;
const DB = process.env.CITYOS_DB;
const SKIP = BASE_SKIP || (BIN && DB ? false : 'needs CITYOS_BIN and CITYOS_DB (tests/browser/run sets them)');
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

setupBrowser();

/** A CCCD of Hà Nội (001) for a woman born in 1995 (century digit 1), random tail. */
function cccd1995() {
  return `0011${'95'}${String(crypto.randomInt(1000000)).padStart(6, '0')}`;
}

function importResident(cccd, name, birth) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cityos-signup-'));
  try {
    const csv = path.join(dir, 'reg.csv');
    writeFileSync(csv, 'cccd,full_name,birth_date,sex,permanent_era,permanent_unit,current_era,current_unit,household_id\n'
      + `${cccd},${name},${birth},female,2025,00004,,,\n`);
    const out = execFileSync(BIN, ['population', 'import', csv, '--db', DB, '--data-dir', path.join(ROOT, 'data'),
      '--web-dir', path.join(ROOT, 'web')], { encoding: 'utf8' });
    assert.match(out, /1 loaded/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The 6-digit code of the newest message for `destination`, claimed through the
 * gateway API and reported sent. Polls a little: the message is written by the request
 * the page made. */
async function codeFromGateway(key, destination) {
  for (let i = 0; i < 50; i++) {
    const r = await call('POST', '/api/v1/outbox/claim', key, { limit: 100, lease_seconds: 30 });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    let code = null;
    for (const m of r.json.messages) {
      if (m.destination === destination) code = /\b(\d{6})\b/.exec(m.body)[1];
      const s = await call('POST', `/api/v1/outbox/${m.id}/sent`, key, { lease: r.json.lease });
      assert.equal(s.status, 200);
    }
    if (code) return code;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`no message for ${destination} in the outbox`);
}

async function fieldError(page, name) {
  const box = page.locator(`.field-error[data-for="${name}"]`).locator('visible=true');
  await box.waitFor();
  return (await box.textContent()).trim();
}

async function noSideScroll(page) {
  const { sw, iw } = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, iw: window.innerWidth }));
  assert.ok(sw <= iw, `no sideways scrolling on a phone (${sw} > ${iw})`);
}

async function signInAtHome(page, user, password) {
  await page.goto(`${BASE}/`);
  await page.locator('#login-username').waitFor({ state: 'visible' });
  await page.fill('#login-username', user);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
}

test('sign up from the register with a code from the gateway, sign in, reset the password',
  { skip: SKIP, timeout: 180000 }, async () => {
    // the gateway: an API client with role outbox_gateway
    const admin = await call('POST', '/api/v1/auth/login', null, { username: USER, password: PASSWORD });
    assert.equal(admin.status, 200);
    const gw = await call('POST', '/api/v1/clients', admin.json.token, {
      username: `cong-sms-${crypto.randomBytes(3).toString('hex')}`, name: 'Cổng SMS thử',
      roles: [{ role: 'outbox_gateway', unit: null }],
    });
    assert.equal(gw.status, 201, JSON.stringify(gw.json));
    const key = gw.json.api_key;

    const cccd = cccd1995();
    importResident(cccd, 'Nguyễn Thị Lan Anh', '1995-04-30');
    const phone = `098${String(crypto.randomInt(10000000)).padStart(7, '0')}`;
    const pw1 = 'Hoa-sen-Ho-Tay-2026';
    const pw2 = 'Cau-Long-Bien-1902';

    const context = await browser.newContext({ locale: 'vi-VN', viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    page.setDefaultTimeout(20000);
    const errors = [];
    const foreign = [];
    // errors of the sign-up and reset pages (the map shell at / is tested elsewhere)
    const onSso = () => page.url().includes('/sso/');
    page.on('pageerror', (e) => { if (onSso()) errors.push(String(e)); });
    page.on('console', (m) => {
      if (onSso() && m.type() === 'error' && !/status of (4\d\d)/.test(m.text())) errors.push(m.text());
    });
    page.on('request', (r) => { if (!r.url().startsWith(BASE) && !r.url().startsWith('data:')) foreign.push(r.url()); });
    try {
      // the provider's sign-in page links here; coming from a sign-in request, the links lead back to it
      const signin = await (await fetch(`${BASE}/sso/authorize.html`)).text();
      assert.match(signin, /href="\/sso\/signup\.html"/);
      assert.match(signin, /href="\/sso\/reset\.html"/);
      await page.goto(`${BASE}/sso/signup.html?request=abc123`);
      assert.equal(await page.getAttribute('[data-testid=su-signin]', 'href'), '/sso/authorize.html?request=abc123');
      assert.equal(await page.getAttribute('a[data-carry]', 'href'), '/sso/reset.html?request=abc123');
      await page.goto(`${BASE}/sso/signup.html`);
      assert.equal(await page.getAttribute('[data-testid=su-signin]', 'href'), '/');
      assert.match(await page.textContent('h1'), /Đăng ký tài khoản công dân/);
      await noSideScroll(page);

      // errors checked in the page, then errors the API answers, under their fields
      await page.fill('[data-testid=su-cccd]', '12345');
      await page.click('[data-testid=su-send]');
      assert.equal(await fieldError(page, 'cccd'), 'Số CCCD phải gồm đúng 12 chữ số.The citizen ID has 12 digits.');
      await page.fill('[data-testid=su-cccd]', '999999999999');          // 12 digits, not a CCCD
      await page.fill('[data-testid=su-birth]', '1995-04-30');
      await page.fill('[data-testid=su-dest]', phone);
      await page.click('[data-testid=su-send]');
      assert.match(await fieldError(page, 'cccd'), /^Số CCCD phải gồm 12 chữ số hợp lệ\.cccd must be a valid 12-digit CCCD/);
      assert.equal(await page.getAttribute('[data-testid=su-cccd]', 'aria-invalid'), 'true');
      await page.fill('[data-testid=su-cccd]', cccd);
      await page.fill('[data-testid=su-dest]', '0123');
      await page.click('[data-testid=su-send]');
      assert.match(await fieldError(page, 'destination'), /^Số điện thoại không hợp lệ/);
      await page.screenshot({ path: path.join(SHOTS, 'signup-phone.png'), fullPage: true });

      await page.fill('[data-testid=su-dest]', phone.replace(/^(\d{4})(\d{3})/, '$1 $2 '));  // spaces are fine
      await page.click('[data-testid=su-send]');
      await page.locator('[data-testid=su-finish]').waitFor({ state: 'visible' });
      assert.match(await page.textContent('#su-sent-to'), new RegExp(`số điện thoại ${phone}`));
      const code = await codeFromGateway(key, phone);

      // the password policy of the API, shown under the field; then a wrong code
      await page.fill('[data-testid=su-code]', code);
      await page.fill('[data-testid=su-password]', 'ngan');
      await page.fill('[data-testid=su-password2]', 'ngan');
      await page.click('[data-testid=su-create]');
      assert.match(await fieldError(page, 'password'), /^Mật khẩu phải có ít nhất 10 ký tự\./);
      await page.fill('[data-testid=su-code]', String((Number(code) + 1) % 1000000).padStart(6, '0'));
      await page.fill('[data-testid=su-password]', pw1);
      await page.fill('[data-testid=su-password2]', pw1);
      await page.click('[data-testid=su-create]');
      assert.match(await fieldError(page, 'code'), /^Mã xác nhận sai, đã dùng hoặc đã hết hạn/);
      await page.fill('[data-testid=su-code]', code);
      await page.click('[data-testid=su-create]');
      await page.locator('[data-testid=su-done]').waitFor({ state: 'visible' });
      assert.equal(await page.textContent('[data-testid=su-username]'), cccd);
      assert.match(await page.textContent('[data-testid=su-status]'), /Đã tạo tài khoản cho Nguyễn Thị Lan Anh/);
      await noSideScroll(page);

      // sign in with the new account
      await page.click('[data-testid=su-signin]');
      await page.waitForURL(`${BASE}/`);
      await signInAtHome(page, cccd, pw1);
      await page.locator('#signout').waitFor({ state: 'visible' });
      const me = await page.evaluate(async () => (await fetch('/api/v1/me', { credentials: 'same-origin' })).json());
      assert.equal(me.username, cccd);
      assert.equal(me.kind, 'citizen');
      assert.equal(me.name, 'Nguyễn Thị Lan Anh');
      await page.click('#signout');
      await page.locator('#login-username').waitFor({ state: 'visible' });

      // password reset, the code again through the gateway
      await page.goto(`${BASE}/sso/reset.html`);
      await page.click('[data-testid=rs-send]');
      assert.match(await fieldError(page, 'username'), /^Hãy nhập tên đăng nhập/);
      await page.fill('[data-testid=rs-username]', cccd);
      await page.click('[data-testid=rs-send]');
      await page.locator('[data-testid=rs-finish]').waitFor({ state: 'visible' });
      const code2 = await codeFromGateway(key, phone);
      assert.notEqual(code2, undefined);
      await page.fill('[data-testid=rs-code]', code2);
      await page.fill('[data-testid=rs-password]', pw2);
      await page.fill('[data-testid=rs-password2]', pw2 + 'x');
      await page.click('[data-testid=rs-save]');
      assert.match(await fieldError(page, 'password2'), /^Hai mật khẩu không giống nhau/);
      await page.fill('[data-testid=rs-password2]', pw2);
      await page.click('[data-testid=rs-save]');
      await page.locator('[data-testid=rs-done]').waitFor({ state: 'visible' });
      assert.match(await page.textContent('[data-testid=su-status]'), /Đã đặt mật khẩu mới/);
      await noSideScroll(page);

      // the old password no longer works, the new one does
      const old = await call('POST', '/api/v1/auth/login', null, { username: cccd, password: pw1 });
      assert.equal(old.status, 401);
      await page.click('[data-testid=rs-signin]');
      await page.waitForURL(`${BASE}/`);
      await signInAtHome(page, cccd, pw2);
      await page.locator('#signout').waitFor({ state: 'visible' });

      assert.deepEqual(errors, []);
      assert.deepEqual(foreign, []);
    } finally {
      await context.close();
    }
  });
