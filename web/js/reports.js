// Citizen field reports (Hanoi-S): a phone-first page to report a problem (category,
// photo from the camera, location from the phone or a pin on the map, description),
// "my reports" with notifications and reopening, and, for officers holding
// reports.handle, a queue with map, filters and actions. Vietnamese first.
import { api, qs, ApiError, authHeaders } from './api.js';
import { h, clear } from './dom.js';
import { t, addMessages, getLang } from '../i18n.js';

addMessages({
  vi: {
    'nav.reports': 'Phản ánh hiện trường',
    'rp.tab.new': 'Gửi phản ánh', 'rp.tab.mine': 'Phản ánh của tôi', 'rp.tab.queue': 'Hàng đợi xử lý', 'rp.tab.map': 'Bản đồ phản ánh',
    'rp.mapHint': 'Các phản ánh trong 90 ngày gần đây quanh khu vực bản đồ (không hiển thị thông tin người phản ánh).',
    'rp.category': 'Lĩnh vực', 'rp.description': 'Mô tả', 'rp.photo': 'Ảnh (chụp bằng máy ảnh)',
    'rp.locate': 'Dùng vị trí của tôi', 'rp.pinHint': 'Hoặc chạm vào bản đồ để đặt vị trí.',
    'rp.location': 'Vị trí: {lat}, {lon}', 'rp.noLocation': 'Chưa chọn vị trí.',
    'rp.submit': 'Gửi phản ánh', 'rp.submitAnyway': 'Vẫn gửi phản ánh mới',
    'rp.dupTitle': 'Có thể đã có người phản ánh vấn đề này gần đây:',
    'rp.sent': 'Đã gửi phản ánh #{id}. {notice}', 'rp.required': 'bắt buộc',
    'rp.needLocation': 'Vui lòng chọn vị trí trên bản đồ hoặc dùng vị trí của bạn.',
    'rp.notifications': 'Thông báo', 'rp.noReports': 'Bạn chưa gửi phản ánh nào.',
    'rp.reopen': 'Mở lại', 'rp.reopenReason': 'Lý do mở lại', 'rp.hiddenBecause': 'Đã ẩn khỏi bản đồ: {reason}',
    'rp.holder': 'Đơn vị xử lý: {name}', 'rp.due': 'Hạn xử lý: {date}', 'rp.overdue': 'Quá hạn',
    'rp.filter.status': 'Trạng thái', 'rp.filter.all': 'Tất cả', 'rp.filter.active': 'Đang mở',
    'rp.emptyQueue': 'Không có phản ánh nào.', 'rp.reporter': 'Người phản ánh: {name} {email} {phone}',
    'rp.act.status': 'Cập nhật', 'rp.act.note': 'Ghi chú', 'rp.act.fixPhoto': 'Ảnh sau xử lý',
    'rp.act.assign': 'Chuyển đơn vị', 'rp.act.unitCode': 'Mã đơn vị (vd. 00070)', 'rp.act.reason': 'Lý do',
    'rp.act.hide': 'Ẩn', 'rp.act.hideTarget': 'Ẩn gì', 'rp.act.phrase': 'Cụm từ cần ẩn', 'rp.act.merge': 'Gộp vào phản ánh #',
    'rp.hide.report': 'Cả phản ánh', 'rp.hide.phrase': 'Một cụm từ', 'rp.hide.photo': 'Ảnh đầu tiên',
    'rp.done': 'Đã lưu.', 'rp.error': 'Lỗi: {msg}',
    'rp.st.open': 'Mới tiếp nhận', 'rp.st.acknowledged': 'Đã xác nhận', 'rp.st.in_progress': 'Đang xử lý',
    'rp.st.resolved': 'Đã xử lý xong', 'rp.st.closed': 'Đã đóng', 'rp.st.duplicate': 'Trùng lặp',
    'rp.ev.created': 'Tiếp nhận', 'rp.ev.status': 'Cập nhật', 'rp.ev.note': 'Ghi chú', 'rp.ev.reassign': 'Chuyển đơn vị',
    'rp.ev.hide': 'Ẩn nội dung', 'rp.ev.merge': 'Gộp trùng', 'rp.ev.reopen': 'Mở lại',
  },
  en: {
    'nav.reports': 'Field reports',
    'rp.tab.new': 'Report a problem', 'rp.tab.mine': 'My reports', 'rp.tab.queue': 'Queue', 'rp.tab.map': 'Reports map',
    'rp.mapHint': 'Reports of the last 90 days around the map area (the reporters are not shown).',
    'rp.category': 'Category', 'rp.description': 'Description', 'rp.photo': 'Photo (camera)',
    'rp.locate': 'Use my location', 'rp.pinHint': 'Or tap the map to place a pin.',
    'rp.location': 'Location: {lat}, {lon}', 'rp.noLocation': 'No location yet.',
    'rp.submit': 'Send report', 'rp.submitAnyway': 'Send a new report anyway',
    'rp.dupTitle': 'Someone may have reported this nearby recently:',
    'rp.sent': 'Report #{id} sent. {notice}', 'rp.required': 'required',
    'rp.needLocation': 'Please pick a location on the map or use your location.',
    'rp.notifications': 'Notifications', 'rp.noReports': 'You have not sent any report.',
    'rp.reopen': 'Reopen', 'rp.reopenReason': 'Why reopen', 'rp.hiddenBecause': 'Hidden from the map: {reason}',
    'rp.holder': 'Handled by: {name}', 'rp.due': 'Due: {date}', 'rp.overdue': 'Overdue',
    'rp.filter.status': 'Status', 'rp.filter.all': 'All', 'rp.filter.active': 'Active',
    'rp.emptyQueue': 'No reports.', 'rp.reporter': 'Reporter: {name} {email} {phone}',
    'rp.act.status': 'Update', 'rp.act.note': 'Note', 'rp.act.fixPhoto': 'Photo of the fix',
    'rp.act.assign': 'Reassign', 'rp.act.unitCode': 'Unit code (e.g. 00070)', 'rp.act.reason': 'Reason',
    'rp.act.hide': 'Hide', 'rp.act.hideTarget': 'Hide what', 'rp.act.phrase': 'Phrase to hide', 'rp.act.merge': 'Merge into report #',
    'rp.hide.report': 'The whole report', 'rp.hide.phrase': 'A phrase', 'rp.hide.photo': 'The first photo',
    'rp.done': 'Saved.', 'rp.error': 'Error: {msg}',
    'rp.st.open': 'Received', 'rp.st.acknowledged': 'Acknowledged', 'rp.st.in_progress': 'In progress',
    'rp.st.resolved': 'Resolved', 'rp.st.closed': 'Closed', 'rp.st.duplicate': 'Duplicate',
    'rp.ev.created': 'Received', 'rp.ev.status': 'Update', 'rp.ev.note': 'Note', 'rp.ev.reassign': 'Reassigned',
    'rp.ev.hide': 'Hidden', 'rp.ev.merge': 'Merged', 'rp.ev.reopen': 'Reopened',
  },
});

