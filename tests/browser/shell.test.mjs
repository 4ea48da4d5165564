// The web shell in a real headless Chromium (Debian's), against a running cityos server.
// Environment: CITYOS_URL (e.g. http://127.0.0.1:18080), CITYOS_ADMIN_USER,
// CITYOS_ADMIN_PASSWORD; optional CHROMIUM (default /usr/bin/chromium) and
// CITYOS_SCREENSHOT_DIR (default /tmp). The harness starts the server; nothing is mocked.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.CITYOS_URL;
const USER = process.env.CITYOS_ADMIN_USER;
const PASSWORD = process.env.CITYOS_ADMIN_PASSWORD;
const SHOTS = process.env.CITYOS_SCREENSHOT_DIR || '/tmp';
const SKIP =
  BASE && USER && PASSWORD
    ? false
    : 'needs CITYOS_URL, CITYOS_ADMIN_USER and CITYOS_ADMIN_PASSWORD (a running cityos server)';

// Console errors Chromium logs by itself for answers the page expects and handles:
// the session probe (401), a refused sign-in (401) and a point outside Hanoi (404).
const EXPECTED_FAILURES = [
  { path: '/api/v1/me', status: 401 },
  { path: '/api/v1/auth/login', status: 401 },
  { path: '/api/v1/units/locate', status: 404 },
];

let browser;

before(async () => {
  if (SKIP) return;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  if (browser) await browser.close();
});

/** A fresh context (no cookies, no localStorage) and page that record what goes wrong. */
async function openPage(viewport = { width: 1280, height: 800 }) {
  const base = new URL(BASE);
  const context = await browser.newContext({ viewport, locale: 'vi-VN' });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  const consoleErrors = [];
  const foreign = [];
  const responses = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const loc = msg.location() || {};
    const text = msg.text();
    const m = /^Failed to load resource: the server responded with a status of (\d+)/.exec(text);
    if (m && loc.url) {
      const u = new URL(loc.url);
      const status = Number(m[1]);
      if (u.origin === base.origin && EXPECTED_FAILURES.some((f) => f.path === u.pathname && f.status === status))
        return;
    }
    consoleErrors.push(`${text} (${loc.url || '?'})`);
  });
  page.on('pageerror', (err) => consoleErrors.push(`pageerror: ${err.message}`));
  context.on('request', (req) => {
    const u = new URL(req.url());
    if (u.protocol === 'data:' || u.protocol === 'blob:') return;
    if (u.origin !== base.origin) foreign.push(req.url());
  });
  page.on('response', (res) => responses.push(`${res.status()} ${res.request().method()} ${res.url()}`));
  await page.goto(new URL('/', base).href);
  await page.locator('#login-username').waitFor({ state: 'visible' });
  return { context, page, consoleErrors, foreign, responses };
}

function checkClean({ consoleErrors, foreign }) {
  assert.deepEqual(consoleErrors, [], 'the page logged no errors');
  assert.deepEqual(foreign, [], 'the page asked no host other than the server');
}

async function signIn(page, user, password) {
  await page.fill('#login-username', user);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
}

/** A point in the map, in page pixels, where elementFromPoint is (or is not) a ward shape. */
async function mapPoint(page, wantShape, notCode) {
  // Wait until the map stands still (a fit or zoom animation moves the shapes), then
  // two more frames, so the point found is still the point clicked.
  await page.waitForFunction(() => !document.getElementById('map').dataset.moving);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  return page.evaluate(
    ({ wantShape, notCode }) => {
      const map = document.getElementById('map');
      const r = map.getBoundingClientRect();
      for (let fy = 0.06; fy < 0.95; fy += 0.04) {
        for (let fx = 0.12; fx < 0.95; fx += 0.04) {
          const x = Math.round(r.left + r.width * fx);
          const y = Math.round(r.top + r.height * fy);
          const el = document.elementFromPoint(x, y);
          if (!el || !map.contains(el)) continue;
          if (el.closest('.leaflet-control-container')) continue;
          const isShape = el.matches('path.unit-shape');
          if (wantShape && isShape && el.getAttribute('data-code') !== notCode)
            return { x, y, code: el.getAttribute('data-code') };
          if (!wantShape && !isShape && !el.closest('.leaflet-marker-pane, .leaflet-tooltip-pane'))
            return { x, y, code: null };
        }
      }
      return null;
    },
    { wantShape, notCode },
  );
}

