// Shared by the sign-up and password-reset pages (no inline script: CSP). Vietnamese
// first, English second, like the provider's sign-in page.

export const $ = (id) => document.getElementById(id);

/** A JSON POST: { status, data, retryAfter }. */
export async function post(path, body) {
  let r;
  try {
    r = await fetch(path, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
  } catch {
    return { status: 0, data: null, retryAfter: null };
  }
  let data = null;
  try { data = await r.json(); } catch { data = null; }
  return { status: r.status, data, retryAfter: r.headers.get('Retry-After') };
}

// The API's English messages, in Vietnamese (the English one is shown beside it).
const PASSWORD_VI = [
  [/at least 10 characters/, 'Mật khẩu phải có ít nhất 10 ký tự.'],
  [/too long/, 'Mật khẩu quá dài (tối đa 1024 byte).'],
  [/UTF-8/, 'Mật khẩu chứa ký tự không hợp lệ.'],
  [/only digits/, 'Mật khẩu không được chỉ gồm chữ số.'],
  [/user name/, 'Mật khẩu không được trùng với tên đăng nhập (số CCCD).'],
];
const FIELD_VI = {
  cccd: 'Số CCCD phải gồm 12 chữ số hợp lệ.',
  birth_date: 'Ngày sinh không hợp lệ.',
  channel: 'Hãy chọn nhận mã qua tin nhắn SMS hoặc e-mail.',
  username: 'Hãy nhập tên đăng nhập (số CCCD).',
};

/** Vietnamese text for an API error on `field`. */
export function viMessage(field, message, channel) {
  if (field === 'destination') {
    return channel === 'email' ? 'Địa chỉ e-mail không hợp lệ.'
      : 'Số điện thoại không hợp lệ (ví dụ 0912345678 hoặc +84912345678).';
  }
  if (field === 'code') {
    return /6 digits/.test(message) ? 'Mã xác nhận gồm 6 chữ số.'
      : 'Mã xác nhận sai, đã dùng hoặc đã hết hạn. Hãy yêu cầu mã mới.';
  }
  if (field === 'password' || field === 'new_password') {
    for (const [re, vi] of PASSWORD_VI) if (re.test(message)) return vi;
    return 'Mật khẩu không đạt yêu cầu.';
  }
  return FIELD_VI[field] || 'Thông tin không hợp lệ.';
}

/** Clears the field errors and the status of a form. */
export function clearErrors(form) {
  for (const el of form.querySelectorAll('.field-error')) { el.textContent = ''; el.hidden = true; }
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

/** Shows `vi` (and `en`) under the input named `name` of form; focuses it. */
export function fieldError(form, name, vi, en) {
  const input = form.elements[name];
  const box = form.querySelector(`.field-error[data-for="${name}"]`);
  if (box) {
    box.replaceChildren(document.createTextNode(vi));
    if (en) {
      const s = document.createElement('span');
      s.lang = 'en';
      s.className = 'en';
      s.textContent = en;
      box.append(s);
    }
    box.hidden = false;
  }
  if (input && input.setAttribute) {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
}

/** Status line: Vietnamese, then English. */
export function status(vi, en, kind = '') {
  const el = $('su-status');
  el.className = `su-status ${kind}`;
  el.replaceChildren();
  if (!vi) return;
  el.append(document.createTextNode(vi));
  if (en) {
    const s = document.createElement('span');
    s.lang = 'en';
    s.className = 'en';
    s.textContent = en;
    el.append(s);
  }
}

/** Answers an error reply: a field error when the API names a field, else the status. */
export function showError(form, r, channel) {
  const err = (r.data && r.data.error) || {};
  if (r.status === 422 && err.field && form.elements[err.field]) {
    fieldError(form, err.field, viMessage(err.field, err.message || '', channel), err.message);
    status('Vui lòng sửa thông tin được đánh dấu.', 'Please correct the marked field.', 'error');
    return;
  }
  if (r.status === 429) {
    const min = Math.max(1, Math.ceil(Number(r.retryAfter || 60) / 60));
    status(`Bạn đã yêu cầu quá nhiều lần. Vui lòng thử lại sau khoảng ${min} phút.`,
      `Too many requests; try again in about ${min} min.`, 'error');
    return;
  }
  if (r.status === 0) {
    status('Không kết nối được máy chủ. Vui lòng thử lại.', 'Cannot reach the server; try again.', 'error');
    return;
  }
  status('Đã có lỗi, vui lòng thử lại sau.', err.message || `Error ${r.status}`, 'error');
}

/** Where "sign in" leads: back to the provider's sign-in request the person came from
 * (?request= or the referring authorize page), else the cityos home page. */
export function signInHref() {
  let req = new URLSearchParams(location.search).get('request');
  if (!req && document.referrer) {
    try {
      const u = new URL(document.referrer);
      if (u.origin === location.origin && u.pathname === '/sso/authorize.html') req = u.searchParams.get('request');
    } catch { req = null; }
  }
  return req ? `/sso/authorize.html?request=${encodeURIComponent(req)}` : '/';
}

/** Keeps ?request= on links between the sign-up, reset and sign-in pages. */
export function carryRequest() {
  const href = signInHref();
  const q = href.startsWith('/sso/authorize.html') ? href.slice(href.indexOf('?')) : '';
  for (const a of document.querySelectorAll('a[data-signin]')) a.href = href;
  for (const a of document.querySelectorAll('a[data-carry]')) a.href = a.getAttribute('href').split('?')[0] + q;
}

/** The finish step's own checks (a 6-digit code, the password typed twice alike); shows the
 * first problem under its field and answers false. */
export function finishChecksPass(form, passwordField) {
  const f = form.elements;
  if (!/^\d{6}$/.test(f.code.value.trim())) {
    fieldError(form, 'code', 'Mã xác nhận gồm 6 chữ số.', 'The code has 6 digits.');
    return false;
  }
  if (f[passwordField].value !== f.password2.value) {
    fieldError(form, 'password2', 'Hai mật khẩu không giống nhau.', 'The passwords differ.');
    return false;
  }
  return true;
}

/** Runs fn with the form's submit button disabled; answers what fn answers. */
export async function whileBusy(form, fn) {
  const btn = form.querySelector('button[type=submit]');
  btn.disabled = true;
  try { return await fn(); } finally { btn.disabled = false; }
}