const HOAN_KIEM = [21.0287, 105.8524];
const STATUSES = ['open', 'acknowledged', 'in_progress', 'resolved', 'closed', 'duplicate'];

function isOfficer(p) {
  return !!(p && (p.grants || []).some((g) => g.permission === 'reports.handle' || g.permission === '*'));
}

async function o311(path, opts = {}) {
  const res = await fetch(`/open311/v2/${path}${path.includes('?') ? '&' : '?'}lang=${getLang()}`, {
    credentials: 'same-origin', headers: authHeaders(), ...opts,
  });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, 'open311', (body && body[0] && body[0].description) || res.statusText);
  return body;
}

function fileToBase64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).split(',')[1] || '');
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

function statusBadge(s) {
  return h('span', { class: `rp-status rp-${s}`, 'data-status': s, i18n: `rp.st.${s}` });
}

function makeMap(el, onClick) {
  const L = window.L;
  if (!L) return null;
  // No animations: a tab switch may remove the map while one would still be running.
  const map = L.map(el, { zoomControl: true, attributionControl: false, zoomAnimation: false, fadeAnimation: false,
    markerZoomAnimation: false }).setView(HOAN_KIEM, 15);
  let alive = true;
  // The map may be created before its box has its final size (tab just shown, slow
  // layout): keep Leaflet's idea of the size, and so of the centre, up to date.
  const ro = window.ResizeObserver ? new ResizeObserver(() => { if (alive) map.invalidateSize(); }) : null;
  if (ro) ro.observe(el);
  map.on('unload', () => { alive = false; if (ro) ro.disconnect(); });
  api('/api/v1/units/boundaries?era=2025').then((g) => {
    if (alive) L.geoJSON(g, { interactive: false, style: { color: '#1e5a8a', weight: 1, fillOpacity: 0.08 } }).addTo(map);
  }).catch(() => {});
  if (onClick) map.on('click', (e) => onClick(e.latlng));
  return map;
}

