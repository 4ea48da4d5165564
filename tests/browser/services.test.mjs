// Public services in a real headless Chromium. (1) A citizen on a phone finds "khai sinh"
// without diacritics, submits a birth registration at Phường Ba Đình; the ward officer
// receives, processes, approves and returns it from the unit inbox; the citizen sees the
// result in "my dossiers" and the public lookup. (2) A land registration goes from the
// ward to the city department and back, with a supplement requested and supplied, and
// the citizen downloads the slip and rates the handling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BASE, USER, PASSWORD, SHOTS, SKIP, browser, setupBrowser, call } from './lib.mjs';

const CATALOG = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'data', 'procedures', 'hanoi.json');
setupBrowser();

// The CLI on the server's database (tests/browser/run says where): the city PKI and an
// official's signing certificate, for signing a result from the console.
const DATA = path.join(path.dirname(CATALOG), '..');
function cli(...args) {
  return execFileSync(process.env.CITYOS_BIN, [...args, '--db', process.env.CITYOS_DB, '--data-dir', DATA],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
function signingCertificate(cn, email, pass) {
  try { cli('pki', 'init', '--key-type', 'ec', '--ca-pass', 'browser-ca-pass-1'); } catch { /* done by an earlier test */ }
  return cli('pki', 'issue', '--cn', cn, '--email', email, '--title', 'Chủ tịch UBND phường', '--key-type', 'ec',
    '--pass', pass, '--ca-pass', 'browser-ca-pass-1').trim();
}

async function signedInPage(username, password, viewport) {
  const context = await browser.newContext({ viewport, locale: 'vi-VN' });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(new URL('/#/services', BASE).href);
  await page.fill('#login-username', username);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
  await page.locator('#signout').waitFor({ state: 'visible' });
  await page.locator('#svc-search').waitFor({ state: 'visible' });
  return { context, page, errors };
}

test('birth registration: submitted online, handled at the ward, returned', { skip: SKIP, timeout: 180000 }, async () => {
  mkdirSync(SHOTS, { recursive: true });
  const admin = (await call('POST', '/api/v1/auth/login', null, { username: USER, password: PASSWORD })).json.token;
  let r = await call('POST', '/api/v1/procedures/import', admin, JSON.parse(readFileSync(CATALOG, 'utf8')));
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const cccd = `001190${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
  const citizenPw = 'Cong-dan-2026!x';
  r = await call('POST', '/api/v1/users', admin, { kind: 'citizen', cccd, full_name: 'Trần Thị Bình', birth_date: '1990-05-01', sex: 'female', password: citizenPw });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  const officerName = `canbo${Date.now()}`;
  const officerPw = 'Can-bo-2026!xyz';
  r = await call('POST', '/api/v1/users', admin, { kind: 'official', username: officerName, full_name: 'Lê Văn Cán Bộ', password: officerPw, unit: '00004', roles: [{ role: 'officer', unit: '00004' }, { role: 'leader', unit: '00004' }] });
  assert.equal(r.status, 201, JSON.stringify(r.json));

  // 1. The citizen, on a phone, searches without diacritics and submits.
  const cit = await signedInPage(cccd, citizenPw, { width: 390, height: 844 });
  const { page } = cit;
  await page.fill('#svc-search', 'dang ky khai sinh');
  await page.locator('.svc-results button[data-code="1.001193"]').click();
  await page.locator('#svc-form').waitFor();
  await page.fill('#svc-unit', '00004');
  await page.fill('#svc-f-child_name', 'Nguyễn Minh An');
  await page.fill('#svc-f-child_birth_date', '2026-11-01');
  await page.selectOption('#svc-f-child_sex', 'Nam');
  await page.fill('#svc-f-birth_place', 'Bệnh viện Phụ sản Hà Nội');
  await page.selectOption('#svc-f-relation', 'Mẹ');
  await page.fill('#svc-f-applicant_name', 'Trần Thị Bình');
  // a wrong CCCD is refused naming the field
  await page.fill('#svc-f-applicant_cccd', '123');
  await page.click('#svc-form button[type="submit"]');
  await page.waitForFunction(() => document.querySelector('.svc-msg').textContent.includes('form.applicant_cccd'));
  await page.fill('#svc-f-applicant_cccd', cccd);
  await page.click('#svc-form button[type="submit"]');
  await page.waitForFunction(() => document.querySelector('.svc-msg').textContent.startsWith('Đã nộp hồ sơ 00004-'));
  const code = (await page.textContent('.svc-msg')).match(/00004-\d{6}-\d{4}/)[0];
  await page.screenshot({ path: path.join(SHOTS, 'services-phone.png'), fullPage: true });

  // 2. The ward officer works it from the unit inbox.
  const off = await signedInPage(officerName, officerPw, { width: 1280, height: 900 });
  await off.page.fill('#svc-inbox-unit', '00004');
  await off.page.click('#svc-inbox');
  await off.page.locator(`.svc-list button[data-code="${code}"]`).click();
  for (const action of ['receive', 'assign', 'approve']) {
    await off.page.locator(`.svc-actions button[data-action="${action}"]`).click();
    await off.page.locator(`.svc-timeline li[data-action="${action}"]`).waitFor();
  }
  // the leader signs the result with their own certificate, from the console
  const signing = Boolean(process.env.CITYOS_BIN && process.env.CITYOS_DB);
  if (signing) {
    const serial = signingCertificate('Lê Văn Cán Bộ', officerName, 'Ky-so-2026!');
    await off.page.fill('#svc-sign-serial', serial);
    await off.page.fill('#svc-sign-pass', 'sai-mat-khau');
    await off.page.click('#svc-sign button[type="submit"]');
    await off.page.waitForFunction(() => document.querySelector('.svc-msg').textContent.includes('passphrase'));
    await off.page.fill('#svc-sign-pass', 'Ky-so-2026!');
    await off.page.fill('#svc-sign-decision', 'Đăng ký khai sinh cho cháu Nguyễn Minh An');
    await off.page.click('#svc-sign button[type="submit"]');
    await off.page.locator('#svc-result').waitFor();
    await off.page.locator('.svc-timeline li[data-action="sign_result"]').waitFor();
  }
  await off.page.locator('.svc-actions button[data-action="return_result"]').click();
  await off.page.locator('.svc-timeline li[data-action="return_result"]').waitFor();
  assert.match(await off.page.textContent('.svc-detail'), /Đã trả kết quả/);

  // 3. The citizen sees the result and the public lookup agrees.
  await page.click('#svc-mine');
  await page.locator(`.svc-list button[data-code="${code}"]`).waitFor();
  assert.match(await page.textContent(`.svc-list button[data-code="${code}"]`), /Đã trả kết quả/);
  if (signing) {   // the signed result downloads from the dossier
    await page.locator(`.svc-list button[data-code="${code}"]`).click();
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#svc-result')]);
    const pdf = readFileSync(await download.path());
    assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
    assert.match(pdf.toString('latin1'), /\/ByteRange\s*\[/);
  }
  await page.fill('#svc-lookup-code', code);
  await page.fill('#svc-lookup-4', cccd.slice(-4));
  await page.click('.svc-lookup button');
  await page.locator('.svc-detail .svc-lookup-result').waitFor();
  await page.locator('.svc-detail .svc-timeline li').first().waitFor();
  assert.equal((await page.textContent('.svc-detail')).includes('Trần Thị Bình'), false);
  r = await call('GET', `/api/v1/lookup/dossiers/${code}?cccd4=${cccd.slice(-4)}`);
  assert.equal(r.json.status, 10);
  assert.deepEqual(cit.errors, []);
  assert.deepEqual(off.errors, []);
  await cit.context.close();
  await off.context.close();
});

async function act(page, action, code) {
  await page.locator(`.svc-actions button[data-action="${action}"]`).click();
  await page.locator(`.svc-timeline li[data-action="${action}"]`).last().waitFor();
  assert.equal(await page.textContent('.svc-detail h3'), code);
}

async function openFromInbox(page, unit, code) {
  await page.fill('#svc-inbox-unit', unit);
  await page.click('#svc-inbox');
  await page.locator(`.svc-list button[data-code="${code}"]`).click();
  await page.locator('.svc-detail h3').waitFor();
}

test('land registration: ward -> city department -> supplement -> back to the ward -> rated', { skip: SKIP, timeout: 240000 }, async () => {
  const admin = (await call('POST', '/api/v1/auth/login', null, { username: USER, password: PASSWORD })).json.token;
  let r = await call('POST', '/api/v1/procedures/import', admin, JSON.parse(readFileSync(CATALOG, 'utf8')));
  assert.equal(r.status, 200);
  const cccd = `001190${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
  const pw = 'Mat-khau-2026!x';
  r = await call('POST', '/api/v1/users', admin, { kind: 'citizen', cccd, full_name: 'Phạm Thị Hoa', birth_date: '1990-03-03', sex: 'female', password: pw });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  const ward = `phuong${Date.now()}`;
  const city = `so${Date.now()}`;
  r = await call('POST', '/api/v1/users', admin, { kind: 'official', username: ward, full_name: 'Cán bộ Phường', password: pw, unit: '00070', roles: [{ role: 'officer', unit: '00070' }, { role: 'leader', unit: '00070' }] });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  r = await call('POST', '/api/v1/users', admin, { kind: 'official', username: city, full_name: 'Chuyên viên Sở', password: pw, unit: '01', roles: [{ role: 'specialist', unit: '01' }, { role: 'leader', unit: '01' }] });
  assert.equal(r.status, 201, JSON.stringify(r.json));

  // 1. Submitted online at Phường Hoàn Kiếm.
  const cit = await signedInPage(cccd, pw, { width: 390, height: 844 });
  await cit.page.fill('#svc-search', 'dang ky dat dai');
  await cit.page.locator('.svc-results button[data-code="HN-DD-01"]').click();
  await cit.page.fill('#svc-unit', '00070');
  await cit.page.fill('#svc-f-parcel_address', 'Số 1 phố Hàng Bài');
  await cit.page.fill('#svc-f-land_parcel', 'Thửa 12, tờ 3');
  await cit.page.fill('#svc-f-area_m2', '60');
  await cit.page.fill('#svc-f-applicant_name', 'Phạm Thị Hoa');
  await cit.page.fill('#svc-f-applicant_cccd', cccd);
  await cit.page.click('#svc-form button[type="submit"]');
  await cit.page.waitForFunction(() => document.querySelector('.svc-msg').textContent.startsWith('Đã nộp hồ sơ 00070-'));
  const code = (await cit.page.textContent('.svc-msg')).match(/00070-\d{6}-\d{4}/)[0];

  // 2. The ward receives, checks and forwards it to the city.
  const w = await signedInPage(ward, pw, { width: 1280, height: 900 });
  await openFromInbox(w.page, '00070', code);
  for (const a of ['receive', 'assign', 'forward']) await act(w.page, a, code);

  // 3. The city department asks for a supplement (all missing items in one request).
  const c = await signedInPage(city, pw, { width: 1280, height: 900 });
  await openFromInbox(c.page, '01', code);
  await c.page.fill('#svc-comment', 'Thiếu sơ đồ thửa đất');
  await act(c.page, 'request_supplement', code);

  // 4. The citizen supplies it from "my dossiers"; the ward sends it up again.
  await cit.page.click('#svc-mine');
  await cit.page.locator(`.svc-list button[data-code="${code}"]`).click();
  await cit.page.locator('.svc-timeline li:has-text("Thiếu sơ đồ thửa đất")').waitFor();
  await act(cit.page, 'supply', code);
  await openFromInbox(w.page, '00070', code);
  await act(w.page, 'forward', code);

  // 5. The city approves and sends the result down; the ward returns it.
  await openFromInbox(c.page, '01', code);
  await act(c.page, 'approve', code);
  await act(c.page, 'issue_result', code);
  await openFromInbox(w.page, '00070', code);
  await act(w.page, 'return_result', code);

  // 6. The citizen downloads the slip and rates the handling.
  await cit.page.click('#svc-mine');
  await cit.page.locator(`.svc-list button[data-code="${code}"]`).click();
  await cit.page.locator('#svc-rate').waitFor();
  for (const id of ['#svc-receipt', '#svc-slip-supplement']) {
    const href = await cit.page.getAttribute(id, 'href');
    const pdf = await cit.page.request.get(new URL(href, BASE).href);
    assert.equal(pdf.status(), 200);
    assert.equal((await pdf.body()).subarray(0, 5).toString(), '%PDF-');
  }
  await cit.page.selectOption('#svc-score', '5');
  await cit.page.click('#svc-rate');
  await cit.page.waitForFunction(() => document.querySelector('.svc-msg').textContent.includes('Cảm ơn'));
  await cit.page.screenshot({ path: path.join(SHOTS, 'services-rated.png'), fullPage: true });
  r = await call('GET', `/api/v1/lookup/dossiers/${code}?cccd4=${cccd.slice(-4)}`);
  assert.equal(r.json.status, 10);
  assert.deepEqual(r.json.timeline.map((e) => e.action),
    ['submit', 'receive', 'assign', 'forward', 'request_supplement', 'supply', 'forward', 'approve', 'issue_result', 'return_result']);
  for (const x of [cit, w, c]) {
    assert.deepEqual(x.errors, []);
    await x.context.close();
  }
});

test('fee: VietQR payment panel, the platform confirms, the e-receipt downloads', { skip: SKIP || (process.env.CITYOS_PAYMENT_HMAC_KEY ? false : 'needs CITYOS_PAYMENT_HMAC_KEY'), timeout: 180000 }, async () => {
  const admin = (await call('POST', '/api/v1/auth/login', null, { username: USER, password: PASSWORD })).json.token;
  let r = await call('POST', '/api/v1/procedures/import', admin, JSON.parse(readFileSync(CATALOG, 'utf8')));
  assert.equal(r.status, 200);
  const unit = '00082';
  r = await call('PUT', `/api/v1/payment-accounts/${unit}`, admin, { bank_bin: '970415', account: '113000123456', name: 'UBND PHUONG CUA NAM' });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const cccd = `001190${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
  const pw = 'Mat-khau-2026!x';
  r = await call('POST', '/api/v1/users', admin, { kind: 'citizen', cccd, full_name: 'Đặng Thu Hà', birth_date: '1990-07-07', sex: 'female', password: pw });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  const officer = `cuanam${Date.now()}`;
  r = await call('POST', '/api/v1/users', admin, { kind: 'official', username: officer, full_name: 'Cán bộ Cửa Nam', password: pw, unit, roles: [{ role: 'officer', unit }, { role: 'specialist', unit }] });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  // The citizen submits a permanent residence registration (fee online: 10,000 đ).
  const citToken = (await call('POST', '/api/v1/auth/login', null, { username: cccd, password: pw })).json.token;
  r = await call('POST', '/api/v1/dossiers', citToken, {
    procedure: '1.004222', unit, form: { address: 'Số 5 phố Lý Thường Kiệt', housing_basis: 'Nhà thuộc sở hữu', applicant_name: 'Đặng Thu Hà', applicant_cccd: cccd },
  });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  const code = r.json.code;

  // 1. The officer works it to "fee due" and requests the fee from the console.
  const o = await signedInPage(officer, pw, { width: 1280, height: 900 });
  await openFromInbox(o.page, unit, code);
  for (const a of ['receive', 'assign', 'request_fee']) await act(o.page, a, code);
  await o.page.fill('#svc-pay-amount-input', '10000');
  await o.page.click('#svc-pay-request button[type="submit"]');
  await o.page.locator('#svc-pay-content').waitFor();
  await o.page.screenshot({ path: path.join(SHOTS, 'services-officer.png'), fullPage: true });

  // 2. The citizen, on a phone, sees the panel: QR image, amount, account, content.
  const cit = await signedInPage(cccd, pw, { width: 390, height: 844 });
  await cit.page.click('#svc-mine');
  await cit.page.locator(`.svc-list button[data-code="${code}"]`).click();
  await cit.page.locator('#svc-pay-content').waitFor();
  await cit.page.waitForFunction(() => { const i = document.querySelector('#svc-pay-qr'); return i && i.complete && i.naturalWidth > 0; });
  assert.equal((await cit.page.textContent('#svc-pay-amount')).replace(/\s/g, ''), '10.000đ');
  assert.match(await cit.page.textContent('#svc-pay-bank'), /VietinBank \(970415\)/);
  assert.equal(await cit.page.textContent('#svc-pay-account'), '113000123456');
  const content = await cit.page.textContent('#svc-pay-content');
  const reference = content.split(' ')[0];
  assert.equal(content, `${reference} ${code}`);
  assert.match(await cit.page.textContent('#svc-pay-status'), /Đang chờ xác nhận/);
  await cit.page.screenshot({ path: path.join(SHOTS, 'services-payment.png'), fullPage: true });

  // 3. The payment platform confirms (HMAC-signed, as the bank's gateway would).
  const body = JSON.stringify({ reference, amount: 10000, transaction_id: `FT${Date.now()}` });
  const sig = `sha256=${createHmac('sha256', process.env.CITYOS_PAYMENT_HMAC_KEY).update(body).digest('hex')}`;
  const cb = await fetch(new URL('/api/v1/payments/callback', BASE), { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Cityos-Signature': sig }, body });
  assert.equal(cb.status, 200, await cb.text());

  // 4. The screen follows: paid, and the e-receipt downloads.
  await cit.page.waitForFunction(() => document.querySelector('#svc-pay-status').textContent.includes('Đã thanh toán'));
  const [download] = await Promise.all([cit.page.waitForEvent('download'), cit.page.click('#svc-pay-receipt')]);
  const file = await download.path();
  const pdf = readFileSync(file);
  assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
  assert.match(download.suggestedFilename(), new RegExp(`${code}.*\.pdf$`));
  // 5. The e-receipt is kept in "my documents".
  await cit.page.click('#svc-docs');
  const kept = cit.page.locator('.svc-list li.svc-origin-receipt');
  await kept.first().waitFor();
  assert.match(await kept.first().textContent(), new RegExp(`bien-lai-${reference}\\.pdf.*Biên lai điện tử · ${code}`));
  r = await call('GET', `/api/v1/dossiers/${code}`, citToken);
  assert.equal(r.json.payments[0].status, 'paid');
  assert.equal(r.json.state, 'processing');
  for (const x of [cit, o]) {
    assert.deepEqual(x.errors, []);
    await x.context.close();
  }
});
