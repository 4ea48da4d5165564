// Online public services: search the procedure catalog (diacritics ignored), read a
// procedure and submit a dossier from its form (citizens), follow "my dossiers" and their
// timeline, download slips; officers open a unit's inbox and take workflow actions; anyone
// signed in can look up a dossier by code + last 4 CCCD digits. Vietnamese first.
import { api, qs, ApiError } from './api.js';
import { h, clear, debounce } from './dom.js';
import { t, addMessages } from '../i18n.js';

addMessages({
  vi: {
    'nav.services': 'Dịch vụ công',
    'svc.search': 'Tìm thủ tục (không cần dấu)', 'svc.none': 'Không tìm thấy thủ tục nào.',
    'svc.days': '{n} ngày làm việc', 'svc.fee': 'Lệ phí', 'svc.feeUnknown': 'chưa rõ', 'svc.free': 'miễn phí',
    'svc.docs': 'Thành phần hồ sơ', 'svc.stateHeld': '(Nhà nước đã có, không phải nộp lại)',
    'svc.unit': 'Mã đơn vị nhận hồ sơ (ví dụ 00004)', 'svc.submit': 'Nộp hồ sơ',
    'svc.submitted': 'Đã nộp hồ sơ {code}. Hạn trả kết quả: {due}',
    'svc.receipt': 'Giấy tiếp nhận (PDF)', 'svc.mine': 'Hồ sơ của tôi', 'svc.inbox': 'Hồ sơ của đơn vị',
    'svc.load': 'Xem', 'svc.timeline': 'Quá trình xử lý', 'svc.status': 'Trạng thái {s}',
    'svc.overdue': 'Quá hạn', 'svc.lookup': 'Tra cứu hồ sơ', 'svc.code': 'Mã hồ sơ',
    'svc.cccd4': '4 số cuối CCCD', 'svc.comment': 'Ý kiến (không bắt buộc)', 'svc.error': 'Lỗi: {msg}',
    'svc.field': 'Trường "{field}": {msg}', 'svc.due': 'Hạn: {due}', 'svc.empty': 'Không có hồ sơ.',
    'svc.rate': 'Đánh giá mức độ hài lòng', 'svc.rated': 'Cảm ơn ông/bà đã đánh giá.', 'svc.slip': 'Phiếu: {kind}',
    'svc.stepDue': 'Hạn bước này: {due}', 'svc.stepOverdue': 'Bước quá hạn', 'svc.stepLate': 'trễ hạn bước',
    'svc.stepOnly': 'Chỉ hồ sơ quá hạn bước', 'svc.sortDue': 'Xếp theo hạn hồ sơ', 'svc.sortStep': 'Xếp theo hạn bước',
    'svc.pay': 'Thanh toán phí, lệ phí', 'svc.payHint': 'Quét mã VietQR bằng ứng dụng ngân hàng, hoặc chuyển khoản đúng số tiền và nội dung dưới đây.',
    'svc.payQr': 'Mã VietQR để thanh toán', 'svc.payAmount': 'Số tiền', 'svc.payBank': 'Ngân hàng',
    'svc.payAccount': 'Số tài khoản', 'svc.payHolder': 'Chủ tài khoản', 'svc.payContent': 'Nội dung chuyển khoản',
    'svc.payWaiting': 'Đang chờ xác nhận thanh toán từ ngân hàng…', 'svc.payPaid': 'Đã thanh toán lúc {at}. Cảm ơn ông/bà.',
    'svc.payReceipt': 'Tải biên lai điện tử (PDF)', 'svc.payRequest': 'Yêu cầu nộp phí', 'svc.payRequestAmount': 'Số tiền (đồng)',
  },
  en: {
    'nav.services': 'Public services',
    'svc.search': 'Search procedures (accents optional)', 'svc.none': 'No procedure found.',
    'svc.days': '{n} working days', 'svc.fee': 'Fee', 'svc.feeUnknown': 'unknown', 'svc.free': 'free',
    'svc.docs': 'Documents', 'svc.stateHeld': '(held by the state, not needed again)',
    'svc.unit': 'Receiving unit code (e.g. 00004)', 'svc.submit': 'Submit dossier',
    'svc.submitted': 'Dossier {code} submitted. Result due: {due}',
    'svc.receipt': 'Receipt slip (PDF)', 'svc.mine': 'My dossiers', 'svc.inbox': 'Unit inbox',
    'svc.load': 'Open', 'svc.timeline': 'Timeline', 'svc.status': 'Status {s}',
    'svc.overdue': 'Overdue', 'svc.lookup': 'Look up a dossier', 'svc.code': 'Dossier code',
    'svc.cccd4': 'Last 4 CCCD digits', 'svc.comment': 'Comment (optional)', 'svc.error': 'Error: {msg}',
    'svc.field': 'Field "{field}": {msg}', 'svc.due': 'Due: {due}', 'svc.empty': 'No dossiers.',
    'svc.rate': 'Rate the handling', 'svc.rated': 'Thank you for your rating.', 'svc.slip': 'Slip: {kind}',
    'svc.stepDue': 'Step due: {due}', 'svc.stepOverdue': 'Step overdue', 'svc.stepLate': 'step late',
    'svc.stepOnly': 'Only overdue steps', 'svc.sortDue': 'By dossier due date', 'svc.sortStep': 'By step due date',
    'svc.pay': 'Pay the fee', 'svc.payHint': 'Scan the VietQR code with your banking app, or transfer exactly the amount and content below.',
    'svc.payQr': 'VietQR payment code', 'svc.payAmount': 'Amount', 'svc.payBank': 'Bank',
    'svc.payAccount': 'Account number', 'svc.payHolder': 'Account holder', 'svc.payContent': 'Transfer content',
    'svc.payWaiting': 'Waiting for the bank to confirm the payment…', 'svc.payPaid': 'Paid at {at}. Thank you.',
    'svc.payReceipt': 'Download the e-receipt (PDF)', 'svc.payRequest': 'Request the fee', 'svc.payRequestAmount': 'Amount (VND)',
  },
});