// --- report form ------------------------------------------------------------------------
function mountNew(root, state) {
  const msg = h('p', { id: 'rp-msg', role: 'status', 'aria-live': 'polite' });
  const category = h('select', { id: 'rp-category', 'data-testid': 'rp-category', name: 'service_code' });
  const attrsBox = h('div', { id: 'rp-attrs' });
  const desc = h('textarea', { id: 'rp-description', name: 'description', rows: 3, maxlength: 4000 });
  const photo = h('input', { id: 'rp-photo', type: 'file', accept: 'image/jpeg,image/png', capture: 'environment' });
  const where = h('p', { id: 'rp-where', i18n: 'rp.noLocation' });
  const dupBox = h('div', { id: 'rp-dups', hidden: true });
  const mapEl = h('div', { id: 'rp-map', class: 'rp-map' });
  let pin = null;
  let point = null;
  let dupChecked = false;
  const setPoint = (lat, lon) => {
    point = { lat, lon };
    dupChecked = false;
    where.dataset.i18n = 'rp.location';
    where.dataset.i18nArgs = JSON.stringify({ lat: lat.toFixed(5), lon: lon.toFixed(5) });
    where.textContent = t('rp.location', { lat: lat.toFixed(5), lon: lon.toFixed(5) });
    if (state.map && window.L) {
      if (pin) pin.setLatLng([lat, lon]);
      else pin = window.L.circleMarker([lat, lon], { radius: 8, color: '#9f1d1d' }).addTo(state.map);
    }
  };
  const locate = h('button', { type: 'button', id: 'rp-locate', i18n: 'rp.locate', onclick: () => {
    if (!navigator.geolocation) return;
    navigator.geolocation.getCurrentPosition((p) => {
      setPoint(p.coords.latitude, p.coords.longitude);
      if (state.map) state.map.setView([p.coords.latitude, p.coords.longitude], 17);
    }, () => { msg.textContent = t('rp.needLocation'); });
  } });
  const submit = h('button', { type: 'submit', id: 'rp-submit', class: 'primary', i18n: 'rp.submit' });
  const form = h('form', { id: 'rp-form', class: 'rp-form' },
    h('label', { for: 'rp-category', i18n: 'rp.category' }), category, attrsBox,
    h('label', { for: 'rp-description', i18n: 'rp.description' }), desc,
    h('label', { for: 'rp-photo', i18n: 'rp.photo' }), photo,
    locate, h('p', { class: 'hint', i18n: 'rp.pinHint' }), mapEl, where, dupBox, submit, msg);
  root.append(form);
  state.map = makeMap(mapEl, (ll) => setPoint(ll.lat, ll.lng));

  const renderAttrs = async () => {
    clear(attrsBox);
    const def = await o311(`services/${encodeURIComponent(category.value)}.json`);
    for (const a of def.attributes) {
      const id = `rp-attr-${a.code}`;
      const name = a.datatype === 'multivaluelist' ? `attribute[${a.code}][]` : `attribute[${a.code}]`;
      let input;
      if (a.datatype === 'singlevaluelist' || a.datatype === 'multivaluelist') {
        input = h('select', { id, name, multiple: a.datatype === 'multivaluelist', required: a.required },
          a.datatype === 'singlevaluelist' ? h('option', { value: '' }, '—') : null,
          a.values.map((v) => h('option', { value: v.key }, v.name)));
      } else if (a.datatype === 'text') {
        input = h('textarea', { id, name, rows: 2 });
      } else {
        input = h('input', { id, name, type: a.datatype === 'number' ? 'number' : a.datatype === 'datetime' ? 'datetime-local' : 'text', required: a.required });
      }
      attrsBox.append(h('label', { for: id }, a.description, a.required ? ` (${t('rp.required')})` : ''), input);
    }
  };
  o311('services.json').then((services) => {
    for (const s of services) category.append(h('option', { value: s.service_code }, s.service_name));
    return renderAttrs();
  }).catch((e) => { msg.textContent = t('rp.error', { msg: e.message }); });
  category.addEventListener('change', () => { dupChecked = false; renderAttrs(); });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.textContent = '';
    if (!point) { msg.textContent = t('rp.needLocation'); return; }
    try {
      if (!dupChecked) {
        dupChecked = true;
        const near = await api(`/api/v1/reports/nearby${qs({ lat: point.lat, long: point.lon, service_code: category.value })}`);
        if (near.items.length) {
          clear(dupBox);
          dupBox.hidden = false;
          dupBox.append(h('p', { i18n: 'rp.dupTitle' }), h('ul', {}, near.items.map((r) => h('li', { class: 'rp-dup' },
            `#${r.service_request_id} · ${r.description || r.service_name} · ${r.distance_m} m · `, statusBadge(r.detailed_status)))));
          submit.dataset.i18n = 'rp.submitAnyway';
          submit.textContent = t('rp.submitAnyway');
          return;
        }
      }
      const fd = new FormData(form);
      fd.delete('media');
      if (photo.files[0]) fd.append('media', photo.files[0]);
      fd.set('lat', String(point.lat));
      fd.set('long', String(point.lon));
      for (const [k, v] of [...fd.entries()]) if (v === '') fd.delete(k);
      const out = await o311('requests.json', { method: 'POST', body: fd });
      msg.textContent = t('rp.sent', { id: out[0].service_request_id, notice: out[0].service_notice });
      msg.dataset.reportId = out[0].service_request_id;
      desc.value = '';
      photo.value = '';
      dupBox.hidden = true;
      submit.dataset.i18n = 'rp.submit';
      submit.textContent = t('rp.submit');
    } catch (e) {
      msg.textContent = t('rp.error', { msg: e.message });
    }
  });
}

