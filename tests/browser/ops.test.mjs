// The operations center in a real headless Chromium: an air station near Hoàn Kiếm Lake
// reports PM2.5 (HTTP batch upload with its device key), its marker takes the VN_AQI band
// colour, a reading over a rule's threshold shows up in the alert list within a second (pushed
// as a Server-Sent Event),
// the operator acknowledges it, raises the rule's threshold from the page (the open alert
// closes), disables and deletes the rule, opens the station's chart (uPlot), dims a street light and
// gives it a schedule (sunset + 15 minutes), then deletes the schedule.
// Environment as in shell.test.mjs (tests/browser/run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { BASE, USER, PASSWORD, SHOTS, SKIP, browser, setupBrowser, call } from './lib.mjs';

setupBrowser();

test('operations center: colours, live alert, acknowledge, chart', { skip: SKIP, timeout: 120000 }, async () => {
  mkdirSync(SHOTS, { recursive: true });
  const admin = (await call('POST', '/api/v1/auth/login', null, { username: USER, password: PASSWORD })).json.token;
  const dev = `aq-ops-${Date.now()}`;
  let r = await call('POST', '/api/v1/devices', admin, { id: dev, type: 'AirQualityObserved', name: 'Trạm Hồ Gươm', lon: 105.8522, lat: 21.0287 });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  const key = r.json.key;
  r = await call('POST', '/api/v1/sensors/rules', admin, { name: 'PM2.5 rất cao', kind: 'threshold', device_id: dev, attr: 'pm25', op: '>', threshold: 150, severity: 'critical' });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  const now = Date.now();
  const readings = [];
  for (let i = 60; i >= 2; i -= 2) readings.push({ ts: now - i * 60000, values: { pm25: 40 + (i % 20) } });
  readings.push({ ts: now - 60000, values: { pm25: 55.7 } });
  r = await call('POST', `/api/v1/devices/${dev}/readings`, null, { readings }, { 'X-Device-Key': key });
  assert.equal(r.status, 200, JSON.stringify(r.json));

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'vi-VN' });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(new URL('/#/ops', BASE).href);
  await page.fill('#login-username', USER);
  await page.fill('#login-password', PASSWORD);
  await page.click('#login-submit');
  await page.locator('#ops-map').waitFor({ state: 'visible' });
  // PM2.5 55.7 µg/m³ -> VN_AQI 110 -> "Kém", orange.
  await page.waitForFunction((id) => {
    const el = document.querySelector(`[data-device="${id}"]`);
    return el && el.getAttribute('data-colour') === '#ff7e00';
  }, dev);
  await page.waitForFunction(() => document.querySelectorAll('.leaflet-overlay-pane path').length > 100); // ward boundaries

  // The page follows the server's event stream (not polling).
  await page.waitForFunction(() => document.getElementById('ops-alerts').dataset.live === 'sse');
  // A reading over the threshold: the alert appears on the page by itself.
  const t0 = Date.now();
  r = await call('POST', `/api/v1/devices/${dev}/readings`, null, { ts: Date.now(), values: { pm25: 180 } }, { 'X-Device-Key': key });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const item = page.locator('#ops-alerts li[data-state="raised"]', { hasText: dev });
  await item.waitFor();
  const latency = Date.now() - t0;
  console.log(`# alert on the page ${latency} ms after the reading`);
  assert.ok(latency < 1000, `alert took ${latency} ms (the issue asks for under a second)`);
  assert.match(await item.textContent(), /Nghiêm trọng PM2\.5 rất cao/);
  await page.screenshot({ path: path.join(SHOTS, 'ops-alert.png'), fullPage: true });

  await item.locator('.ops-ack').click();
  await page.locator('#ops-alerts li[data-state="acknowledged"]', { hasText: dev }).waitFor();
  const open = (await call('GET', `/api/v1/alerts?device=${dev}`, admin)).json.items;
  assert.equal(open[0].state, 'acknowledged');

  // The rule list: a new threshold through the page closes the rule's open alert.
  const ruleItem = page.locator('#ops-rules li', { hasText: 'PM2.5 rất cao' });
  await ruleItem.waitFor();
  assert.match(await ruleItem.textContent(), new RegExp(`${dev}: pm25 > 150`));
  await page.screenshot({ path: path.join(SHOTS, 'ops-rules.png'), fullPage: false });
  await ruleItem.locator('.ops-rule-threshold').fill('200');
  await ruleItem.locator('.ops-rule-save').click();
  await page.waitForFunction(() => /pm25 > 200/.test(document.getElementById('ops-rules').textContent));
  await page.locator('#ops-alerts li', { hasText: dev }).waitFor({ state: 'detached' });
  let rules = (await call('GET', '/api/v1/sensors/rules', admin)).json.items.filter((x) => x.name === 'PM2.5 rất cao');
  assert.equal(rules[0].threshold, 200);
  assert.equal((await call('GET', `/api/v1/alerts?device=${dev}&state=all`, admin)).json.items[0].state, 'cleared');
  await page.locator('#ops-rules li', { hasText: 'PM2.5 rất cao' }).locator('.ops-rule-toggle').click();
  await page.locator('#ops-rules li[data-enabled="false"]', { hasText: 'PM2.5 rất cao' }).waitFor();
  await page.locator('#ops-rules li', { hasText: 'PM2.5 rất cao' }).locator('.ops-rule-del').click();
  await page.locator('#ops-rules li', { hasText: 'PM2.5 rất cao' }).waitFor({ state: 'detached' });
  rules = (await call('GET', '/api/v1/sensors/rules', admin)).json.items.filter((x) => x.name === 'PM2.5 rất cao');
  assert.deepEqual(rules, []);

  // The station's history as a chart.
  await page.locator(`[data-device="${dev}"]`).click({ force: true });
  await page.locator('#ops-chart canvas').waitFor();
  assert.match(await page.textContent('#ops-device'), /Phường Hoàn Kiếm/);

  // Street-light control: the command is queued for the light.
  const light = `sl-ops-${Date.now()}`;
  r = await call('POST', '/api/v1/devices', admin, { id: light, type: 'Streetlight', name: 'Đèn Đinh Tiên Hoàng', lon: 105.853, lat: 21.03 });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  await page.locator(`#ops-lights li[data-light="${light}"] .ops-cmd-dim`).click({ timeout: 20000 });
  await page.waitForFunction((id) => /Đã gửi lệnh #\d+/.test(document.querySelector(`#ops-lights li[data-light="${id}"]`).textContent), light);
  const cmds = (await call('GET', `/api/v1/sensors/commands?device=${light}`, admin)).json.items;
  assert.equal(cmds[0].action, 'dim');
  assert.equal(cmds[0].level, 0.5);
  await page.screenshot({ path: path.join(SHOTS, 'ops-chart.png'), fullPage: true });

  // A schedule for the light: on at sunset + 15 minutes, then deleted again.
  await page.locator('#ops-sched').waitFor({ state: 'visible' });
  await page.locator(`#ops-sched-lights option[value="${light}"]`).waitFor({ state: 'attached', timeout: 20000 });
  await page.selectOption('#ops-sched-lights', [light]);
  await page.fill('#ops-sched-name', 'Bật đèn Hồ Gươm');
  await page.selectOption('#ops-sched-action', 'on');
  await page.selectOption('#ops-sched-when', 'sunset');
  await page.fill('#ops-sched-offset', '15');
  assert.equal(await page.locator('#ops-sched-time').isVisible(), false);
  await page.click('#ops-sched-add');
  const schedItem = page.locator('#ops-schedules li', { hasText: 'Bật đèn Hồ Gươm' });
  await schedItem.waitFor();
  assert.match(await schedItem.textContent(), /Bật · Hoàng hôn \+15′ · 1 đèn · lần tới/);
  const mine = (await call('GET', '/api/v1/sensors/schedules', admin)).json.items.filter((x) => x.name === 'Bật đèn Hồ Gươm');
  assert.equal(mine.length, 1);
  assert.deepEqual([mine[0].devices, mine[0].action, mine[0].when, mine[0].offset_min], [[light], 'on', 'sunset', 15]);
  await page.screenshot({ path: path.join(SHOTS, 'ops-schedule.png'), fullPage: true });
  await schedItem.locator('.ops-sched-del').click();
  await schedItem.waitFor({ state: 'detached' });
  const left = (await call('GET', '/api/v1/sensors/schedules', admin)).json.items.filter((x) => x.id === mine[0].id);
  assert.deepEqual(left, []);
  assert.deepEqual(errors, []);
  await context.close();
});
