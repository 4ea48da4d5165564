// The operations center: a live map of Hà Nội with the ward boundaries (served by cityos,
// no tile server), the city's sensors coloured by state (air quality band, flood level,
// street light on/off, offline), the open alerts with acknowledge, the alert rules (edit
// threshold, disable, delete for city-wide sensors.write), street-light commands and
// schedules, and the history of a device as a uPlot chart. Alerts are refreshed every second (see docs/SENSORS.md: Server-
// Sent Events need a streaming reply the HTTP core does not offer yet). Vietnamese first.
import { api, qs, ApiError } from './api.js';
import { h, clear } from './dom.js';
import { t, addMessages } from '../i18n.js';

addMessages({
  vi: {
    'nav.ops': 'Trung tâm điều hành',
    'ops.alerts': 'Cảnh báo đang mở', 'ops.noAlerts': 'Không có cảnh báo nào.',
    'ops.ack': 'Xác nhận', 'ops.acked': 'Đã xác nhận', 'ops.device': 'Thiết bị',
    'ops.pick': 'Chọn một thiết bị trên bản đồ để xem lịch sử.',
    'ops.history': 'Lịch sử 24 giờ ({res})', 'ops.noData': 'Chưa có số liệu.',
    'ops.lights': 'Đèn đường', 'ops.lightsNote': 'Lệnh gửi qua MQTT; đèn xác nhận, gửi lại nếu chưa xác nhận.',
    'ops.cmd.on': 'Bật', 'ops.cmd.off': 'Tắt', 'ops.cmd.dim': 'Giảm 50%', 'ops.cmd.sent': 'Đã gửi lệnh #{id}',
    'ops.devices': '{n} thiết bị', 'ops.scale': 'Màu trạm không khí: chỉ số VN_AQI tức thời của PM2.5.',
    'ops.st.online': 'Đang hoạt động', 'ops.st.offline': 'Mất kết nối', 'ops.st.never': 'Chưa báo số liệu',
    'ops.st.disabled': 'Đã tắt', 'ops.error': 'Lỗi: {msg}',
    'ops.sev.critical': 'Nghiêm trọng', 'ops.sev.warning': 'Cảnh báo', 'ops.sev.info': 'Thông tin',
    'ops.light.on': 'Sáng', 'ops.light.off': 'Tắt', 'ops.light.low': 'Giảm sáng',
    'ops.sched': 'Lịch bật tắt đèn', 'ops.sched.none': 'Chưa có lịch nào.',
    'ops.sched.name': 'Tên lịch', 'ops.sched.lights': 'Đèn', 'ops.sched.action': 'Lệnh',
    'ops.sched.level': 'Mức sáng (0–1)', 'ops.sched.when': 'Thời điểm', 'ops.sched.time': 'Giờ (HH:MM)',
    'ops.sched.offset': 'Lệch (phút)', 'ops.sched.add': 'Thêm lịch', 'ops.sched.del': 'Xóa',
    'ops.sched.sunset': 'Hoàng hôn', 'ops.sched.sunrise': 'Bình minh', 'ops.sched.fixed': 'Giờ cố định',
    'ops.sched.act.on': 'Bật', 'ops.sched.act.off': 'Tắt', 'ops.sched.act.dim': 'Giảm sáng',
    'ops.sched.next': 'lần tới {at}', 'ops.sched.count': '{n} đèn', 'ops.sched.pick': 'Chọn ít nhất một đèn.',
    'ops.rules': 'Quy tắc cảnh báo', 'ops.rules.none': 'Chưa có quy tắc nào.', 'ops.rules.off': '(đang tắt)',
    'ops.rules.save': 'Lưu ngưỡng', 'ops.rules.disable': 'Tắt', 'ops.rules.enable': 'Bật', 'ops.rules.del': 'Xóa',
    'ops.rules.threshold': 'Ngưỡng', 'ops.rules.all': 'mọi thiết bị',
    'ops.rules.note': 'Đổi điều kiện, tắt hoặc xóa quy tắc sẽ đóng các cảnh báo đang mở của nó.',
  },
  en: {
    'nav.ops': 'Operations center',
    'ops.alerts': 'Open alerts', 'ops.noAlerts': 'No alerts.',
    'ops.ack': 'Acknowledge', 'ops.acked': 'Acknowledged', 'ops.device': 'Device',
    'ops.pick': 'Pick a device on the map to see its history.',
    'ops.history': 'Last 24 hours ({res})', 'ops.noData': 'No data yet.',
    'ops.lights': 'Street lights', 'ops.lightsNote': 'Commands go over MQTT; lights acknowledge, unacknowledged ones are retried.',
    'ops.cmd.on': 'On', 'ops.cmd.off': 'Off', 'ops.cmd.dim': 'Dim 50%', 'ops.cmd.sent': 'Command #{id} sent',
    'ops.devices': '{n} devices', 'ops.scale': 'Air stations coloured by the instant VN_AQI of PM2.5.',
    'ops.st.online': 'Online', 'ops.st.offline': 'Offline', 'ops.st.never': 'No data yet',
    'ops.st.disabled': 'Disabled', 'ops.error': 'Error: {msg}',
    'ops.sev.critical': 'Critical', 'ops.sev.warning': 'Warning', 'ops.sev.info': 'Info',
    'ops.light.on': 'On', 'ops.light.off': 'Off', 'ops.light.low': 'Dimmed',
    'ops.sched': 'Light schedules', 'ops.sched.none': 'No schedules yet.',
    'ops.sched.name': 'Schedule name', 'ops.sched.lights': 'Lights', 'ops.sched.action': 'Command',
    'ops.sched.level': 'Level (0–1)', 'ops.sched.when': 'When', 'ops.sched.time': 'Time (HH:MM)',
    'ops.sched.offset': 'Offset (minutes)', 'ops.sched.add': 'Add schedule', 'ops.sched.del': 'Delete',
    'ops.sched.sunset': 'Sunset', 'ops.sched.sunrise': 'Sunrise', 'ops.sched.fixed': 'Fixed time',
    'ops.sched.act.on': 'On', 'ops.sched.act.off': 'Off', 'ops.sched.act.dim': 'Dim',
    'ops.sched.next': 'next {at}', 'ops.sched.count': '{n} lights', 'ops.sched.pick': 'Pick at least one light.',
    'ops.rules': 'Alert rules', 'ops.rules.none': 'No rules yet.', 'ops.rules.off': '(disabled)',
    'ops.rules.save': 'Save threshold', 'ops.rules.disable': 'Disable', 'ops.rules.enable': 'Enable', 'ops.rules.del': 'Delete',
    'ops.rules.threshold': 'Threshold', 'ops.rules.all': 'every device',
    'ops.rules.note': 'Changing a condition, disabling or deleting a rule closes its open alerts.',
  },
});