// --- my reports -------------------------------------------------------------------------
async function mountMine(root) {
  const list = h('ul', { id: 'rp-mine', class: 'rp-list' });
  const notes = h('ul', { id: 'rp-notifications', class: 'rp-list' });
  root.append(list, h('h3', { i18n: 'rp.notifications' }), notes);
  const load = async () => {
    clear(list);
    clear(notes);
    const [mine, ns] = await Promise.all([api('/api/v1/reports/mine'), api('/api/v1/reports/notifications')]);
    if (!mine.items.length) list.append(h('li', { i18n: 'rp.noReports' }));
    for (const r of mine.items) {
      const reason = h('input', { type: 'text', class: 'rp-reopen-reason', i18nPlaceholder: 'rp.reopenReason' });
      const li = h('li', { class: 'rp-item', dataset: { id: r.service_request_id } },
        h('strong', {}, `#${r.service_request_id} ${r.service_name}`), ' ', statusBadge(r.detailed_status),
        h('div', {}, r.description || ''),
        h('div', { class: 'hint', i18n: 'rp.holder', i18nArgs: { name: r.agency_responsible } }),
        r.hidden_reason ? h('div', { class: 'warn', i18n: 'rp.hiddenBecause', i18nArgs: { reason: r.hidden_reason } }) : null);
      if (r.detailed_status === 'resolved') {
        li.append(reason, h('button', { type: 'button', class: 'rp-reopen', i18n: 'rp.reopen', onclick: async () => {
          await api(`/api/v1/reports/${r.service_request_id}/reopen`, { method: 'POST', body: { reason: reason.value || null } });
          await load();
        } }));
      }
      list.append(li);
    }
    for (const n of ns.items) notes.append(h('li', { class: 'rp-note', dataset: { kind: n.kind } }, n.message));
  };
  await load();
}