const STATUS_VI = ['', 'Mới', 'Đã tiếp nhận', 'Từ chối', 'Đang xử lý', 'Chờ bổ sung', 'Chờ nộp phí',
  'Đã rút', 'Dừng xử lý', 'Đã có kết quả', 'Đã trả kết quả'];

function errText(e) {
  if (e instanceof ApiError && e.details && e.details.field) return t('svc.field', { field: e.details.field, msg: e.message });
  return t('svc.error', { msg: e.message || String(e) });
}

function money(v) {
  if (v === null || v === undefined) return t('svc.feeUnknown');
  return v === 0 ? t('svc.free') : `${v.toLocaleString('vi-VN')} đ`;
}

function inputFor(f) {
  const id = `svc-f-${f.name}`;
  let input;
  if (f.type === 'choice') {
    input = h('select', { id, name: f.name }, h('option', { value: '' }, '—'), ...f.choices.map((c) => h('option', { value: c }, c)));
  } else if (f.type === 'textarea') {
    input = h('textarea', { id, name: f.name, rows: 3 });
  } else if (f.type === 'boolean') {
    input = h('input', { id, name: f.name, type: 'checkbox' });
  } else {
    const type = f.type === 'date' ? 'date' : f.type === 'number' ? 'number' : f.type === 'email' ? 'email' : 'text';
    input = h('input', { id, name: f.name, type, inputmode: f.type === 'cccd' || f.type === 'phone' ? 'numeric' : undefined });
  }
  input.dataset.type = f.type;
  return h('label', { class: 'svc-field' }, `${f.label}${f.required ? ' *' : ''}`, input);
}

function formData(form) {
  const out = {};
  for (const el of form.querySelectorAll('[name]')) {
    if (el.name === 'unit') continue;
    const type = el.dataset.type;
    if (type === 'boolean') { if (el.checked) out[el.name] = true; continue; }
    if (el.value === '') continue;
    out[el.name] = type === 'number' ? Number(el.value) : el.value;
  }
  return out;
}

// An instant in Vietnam time, "dd/mm/yyyy hh:mm".
function when(iso) {
  if (!iso) return '';
  const d = new Date(Date.parse(iso) + 7 * 3600e3);
  const p2 = (n) => String(n).padStart(2, '0');
  return `${p2(d.getUTCDate())}/${p2(d.getUTCMonth() + 1)}/${d.getUTCFullYear()} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}`;
}

function timeline(items) {
  return h('ol', { class: 'svc-timeline' }, ...items.map((e) => h('li', { class: e.step_late ? 'svc-step-late' : undefined },
    `${when(e.at)} — ${e.action}: ${e.from || '∅'} → ${e.to}`
    + (e.actor ? ` (${e.actor})` : '') + (e.comment ? ` — ${e.comment}` : ''),
    e.step_due_at ? h('span', { class: 'svc-step-due' }, ` · ${t('svc.stepDue', { due: when(e.step_due_at) })}`
      + (e.step_late ? ` (${t('svc.stepLate')})` : '')) : '')));
}