const HANOI_CENTER = [21.0285, 105.8542];
// VN_AQI PM2.5 breakpoints (QĐ 1459/QĐ-TCMT) and band colours.
const PM25_BP = [0, 25, 50, 80, 150, 250, 350, 500];
const AQI_I = [0, 50, 100, 150, 200, 300, 400, 500];
const BANDS = [[50, '#00e400'], [100, '#ffff00'], [150, '#ff7e00'], [200, '#ff0000'], [300, '#8f3f97'], [Infinity, '#7e0023']];

export function pm25Index(c) {
  for (let i = 0; i + 1 < PM25_BP.length; i++) {
    if (c <= PM25_BP[i + 1]) {
      const v = ((AQI_I[i + 1] - AQI_I[i]) / (PM25_BP[i + 1] - PM25_BP[i])) * (c - PM25_BP[i]) + AQI_I[i];
      return Math.floor(Math.round(v * 1e9) / 1e9 + 0.5);
    }
  }
  return 500;
}

function colourOf(d) {
  if (d.state === 'offline' || d.state === 'disabled') return '#6b7280';
  if (d.state === 'never') return '#d1d5db';
  const v = (d.latest && d.latest.values) || {};
  if (d.type === 'AirQualityObserved' && typeof v.pm25 === 'number') {
    const i = pm25Index(v.pm25);
    return BANDS.find(([upto]) => i <= upto)[1];
  }
  if (d.type === 'FloodMonitoring' && typeof v.currentLevel === 'number') {
    if (typeof v.dangerLevel === 'number' && v.currentLevel >= v.dangerLevel) return '#b91c1c';
    if (typeof v.alertLevel === 'number' && v.currentLevel >= v.alertLevel) return '#f97316';
    return '#2563eb';
  }
  if (d.type === 'Streetlight') return v.powerState === 1 ? '#facc15' : v.powerState === 2 ? '#a16207' : '#1f2937';
  return '#16a34a';
}

