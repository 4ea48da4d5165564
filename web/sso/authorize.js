// Sign-in and consent for the cityos OpenID provider (no inline script: CSP).
const SCOPES = {
  openid: 'Danh tính của bạn trong cityos (Your cityos identity)',
  profile: 'Họ tên và tên đăng nhập (Name and user name)',
  cccd: 'Số CCCD, ngày sinh, giới tính (Citizen ID, birth date, sex)',
  unit: 'Đơn vị công tác (Your unit, for officials)',
  roles: 'Vai trò của cán bộ (Official roles)',
  offline_access: 'Duy trì truy cập khi bạn không trực tuyến (Access while you are away)',
};
const $ = (id) => document.getElementById(id);
const request = new URLSearchParams(location.search).get('request') || '';

function status(text) { $('oidc-status').textContent = text; }
function show(id) { for (const f of ['oidc-login', 'oidc-enrol', 'oidc-totp', 'oidc-consent']) $(f).hidden = f !== id; }

async function call(method, path, body) {
  const r = await fetch(path, {
    method, credentials: 'same-origin',
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  let data = null;
  try { data = await r.json(); } catch { data = null; }
  return { status: r.status, data };
}

async function load() {
  const r = await call('GET', `/api/v1/oidc/requests/${encodeURIComponent(request)}`);
  if (r.status !== 200) {
    status('Yêu cầu đăng nhập không tồn tại hoặc đã hết hạn. (This sign-in request is unknown or has expired.)');
    show(null);
    return;
  }
  const req = r.data;
  if (!req.signed_in) {
    const t = await call('GET', '/api/v1/me/totp');
    if (t.status === 200 && t.data.required && !t.data.verified) {
      if (!t.data.enrolled) { await startEnrolment(); return; }
      status('Cần xác thực hai lớp. (Two-factor verification required.)');
      show('oidc-totp');
      return;
    }
    status(req.fresh_sign_in
      ? `${req.client_name} yêu cầu đăng nhập lại. (${req.client_name} asks you to sign in again.)`
      : `Đăng nhập để tiếp tục tới ${req.client_name}. (Sign in to continue.)`);
    show('oidc-login');
    return;
  }
  if (req.first_party && !req.ask_consent) {
    // cityos' own screens: signing in is the consent (single sign-on across them)
    status(`Đang chuyển tới ${req.client_name}… (Continuing.)`);
    await decide(true);
    return;
  }
  $('oidc-client').textContent = req.client_name;
  $('oidc-user').textContent = req.user || '';
  const ul = $('oidc-scopes');
  ul.replaceChildren(...req.scopes.map((s) => {
    const li = document.createElement('li');
    li.textContent = SCOPES[s] || s;
    return li;
  }));
  status('Xác nhận chia sẻ thông tin. (Confirm what is shared.)');
  show('oidc-consent');
}

let recoveryShown = false;

async function startEnrolment() {
  const e = await call('POST', '/api/v1/me/totp/enrol');
  if (e.status !== 201) { status('Không bắt đầu được. (Could not start the enrolment.)'); return; }
  $('oidc-qr').src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(e.data.qr_svg)}`;
  $('oidc-secret').textContent = e.data.secret;
  status('Bật xác thực hai lớp. (Turn on two-factor sign-in.)');
  show('oidc-enrol');
}

async function decide(approve) {
  const r = await call('POST', `/api/v1/oidc/requests/${encodeURIComponent(request)}/decision`, { approve });
  if (r.status === 200) { location.assign(r.data.redirect_to); return; }
  if (r.status === 401 && r.data && r.data.error && r.data.error.second_factor) { show('oidc-totp'); return; }
  if (r.status === 401 && r.data && r.data.error && r.data.error.fresh_sign_in) { show('oidc-login'); }
  status((r.data && r.data.error && r.data.error.message) || 'Lỗi (Error)');
}

$('oidc-login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const r = await call('POST', '/api/v1/auth/login', { username: f.get('username'), password: f.get('password') });
  if (r.status !== 200) {
    status(r.status === 401 ? 'Sai tên đăng nhập hoặc mật khẩu. (Wrong user name or password.)'
      : (r.data && r.data.error && r.data.error.message) || 'Lỗi (Error)');
    return;
  }
  await load();
});

$('oidc-enrol').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (recoveryShown) { await load(); return; }
  const code = String(new FormData(ev.target).get('code') || '').trim();
  const r = await call('POST', '/api/v1/me/totp/confirm', { code });
  if (r.status !== 200) { status('Mã không đúng. (Wrong code.)'); return; }
  const ul = $('oidc-recovery');
  ul.replaceChildren(...r.data.recovery_codes.map((c) => {
    const li = document.createElement('li');
    li.textContent = c;
    return li;
  }));
  ul.hidden = false;
  recoveryShown = true;
  status('Lưu các mã khôi phục này ở nơi an toàn, rồi bấm Tiếp tục. (Keep these recovery codes safe, then continue.)');
  const input = ev.target.querySelector('input[name=code]');
  input.required = false;
  input.disabled = true;
  ev.target.querySelector('button').textContent = 'Tiếp tục (Continue)';
});

$('oidc-totp').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const code = String(new FormData(ev.target).get('code') || '').trim();
  const body = /^\d{6}$/.test(code) ? { code } : { recovery_code: code };
  const r = await call('POST', '/api/v1/me/totp/verify', body);
  if (r.status !== 200) {
    status(r.status === 429 ? 'Thử quá nhiều lần, vui lòng đợi. (Too many attempts; wait.)' : 'Mã không đúng. (Wrong code.)');
    return;
  }
  await load();
});

$('oidc-approve').addEventListener('click', () => decide(true));
$('oidc-deny').addEventListener('click', () => decide(false));
load();