// NAPAS bank identification numbers of the banks most used for public fees.
const BANKS = {
  970436: 'Vietcombank', 970415: 'VietinBank', 970418: 'BIDV', 970405: 'Agribank', 970422: 'MB',
  970407: 'Techcombank', 970416: 'ACB', 970432: 'VPBank', 970423: 'TPBank', 970403: 'Sacombank',
  970441: 'VIB', 970443: 'SHB', 970431: 'Eximbank', 970448: 'OCB', 970426: 'MSB',
};

// The payment panel of one payment request: VietQR image, amount, receiving account,
// transfer content; follows the status (polling every 2 s) until the confirmation, then
// offers the e-receipt. Returns { el, stop }.
function paymentPanel(code, reference) {
  const status = h('p', { class: 'svc-pay-status', id: 'svc-pay-status', role: 'status' }, t('svc.payWaiting'));
  const facts = h('dl', { class: 'svc-pay-facts' });
  const img = h('img', { class: 'svc-pay-qr', id: 'svc-pay-qr', alt: t('svc.payQr'), width: 220, height: 220 });
  const receipt = h('p', { class: 'svc-pay-receipt' });
  const el = h('section', { class: 'svc-card svc-pay', id: 'svc-pay' }, h('h4', {}, t('svc.pay')),
    h('p', { class: 'svc-hint' }, t('svc.payHint')), h('div', { class: 'svc-pay-body' }, img, facts), status, receipt);
  let timer = null;
  let stopped = false;
  const fact = (k, v, id) => [h('dt', {}, t(k)), h('dd', { id }, v)];
  async function poll() {
    timer = null;
    try {
      const pay = await api(`/api/v1/dossiers/${encodeURIComponent(code)}/payments/${encodeURIComponent(reference)}`);
      if (stopped) return;
      if (!img.getAttribute('src')) {
        img.src = pay.qr;
        clear(facts);
        facts.append(...fact('svc.payAmount', `${pay.amount.toLocaleString('vi-VN')} đ`, 'svc-pay-amount'),
          ...fact('svc.payBank', `${BANKS[pay.bank_bin] || ''} (${pay.bank_bin})`.trim(), 'svc-pay-bank'),
          ...fact('svc.payAccount', pay.account || '', 'svc-pay-account'),
          ...(pay.account_name ? fact('svc.payHolder', pay.account_name, 'svc-pay-holder') : []),
          ...fact('svc.payContent', h('code', {}, pay.purpose || ''), 'svc-pay-content'));
      }
      if (pay.status === 'paid') {
        status.textContent = t('svc.payPaid', { at: when(pay.paid_at) });
        el.classList.add('svc-paid');
        clear(receipt);
        receipt.append(h('a', { href: pay.receipt, download: `bien-lai-${code}.pdf`, id: 'svc-pay-receipt', class: 'svc-button' }, t('svc.payReceipt')));
        return;
      }
    } catch (e) {
      if (stopped) return;
      status.textContent = errText(e);
    }
    if (!stopped) timer = setTimeout(poll, 2000);
  }
  poll();
  return { el, stop() { stopped = true; if (timer) clearTimeout(timer); } };
}

function stepLine(d) {
  if (!d.step) return '';
  return h('p', { class: d.step.overdue ? 'svc-step svc-overdue' : 'svc-step', id: 'svc-step' },
    t('svc.stepDue', { due: when(d.step.due_at) }) + (d.step.overdue ? ` · ${t('svc.stepOverdue')}` : ''));
}