test('a wrong password shows the translated error', { skip: SKIP, timeout: 60000 }, async () => {
  const ctx = await openPage();
  const { page } = ctx;
  try {
    assert.equal(await page.getAttribute('html', 'lang'), 'vi');
    assert.equal((await page.textContent('#login-submit')).trim(), 'Đăng nhập');
    assert.equal((await page.textContent('label[for="login-username"]')).trim(), 'Tên đăng nhập');
    assert.equal((await page.textContent('label[for="login-password"]')).trim(), 'Mật khẩu');

    // Empty fields are caught on the page.
    await page.click('#login-submit');
    await page.locator('#login-error').waitFor({ state: 'visible' });
    assert.equal((await page.textContent('#login-error')).trim(), 'Vui lòng nhập đầy đủ tên đăng nhập và mật khẩu.');

    await signIn(page, USER, `${PASSWORD}-wrong`);
    await page.waitForFunction(
      () => document.getElementById('login-error').textContent.includes('mật khẩu không đúng'),
    );
    assert.equal((await page.textContent('#login-error')).trim(), 'Tên đăng nhập hoặc mật khẩu không đúng.');
    assert.equal(await page.isVisible('#unit-search'), false, 'still signed out');

    // The message follows the language.
    await page.click('#lang-en');
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.equal((await page.textContent('#login-error')).trim(), 'The user name or password is wrong.');
    assert.equal((await page.textContent('#login-submit')).trim(), 'Sign in');
    checkClean(ctx);
  } finally {
    await ctx.context.close();
  }
});

