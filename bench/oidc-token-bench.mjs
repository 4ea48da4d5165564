// Token endpoint exchanges per second (refresh_token grant with rotation), N chains in
// parallel, against a running cityos: CITYOS_URL, CITYOS_ADMIN_USER, CITYOS_ADMIN_PASSWORD.
//   node bench/oidc-token-bench.mjs [SECONDS] [CHAINS]
// Each chain signs a citizen in once through the code flow (PKCE), then refreshes in a
// loop for SECONDS (every answer rotates the refresh token and signs a new RS256 ID token).
// Then, in the same go, the same refresh loop runs against the npm package `oidc-provider`
// (bench/oidc-provider-baseline.mjs, started as a child process) and both rates and their
// ratio are printed. BASELINE=0 skips the baseline.
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import readline from 'node:readline';

const BASE = process.env.CITYOS_URL;
const SECONDS = Number(process.argv[2] || 5);
const CHAINS = Number(process.argv[3] || 4);
const CB = 'http://127.0.0.1:9/cb';

async function json(method, path, { token, cookie, body, form } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (cookie) headers.Cookie = cookie;
  let payload;
  if (form) { headers['Content-Type'] = 'application/x-www-form-urlencoded'; payload = new URLSearchParams(form).toString(); }
  else if (body) { headers['Content-Type'] = 'application/json'; payload = JSON.stringify(body); }
  const r = await fetch(BASE + path, { method, headers, body: payload, redirect: 'manual' });
  return { status: r.status, headers: r.headers, json: await r.json().catch(() => null) };
}

async function chain(clientId, cookie) {
  const verifier = crypto.randomBytes(32).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  const q = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: CB, scope: 'openid profile',
    code_challenge: challenge, code_challenge_method: 'S256', state: 'b' });
  const a = await json('GET', `/api/v1/oidc/authorize?${q}`);
  const rid = new URL(a.headers.get('location'), BASE).searchParams.get('request');
  const d = await json('POST', `/api/v1/oidc/requests/${rid}/decision`, { cookie, body: { approve: true } });
  const code = new URL(d.json.redirect_to).searchParams.get('code');
  const t = await json('POST', '/api/v1/oidc/token', { form: { grant_type: 'authorization_code', code, redirect_uri: CB,
    code_verifier: verifier, client_id: clientId } });
  return refreshLoop(BASE + '/api/v1/oidc/token', clientId, t.json.refresh_token);
}

// Refreshes for SECONDS at tokenUrl; every answer must carry a new refresh token and an ID token.
async function refreshLoop(tokenUrl, clientId, rt) {
  let n = 0;
  const end = Date.now() + SECONDS * 1000;
  while (Date.now() < end) {
    const r = await fetch(tokenUrl, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: rt, client_id: clientId }).toString() });
    const j = await r.json().catch(() => null);
    if (r.status !== 200 || !j.id_token || !j.refresh_token || j.refresh_token === rt)
      throw new Error(`refresh failed at ${tokenUrl}: ${r.status} ${JSON.stringify(j)}`);
    rt = j.refresh_token;
    n++;
  }
  return n;
}

async function baseline() {
  const child = spawn(process.execPath, [new URL('./oidc-provider-baseline.mjs', import.meta.url).pathname, String(CHAINS)],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  const first = await new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`oidc-provider baseline exited with ${code}`)));
  });
  const cfg = JSON.parse(first);
  try {
    const t0 = Date.now();
    const counts = await Promise.all(cfg.refresh_tokens.map((rt) => refreshLoop(cfg.token_endpoint, cfg.client_id, rt)));
    return { total: counts.reduce((x, y) => x + y, 0), secs: (Date.now() - t0) / 1000 };
  } finally {
    child.kill('SIGTERM');
  }
}

const admin = await json('POST', '/api/v1/auth/login', { body: { username: process.env.CITYOS_ADMIN_USER, password: process.env.CITYOS_ADMIN_PASSWORD } });
const c = await json('POST', '/api/v1/oidc/clients', { token: admin.json.token,
  body: { name: 'bench', type: 'public', redirect_uris: [CB], scope: 'openid profile' } });
const cccd = `001190${String(crypto.randomInt(1000000)).padStart(6, '0')}`;
const pw = `Mat-khau-${crypto.randomBytes(4).toString('hex')}`;
await json('POST', '/api/v1/users', { token: admin.json.token,
  body: { kind: 'citizen', cccd, birth_date: '1990-01-01', sex: 'female', full_name: 'Bench', password: pw } });
const login = await fetch(`${BASE}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ username: cccd, password: pw }) });
const cookie = login.headers.get('set-cookie').split(';')[0];
const t0 = Date.now();
const counts = await Promise.all(Array.from({ length: CHAINS }, () => chain(c.json.client_id, cookie)));
const total = counts.reduce((x, y) => x + y, 0);
console.log(`token endpoint: ${total} refresh exchanges in ${((Date.now() - t0) / 1000).toFixed(1)} s with ${CHAINS} chains`
  + ` = ${(total / SECONDS).toFixed(0)}/s`);
if (process.env.BASELINE !== '0') {
  const b = await baseline();
  console.log(`oidc-provider baseline: ${b.total} refresh exchanges in ${b.secs.toFixed(1)} s with ${CHAINS} chains`
    + ` = ${(b.total / SECONDS).toFixed(0)}/s`);
  console.log(`ratio cityos / oidc-provider: ${(total / b.total).toFixed(2)}`);
}
