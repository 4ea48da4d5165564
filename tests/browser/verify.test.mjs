// The public signature check page (web/verify.html) in headless Chromium: no sign-in,
// a signed PDF (signed by a test CA the server does not trust) and an unsigned one.
// Environment as for shell.test.mjs (CITYOS_URL; the admin credentials are not used).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE = process.env.CITYOS_URL;
const SKIP = BASE ? false : 'needs CITYOS_URL (a running cityos server)';
const HERE = path.dirname(fileURLToPath(import.meta.url));
const SIGNED = path.join(HERE, '../fuzz/corpus/fuzz_pdf/signed-one.pdf');
const PLAIN = path.join(HERE, '../unit/data/xrefstream.pdf');

let browser;
before(async () => {
  if (SKIP) return;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
});
after(async () => {
  if (browser) await browser.close();
});

test('verify page explains a signature, in Vietnamese then English', { skip: SKIP }, async () => {
  const context = await browser.newContext({ locale: 'vi-VN' });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  const errors = [];
  const foreign = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('request', (r) => { if (!r.url().startsWith(BASE) && !r.url().startsWith('data:')) foreign.push(r.url()); });
  await page.goto(BASE + '/verify.html');
  assert.equal(await page.locator('h1').textContent(), 'Kiểm tra văn bản PDF có chữ ký số');
  await page.setInputFiles('[data-testid=verify-file]', SIGNED);
  const card = page.locator('[data-testid=sig-card]');
  await card.first().waitFor();
  assert.equal(await card.count(), 1);
  const text = await card.first().textContent();
  assert.match(text, /Nguyễn Văn An/);
  assert.match(text, /Chủ tịch/);
  assert.match(text, /UBND phường Hoàn Kiếm/);
  assert.match(text, /chứng thư số không thuộc tổ chức chứng thực tin cậy/);
  await page.click('[data-lang=en]');
  assert.match(await card.first().textContent(), /does not chain to a trusted authority/);
  await page.click('[data-lang=vi]');
  await page.setInputFiles('[data-testid=verify-file]', PLAIN);
  await page.locator('#status', { hasText: 'không có chữ ký số' }).waitFor();
  assert.equal(await card.count(), 0);
  assert.deepEqual(errors, []);
  assert.deepEqual(foreign, []);
  await context.close();
});
