// Online public services. Citizens: search the procedure catalog (diacritics ignored),
// read a procedure, submit a dossier from its form (reusing documents of their warehouse
// where the procedure asks for that document type), follow "my dossiers" with their
// timeline and step deadlines, pay a fee by VietQR, download slips, results and
// e-receipts, rate the handling. Officers: a unit's inbox (overdue dossiers or overdue
// steps first), the dossier with its attachments (and their origin), timeline, workflow
// actions and fee requests. Anyone signed in: look up a dossier by code + last 4 CCCD
// digits. Styles: web/services.css (loaded by this module). Vietnamese first.
import { api, qs, ApiError } from './api.js';
import { h, clear, debounce } from './dom.js';
import { t, has, addMessages } from '../i18n.js';

addMessages({
  vi: {
    'nav.services': 'Dịch vụ công',
    'svc.leadCitizen': 'Nộp hồ sơ trực tuyến, theo dõi tiến độ, thanh toán phí và nhận kết quả.',
    'svc.leadOfficer': 'Tiếp nhận, xử lý và trả kết quả hồ sơ của đơn vị.',
    'svc.catalog': 'Thủ tục hành chính',
    'svc.search': 'Tìm thủ tục (không cần dấu)', 'svc.none': 'Không tìm thấy thủ tục nào.',
    'svc.days': '{n} ngày làm việc', 'svc.daysZero': 'Trong ngày', 'svc.fee': 'Lệ phí', 'svc.feeOnline': 'Nộp trực tuyến',
    'svc.feeUnknown': 'chưa rõ', 'svc.free': 'miễn phí',
    'svc.docs': 'Thành phần hồ sơ', 'svc.stateHeld': 'Nhà nước đã có, không phải nộp lại', 'svc.required': 'bắt buộc',
    'svc.unit': 'Mã đơn vị nhận hồ sơ (ví dụ 00004)', 'svc.submit': 'Nộp hồ sơ', 'svc.formTitle': 'Tờ khai trực tuyến',
    'svc.submitted': 'Đã nộp hồ sơ {code}. Hạn trả kết quả: {due}',
    'svc.reuseTitle': 'Dùng lại giấy tờ đã có', 'svc.reuseHint': 'Giấy tờ do cơ quan nhà nước đã cấp cho ông/bà; chọn để không phải tải lên lại.',
    'svc.reuseItem': '{name} — hồ sơ {dossier}, {at}',
    'svc.receipt': 'Giấy tiếp nhận (PDF)', 'svc.result': 'Kết quả đã ký số (PDF)',
    'svc.slipSupplement': 'Phiếu yêu cầu bổ sung (PDF)', 'svc.slipRefusal': 'Phiếu từ chối (PDF)', 'svc.slipApology': 'Phiếu xin lỗi, hẹn lại (PDF)',
    'svc.mine': 'Hồ sơ của tôi', 'svc.myDocs': 'Giấy tờ của tôi', 'svc.myArea': 'Hồ sơ và giấy tờ của tôi', 'svc.inbox': 'Hồ sơ của đơn vị', 'svc.unitCode': 'Mã đơn vị',
    'svc.load': 'Xem', 'svc.timeline': 'Quá trình xử lý', 'svc.status': 'Trạng thái {s}',
    'svc.overdue': 'Quá hạn', 'svc.lookup': 'Tra cứu hồ sơ', 'svc.lookupTitle': 'Tra cứu tình trạng hồ sơ', 'svc.code': 'Mã hồ sơ',
    'svc.cccd4': '4 số cuối CCCD', 'svc.comment': 'Ý kiến (không bắt buộc)', 'svc.error': 'Lỗi: {msg}',
    'svc.field': 'Trường "{field}": {msg}', 'svc.due': 'Hạn: {due}', 'svc.empty': 'Không có hồ sơ.', 'svc.noDocs': 'Chưa có giấy tờ nào.',
    'svc.rate': 'Đánh giá mức độ hài lòng', 'svc.rated': 'Cảm ơn ông/bà đã đánh giá.', 'svc.send': 'Gửi',
    'svc.stepDue': 'Hạn bước này: {due}', 'svc.stepOverdue': 'Bước quá hạn', 'svc.stepLate': 'trễ hạn bước',
    'svc.stepOnly': 'Chỉ hồ sơ quá hạn bước', 'svc.sortDue': 'Xếp theo hạn hồ sơ', 'svc.sortStep': 'Xếp theo hạn bước',
    'svc.factStatus': 'Trạng thái', 'svc.factDue': 'Hạn trả kết quả', 'svc.factStep': 'Hạn bước hiện tại',
    'svc.factUnit': 'Nơi tiếp nhận', 'svc.factHolder': 'Đang xử lý tại', 'svc.factApplicant': 'Người nộp',
    'svc.factSubmitted': 'Ngày nộp', 'svc.factChannel': 'Hình thức nộp', 'svc.pausedNote': 'Đồng hồ tạm dừng',
    'svc.attachments': 'Giấy tờ kèm theo', 'svc.originUpload': 'Tải lên', 'svc.originReuse': 'Dùng lại từ hồ sơ {code}',
    'svc.originResult': 'Kết quả đã ký số của hồ sơ {code}', 'svc.originReceipt': 'Biên lai của hồ sơ {code}',
    'svc.kindUpload': 'Đã tải lên', 'svc.kindResult': 'Kết quả (ký số)', 'svc.kindReceipt': 'Biên lai điện tử',
    'svc.actions': 'Xử lý hồ sơ', 'svc.download': 'Tải về',
    'svc.sign': 'Ký số kết quả giải quyết', 'svc.signHint': 'Ký bằng chứng thư số của chính ông/bà (số sê-ri và mật khẩu khóa).',
    'svc.signSerial': 'Số sê-ri chứng thư số', 'svc.signPass': 'Mật khẩu khóa', 'svc.signDecision': 'Nội dung quyết định (không bắt buộc)',
    'svc.signDo': 'Ký số', 'svc.signed': 'Đã ký số kết quả hồ sơ {code}.',
    'svc.pay': 'Thanh toán phí, lệ phí', 'svc.payHint': 'Quét mã VietQR bằng ứng dụng ngân hàng, hoặc chuyển khoản đúng số tiền và nội dung dưới đây.',
    'svc.payQr': 'Mã VietQR để thanh toán', 'svc.payAmount': 'Số tiền', 'svc.payBank': 'Ngân hàng',
    'svc.payAccount': 'Số tài khoản', 'svc.payHolder': 'Chủ tài khoản', 'svc.payContent': 'Nội dung chuyển khoản',
    'svc.payWaiting': 'Đang chờ xác nhận thanh toán từ ngân hàng…', 'svc.payPaid': 'Đã thanh toán lúc {at}. Cảm ơn ông/bà.',
    'svc.payReceipt': 'Tải biên lai điện tử (PDF)', 'svc.payRequest': 'Yêu cầu nộp phí', 'svc.payRequestAmount': 'Số tiền (đồng)',
    'svc.channel.online': 'Trực tuyến', 'svc.channel.counter': 'Trực tiếp tại quầy', 'svc.channel.post': 'Qua bưu chính',
    'svc.act.submit': 'Nộp hồ sơ', 'svc.act.sign_result': 'Ký số kết quả', 'svc.act.reschedule': 'Hẹn lại ngày trả kết quả',
  },
  en: {
    'nav.services': 'Public services',
    'svc.leadCitizen': 'Submit dossiers online, follow them, pay fees and receive the results.',
    'svc.leadOfficer': 'Receive, process and return the dossiers of your unit.',
    'svc.catalog': 'Administrative procedures',
    'svc.search': 'Search procedures (accents optional)', 'svc.none': 'No procedure found.',
    'svc.days': '{n} working days', 'svc.daysZero': 'Same day', 'svc.fee': 'Fee', 'svc.feeOnline': 'Online',
    'svc.feeUnknown': 'unknown', 'svc.free': 'free',
    'svc.docs': 'Documents', 'svc.stateHeld': 'held by the state, not needed again', 'svc.required': 'required',
    'svc.unit': 'Receiving unit code (e.g. 00004)', 'svc.submit': 'Submit dossier', 'svc.formTitle': 'Online form',
    'svc.submitted': 'Dossier {code} submitted. Result due: {due}',
    'svc.reuseTitle': 'Reuse documents you already have', 'svc.reuseHint': 'Documents the state issued to you; pick them instead of uploading again.',
    'svc.reuseItem': '{name} — dossier {dossier}, {at}',
    'svc.receipt': 'Receipt slip (PDF)', 'svc.result': 'Signed result (PDF)',
    'svc.slipSupplement': 'Supplement request (PDF)', 'svc.slipRefusal': 'Refusal notice (PDF)', 'svc.slipApology': 'Apology and new appointment (PDF)',
    'svc.mine': 'My dossiers', 'svc.myDocs': 'My documents', 'svc.myArea': 'My dossiers and documents', 'svc.inbox': 'Unit inbox', 'svc.unitCode': 'Unit code',
    'svc.load': 'Open', 'svc.timeline': 'Timeline', 'svc.status': 'Status {s}',
    'svc.overdue': 'Overdue', 'svc.lookup': 'Look up', 'svc.lookupTitle': 'Look up a dossier', 'svc.code': 'Dossier code',
    'svc.cccd4': 'Last 4 CCCD digits', 'svc.comment': 'Comment (optional)', 'svc.error': 'Error: {msg}',
    'svc.field': 'Field "{field}": {msg}', 'svc.due': 'Due: {due}', 'svc.empty': 'No dossiers.', 'svc.noDocs': 'No documents yet.',
    'svc.rate': 'Rate the handling', 'svc.rated': 'Thank you for your rating.', 'svc.send': 'Send',
    'svc.stepDue': 'Step due: {due}', 'svc.stepOverdue': 'Step overdue', 'svc.stepLate': 'step late',
    'svc.stepOnly': 'Only overdue steps', 'svc.sortDue': 'By dossier due date', 'svc.sortStep': 'By step due date',
    'svc.factStatus': 'Status', 'svc.factDue': 'Result due', 'svc.factStep': 'Current step due',
    'svc.factUnit': 'Received at', 'svc.factHolder': 'Handled at', 'svc.factApplicant': 'Applicant',
    'svc.factSubmitted': 'Submitted', 'svc.factChannel': 'Channel', 'svc.pausedNote': 'Clock paused',
    'svc.attachments': 'Attached documents', 'svc.originUpload': 'Uploaded', 'svc.originReuse': 'Reused from dossier {code}',
    'svc.originResult': 'Signed result of dossier {code}', 'svc.originReceipt': 'E-receipt of dossier {code}',
    'svc.kindUpload': 'Uploaded', 'svc.kindResult': 'Result (signed)', 'svc.kindReceipt': 'E-receipt',
    'svc.actions': 'Handle the dossier', 'svc.download': 'Download',
    'svc.sign': 'Sign the result', 'svc.signHint': 'Sign with your own certificate (serial number and key passphrase).',
    'svc.signSerial': 'Certificate serial number', 'svc.signPass': 'Key passphrase', 'svc.signDecision': 'Decision text (optional)',
    'svc.signDo': 'Sign', 'svc.signed': 'The result of dossier {code} is signed.',
    'svc.pay': 'Pay the fee', 'svc.payHint': 'Scan the VietQR code with your banking app, or transfer exactly the amount and content below.',
    'svc.payQr': 'VietQR payment code', 'svc.payAmount': 'Amount', 'svc.payBank': 'Bank',
    'svc.payAccount': 'Account number', 'svc.payHolder': 'Account holder', 'svc.payContent': 'Transfer content',
    'svc.payWaiting': 'Waiting for the bank to confirm the payment…', 'svc.payPaid': 'Paid at {at}. Thank you.',
    'svc.payReceipt': 'Download the e-receipt (PDF)', 'svc.payRequest': 'Request the fee', 'svc.payRequestAmount': 'Amount (VND)',
    'svc.channel.online': 'Online', 'svc.channel.counter': 'At the counter', 'svc.channel.post': 'By post',
    'svc.act.submit': 'Submitted', 'svc.act.sign_result': 'Result signed', 'svc.act.reschedule': 'New appointment',
  },
});