// --- public map (no reporter identity: Open311 GET requests) ---------------------------------
function mountPublicMap(root, state) {
  const mapEl = h('div', { id: 'rp-pub-map', class: 'rp-map' });
  const list = h('ul', { id: 'rp-public', class: 'rp-list' });
  root.append(h('p', { class: 'hint', i18n: 'rp.mapHint' }), mapEl, list);
  state.map = makeMap(mapEl);
  const map = state.map;
  let layer = null;
  const load = async () => {
    if (!map || state.map !== map) return;
    const c = map.getCenter();
    const items = await o311(`requests.json?lat=${c.lat.toFixed(5)}&long=${c.lng.toFixed(5)}&radius=3000`);
    if (state.map !== map) return;
    if (layer) layer.remove();
    layer = window.L.layerGroup().addTo(map);
    clear(list);
    for (const r of items) {
      if (r.lat == null) continue;
      window.L.circleMarker([r.lat, r.long], { radius: 7, color: r.status === 'open' ? '#c0392b' : '#2e7d32' })
        .bindPopup(`#${r.service_request_id} ${r.service_name} — ${t(`rp.st.${r.detailed_status}`)}`).addTo(layer);
      list.append(h('li', { class: 'rp-item', dataset: { id: r.service_request_id } },
        h('strong', {}, `#${r.service_request_id} ${r.service_name}`), ' ', statusBadge(r.detailed_status),
        h('div', { class: 'hint' }, `${r.agency_responsible} · ${r.description || ''}`)));
    }
  };
  if (map) map.on('moveend', () => load().catch(() => {}));
  load().catch((e) => list.append(h('li', {}, t('rp.error', { msg: e.message }))));
}