let uplotLoading = null;
function loadUplot() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  if (!uplotLoading) {
    uplotLoading = new Promise((resolve, reject) => {
      const css = document.createElement('link');
      css.rel = 'stylesheet';
      css.href = 'vendor/uplot/uPlot.min.css';
      document.head.append(css);
      const s = document.createElement('script');
      s.src = 'vendor/uplot/uPlot.iife.min.js';
      s.onload = () => resolve(window.uPlot);
      s.onerror = () => reject(new Error('uPlot did not load'));
      document.head.append(s);
    });
  }
  return uplotLoading;
}

function when(ms) {
  return new Date(ms).toLocaleString('vi-VN', { timeZone: 'Asia/Ho_Chi_Minh' });
}

function mountOps(root, ctx = {}) {
  // Rules are city-wide: their controls are for holders of sensors.write everywhere.
  const grants = (ctx.principal && ctx.principal.grants) || [];
  const rulesWriter = grants.some((g) => (g.permission === 'sensors.write' || g.permission === '*') && !g.unit);
  const state = { alive: true, timers: [], markers: new Map(), alertsVersion: -1, chart: null, devices: [] };
  const mapEl = h('div', { class: 'ops-map', id: 'ops-map', style: 'height:70vh;min-height:360px' });
  const alertList = h('ul', { class: 'ops-alerts', id: 'ops-alerts' });
  const devTitle = h('h3', { i18n: 'ops.device' });
  const devBody = h('div', { id: 'ops-device' }, h('p', { i18n: 'ops.pick' }));
  const lights = h('ul', { id: 'ops-lights' });
  const countEl = h('p', { id: 'ops-count' });
  const errEl = h('p', { class: 'error', role: 'alert', hidden: true });
  // Street-light schedules (sunset / sunrise with an offset, or a fixed Hà Nội time); shown
  // to holders of sensors.command (the list answers 403 to others and the box stays hidden).
  const schedList = h('ul', { id: 'ops-schedules' });
  const field = (label, el) => h('label', { style: 'display:block' }, t(label), ' ', el);
  const opt = (value, label) => h('option', { value }, t(label));
  const sName = h('input', { id: 'ops-sched-name', maxlength: 100 });
  const sLights = h('select', { id: 'ops-sched-lights', multiple: true, size: 4 });
  const sAction = h('select', { id: 'ops-sched-action' },
    opt('on', 'ops.sched.act.on'), opt('off', 'ops.sched.act.off'), opt('dim', 'ops.sched.act.dim'));
  const sLevel = h('input', { id: 'ops-sched-level', type: 'number', min: 0, max: 1, step: 0.1, value: '0.5' });
  const sWhen = h('select', { id: 'ops-sched-when' },
    opt('sunset', 'ops.sched.sunset'), opt('sunrise', 'ops.sched.sunrise'), opt('time', 'ops.sched.fixed'));
  const sTime = h('input', { id: 'ops-sched-time', type: 'time', value: '23:30' });
  const sOffset = h('input', { id: 'ops-sched-offset', type: 'number', min: -720, max: 720, step: 1, value: '0' });
  const levelRow = field('ops.sched.level', sLevel);
  const timeRow = field('ops.sched.time', sTime);
  const schedForm = h('form', { id: 'ops-sched-form' },
    field('ops.sched.name', sName), field('ops.sched.lights', sLights), field('ops.sched.action', sAction), levelRow,
    field('ops.sched.when', sWhen), timeRow, field('ops.sched.offset', sOffset),
    h('button', { type: 'submit', id: 'ops-sched-add' }, t('ops.sched.add')));
  const schedBox = h('section', { id: 'ops-sched', hidden: true }, h('h3', { i18n: 'ops.sched' }), schedList, schedForm);
  const ruleList = h('ul', { id: 'ops-rules' });
  const rulesBox = h('section', {}, h('h3', { i18n: 'ops.rules' }),
    rulesWriter ? h('p', { class: 'hint', i18n: 'ops.rules.note' }) : null, ruleList);
  const syncForm = () => {
    levelRow.hidden = sAction.value !== 'dim';
    timeRow.hidden = sWhen.value !== 'time';
  };
  sAction.addEventListener('change', syncForm);
  sWhen.addEventListener('change', syncForm);
  syncForm();
  root.append(
    h('div', { class: 'ops', style: 'display:grid;grid-template-columns:minmax(0,2fr) minmax(260px,1fr);gap:1rem' },
      h('section', {}, mapEl, countEl, h('p', { class: 'hint', i18n: 'ops.scale' })),
      h('aside', {},
        errEl,
        h('h3', { i18n: 'ops.alerts' }), alertList, rulesBox,
        devTitle, devBody,
        h('h3', { i18n: 'ops.lights' }), h('p', { class: 'hint', i18n: 'ops.lightsNote' }), lights,
        schedBox)));

  const map = L.map(mapEl, { center: HANOI_CENTER, zoom: 12, minZoom: 9, maxZoom: 18 });
  map.attributionControl.setPrefix('Leaflet');
  const resizer = new ResizeObserver(() => map.invalidateSize());
  resizer.observe(mapEl);

  function showError(e) {
    errEl.hidden = false;
    errEl.textContent = t('ops.error', { msg: e instanceof ApiError ? e.code : String(e) });
  }

  api('/api/v1/units/boundaries').then((geo) => {
    if (!state.alive) return;
    L.geoJSON(geo, { style: () => ({ color: '#64748b', weight: 1, fillOpacity: 0.03 }), interactive: false }).addTo(map);
  }).catch(() => {});

  async function showDevice(d) {
    clear(devBody);
    devTitle.textContent = `${t('ops.device')}: ${d.name} (${d.id})`;
    const vals = (d.latest && d.latest.values) || {};
    devBody.append(h('p', { dataset: { state: d.state } }, t(`ops.st.${d.state}`), d.unit ? ` · ${d.unit.name}` : ''));
    devBody.append(h('p', {}, Object.entries(vals).map(([k, v]) => `${k}: ${v}`).join(', ')));
    let data;
    try {
      data = await api(`/api/v1/devices/${encodeURIComponent(d.id)}/readings${qs({ from: Date.now() - 86400000 })}`);
    } catch (e) {
      showError(e);
      return;
    }
    const series = data.series || [];
    if (!series.length) {
      devBody.append(h('p', { i18n: 'ops.noData' }));
      return;
    }
    const s = series.find((x) => x.attr === 'pm25' || x.attr === 'currentLevel' || x.attr === 'occupancy') || series[0];
    devBody.append(h('p', {}, t('ops.history', { res: data.resolution }), ` — ${s.attr}`));
    const box = h('div', { class: 'ops-chart', id: 'ops-chart' });
    devBody.append(box);
    try {
      const UPlot = await loadUplot();
      if (state.chart) state.chart.destroy();
      state.chart = new UPlot({ width: Math.max(260, box.clientWidth || 320), height: 180,
        tzDate: (ts) => UPlot.tzDate(new Date(ts * 1e3), 'Asia/Ho_Chi_Minh'),
        series: [{}, { label: s.attr, stroke: '#2563eb' }] }, [s.t.map((x) => x / 1000), s.v], box);
    } catch (e) {
      showError(e);
    }
  }

  async function refreshDevices() {
    const body = { items: [] };
    try {
      // Pages of 10,000 (the API's largest page) until a short one: a city has more.
      for (let offset = 0; ; offset += 10000) {
        const page = await api(`/api/v1/devices?limit=10000&offset=${offset}`);
        body.items.push(...page.items);
        if (page.items.length < 10000) break;
      }
    } catch (e) {
      showError(e);
      return;
    }
    if (!state.alive) return;
    state.devices = body.items;
    countEl.textContent = t('ops.devices', { n: body.items.length });
    for (const d of body.items) {
      let m = state.markers.get(d.id);
      const colour = colourOf(d);
      if (!m) {
        m = L.circleMarker([d.location.lat, d.location.lon], { radius: 6, weight: 1, color: '#111827', fillOpacity: 0.9 });
        m.bindTooltip(`${d.name} (${d.type})`);
        m.on('click', () => showDevice(state.devices.find((x) => x.id === d.id) || d));
        m.addTo(map);
        state.markers.set(d.id, m);
        const el = m.getElement && m.getElement();
        if (el) el.setAttribute('data-device', d.id);
      }
      m.setStyle({ fillColor: colour });
      const el = m.getElement && m.getElement();
      if (el) el.setAttribute('data-colour', colour);
    }
    refreshLightChoices(body.items);
    if (lights.querySelector('.ops-cmd-msg:not(:empty)')) return; // keep a fresh answer readable
    clear(lights);
    for (const d of body.items.filter((x) => x.type === 'Streetlight').slice(0, 50)) {
      const ps = d.latest && d.latest.values ? d.latest.values.powerState : undefined;
      const word = ps === 1 ? 'on' : ps === 2 ? 'low' : ps === 0 ? 'off' : null;
      const msg = h('span', { class: 'ops-cmd-msg' });
      const send = (action) => async () => {
        try {
          const body = { devices: [d.id], action, ...(action === 'dim' ? { level: 0.5 } : {}) };
          const res = await api('/api/v1/sensors/commands', { method: 'POST', body });
          msg.textContent = ` ${t('ops.cmd.sent', { id: res.commands[0].id })}`;
        } catch (e) {
          showError(e);
        }
      };
      lights.append(h('li', { dataset: { light: d.id } }, `${d.name}: `, word ? t(`ops.light.${word}`) : t(`ops.st.${d.state}`), ' ',
        h('button', { type: 'button', class: 'ops-cmd-on', onclick: send('on') }, t('ops.cmd.on')), ' ',
        h('button', { type: 'button', class: 'ops-cmd-off', onclick: send('off') }, t('ops.cmd.off')), ' ',
        h('button', { type: 'button', class: 'ops-cmd-dim', onclick: send('dim') }, t('ops.cmd.dim')), msg));
    }
  }

  async function refreshAlerts() {
    let body;
    try {
      body = await api(`/api/v1/alerts${qs({ state: 'open', limit: 100 })}`);
    } catch (e) {
      showError(e);
      return;
    }
    if (!state.alive || body.version === state.alertsVersion) return;
    state.alertsVersion = body.version;
    clear(alertList);
    for (const m of state.markers.values()) m.setStyle({ color: '#111827', weight: 1 });
    if (!body.items.length) alertList.append(h('li', { i18n: 'ops.noAlerts' }));
    for (const a of body.items) {
      const ack = a.state === 'raised'
        ? h('button', { type: 'button', class: 'ops-ack', onclick: async () => {
          try {
            await api(`/api/v1/alerts/${a.id}/ack`, { method: 'POST' });
            state.alertsVersion = -1;
            refreshAlerts();
          } catch (e) {
            showError(e);
          }
        } }, t('ops.ack'))
        : h('span', { class: 'ops-acked' }, t('ops.acked'));
      alertList.append(h('li', { dataset: { alert: String(a.id), severity: a.severity, state: a.state } },
        h('strong', {}, t(`ops.sev.${a.severity}`)), ` ${a.message} — ${a.device} — ${when(a.raised_at)} `, ack));
      const m = state.markers.get(a.device);
      if (m) m.setStyle({ color: '#dc2626', weight: 3 });
    }
  }

  // The rule as PUT wants it (the whole rule, validated like a new one).
  function ruleBody(r, change) {
    const b = { name: r.name, kind: r.kind, op: r.op, threshold: r.threshold, duration_s: r.duration_s,
      severity: r.severity, enabled: r.enabled };
    for (const k of ['device_type', 'device_id', 'attr']) if (r[k]) b[k] = r[k];
    return Object.assign(b, change);
  }

  async function refreshRules() {
    let body;
    try {
      body = await api('/api/v1/sensors/rules');
    } catch (e) {
      showError(e);
      return;
    }
    if (!state.alive) return;
    clear(ruleList);
    if (!body.items.length) ruleList.append(h('li', { i18n: 'ops.rules.none' }));
    const change = async (r, how) => {
      try {
        if (how === 'delete') await api(`/api/v1/sensors/rules/${r.id}`, { method: 'DELETE' });
        else await api(`/api/v1/sensors/rules/${r.id}`, { method: 'PUT', body: ruleBody(r, how) });
        errEl.hidden = true;
        state.alertsVersion = -1;
        refreshAlerts();
        refreshRules();
      } catch (e) {
        showError(e);
      }
    };
    for (const r of body.items) {
      const scope = r.device_id || r.device_type || t('ops.rules.all');
      const cond = r.kind === 'offline' ? `offline > ${r.duration_s} s`
        : `${r.kind === 'rate' ? 'Δ' : ''}${r.attr} ${r.op} ${r.threshold}${r.duration_s ? ` (${r.duration_s} s)` : ''}`;
      const li = h('li', { dataset: { rule: String(r.id), enabled: String(r.enabled) } },
        h('strong', {}, r.name), ` — ${scope}: ${cond} `, r.enabled ? '' : t('ops.rules.off'));
      if (rulesWriter) {
        if (r.kind !== 'offline') {
          const th = h('input', { type: 'number', class: 'ops-rule-threshold', step: 'any', value: String(r.threshold),
            'aria-label': t('ops.rules.threshold'), style: 'width:6em' });
          li.append(' ', th, ' ', h('button', { type: 'button', class: 'ops-rule-save',
            onclick: () => change(r, { threshold: Number(th.value) }) }, t('ops.rules.save')));
        }
        li.append(' ', h('button', { type: 'button', class: 'ops-rule-toggle', onclick: () => change(r, { enabled: !r.enabled }) },
          t(r.enabled ? 'ops.rules.disable' : 'ops.rules.enable')),
        ' ', h('button', { type: 'button', class: 'ops-rule-del', onclick: () => change(r, 'delete') }, t('ops.rules.del')));
      }
      ruleList.append(li);
    }
  }

  function schedWhen(sc) {
    const base = sc.when === 'sunset' ? t('ops.sched.sunset') : sc.when === 'sunrise' ? t('ops.sched.sunrise') : sc.when;
    return sc.offset_min ? `${base} ${sc.offset_min > 0 ? '+' : '−'}${Math.abs(sc.offset_min)}′` : base;
  }

  async function refreshSchedules() {
    let body;
    try {
      body = await api('/api/v1/sensors/schedules');
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 403)) showError(e);
      return;
    }
    if (!state.alive) return;
    schedBox.hidden = false;
    clear(schedList);
    if (!body.items.length) schedList.append(h('li', { i18n: 'ops.sched.none' }));
    for (const sc of body.items) {
      const act = t(`ops.sched.act.${sc.action}`) + (sc.action === 'dim' ? ` ${sc.level}` : '');
      schedList.append(h('li', { dataset: { schedule: String(sc.id) } },
        h('strong', {}, sc.name || `#${sc.id}`), `: ${act} · ${schedWhen(sc)} · `,
        t('ops.sched.count', { n: sc.devices.length }), ' · ', t('ops.sched.next', { at: when(sc.next_at) }), ' ',
        h('button', { type: 'button', class: 'ops-sched-del', onclick: async () => {
          try {
            await api(`/api/v1/sensors/schedules/${sc.id}`, { method: 'DELETE' });
            refreshSchedules();
          } catch (e) {
            showError(e);
          }
        } }, t('ops.sched.del'))));
    }
  }

  schedForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const devices = [...sLights.selectedOptions].map((o) => o.value);
    if (!devices.length) {
      showError(t('ops.sched.pick'));
      return;
    }
    const body = { devices, action: sAction.value, when: sWhen.value === 'time' ? sTime.value : sWhen.value,
      offset_min: Number(sOffset.value) || 0 };
    if (sName.value.trim()) body.name = sName.value.trim();
    if (sAction.value === 'dim') body.level = Number(sLevel.value);
    try {
      await api('/api/v1/sensors/schedules', { method: 'POST', body });
      errEl.hidden = true;
      sName.value = '';
      refreshSchedules();
    } catch (e) {
      showError(e);
    }
  });

  function refreshLightChoices(items) {
    const ids = items.filter((x) => x.type === 'Streetlight').slice(0, 1000);
    const have = [...sLights.options].map((o) => o.value).join('\n');
    if (have === ids.map((d) => d.id).join('\n')) return;
    const chosen = new Set([...sLights.selectedOptions].map((o) => o.value));
    clear(sLights);
    for (const d of ids) sLights.append(h('option', { value: d.id, selected: chosen.has(d.id) }, `${d.name} (${d.id})`));
  }

  refreshDevices();
  refreshAlerts();
  refreshRules();
  refreshSchedules();
  // Live: the server pushes every alert event (Server-Sent Events) and the list is
  // refreshed at once. A slow safety poll covers a broken stream; EventSource
  // reconnects by itself (Last-Event-ID) and the poll speeds up meanwhile.
  let fastPoll = null;
  if (window.EventSource) {
    const es = new EventSource('/api/v1/sensors/stream');
    state.events = es;
    es.addEventListener('alert', () => { state.alertsVersion = -1; refreshAlerts(); });
    es.addEventListener('open', () => {
      alertList.dataset.live = 'sse';
      if (fastPoll) { clearInterval(fastPoll); fastPoll = null; }
    });
    es.addEventListener('error', () => {
      alertList.dataset.live = 'poll';
      if (!fastPoll && state.alive) fastPoll = setInterval(refreshAlerts, 1000);
    });
    state.timers.push(setInterval(refreshAlerts, 15000));
  } else {
    state.timers.push(setInterval(refreshAlerts, 1000));
  }
  state.timers.push(setInterval(refreshDevices, 10000));
  return {
    unmount() {
      state.alive = false;
      if (state.events) state.events.close();
      if (fastPoll) clearInterval(fastPoll);
      for (const id of state.timers) clearInterval(id);
      resizer.disconnect();
      if (state.chart) state.chart.destroy();
      map.remove();
    },
  };
}

export const opsView = {
  id: 'ops',
  titleKey: 'nav.ops',
  mount: mountOps,
  allowed: (p) => !!(p && (p.grants || []).some((g) => g.permission === 'sensors.read' || g.permission === '*')),
};
