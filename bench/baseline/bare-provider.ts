/**
 * Baseline: bare oidc-provider (the version in node_modules) with one confidential
 * client and a fresh signing key of the type given by ALG (ES256 or RS256). By default
 * (STORE=memory) it keeps everything in memory: the library's in-memory adapter, a
 * static client, accounts made up on the spot. With STORE=sqlite, tokens, sessions,
 * grants, the client and the account live in a SQLite file instead (DB_FILE), through
 * the plainest adapter there is (./sqlite-adapter.ts): the library's own cost of
 * durable state, measured apart from Gatehouse's layers.
 * It issues what Gatehouse issues for the same requests:
 * - client_credentials → a JWT access token (resource indicators, accessTokenFormat jwt);
 * - an opaque access token for introspection and userinfo;
 * - refresh tokens, rotated on every use, with an ID token per refresh.
 * Tokens for a person are minted in-process by GET /__seed (the baseline has no login
 * UI), so the load on the measured endpoints is the same as against Gatehouse.
 *
 * Env: PORT, ALG (ES256|RS256), RESOURCE, STORE (memory|sqlite), DB_FILE. Prints
 * nothing; ready when /.well-known answers.
 */
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type ClientMetadata, type Configuration } from 'oidc-provider';
import { BASELINE_CLIENT, BASELINE_REDIRECT, exitCleanlyOnSigterm } from './shared.js';
import { sqliteAdapterClass } from './sqlite-adapter.js';

const port = Number(process.env.PORT ?? 0);
const alg = process.env.ALG === 'RS256' ? 'RS256' : 'ES256';
const resource = process.env.RESOURCE ?? 'https://api.bench.test';
const issuer = `http://127.0.0.1:${port}`;

const { privateKey } = await generateKeyPair(alg, { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), alg, use: 'sig', kid: `bench-${alg.toLowerCase()}` };

const clientMetadata = {
  ...BASELINE_CLIENT,
  grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: [BASELINE_REDIRECT],
  token_endpoint_auth_method: 'client_secret_basic',
  id_token_signed_response_alg: alg,
} satisfies ClientMetadata;
const claimsOf = (sub: string) => ({ sub, email: `${sub}@bench.test`, email_verified: true, name: 'Bench User', updated_at: 1_700_000_000 });

/** Where state lives: in memory, or in SQLite with the client and the account stored too. */
async function storage(): Promise<Pick<Configuration, 'adapter' | 'clients' | 'findAccount'>> {
  if (process.env.STORE !== 'sqlite') {
    return { clients: [clientMetadata], findAccount: async (_ctx, sub) => ({ accountId: sub, claims: () => claimsOf(sub) }) };
  }
  if (!process.env.DB_FILE) throw new Error('STORE=sqlite needs DB_FILE');
  const Adapter = sqliteAdapterClass(process.env.DB_FILE);
  await new Adapter('Client').upsert(clientMetadata.client_id, clientMetadata, 0);
  const accounts = new Adapter('Account');
  await accounts.upsert('bench-user', claimsOf('bench-user'), 0);
  return {
    adapter: Adapter,
    async findAccount(_ctx, sub) {
      const claims = await accounts.find(sub);
      return claims ? { accountId: sub, claims: () => claims as ReturnType<typeof claimsOf> } : undefined;
    },
  };
}

const configuration: Configuration = {
  ...(await storage()),
  jwks: { keys: [jwk] } as Configuration['jwks'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'updated_at'] },
  scopes: ['openid', 'offline_access', 'email', 'profile'],
  pkce: { required: () => true },
  rotateRefreshToken: true,
  // As Gatehouse: scope claims in the ID token too.
  conformIdTokenClaims: false,
  cookies: { keys: ['bench-cookie-key-bench-cookie-key-0123456789'] },
  clientDefaults: { id_token_signed_response_alg: alg, grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] },
  enabledJWA: { idTokenSigningAlgValues: [alg] },
  ttl: { AccessToken: 3600, ClientCredentials: 3600, IdToken: 3600, RefreshToken: 30 * 24 * 3600, Grant: 30 * 24 * 3600, AuthorizationCode: 60, Interaction: 3600, Session: 3600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // As Gatehouse: a client may introspect only its own tokens.
    introspection: { enabled: true, allowedPolicy: async (_ctx, caller, token) => token.clientId === caller.clientId },
    userinfo: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx) => (ctx.oidc.params?.grant_type === 'client_credentials' ? resource : undefined),
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({ scope: '', audience: resource, accessTokenTTL: 3600, accessTokenFormat: 'jwt', jwt: { sign: { alg } } }),
    },
  },
};

const provider = new Provider(issuer, configuration);

/** Mints, for account `bench-user`, one opaque access token and `n` refresh tokens (each its own grant). */
provider.use(async (ctx, next) => {
  if (ctx.path !== '/__seed') return next();
  const n = Math.min(Number(ctx.query.n ?? 1), 10_000);
  const client = await provider.Client.find(BASELINE_CLIENT.client_id);
  if (!client) throw new Error('baseline client missing');
  const accountId = 'bench-user';
  const scope = 'openid email profile offline_access';
  const newGrant = async () => {
    const grant = new provider.Grant({ accountId, clientId: client.clientId });
    grant.addOIDCScope(scope);
    return grant.save();
  };
  const grantId = await newGrant();
  // As after a browser login without offline_access: the access token lives only as long
  // as the person's session, so the library checks that session on every use of the
  // token, as it does for Gatehouse's tokens in scenarios 2 and 4.
  const session = new provider.Session();
  session.loginAccount({ accountId });
  session.grantIdFor(client.clientId, grantId);
  await session.save(3600);
  const accessToken = await new provider.AccessToken({
    accountId, client, grantId, scope: 'openid email profile', gty: 'authorization_code', sessionUid: session.uid, expiresWithSession: true,
  }).save();
  const refreshTokens: string[] = [];
  for (let i = 0; i < n; i++) {
    const rt = new provider.RefreshToken({ accountId, client, grantId: await newGrant(), scope, gty: 'authorization_code', iiat: Math.floor(Date.now() / 1000), rotations: 0 });
    refreshTokens.push(await rt.save());
  }
  ctx.body = { access_token: accessToken, refresh_tokens: refreshTokens };
});

provider.listen(port, '127.0.0.1');
exitCleanlyOnSigterm();
