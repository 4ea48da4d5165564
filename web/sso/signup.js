// Citizen sign-up: CCCD + birth date + where to send the code, then the code and a
// password (POST /api/v1/signup/start, /finish). See src/signup/signup.h.
import {
  $, post, clearErrors, fieldError, status, showError, carryRequest, finishChecksPass, whileBusy,
} from '/sso/signup-common.js';

const start = $('su-start');
const finish = $('su-finish');
let sent = null;   // the start request that was accepted

function channel() { return start.elements.channel.value; }

function destLabel() {
  const sms = channel() === 'sms';
  $('su-dest-label').textContent = sms ? 'Số điện thoại di động' : 'Địa chỉ e-mail';
  $('su-dest-en').textContent = sms ? 'Mobile number' : 'E-mail address';
  const d = start.elements.destination;
  d.type = sms ? 'tel' : 'email';
  d.inputMode = sms ? 'tel' : 'email';
  d.autocomplete = sms ? 'tel' : 'email';
}

function localCheck() {
  const f = start.elements;
  const cccd = f.cccd.value.trim();
  if (!/^\d{12}$/.test(cccd)) return ['cccd', 'Số CCCD phải gồm đúng 12 chữ số.', 'The citizen ID has 12 digits.'];
  if (!f.birth_date.value) return ['birth_date', 'Hãy nhập ngày sinh.', 'Enter your date of birth.'];
  if (!f.destination.value.trim()) {
    return channel() === 'sms' ? ['destination', 'Hãy nhập số điện thoại.', 'Enter your mobile number.']
      : ['destination', 'Hãy nhập địa chỉ e-mail.', 'Enter your e-mail address.'];
  }
  return null;
}

async function sendCode() {
  const r = await post('/api/v1/signup/start', sent);
  if (r.status === 202) {
    const where = sent.channel === 'sms' ? `số điện thoại ${sent.destination}` : `địa chỉ ${sent.destination}`;
    $('su-sent-to').textContent = `Nếu số CCCD và ngày sinh khớp với Cơ sở dữ liệu dân cư và chưa có tài khoản, mã xác nhận `
      + `đã được gửi tới ${where}. Mã có hiệu lực trong 10 phút.`;
    const en = document.createElement('span');
    en.lang = 'en';
    en.className = 'en';
    en.textContent = 'If the ID and birth date match the register and there is no account yet, a code valid for 10 minutes was sent.';
    $('su-sent-to').append(en);
    status('Đã gửi yêu cầu. Hãy nhập mã xác nhận.', 'Request sent; enter the code.', 'ok');
    start.hidden = true;
    finish.hidden = false;
    finish.elements.code.focus();
    return true;
  }
  start.hidden = false;
  finish.hidden = true;
  showError(start, r, sent.channel);
  return false;
}

start.addEventListener('change', (ev) => { if (ev.target.name === 'channel') destLabel(); });

start.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearErrors(start);
  const bad = localCheck();
  if (bad) { fieldError(start, ...bad); status('Vui lòng sửa thông tin được đánh dấu.', 'Please correct the marked field.', 'error'); return; }
  const f = start.elements;
  const dest = f.destination.value.trim();
  sent = { cccd: f.cccd.value.trim(), birth_date: f.birth_date.value, channel: channel(),
    destination: channel() === 'sms' ? dest.replace(/[\s.-]/g, '') : dest };
  await whileBusy(start, sendCode);
});

finish.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearErrors(finish);
  const f = finish.elements;
  if (!finishChecksPass(finish, 'password')) return;
  const code = f.code.value.trim();
  const r = await whileBusy(finish, () => post('/api/v1/signup/finish', { cccd: sent.cccd, code, password: f.password.value }));
  if (r.status === 201) {
    finish.hidden = true;
    $('su-username').textContent = r.data.username;
    $('su-done').hidden = false;
    status(`Đã tạo tài khoản cho ${r.data.full_name}.`, 'Your account is ready.', 'ok');
    return;
  }
  if (r.status === 409) {
    status('Số CCCD này đã có tài khoản. Hãy đăng nhập hoặc đặt lại mật khẩu.',
      'This citizen ID already has an account: sign in or reset the password.', 'error');
    return;
  }
  showError(finish, r, sent.channel);
});

$('su-resend').addEventListener('click', async (ev) => {
  ev.preventDefault();
  clearErrors(finish);
  if (sent) await sendCode();
});

$('su-back').addEventListener('click', (ev) => {
  ev.preventDefault();
  clearErrors(finish);
  finish.hidden = true;
  start.hidden = false;
  status('', '');
  start.elements.cccd.focus();
});

carryRequest();
destLabel();
