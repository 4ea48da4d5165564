// Citizen field reports in a real headless Chromium: a citizen reports a pothole at
// Hoàn Kiếm Lake from a phone-sized page (photo + pin), the report is routed to
// Phường Hoàn Kiếm, its officer resolves it from the queue, the citizen sees the
// notification and reopens it. Environment as in shell.test.mjs (tests/browser/run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { BASE, USER, PASSWORD, SHOTS, SKIP, browser, setupBrowser, call } from './lib.mjs';

setupBrowser();

function femaleCccd() {
  const tail = String(Math.floor(Math.random() * 1e6)).padStart(6, '0');
  return `001190${tail}`.slice(0, 12); // province 001, female born 1990 (digit 4 = 1)
}

// A JPEG-structured file with an EXIF APP1 holding GPS text (enough for the stripper).
function jpegWithGps() {
  const seg = (m, payload) => Buffer.concat([Buffer.from([0xff, m, (payload.length + 2) >> 8, (payload.length + 2) & 255]), payload]);
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    seg(0xe0, Buffer.from('JFIF\0\x01\x01\0\0\x01\0\x01\0\0', 'latin1')),
    seg(0xe1, Buffer.from('Exif\0\0GPSLatitude=21.0287', 'latin1')),
    seg(0xda, Buffer.from([1, 1, 0, 0, 0x3f, 0])),
    Buffer.from([0x12, 0x34, 0xff, 0xd9]),
  ]);
}

async function signedInPage(username, password, viewport) {
  const context = await browser.newContext({ viewport, locale: 'vi-VN' });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(`${e.message} ${(e.stack || '').split('\n').slice(0, 6).join(' | ')}`));
  // Straight to the reports view (the shell opens the view named by the hash after sign-in).
  await page.goto(new URL('/#/reports', BASE).href);
  await page.fill('#login-username', username);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
  await page.locator('#signout').waitFor({ state: 'visible' });
  await page.locator('#rp-tab-new').waitFor({ state: 'visible' });
  return { context, page, errors };
}

test('report -> route -> resolve -> notify -> reopen', { skip: SKIP, timeout: 180000 }, async () => {
  mkdirSync(SHOTS, { recursive: true });
  const admin = (await call('POST', '/api/v1/auth/login', null, { username: USER, password: PASSWORD })).json.token;
  const cccd = femaleCccd();
  const citizenPw = 'Cong-dan-2026!x';
  let r = await call('POST', '/api/v1/users', admin, { kind: 'citizen', cccd, full_name: 'Nguyễn Thị Dân', birth_date: '1990-05-01', sex: 'female', password: citizenPw });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  const officerName = `canbo${Date.now()}`;
  const officerPw = 'Can-bo-2026!xyz';
  r = await call('POST', '/api/v1/users', admin, { kind: 'official', username: officerName, full_name: 'Trần Văn Cán Bộ', password: officerPw, unit: '00070', roles: [{ role: 'report_officer', unit: '00070' }] });
  assert.equal(r.status, 201, JSON.stringify(r.json));

  // 1. The citizen reports from a phone-sized screen.
  const cit = await signedInPage(cccd, citizenPw, { width: 390, height: 844 });
  const { page } = cit;
  await page.waitForFunction(() => document.querySelectorAll('#rp-category option').length === 10);
  assert.equal((await page.textContent('label[for="rp-category"]')).trim(), 'Lĩnh vực');
  await page.selectOption('#rp-category', 'road_damage');
  await page.locator('#rp-attr-severity').waitFor();
  await page.selectOption('#rp-attr-severity', 'major');
  await page.fill('#rp-description', 'Ổ gà lớn cạnh hồ Hoàn Kiếm');
  await page.setInputFiles('#rp-photo', { name: 'o-ga.jpg', mimeType: 'image/jpeg', buffer: jpegWithGps() });
  await page.locator('#rp-map').scrollIntoViewIfNeeded();   // below the fold on a phone
  const box = await page.locator('#rp-map').boundingBox();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2); // the map opens on the lake
  await page.waitForFunction(() => document.getElementById('rp-where').textContent.startsWith('Vị trí: 21.02'));
  await page.screenshot({ path: path.join(SHOTS, 'reports-phone.png'), fullPage: true });
  await page.click('#rp-submit');
  await page.waitForFunction(() => document.getElementById('rp-msg').dataset.reportId);
  const id = Number(await page.getAttribute('#rp-msg', 'data-report-id'));
  assert.match(await page.textContent('#rp-msg'), /Đã gửi phản ánh #\d+\..*Phường Hoàn Kiếm/);

  // 2. Routed to Phường Hoàn Kiếm (00070), photo published without EXIF.
  const pub = (await call('GET', `/open311/v2/requests/${id}.json`)).json[0];
  assert.equal(pub.ward_code, '00070');
  assert.equal(pub.agency_responsible, 'Phường Hoàn Kiếm');
  const photo = Buffer.from(await (await fetch(pub.media_url)).arrayBuffer());
  assert.equal(photo.includes(Buffer.from('GPS')), false);

  // The public map lists it without the reporter's identity.
  await page.click('#rp-tab-map');
  await page.locator(`#rp-public li[data-id="${id}"]`).waitFor();
  assert.equal((await page.textContent('#rp-public')).includes('Nguyễn Thị Dân'), false);

  // 3. The officer of Phường Hoàn Kiếm resolves it from the queue.
  const off = await signedInPage(officerName, officerPw, { width: 1280, height: 900 });
  await off.page.click('#rp-tab-queue');
  await off.page.locator(`#rp-queue li[data-id="${id}"] button`).click();
  await off.page.locator('.rp-act-status').waitFor();
  await off.page.selectOption('.rp-act-status', 'resolved');
  await off.page.fill('.rp-act-note', 'Đã vá xong ổ gà');
  await off.page.click('.rp-act-update');
  await off.page.waitForFunction(() => (document.querySelector('.rp-act-msg') || {}).textContent === 'Đã lưu.');
  await off.page.screenshot({ path: path.join(SHOTS, 'reports-queue.png'), fullPage: true });

  // 4. The citizen sees it resolved, with the notification, and reopens it.
  await page.click('#rp-tab-mine');
  const item = page.locator(`#rp-mine li[data-id="${id}"]`);
  await item.locator('[data-status="resolved"]').waitFor();
  const notes = await page.$$eval('#rp-notifications li', (els) => els.map((e) => e.textContent));
  assert.ok(notes.some((n) => n.includes(`#${id}`) && n.includes('Đã xử lý xong') && n.includes('Đã vá xong ổ gà')), notes.join('\n'));
  await item.locator('.rp-reopen-reason').fill('Ổ gà lại xuất hiện');
  await item.locator('.rp-reopen').click();
  await page.locator(`#rp-mine li[data-id="${id}"] [data-status="open"]`).waitFor();
  assert.equal((await call('GET', `/open311/v2/requests/${id}.json`)).json[0].detailed_status, 'open');
  assert.deepEqual(cit.errors, []);
  assert.deepEqual(off.errors, []);
  await cit.context.close();
  await off.context.close();
});
