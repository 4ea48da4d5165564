// Baseline for bench/oidc-token-bench.mjs: the npm package `oidc-provider` configured like
// cityos' provider for the measured grant - one public client (token_endpoint_auth_method
// none, PKCE S256 required, authorization_code + refresh_token), refresh tokens rotated on
// every use, RS256 ID tokens with the profile claims, opaque access tokens - on a local port.
//   node bench/oidc-provider-baseline.mjs [CHAINS]
// Prints one JSON line {issuer, token_endpoint, client_id, refresh_tokens: [CHAINS tokens]}
// and serves until it gets SIGTERM or its stdin closes. The starting refresh tokens are
// minted through the provider's own models (Grant + RefreshToken, as its code exchange
// would) so the bench needs no sign-in screens; only the refresh exchanges are timed.
// Storage is oidc-provider's default in-process memory adapter (cityos writes every
// exchange and its audit entry to its database).
import crypto from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const CHAINS = Number(process.argv[2] || 4);
const CB = 'http://127.0.0.1:9/cb';
const SCOPE = 'openid profile offline_access';

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'bench',
    token_endpoint_auth_method: 'none',
    redirect_uris: [CB],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    id_token_signed_response_alg: 'RS256',
  }],
  jwks: { keys: [jwk] },
  claims: { openid: ['sub'], profile: ['name', 'birthdate', 'gender'] },
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub, name: 'Bench', birthdate: '1990-01-01', gender: 'female' }),
  }),
  pkce: { required: () => true },
  rotateRefreshToken: true,
  issueRefreshToken: async () => true,
  features: { devInteractions: { enabled: false } },
  ttl: { AccessToken: 600, IdToken: 600, RefreshToken: 30 * 24 * 3600, Grant: 30 * 24 * 3600 },
});
provider.on('server_error', (ctx, err) => console.error('oidc-provider server_error', err));
server.on('request', provider.callback());

async function mint() {
  const client = await provider.Client.find('bench');
  const accountId = `citizen-${crypto.randomBytes(4).toString('hex')}`;
  const grant = new provider.Grant({ accountId, clientId: 'bench' });
  grant.addOIDCScope(SCOPE);
  const grantId = await grant.save();
  const rt = new provider.RefreshToken({
    accountId, client, grantId, scope: SCOPE, gty: 'authorization_code',
    authTime: Math.floor(Date.now() / 1000), sessionUid: crypto.randomUUID(),
  });
  return rt.save();
}

const refresh_tokens = [];
for (let i = 0; i < CHAINS; i++) refresh_tokens.push(await mint());
console.log(JSON.stringify({ issuer, token_endpoint: `${issuer}/token`, client_id: 'bench', refresh_tokens }));

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
