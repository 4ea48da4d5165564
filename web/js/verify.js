// verify.html: drop a PDF, POST it to /api/v1/signatures/verify, explain each signature.
// Standalone public page (no sign-in); Vietnamese first, English second; no innerHTML.

const TEXT = {
  vi: {
    title: 'Kiểm tra chữ ký số',
    heading: 'Kiểm tra văn bản PDF có chữ ký số',
    intro: 'Thả tệp PDF vào đây (hoặc chọn tệp) để xem ai đã ký, khi nào, và văn bản có bị sửa sau khi ký hay không. Tệp chỉ được gửi tới máy chủ này để kiểm tra, không được lưu lại.',
    drop: 'Thả tệp PDF vào đây hoặc bấm để chọn tệp',
    ca: 'Tải chứng thư gốc của thành phố (để cài vào trình đọc PDF)',
    crl: 'Danh sách chứng thư bị thu hồi (CRL)',
    checking: 'Đang kiểm tra {name}…',
    none: 'Tệp {name} không có chữ ký số.',
    count: '{name}: {n} chữ ký, {r} phiên bản.',
    tooBig: 'Tệp lớn hơn 20 MB.',
    notPdf: 'Hãy chọn một tệp PDF.',
    failed: 'Không kiểm tra được: {msg}',
    sig: 'Chữ ký {i}',
    signer: 'Người ký', titleF: 'Chức vụ', unit: 'Đơn vị', org: 'Tổ chức', time: 'Thời điểm ký',
    intact: 'Nội dung nguyên vẹn', whole: 'Bao trùm toàn bộ tài liệu', chain: 'Chứng thư tin cậy',
    revoked: 'Chứng thư bị thu hồi', later: 'Phần bổ sung sau khi ký', issuer: 'Cơ quan cấp', serial: 'Số hiệu chứng thư',
    yes: 'Có', no: 'Không', onlySig: '{n} lần (chỉ thêm chữ ký/biểu mẫu)', otherChanges: '{n} lần (có thay đổi nội dung khác!)',
  },
  en: {
    title: 'Check a digital signature',
    heading: 'Check a digitally signed PDF',
    intro: 'Drop a PDF here (or choose a file) to see who signed it, when, and whether it was changed after signing. The file is only sent to this server for checking and is not stored.',
    drop: 'Drop a PDF here or click to choose a file',
    ca: "Download the city's root certificate (to install in your PDF reader)",
    crl: 'Certificate revocation list (CRL)',
    checking: 'Checking {name}…',
    none: '{name} has no digital signatures.',
    count: '{name}: {n} signature(s), {r} revision(s).',
    tooBig: 'The file is larger than 20 MB.',
    notPdf: 'Please choose a PDF file.',
    failed: 'Could not check: {msg}',
    sig: 'Signature {i}',
    signer: 'Signer', titleF: 'Title', unit: 'Unit', org: 'Organization', time: 'Signed at',
    intact: 'Content intact', whole: 'Covers the whole document', chain: 'Trusted certificate',
    revoked: 'Certificate revoked', later: 'Changes after signing', issuer: 'Issued by', serial: 'Certificate serial',
    yes: 'Yes', no: 'No', onlySig: '{n} (signatures/form fields only)', otherChanges: '{n} (other content changed!)',
  },
};

let lang = localStorage.getItem('cityos.lang') === 'en' ? 'en' : 'vi';
let last = null;   // {name, result}

function t(key, args = {}) {
  return (TEXT[lang][key] || key).replace(/\{(\w+)\}/g, (_, k) => String(args[k] ?? ''));
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function applyLang() {
  document.documentElement.lang = lang;
  document.querySelectorAll('[data-t]').forEach((n) => { n.textContent = t(n.dataset.t); });
  document.querySelectorAll('[data-lang]').forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.lang === lang)));
  document.title = t('title') + ' — cityos Hà Nội';
  if (last) render(last.name, last.result);
}

function status(msg) {
  const s = document.getElementById('status');
  s.textContent = msg || '';
  s.hidden = !msg;
}

function error(msg) {
  const e = document.getElementById('error');
  e.textContent = msg || '';
  e.hidden = !msg;
}

function yesNo(v, good) {
  const ok = good ? v : !v;
  return el('span', ok ? 'yes' : 'no', v ? t('yes') : t('no'));
}

function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(lang === 'vi' ? 'vi-VN' : 'en-GB', { timeZone: 'Asia/Ho_Chi_Minh', dateStyle: 'medium', timeStyle: 'medium' }) + ' (GMT+7)';
}

function card(s) {
  const c = el('article', 'panel sig-card ' + (s.valid ? 'ok' : s.intact && !s.revoked ? 'warn' : 'bad'));
  c.dataset.testid = 'sig-card';
  c.append(el('h2', null, t('sig', { i: s.index }) + (s.field ? ' — ' + s.field : '')));
  c.append(el('p', 'sig-summary', lang === 'vi' ? s.summary_vi : s.summary_en));
  const dl = el('dl', 'sig-facts');
  const g = s.signer || {};
  const row = (k, v) => { dl.append(el('dt', null, t(k))); const dd = el('dd'); dd.append(v instanceof Node ? v : document.createTextNode(v ?? '—')); dl.append(dd); };
  row('signer', g.name); row('titleF', g.title); row('unit', g.unit); row('org', g.organization);
  row('time', fmtTime(s.time));
  row('intact', yesNo(!!s.intact, true));
  row('whole', yesNo(!!s.covers_whole_document, true));
  row('chain', yesNo(!!s.chain_trusted, true));
  row('revoked', yesNo(!!s.revoked, false));
  const n = (s.later_revisions || []).length;
  if (n) row('later', el('span', s.later_changes_only_signatures ? null : 'no', t(s.later_changes_only_signatures ? 'onlySig' : 'otherChanges', { n })));
  row('issuer', g.issuer); row('serial', g.serial);
  c.append(dl);
  return c;
}

function render(name, result) {
  const root = document.getElementById('results');
  root.replaceChildren();
  const sigs = result.signatures || [];
  status(sigs.length ? t('count', { name, n: sigs.length, r: result.revisions }) : t('none', { name }));
  sigs.forEach((s) => root.append(card(s)));
}

function toBase64(buf) {
  const bytes = new Uint8Array(buf);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

async function check(file) {
  error('');
  document.getElementById('results').replaceChildren();
  last = null;
  if (!file) return;
  if (file.size > 20 * 1024 * 1024) { error(t('tooBig')); return; }
  status(t('checking', { name: file.name }));
  try {
    const buf = await file.arrayBuffer();
    const head = new Uint8Array(buf.slice(0, 5));
    if (String.fromCharCode(...head) !== '%PDF-') { status(''); error(t('notPdf')); return; }
    const r = await fetch('api/v1/signatures/verify', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ pdf_base64: toBase64(buf) }),
    });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) { status(''); error(t('failed', { msg: body.error?.message || r.status })); return; }
    last = { name: file.name, result: body };
    render(file.name, body);
  } catch (e) {
    status('');
    error(t('failed', { msg: e.message }));
  }
}

document.addEventListener('DOMContentLoaded', () => {
  const drop = document.getElementById('drop');
  const input = document.getElementById('verify-file');
  input.addEventListener('change', () => check(input.files[0]));
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); check(e.dataTransfer.files[0]); });
  document.querySelectorAll('[data-lang]').forEach((b) => b.addEventListener('click', () => {
    lang = b.dataset.lang;
    localStorage.setItem('cityos.lang', lang);
    applyLang();
  }));
  applyLang();
});