const STATUS_VI = ['', 'Mới', 'Đã tiếp nhận', 'Từ chối', 'Đang xử lý', 'Chờ bổ sung', 'Chờ nộp phí',
  'Đã rút', 'Dừng xử lý', 'Đã có kết quả', 'Đã trả kết quả'];
// Status groups for the badge colour: open, waiting for the citizen, done, closed without result.
const STATUS_TONE = ['', 'open', 'open', 'stop', 'open', 'wait', 'wait', 'stop', 'stop', 'done', 'done'];

// NAPAS bank identification numbers of the banks most used for public fees.
const BANKS = {
  970436: 'Vietcombank', 970415: 'VietinBank', 970418: 'BIDV', 970405: 'Agribank', 970422: 'MB',
  970407: 'Techcombank', 970416: 'ACB', 970432: 'VPBank', 970423: 'TPBank', 970403: 'Sacombank',
  970441: 'VIB', 970443: 'SHB', 970431: 'Eximbank', 970448: 'OCB', 970426: 'MSB',
};

// The screen's styles live in web/services.css, added once to the page.
function ensureStyles() {
  if (document.querySelector('link[data-svc-css]')) return;
  document.head.append(h('link', { rel: 'stylesheet', href: 'services.css', dataset: { svcCss: '1' } }));
}