test('sign in, find Phường Hoàn Kiếm, switch era and language, sign out', { skip: SKIP, timeout: 180000 }, async () => {
  mkdirSync(SHOTS, { recursive: true });
  const ctx = await openPage();
  const { page, context } = ctx;
  try {
    assert.equal(await page.getAttribute('html', 'lang'), 'vi');
    assert.match(await page.textContent('.brand-name'), /cityos — Hà Nội/);

    await signIn(page, USER, PASSWORD);
    await page.locator('#unit-search').waitFor({ state: 'visible' });
    assert.equal(await page.isVisible('#login-form'), false, 'the sign-in form is gone');
    assert.equal((await page.textContent('#signout')).trim(), 'Đăng xuất');
    assert.equal((await page.textContent('label[for="unit-search"]')).trim(), 'Tìm đơn vị hành chính');
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'cityos_session');
    assert.ok(session, 'the server set the session cookie');
    assert.equal(session.httpOnly, true, 'the session cookie is HttpOnly');

    // The 2025 map: 126 wards drawn from the shipped boundaries, no tiles.
    await page.waitForFunction(() => document.querySelectorAll('#map path.unit-shape').length === 126, null, {
      timeout: 60000,
    });
    assert.equal(await page.locator('#map .leaflet-tile').count(), 0, 'no map tiles');
    assert.equal(await page.inputValue('#era-select'), '2025');

    // A click outside every ward: the server says the point is not in Hanoi.
    const outside = await mapPoint(page, false);
    assert.ok(outside, 'found a spot on the map outside the wards');
    await page.mouse.click(outside.x, outside.y);
    await page.waitForFunction(() => document.getElementById('map-status').textContent === 'Không thuộc Hà Nội');

    // A click on a ward selects it.
    const inside = await mapPoint(page, true, '00070');
    assert.ok(inside, 'found a ward on the map');
    await page.mouse.click(inside.x, inside.y);
    await page.waitForFunction((code) => document.getElementById('unit-detail').dataset.code === code, inside.code);
    assert.equal((await page.textContent('#unit-detail-code')).trim(), inside.code);
    assert.equal(await page.getAttribute(`#map path[data-code="${inside.code}"]`, 'data-selected'), 'true');

    // Search without diacritics, choose with the keyboard.
    await page.click('#unit-search');
    await page.locator('#unit-search').pressSequentially('hoan kiem', { delay: 40 });
    const hit = page.locator('.search-result', { hasText: 'Phường Hoàn Kiếm' });
    await hit.first().waitFor({ state: 'visible' });
    assert.equal(await page.getAttribute('#unit-search', 'aria-expanded'), 'true');
    const codes = await page.$$eval('.search-result', (els) => els.map((e) => e.dataset.code));
    const index = codes.indexOf('00070');
    assert.ok(index >= 0, `Phường Hoàn Kiếm (00070) is among the results: ${codes.join(', ')}`);
    for (let i = 0; i <= index; i++) await page.keyboard.press('ArrowDown');
    assert.equal(await page.getAttribute('.search-result[data-code="00070"]', 'aria-selected'), 'true');
    await page.keyboard.press('Enter');

    await page.waitForFunction(() => document.getElementById('unit-detail').dataset.code === '00070');
    assert.equal((await page.textContent('#unit-detail-name')).trim(), 'Phường Hoàn Kiếm');
    assert.equal((await page.textContent('#unit-detail-code')).trim(), '00070');
    assert.match(await page.textContent('#unit-detail'), /Phường\/Xã/);
    assert.match(await page.textContent('#unit-detail-path'), /Thành phố Hà Nội/);
    assert.equal(await page.isVisible('#search-results'), false, 'the result list closed');

    // Its polygon, and only it, is highlighted.
    const shape = page.locator('#map path[data-code="00070"]');
    assert.equal(await shape.getAttribute('data-selected'), 'true');
    assert.equal(await shape.getAttribute('stroke'), '#9f1d1d');
    assert.equal(await page.locator('#map path[data-selected="true"]').count(), 1);
    assert.equal(await page.getAttribute(`#map path[data-code="${inside.code}"]`, 'data-selected'), 'false');
    await page.waitForTimeout(400); // the fit-to-bounds animation
    await page.screenshot({ path: path.join(SHOTS, 'cityos-shell.png') });

    // Phone width: the map sits above the list.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    const mapBox = await page.locator('#map').boundingBox();
    const listBox = await page.locator('#unit-list').boundingBox();
    assert.ok(mapBox.y + mapBox.height <= listBox.y, 'map above the list on a narrow screen');
    assert.ok(mapBox.width <= 390, 'the map fits the phone width');
    await page.screenshot({ path: path.join(SHOTS, 'cityos-shell-phone.png') });
    await page.setViewportSize({ width: 1280, height: 800 });

    // Era 2024: 30 district shapes, and the list browses the tree.
    await page.selectOption('#era-select', '2024');
    await page.waitForFunction(() => document.querySelectorAll('#map path.unit-shape').length === 30, null, {
      timeout: 30000,
    });
    const district = page.locator('#unit-list .unit-item', { hasText: 'Quận Hoàn Kiếm' });
    await district.waitFor({ state: 'visible' });
    await district.click();
    await page.waitForFunction(() => document.getElementById('unit-detail').dataset.code === '002');
    assert.equal(await page.getAttribute('#map path[data-code="002"]', 'data-selected'), 'true');
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#unit-list .unit-item')].some((b) => b.textContent.includes('Phường Hàng Bạc')),
    );
    assert.match(await page.textContent('#unit-list-crumbs'), /Quận Hoàn Kiếm/);
    // A ward has no shape of its own in 2024: its district's shape stays lit.
    await page.locator('#unit-list .unit-item', { hasText: 'Phường Hàng Bạc' }).click();
    await page.waitForFunction(() => document.getElementById('unit-detail-name')?.textContent === 'Phường Hàng Bạc');
    assert.equal(await page.getAttribute('#map path[data-code="002"]', 'data-selected'), 'true');
    assert.match(await page.textContent('#unit-detail-path'), /Quận Hoàn Kiếm/);

    // English: labels change, the choice is kept across a reload.
    await page.click('#lang-en');
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.equal((await page.textContent('#signout')).trim(), 'Sign out');
    assert.equal((await page.textContent('label[for="unit-search"]')).trim(), 'Find an administrative unit');
    assert.match(await page.textContent('#unit-detail'), /Ward\/Commune/);
    assert.equal(await page.evaluate(() => localStorage.getItem('cityos.lang')), 'en');
    await page.reload();
    await page.locator('#unit-search').waitFor({ state: 'visible' }); // still signed in (the cookie)
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.equal((await page.textContent('#signout')).trim(), 'Sign out');

    // Sign out: the form is back, and the session is gone on the server too.
    await page.click('#signout');
    await page.locator('#login-form').waitFor({ state: 'visible' });
    assert.equal(await page.isVisible('#unit-search'), false);
    assert.equal((await page.textContent('#login-submit')).trim(), 'Sign in');
    await page.click('#lang-vi');
    assert.equal((await page.textContent('#login-submit')).trim(), 'Đăng nhập');
    assert.equal(await page.getAttribute('html', 'lang'), 'vi');
    const me = await context.request.get(new URL('/api/v1/me', BASE).href);
    assert.equal(me.status(), 401, 'signed out on the server');

    checkClean(ctx);
  } catch (e) {
    await page.screenshot({ path: path.join(SHOTS, 'cityos-shell-failure.png') }).catch(() => {});
    e.message += `\nconsole errors: ${JSON.stringify(ctx.consoleErrors)}\nlast responses:\n${ctx.responses.slice(-15).join('\n')}`;
    throw e;
  } finally {
    await context.close();
  }
});