// --- officer queue --------------------------------------------------------------------------
function mountQueue(root, state) {
  const status = h('select', { id: 'rp-q-status' },
    h('option', { value: 'active', i18n: 'rp.filter.active' }), h('option', { value: '', i18n: 'rp.filter.all' }),
    STATUSES.map((s) => h('option', { value: s, i18n: `rp.st.${s}` })));
  const list = h('ul', { id: 'rp-queue', class: 'rp-list' });
  const detail = h('div', { id: 'rp-detail' });
  const mapEl = h('div', { id: 'rp-q-map', class: 'rp-map' });
  root.append(h('label', { for: 'rp-q-status', i18n: 'rp.filter.status' }), status, mapEl,
    h('div', { class: 'rp-queue-grid' }, list, detail));
  state.map = makeMap(mapEl);
  const qmap = state.map;
  let markers = [];
  const act = async (id, path, body) => {
    const m = detail.querySelector('.rp-act-msg');
    try {
      await api(`/api/v1/reports/${id}/${path}`, { method: 'POST', body });
      await load();
      await show(id);
      detail.querySelector('.rp-act-msg').textContent = t('rp.done');
    } catch (e) {
      if (m) m.textContent = t('rp.error', { msg: e.message });
    }
  };
  const show = async (id) => {
    clear(detail);
    const r = await api(`/api/v1/reports/${id}`);
    const st = h('select', { class: 'rp-act-status' }, ['acknowledged', 'in_progress', 'resolved', 'closed'].map((s) => h('option', { value: s, i18n: `rp.st.${s}` })));
    const note = h('input', { type: 'text', class: 'rp-act-note', i18nPlaceholder: 'rp.act.note' });
    const fix = h('input', { type: 'file', class: 'rp-act-photo', accept: 'image/jpeg,image/png' });
    const unit = h('input', { type: 'text', class: 'rp-act-unit', i18nPlaceholder: 'rp.act.unitCode' });
    const reason = h('input', { type: 'text', class: 'rp-act-reason', i18nPlaceholder: 'rp.act.reason' });
    const hideWhat = h('select', { class: 'rp-act-hide-target' }, ['phrase', 'report', 'photo'].map((k) => h('option', { value: k, i18n: `rp.hide.${k}` })));
    const phrase = h('input', { type: 'text', class: 'rp-act-phrase', i18nPlaceholder: 'rp.act.phrase' });
    const into = h('input', { type: 'number', class: 'rp-act-into', i18nPlaceholder: 'rp.act.merge' });
    const rep = r.reporter || {};
    detail.append(
      h('h3', {}, `#${r.service_request_id} ${r.service_name} `, statusBadge(r.detailed_status)),
      h('p', {}, r.original_description), h('p', { class: 'hint', i18n: 'rp.holder', i18nArgs: { name: r.agency_responsible } }),
      h('p', { class: 'hint', i18n: 'rp.reporter', i18nArgs: { name: rep.name || '', email: rep.email || '', phone: rep.phone || '' } }),
      h('div', {}, r.photos.filter((p) => !p.hidden_reason).map((p) => h('img', { src: p.url, alt: '', class: 'rp-photo' }))),
      h('ol', { class: 'rp-events' }, r.events.map((e) => h('li', {}, `${e.at_iso.slice(0, 16).replace('T', ' ')} · ${t(`rp.ev.${e.kind}`)}${e.status ? ` → ${t(`rp.st.${e.status}`)}` : ''}${e.note ? ` · ${e.note}` : ''}${e.reason ? ` (${e.reason})` : ''}`))),
      h('div', { class: 'rp-actions' }, st, note, fix, h('button', { type: 'button', class: 'rp-act-update primary', i18n: 'rp.act.status', onclick: async () => {
        const body = { status: st.value, note: note.value || null };
        if (fix.files[0]) body.photo_base64 = await fileToBase64(fix.files[0]);
        await act(r.service_request_id, 'events', body);
      } })),
      h('div', { class: 'rp-actions' }, unit, reason, h('button', { type: 'button', class: 'rp-act-assign', i18n: 'rp.act.assign', onclick: () => act(r.service_request_id, 'assign', { unit_code: unit.value, reason: reason.value }) }),
        hideWhat, phrase, h('button', { type: 'button', class: 'rp-act-hide', i18n: 'rp.act.hide', onclick: () => {
          const photoId = (r.photos.find((p) => !p.hidden_reason) || {}).id;
          return act(r.service_request_id, 'hide', { target: hideWhat.value, phrase: phrase.value || null, photo_id: photoId, reason: reason.value });
        } }),
        into, h('button', { type: 'button', class: 'rp-act-merge', i18n: 'rp.act.merge', onclick: () => act(r.service_request_id, 'merge', { into: Number(into.value), reason: reason.value || null }) })),
      h('p', { class: 'rp-act-msg', role: 'status' }));
  };
  const load = async () => {
    clear(list);
    const q = await api(`/api/v1/reports${qs({ status: status.value })}`);
    for (const m of markers) m.remove();
    markers = [];
    if (!q.items.length) list.append(h('li', { i18n: 'rp.emptyQueue' }));
    for (const r of q.items) {
      list.append(h('li', { class: 'rp-item', dataset: { id: r.service_request_id } },
        h('button', { type: 'button', class: 'link', onclick: () => show(r.service_request_id) }, `#${r.service_request_id} ${r.service_name}`),
        ' ', statusBadge(r.detailed_status), r.overdue ? h('span', { class: 'warn', i18n: 'rp.overdue' }) : null,
        h('div', { class: 'hint' }, `${r.agency_responsible} · ${r.description || ''}`)));
      if (state.map && state.map === qmap && r.lat != null) markers.push(window.L.circleMarker([r.lat, r.long], { radius: 6 }).addTo(state.map).on('click', () => show(r.service_request_id)));
    }
  };
  status.addEventListener('change', load);
  load().catch((e) => list.append(h('li', {}, t('rp.error', { msg: e.message }))));
}