function errText(e) {
  if (e instanceof ApiError && e.details && e.details.field) return t('svc.field', { field: e.details.field, msg: e.message });
  if (e instanceof ApiError && e.field) return t('svc.field', { field: e.field, msg: e.message });
  return t('svc.error', { msg: e.message || String(e) });
}

function money(v) {
  if (v === null || v === undefined) return t('svc.feeUnknown');
  return v === 0 ? t('svc.free') : `${v.toLocaleString('vi-VN')} đ`;
}

// An instant in Vietnam time, "dd/mm/yyyy hh:mm".
function when(iso) {
  if (!iso) return '';
  const d = new Date(Date.parse(iso) + 7 * 3600e3);
  const p2 = (n) => String(n).padStart(2, '0');
  return `${p2(d.getUTCDate())}/${p2(d.getUTCMonth() + 1)}/${d.getUTCFullYear()} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}`;
}

function size(n) {
  return n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1024))} KB`;
}

function badge(status) {
  return h('span', { class: `svc-badge svc-tone-${STATUS_TONE[status] || 'open'}` }, STATUS_VI[status] || String(status));
}

function card(cls, ...children) {
  return h('section', { class: `svc-card ${cls || ''}`.trim() }, ...children);
}

function facts(pairs) {
  return h('dl', { class: 'svc-facts' }, ...pairs.filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v, id]) => h('div', { class: 'svc-fact' }, h('dt', {}, t(k)), h('dd', { id }, v))));
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
  return h('label', { class: f.type === 'boolean' ? 'svc-field svc-check' : 'svc-field' },
    h('span', {}, f.label, f.required ? h('abbr', { title: t('svc.required') }, ' *') : ''), input);
}

function formData(form) {
  const out = {};
  for (const el of form.querySelectorAll('[name]')) {
    if (el.name === 'unit' || el.name === 'reuse') continue;
    const type = el.dataset.type;
    if (type === 'boolean') { if (el.checked) out[el.name] = true; continue; }
    if (el.value === '') continue;
    out[el.name] = type === 'number' ? Number(el.value) : el.value;
  }
  return out;
}

// Names of a workflow's actions and states (for the timeline), from its definition.
function wfNames(proc) {
  const wf = (proc && proc.workflow_definition) || {};
  const actions = {};
  const states = {};
  for (const a of wf.actions || []) actions[a.id] = a.name || a.id;
  for (const s of wf.states || []) states[s.id] = s.name || s.id;
  return { actions, states };
}

function timeline(items, names) {
  const an = (names && names.actions) || {};
  const sn = (names && names.states) || {};
  return h('ol', { class: 'svc-timeline' }, ...items.map((e) => {
    const label = an[e.action] || (has(`svc.act.${e.action}`) ? t(`svc.act.${e.action}`) : e.action);
    return h('li', { class: e.step_late ? 'svc-step-late' : undefined, dataset: { action: e.action } },
      h('div', { class: 'svc-tl-head' }, h('strong', {}, label), h('time', {}, when(e.at))),
      h('div', { class: 'svc-tl-move' }, e.from && e.from !== e.to ? `${sn[e.from] || e.from} → ${sn[e.to] || e.to}` : (sn[e.to] || e.to),
        e.actor ? ` · ${e.actor}` : ''),
      e.comment ? h('div', { class: 'svc-tl-comment' }, e.comment) : '',
      e.step_due_at ? h('div', { class: 'svc-step-due' }, t('svc.stepDue', { due: when(e.step_due_at) })
        + (e.step_late ? ` · ${t('svc.stepLate')}` : '')) : '');
  }));
}

function originText(origin) {
  const [kind, code] = String(origin || 'upload').split(':');
  if (kind === 'result') return t('svc.originResult', { code });
  if (kind === 'receipt') return t('svc.originReceipt', { code });
  if (kind === 'reuse') return t('svc.originReuse', { code });
  return t('svc.originUpload');
}

// The payment panel of one payment request: VietQR image, amount, receiving account,
// transfer content; follows the status (polling every 2 s) until the confirmation, then
// offers the e-receipt. Returns { el, stop }.
function paymentPanel(code, reference) {
  const status = h('p', { class: 'svc-pay-status', id: 'svc-pay-status', role: 'status' }, t('svc.payWaiting'));
  const info = h('div', { class: 'svc-pay-info' });
  const img = h('img', { class: 'svc-pay-qr', id: 'svc-pay-qr', alt: t('svc.payQr'), width: 220, height: 220 });
  const receipt = h('p', { class: 'svc-pay-receipt' });
  const el = card('svc-pay', h('h4', {}, t('svc.pay')), h('p', { class: 'hint' }, t('svc.payHint')),
    h('div', { class: 'svc-pay-body' }, img, info), status, receipt);
  el.id = 'svc-pay';
  let timer = null;
  let stopped = false;
  async function poll() {
    timer = null;
    try {
      const pay = await api(`/api/v1/dossiers/${encodeURIComponent(code)}/payments/${encodeURIComponent(reference)}`);
      if (stopped) return;
      if (!img.getAttribute('src')) {
        img.src = pay.qr;
        clear(info);
        info.append(facts([
          ['svc.payAmount', `${pay.amount.toLocaleString('vi-VN')} đ`, 'svc-pay-amount'],
          ['svc.payBank', `${BANKS[pay.bank_bin] || ''} (${pay.bank_bin})`.trim(), 'svc-pay-bank'],
          ['svc.payAccount', pay.account || '', 'svc-pay-account'],
          ['svc.payHolder', pay.account_name, 'svc-pay-holder'],
          ['svc.payContent', h('code', {}, pay.purpose || ''), 'svc-pay-content'],
        ]));
      }
      if (pay.status === 'paid') {
        status.textContent = t('svc.payPaid', { at: when(pay.paid_at) });
        el.classList.add('svc-paid');
        clear(receipt);
        receipt.append(h('a', { href: pay.receipt, download: `bien-lai-${code}.pdf`, id: 'svc-pay-receipt', class: 'btn' }, t('svc.payReceipt')));
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

function mountServices(root, ctx) {
  ensureStyles();
  const p = ctx.principal || {};
  const isCitizen = p.kind === 'citizen';
  const msg = h('p', { class: 'svc-msg', role: 'status' });
  const detail = h('section', { class: 'svc-detail', 'aria-live': 'polite' });
  const results = h('ul', { class: 'svc-results' });
  const search = h('input', { type: 'search', id: 'svc-search', i18nPlaceholder: 'svc.search', 'aria-label': t('svc.search') });
  let aborter = null;
  let payPanel = null;
  const stopPay = () => { if (payPanel) payPanel.stop(); payPanel = null; };
  const procCache = new Map();
  async function procedure(code) {
    if (!procCache.has(code)) procCache.set(code, api(`/api/v1/procedures/${encodeURIComponent(code)}`));
    try { return await procCache.get(code); } catch (e) { procCache.delete(code); throw e; }
  }
  function show(...children) {
    stopPay();
    clear(detail);
    detail.append(...children);
    if (window.matchMedia && window.matchMedia('(max-width: 760px)').matches && detail.firstChild) {
      detail.scrollIntoView({ block: 'start' });
    }
  }

  async function showDossier(code) {
    try {
      const d = await api(`/api/v1/dossiers/${encodeURIComponent(code)}`);
      const proc = await procedure(d.procedure);
      const names = wfNames(proc);
      const paused = d.clock_paused ? ` (${t('svc.pausedNote')})` : '';
      // the statutory papers that apply to this dossier, and the signed result
      const slip = (kind, key, id) => h('a', { href: `/api/v1/dossiers/${encodeURIComponent(d.code)}/slips/${kind}`, target: '_blank', id, class: 'btn btn-small' }, t(key));
      const tl = d.timeline || [];
      const links = h('p', { class: 'svc-links' }, slip('receipt', 'svc.receipt', 'svc-receipt'),
        tl.some((e) => e.action === 'request_supplement') ? slip('supplement', 'svc.slipSupplement', 'svc-slip-supplement') : '',
        d.status === 3 || d.status === 8 ? slip('refusal', 'svc.slipRefusal', 'svc-slip-refusal') : '',
        d.new_due_at ? slip('apology', 'svc.slipApology', 'svc-slip-apology') : '',
        (d.payments || []).some((x) => x.status === 'paid') ? slip('fee_receipt', 'svc.payReceipt', 'svc-slip-fee') : '',
        d.result ? h('a', { href: d.result.download, id: 'svc-result', class: 'btn btn-small', download: `ket-qua-${d.code}.pdf` }, t('svc.result')) : '');
      const summary = facts([
        ['svc.factStatus', `${STATUS_VI[d.status]}${paused}`],
        ['svc.factDue', when(d.due_at) + (d.overdue ? ` · ${t('svc.overdue')}` : '')],
        ['svc.factStep', d.step ? t('svc.stepDue', { due: when(d.step.due_at) }) + (d.step.overdue ? ` · ${t('svc.stepOverdue')}` : '') : null, 'svc-step'],
        ['svc.factSubmitted', when(d.submitted_at)],
        ['svc.factChannel', t(`svc.channel.${d.channel}`)],
        ['svc.factApplicant', isCitizen ? null : d.applicant && d.applicant.name],
        ['svc.factUnit', d.unit && d.unit.name],
        ['svc.factHolder', d.holder && d.holder.code !== (d.unit && d.unit.code) ? d.holder.name : null],
      ]);
      if (d.step && d.step.overdue) summary.querySelector('#svc-step').classList.add('svc-overdue');
      const parts = [card('svc-summary', h('div', { class: 'svc-detail-head' }, h('h3', {}, d.code), badge(d.status)),
        h('p', { class: 'svc-proc-name' }, `${proc.name} (${proc.code})`), summary, links)];
      // fee: the pending request (or the last one, once paid); officers can request one
      const pays = d.payments || [];
      const current = pays.filter((x) => x.status === 'pending').pop() || (d.status === 6 ? null : pays[pays.length - 1]);
      let pay = null;
      if (current) {
        pay = paymentPanel(d.code, current.reference);
        parts.push(pay.el);
      } else if (!isCitizen && d.status === 6) {
        const fee = proc.fee ? (d.channel === 'online' && proc.fee.online !== null ? proc.fee.online : proc.fee.counter) : null;
        const amount = h('input', { type: 'number', id: 'svc-pay-amount-input', min: 1, step: 1, required: true, value: fee || undefined });
        const req = h('form', { class: 'svc-card svc-pay-request', id: 'svc-pay-request' }, h('h4', {}, t('svc.pay')),
          h('label', { class: 'svc-field' }, h('span', {}, t('svc.payRequestAmount')), amount), h('button', { type: 'submit', class: 'btn' }, t('svc.payRequest')));
        req.addEventListener('submit', async (ev) => {
          ev.preventDefault();
          try {
            await api(`/api/v1/dossiers/${encodeURIComponent(d.code)}/payments`, { method: 'POST', body: { amount: Number(amount.value) } });
            showDossier(d.code);
          } catch (e) { msg.textContent = errText(e); }
        });
        parts.push(req);
      }
      if ((d.attachments || []).length) {
        parts.push(card('svc-attachments', h('h4', {}, t('svc.attachments')), h('ul', { class: 'svc-docs' },
          ...d.attachments.map((a) => h('li', { class: `svc-doc svc-origin-${String(a.origin || 'upload').split(':')[0]}` },
            h('a', { href: `/api/v1/dossiers/${encodeURIComponent(d.code)}/attachments/${a.sha256}`, download: a.name }, a.name),
            h('span', { class: 'hint svc-origin' }, `${originText(a.origin)} · ${size(a.size)}`))))));
      }
      const actions = (proc.workflow_definition.actions || []).filter((a) => a.from.includes(d.state)
        && a.roles.some((r) => (isCitizen ? r === 'applicant' : r !== 'applicant' && r !== 'payment')));
      if (actions.length) {
        const comment = h('input', { type: 'text', id: 'svc-comment', i18nPlaceholder: 'svc.comment', 'aria-label': t('svc.comment') });
        parts.push(card('svc-act', h('h4', {}, t('svc.actions')), comment, h('div', { class: 'svc-actions' }, ...actions.map((a) => h('button', {
          type: 'button', class: /reject|refuse|withdraw/.test(a.id) ? 'btn btn-quiet' : 'btn', dataset: { action: a.id },
          onclick: async (ev) => {
            ev.currentTarget.disabled = true;
            try {
              await api(`/api/v1/dossiers/${encodeURIComponent(d.code)}/actions`, { method: 'POST', body: { action: a.id, comment: comment.value || undefined } });
              msg.textContent = '';
              showDossier(d.code);
            } catch (e) { msg.textContent = errText(e); ev.currentTarget.disabled = false; }
          },
        }, a.name || a.id)))));
      }
      // an official who approved (leader) signs the result document while it is ready
      if (!isCitizen && d.status === 9 && !d.result && (tl.some((e) => e.to_status === 9))) {
        const serial = h('input', { type: 'text', id: 'svc-sign-serial', autocomplete: 'off', required: true });
        const pass = h('input', { type: 'password', id: 'svc-sign-pass', autocomplete: 'off', required: true });
        const decision = h('textarea', { id: 'svc-sign-decision', rows: 2 });
        const signForm = h('form', { class: 'svc-card svc-sign', id: 'svc-sign' }, h('h4', {}, t('svc.sign')), h('p', { class: 'hint' }, t('svc.signHint')),
          h('label', { class: 'svc-field' }, h('span', {}, t('svc.signSerial')), serial),
          h('label', { class: 'svc-field' }, h('span', {}, t('svc.signPass')), pass),
          h('label', { class: 'svc-field' }, h('span', {}, t('svc.signDecision')), decision),
          h('button', { type: 'submit', class: 'btn' }, t('svc.signDo')));
        signForm.addEventListener('submit', async (ev) => {
          ev.preventDefault();
          try {
            await api(`/api/v1/dossiers/${encodeURIComponent(d.code)}/result`, { method: 'POST', body: { certificate: serial.value.trim(), passphrase: pass.value, comment: decision.value || undefined } });
            msg.textContent = t('svc.signed', { code: d.code });
            showDossier(d.code);
          } catch (e) { msg.textContent = errText(e); }
        });
        parts.push(signForm);
      }
      if (isCitizen && (d.status === 9 || d.status === 10)) {
        const score = h('select', { id: 'svc-score', 'aria-label': t('svc.rate') }, ...[5, 4, 3, 2, 1].map((n) => h('option', { value: n }, '★'.repeat(n))));
        parts.push(card('svc-rate', h('h4', {}, t('svc.rate')), h('div', { class: 'svc-row' }, score, h('button', {
          type: 'button', id: 'svc-rate', class: 'btn',
          onclick: async () => {
            try {
              await api(`/api/v1/dossiers/${encodeURIComponent(d.code)}/rating`, { method: 'POST', body: { score: Number(score.value) } });
              msg.textContent = t('svc.rated');
            } catch (e) { msg.textContent = errText(e); }
          },
        }, t('svc.send')))));
      }
      parts.push(card('svc-tl', h('h4', { i18n: 'svc.timeline' }), timeline(d.timeline || [], names)));
      show(...parts);
      payPanel = pay;
    } catch (e) { msg.textContent = errText(e); }
  }

  async function showProcedure(code) {
    try {
      const pr = await procedure(code);
      const form = h('form', { class: 'svc-form', id: 'svc-form' },
        h('label', { class: 'svc-field' }, h('span', {}, t('svc.unit')), h('input', { name: 'unit', id: 'svc-unit', value: p.unit || '', inputmode: 'numeric' })),
        ...pr.form.fields.map(inputFor));
      // documents of the warehouse this procedure can take instead of an upload
      const reuse = h('fieldset', { class: 'svc-reuse', id: 'svc-reuse', hidden: true }, h('legend', {}, t('svc.reuseTitle')),
        h('p', { class: 'hint' }, t('svc.reuseHint')));
      form.append(reuse, h('button', { type: 'submit', class: 'btn btn-primary', i18n: 'svc.submit' }));
      if (isCitizen) {
        api(`/api/v1/me/documents${qs({ procedure: pr.code })}`).then((w) => {
          for (const o of w.offers || []) {
            if (!o.candidates.length) continue;
            reuse.hidden = false;
            reuse.append(h('p', { class: 'svc-reuse-doc' }, o.document), ...o.candidates.map((c, i) => h('label', { class: 'svc-check' },
              h('input', { type: 'checkbox', name: 'reuse', value: c.sha256, checked: i === 0, dataset: { file: c.name } }),
              h('span', {}, t('svc.reuseItem', { name: c.name, dossier: c.dossier, at: when(c.at) })))));
          }
        }).catch(() => {});
      }
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const picked = [...form.querySelectorAll('input[name="reuse"]:checked')];
        const attachments = picked.length ? picked.map((el) => ({ name: el.dataset.file, reuse: el.value })) : undefined;
        try {
          const d = await api('/api/v1/dossiers', { method: 'POST', body: { procedure: pr.code, unit: form.unit.value, form: formData(form), attachments } });
          msg.textContent = t('svc.submitted', { code: d.code, due: when(d.due_at) });
          showDossier(d.code);
        } catch (e) { msg.textContent = errText(e); }
      });
      const fee = pr.fee || {};
      show(card('svc-summary', h('div', { class: 'svc-detail-head' }, h('h3', {}, pr.name), h('span', { class: 'svc-code' }, pr.code)),
        h('ul', { class: 'svc-chips' }, h('li', {}, pr.field), h('li', {}, pr.days ? t('svc.days', { n: pr.days }) : t('svc.daysZero')),
          h('li', {}, `${t('svc.fee')}: ${money(fee.counter)}`), fee.online !== undefined && fee.online !== fee.counter ? h('li', {}, `${t('svc.feeOnline')}: ${money(fee.online)}`) : ''),
          h('p', { class: 'hint' }, pr.result)),
        card('svc-docs-card', h('h4', { i18n: 'svc.docs' }), h('ul', { class: 'svc-docs' }, ...pr.documents.map((doc) => h('li', { class: 'svc-doc' },
          h('span', {}, doc.name), doc.state_held ? h('span', { class: 'svc-tag svc-tag-held' }, t('svc.stateHeld')) : '',
          doc.required && !doc.state_held ? h('span', { class: 'svc-tag' }, t('svc.required')) : '')))),
        isCitizen ? card('svc-form-card', h('h4', {}, t('svc.formTitle')), form) : '');
    } catch (e) { msg.textContent = errText(e); }
  }

  const runSearch = debounce(async () => {
    if (aborter) aborter.abort();
    aborter = new AbortController();
    try {
      const r = await api(`/api/v1/procedures${qs({ q: search.value.trim() || undefined, limit: 50 })}`, { signal: aborter.signal });
      clear(results);
      if (!r.items.length) results.append(h('li', { class: 'hint', i18n: 'svc.none' }));
      for (const it of r.items) {
        results.append(h('li', {}, h('button', { type: 'button', class: 'svc-item', dataset: { code: it.code }, onclick: () => showProcedure(it.code) },
          h('span', { class: 'svc-item-title' }, it.name), h('span', { class: 'svc-item-meta' }, `${it.code} · ${it.field}`))));
      }
    } catch (e) { if (e.name !== 'AbortError') msg.textContent = errText(e); }
  }, 200);
  search.addEventListener('input', runSearch);

  const list = h('ul', { class: 'svc-list' });
  async function loadList(path) {
    clear(list);
    try {
      const r = await api(path);
      if (!r.items.length) list.append(h('li', { class: 'hint', i18n: 'svc.empty' }));
      for (const d of r.items) {
        const late = d.overdue || (d.step && d.step.overdue);
        list.append(h('li', { class: late ? 'svc-overdue' : undefined }, h('button', { type: 'button', class: 'svc-item', dataset: { code: d.code }, onclick: () => showDossier(d.code) },
          h('span', { class: 'svc-item-title' }, d.code, ' ', badge(d.status)),
          h('span', { class: 'svc-item-meta' }, [d.procedure, d.applicant_name, t('svc.due', { due: when(d.due_at) }),
            d.overdue ? t('svc.overdue') : '', d.step && d.step.overdue ? t('svc.stepOverdue') : ''].filter(Boolean).join(' · ')))));
      }
    } catch (e) { msg.textContent = errText(e); }
  }
  async function loadDocs() {
    clear(list);
    try {
      const r = await api('/api/v1/me/documents');
      if (!r.items.length) list.append(h('li', { class: 'hint', i18n: 'svc.noDocs' }));
      const kinds = { upload: 'svc.kindUpload', result: 'svc.kindResult', receipt: 'svc.kindReceipt' };
      for (const doc of r.items) {
        list.append(h('li', { class: `svc-doc svc-origin-${doc.kind}` }, h('a', { href: doc.download, download: doc.name, class: 'svc-item' },
          h('span', { class: 'svc-item-title' }, doc.name),
          h('span', { class: 'svc-item-meta' }, `${t(kinds[doc.kind] || 'svc.kindUpload')} · ${doc.dossier} · ${when(doc.at)} · ${size(doc.size)}`))));
      }
    } catch (e) { msg.textContent = errText(e); }
  }
  const unitBox = h('input', { type: 'text', id: 'svc-inbox-unit', value: p.unit || '', size: 8, inputmode: 'numeric', 'aria-label': t('svc.unitCode') });
  const stepOnly = h('input', { type: 'checkbox', id: 'svc-step-only' });
  const sortBox = h('select', { id: 'svc-sort', 'aria-label': t('svc.sortDue') }, h('option', { value: 'due' }, t('svc.sortDue')), h('option', { value: 'step' }, t('svc.sortStep')));
  const loadInbox = () => loadList(`/api/v1/dossiers${qs({ unit: unitBox.value, step_overdue: stepOnly.checked ? 'true' : undefined, sort: sortBox.value })}`);
  stepOnly.addEventListener('change', loadInbox);
  sortBox.addEventListener('change', loadInbox);
  const listBar = isCitizen
    ? h('div', { class: 'svc-row svc-tabs' },
      h('button', { type: 'button', class: 'btn btn-small', id: 'svc-mine', onclick: () => loadList('/api/v1/dossiers/mine') }, t('svc.mine')),
      h('button', { type: 'button', class: 'btn btn-small', id: 'svc-docs', onclick: loadDocs }, t('svc.myDocs')))
    : h('div', { class: 'svc-inbox-bar' },
      h('div', { class: 'svc-row' }, unitBox, h('button', { type: 'button', class: 'btn btn-small', id: 'svc-inbox', onclick: loadInbox }, t('svc.inbox'))),
      h('div', { class: 'svc-row' }, h('label', { class: 'svc-check' }, stepOnly, h('span', {}, t('svc.stepOnly'))), sortBox));

  const lcode = h('input', { type: 'text', id: 'svc-lookup-code', i18nPlaceholder: 'svc.code', 'aria-label': t('svc.code') });
  const l4 = h('input', { type: 'text', id: 'svc-lookup-4', inputmode: 'numeric', maxlength: 4, size: 5, i18nPlaceholder: 'svc.cccd4', 'aria-label': t('svc.cccd4') });
  const lookup = h('form', { class: 'svc-lookup' }, h('h3', {}, t('svc.lookupTitle')), h('div', { class: 'svc-row' }, lcode, l4), h('button', { type: 'submit', class: 'btn btn-small', i18n: 'svc.lookup' }));
  lookup.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const d = await api(`/api/v1/lookup/dossiers/${encodeURIComponent(lcode.value.trim())}${qs({ cccd4: l4.value.trim() })}`);
      const names = wfNames(await procedure(d.procedure).catch(() => null));
      show(card('svc-summary svc-lookup-result', h('div', { class: 'svc-detail-head' }, h('h3', {}, d.code), badge(d.status)),
        facts([['svc.factDue', when(d.due_at)], ['svc.factStep', d.step ? when(d.step.due_at) : null], ['svc.factHolder', d.holder && d.holder.name]])),
        card('svc-tl', h('h4', { i18n: 'svc.timeline' }), timeline(d.timeline || [], names)));
    } catch (e) { msg.textContent = errText(e); }
  });

  root.append(h('div', { class: 'svc' },
    h('header', { class: 'svc-head' }, h('h2', { i18n: 'nav.services' }), h('p', { class: 'hint' }, t(isCitizen ? 'svc.leadCitizen' : 'svc.leadOfficer'))),
    msg,
    h('div', { class: 'svc-grid' },
      h('div', { class: 'svc-side' },
        card('svc-catalog', h('h3', {}, t('svc.catalog')), search, results),
        card('svc-mylist', h('h3', {}, isCitizen ? t('svc.myArea') : t('svc.inbox')), listBar, list),
        card('svc-lookup-card', lookup)),
      detail)));
  runSearch();
  return { unmount() { if (aborter) aborter.abort(); runSearch.cancel(); stopPay(); }, focus() { search.focus(); } };
}

export const servicesView = {
  id: 'services',
  titleKey: 'nav.services',
  mount: mountServices,
};
