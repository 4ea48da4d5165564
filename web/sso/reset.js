// Password reset: the user name, then the code sent to the contact given at sign-up
// and a new password (POST /api/v1/password-reset/start, /finish).
import {
  $, post, clearErrors, fieldError, status, showError, carryRequest, finishChecksPass, whileBusy,
} from '/sso/signup-common.js';

const start = $('rs-start');
const finish = $('rs-finish');
let username = '';

async function sendCode() {
  const r = await post('/api/v1/password-reset/start', { username });
  if (r.status === 202) {
    status('Đã gửi yêu cầu. Hãy nhập mã xác nhận.', 'Request sent; enter the code.', 'ok');
    start.hidden = true;
    finish.hidden = false;
    finish.elements.code.focus();
    return;
  }
  start.hidden = false;
  finish.hidden = true;
  showError(start, r);
}

start.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearErrors(start);
  username = start.elements.username.value.trim();
  if (!username) { fieldError(start, 'username', 'Hãy nhập tên đăng nhập (số CCCD).', 'Enter your user name.'); return; }
  await whileBusy(start, sendCode);
});

finish.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearErrors(finish);
  const f = finish.elements;
  if (!finishChecksPass(finish, 'new_password')) return;
  const code = f.code.value.trim();
  const r = await whileBusy(finish, () => post('/api/v1/password-reset/finish', { username, code, new_password: f.new_password.value }));
  if (r.status === 200) {
    finish.hidden = true;
    $('rs-done').hidden = false;
    status('Đã đặt mật khẩu mới. Hãy đăng nhập bằng mật khẩu mới.', 'The password is changed; sign in with it.', 'ok');
    return;
  }
  showError(finish, r);
});

$('rs-resend').addEventListener('click', async (ev) => {
  ev.preventDefault();
  clearErrors(finish);
  if (username) await sendCode();
});

const preset = new URLSearchParams(location.search).get('username');
if (preset) start.elements.username.value = preset;
carryRequest();