/** Mounts the reports screen. */
export function mountReports(root, ctx) {
  const state = { map: null };
  const tabs = [['new', 'rp.tab.new'], ['mine', 'rp.tab.mine'], ['map', 'rp.tab.map']];
  if (isOfficer(ctx && ctx.principal)) tabs.push(['queue', 'rp.tab.queue']);
  const body = h('div', { class: 'rp-body' });
  const bar = h('div', { class: 'rp-tabs', role: 'tablist' });
  const open = (id) => {
    if (state.map) { state.map.remove(); state.map = null; }
    clear(body);
    for (const b of bar.children) b.setAttribute('aria-selected', String(b.dataset.tab === id));
    if (id === 'new') mountNew(body, state);
    else if (id === 'mine') mountMine(body).catch((e) => body.append(h('p', {}, t('rp.error', { msg: e.message }))));
    else if (id === 'map') mountPublicMap(body, state);
    else mountQueue(body, state);
  };
  for (const [id, key] of tabs) bar.append(h('button', { type: 'button', role: 'tab', id: `rp-tab-${id}`, dataset: { tab: id }, i18n: key, onclick: () => open(id) }));
  const style = h('style', {}, `.rp-form{display:flex;flex-direction:column;gap:.4rem;max-width:40rem}
.rp-map{height:16rem;min-height:12rem;border:1px solid #ccc;margin:.5rem 0}.rp-tabs{display:flex;gap:.5rem;flex-wrap:wrap;margin-bottom:.5rem}
.rp-tabs [aria-selected=true]{font-weight:bold;border-bottom:2px solid #1e5a8a}.rp-list{list-style:none;padding:0}.rp-item{border-bottom:1px solid #eee;padding:.4rem 0}
.rp-status{display:inline-block;padding:0 .4rem;border-radius:.6rem;background:#e8eef4;font-size:.85em}.rp-resolved,.rp-closed{background:#d8f0dc}
.warn{color:#9f1d1d;margin-left:.4rem}.rp-photo{max-width:10rem;margin:.2rem}.rp-actions{display:flex;flex-wrap:wrap;gap:.3rem;margin:.3rem 0}.rp-actions>*{width:auto;flex:1 1 9rem;min-height:2.2rem}
.rp-queue-grid{display:grid;grid-template-columns:minmax(0,1fr);gap:1rem}@media(min-width:900px){.rp-queue-grid{grid-template-columns:1fr 1.3fr}}
.rp-screen{grid-column:1/-1;width:100%;padding:.5rem;box-sizing:border-box}.rp-form input,.rp-form select,.rp-form textarea,.rp-form button{font-size:1rem;min-height:2.4rem;font-family:inherit}
.rp-tabs button{font-size:1rem;padding:.4rem .8rem}`);
  root.append(h('section', { class: 'rp-screen', id: 'rp-screen' }, style, bar, body));
  open('new');
  return { unmount() { if (state.map) state.map.remove(); clear(root); } };
}

export const reportsView = {
  id: 'reports',
  titleKey: 'nav.reports',
  mount: mountReports,
};