function mountServices(root, ctx) {
  const p = ctx.principal || {};
  const isCitizen = p.kind === 'citizen';
  const msg = h('p', { class: 'svc-msg', role: 'status' });
  const detail = h('section', { class: 'svc-detail' });
  const results = h('ul', { class: 'svc-results' });
  const search = h('input', { type: 'search', id: 'svc-search', i18nPlaceholder: 'svc.search' });
  let aborter = null;
  let payPanel = null;
  const stopPay = () => { if (payPanel) payPanel.stop(); payPanel = null; };

  async function showDossier(code) {
    stopPay();
    clear(detail);
    try {
      const d = await api(`/api/v1/dossiers/${encodeURIComponent(code)}`);
      detail.append(h('h3', {}, d.code), h('p', {}, `${t('svc.status', { s: STATUS_VI[d.status] })} · ${t('svc.due', { due: when(d.due_at) })}`),
        stepLine(d),
        h('a', { href: `/api/v1/dossiers/${encodeURIComponent(d.code)}/slips/receipt`, target: '_blank', id: 'svc-receipt' }, t('svc.receipt')),
        h('h4', { i18n: 'svc.timeline' }), timeline(d.timeline || []));
      const pays = d.payments || [];
      const current = pays.filter((x) => x.status === 'pending').pop() || (d.status === 6 ? null : pays[pays.length - 1]);
      if (current) {
        payPanel = paymentPanel(d.code, current.reference);
        detail.insertBefore(payPanel.el, detail.querySelector('h4'));
      } else if (!isCitizen && d.status === 6) {
        const amount = h('input', { type: 'number', id: 'svc-pay-amount-input', min: 1, step: 1, required: true });
        const req = h('form', { class: 'svc-card svc-pay-request', id: 'svc-pay-request' },
          h('label', { class: 'svc-field' }, t('svc.payRequestAmount'), amount), h('button', { type: 'submit' }, t('svc.payRequest')));
        req.addEventListener('submit', async (ev) => {
          ev.preventDefault();
          try {
            await api(`/api/v1/dossiers/${encodeURIComponent(d.code)}/payments`, { method: 'POST', body: { amount: Number(amount.value) } });
            showDossier(d.code);
          } catch (e) { msg.textContent = errText(e); }
        });
        detail.insertBefore(req, detail.querySelector('h4'));
      }
      if (isCitizen && (d.status === 9 || d.status === 10)) {
        const score = h('select', { id: 'svc-score' }, ...[5, 4, 3, 2, 1].map((n) => h('option', { value: n }, '★'.repeat(n))));
        detail.append(h('div', { class: 'svc-rate' }, t('svc.rate'), ' ', score, h('button', {
          type: 'button', id: 'svc-rate',
          onclick: async () => {
            try {
              await api(`/api/v1/dossiers/${encodeURIComponent(d.code)}/rating`, { method: 'POST', body: { score: Number(score.value) } });
              msg.textContent = t('svc.rated');
            } catch (e) { msg.textContent = errText(e); }
          },
        }, 'OK')));
      }
      {
        const proc = await api(`/api/v1/procedures/${encodeURIComponent(d.procedure)}`);
        const comment = h('input', { type: 'text', id: 'svc-comment', i18nPlaceholder: 'svc.comment' });
        const actions = (proc.workflow_definition.actions || []).filter((a) => a.from.includes(d.state)
          && a.roles.some((r) => (isCitizen ? r === 'applicant' : r !== 'applicant' && r !== 'payment')));
        if (actions.length) {
          detail.append(comment, h('div', { class: 'svc-actions' }, ...actions.map((a) => h('button', {
            type: 'button', dataset: { action: a.id },
            onclick: async () => {
              try {
                await api(`/api/v1/dossiers/${encodeURIComponent(d.code)}/actions`, { method: 'POST', body: { action: a.id, comment: comment.value || undefined } });
                showDossier(d.code);
              } catch (e) { msg.textContent = errText(e); }
            },
          }, a.name || a.id))));
        }
      }
    } catch (e) { msg.textContent = errText(e); }
  }

  async function showProcedure(code) {
    stopPay();
    clear(detail);
    try {
      const pr = await api(`/api/v1/procedures/${encodeURIComponent(code)}`);
      const form = h('form', { class: 'svc-form', id: 'svc-form' },
        h('label', { class: 'svc-field' }, t('svc.unit'), h('input', { name: 'unit', id: 'svc-unit', value: p.unit || '' })),
        ...pr.form.fields.map(inputFor), h('button', { type: 'submit', i18n: 'svc.submit' }));
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        try {
          const d = await api('/api/v1/dossiers', { method: 'POST', body: { procedure: pr.code, unit: form.unit.value, form: formData(form) } });
          msg.textContent = t('svc.submitted', { code: d.code, due: (d.due_at || '').slice(0, 16).replace('T', ' ') });
          showDossier(d.code);
        } catch (e) { msg.textContent = errText(e); }
      });
      detail.append(h('h3', {}, `${pr.name} (${pr.code})`),
        h('p', {}, `${pr.field} · ${t('svc.days', { n: pr.days })} · ${t('svc.fee')}: ${money(pr.fee.counter)}`),
        h('h4', { i18n: 'svc.docs' }),
        h('ul', {}, ...pr.documents.map((d) => h('li', {}, d.name + (d.state_held ? ` ${t('svc.stateHeld')}` : '')))),
        isCitizen ? form : h('p', {}, pr.result));
    } catch (e) { msg.textContent = errText(e); }
  }

  const runSearch = debounce(async () => {
    if (aborter) aborter.abort();
    aborter = new AbortController();
    try {
      const r = await api(`/api/v1/procedures${qs({ q: search.value.trim() || undefined, limit: 50 })}`, { signal: aborter.signal });
      clear(results);
      if (!r.items.length) results.append(h('li', { i18n: 'svc.none' }));
      for (const it of r.items) {
        results.append(h('li', {}, h('button', { type: 'button', class: 'link', dataset: { code: it.code }, onclick: () => showProcedure(it.code) },
          `${it.name} — ${it.code}`)));
      }
    } catch (e) { if (e.name !== 'AbortError') msg.textContent = errText(e); }
  }, 200);
  search.addEventListener('input', runSearch);

  const list = h('ul', { class: 'svc-list' });
  async function loadList(path) {
    clear(list);
    try {
      const r = await api(path);
      if (!r.items.length) list.append(h('li', { i18n: 'svc.empty' }));
      for (const d of r.items) {
        list.append(h('li', { class: d.overdue ? 'svc-overdue' : undefined }, h('button', { type: 'button', class: 'link', dataset: { code: d.code }, onclick: () => showDossier(d.code) },
          `${d.code} · ${d.procedure} · ${STATUS_VI[d.status]}${d.overdue ? ` · ${t('svc.overdue')}` : ''}`
          + (d.step && d.step.overdue ? ` · ${t('svc.stepOverdue')}` : ''))));
      }
    } catch (e) { msg.textContent = errText(e); }
  }
  const unitBox = h('input', { type: 'text', id: 'svc-inbox-unit', value: p.unit || '', size: 8 });
  const stepOnly = h('input', { type: 'checkbox', id: 'svc-step-only' });
  const sortBox = h('select', { id: 'svc-sort' }, h('option', { value: 'due' }, t('svc.sortDue')), h('option', { value: 'step' }, t('svc.sortStep')));
  const loadInbox = () => loadList(`/api/v1/dossiers${qs({ unit: unitBox.value, step_overdue: stepOnly.checked ? 'true' : undefined, sort: sortBox.value })}`);
  stepOnly.addEventListener('change', loadInbox);
  sortBox.addEventListener('change', loadInbox);
  const listBar = isCitizen
    ? h('div', {}, h('button', { type: 'button', id: 'svc-mine', onclick: () => loadList('/api/v1/dossiers/mine') }, t('svc.mine')))
    : h('div', {}, unitBox, h('button', { type: 'button', id: 'svc-inbox', onclick: loadInbox }, t('svc.inbox')),
      h('label', {}, stepOnly, ` ${t('svc.stepOnly')}`), sortBox);

  const lcode = h('input', { type: 'text', id: 'svc-lookup-code', i18nPlaceholder: 'svc.code' });
  const l4 = h('input', { type: 'text', id: 'svc-lookup-4', inputmode: 'numeric', maxlength: 4, size: 5, i18nPlaceholder: 'svc.cccd4' });
  const lookup = h('form', { class: 'svc-lookup' }, lcode, l4, h('button', { type: 'submit', i18n: 'svc.lookup' }));
  lookup.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    stopPay();
    clear(detail);
    try {
      const d = await api(`/api/v1/lookup/dossiers/${encodeURIComponent(lcode.value.trim())}${qs({ cccd4: l4.value.trim() })}`);
      detail.append(h('h3', {}, d.code), h('p', {}, t('svc.status', { s: STATUS_VI[d.status] })), timeline(d.timeline || []));
    } catch (e) { msg.textContent = errText(e); }
  });

  root.append(h('div', { class: 'svc' }, h('h2', { i18n: 'nav.services' }), msg, search, results, listBar, list, lookup, detail));
  runSearch();
  return { unmount() { if (aborter) aborter.abort(); runSearch.cancel(); stopPay(); }, focus() { search.focus(); } };
}

export const servicesView = {
  id: 'services',
  titleKey: 'nav.services',
  mount: mountServices,
};
