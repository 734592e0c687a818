import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config.js';
import type { Secrets } from '../security/secrets.js';
import type { Store } from '../store/port.js';
import { ACCOUNT_CLIENT_ID } from '../accounts/account-client.js';
import { effectivePermission, PERMISSIONS_SCOPE } from '../access/permissions.js';
import { ACCOUNT_SCOPE, ADMIN_SCOPE } from '../api/principal.js';
import { createExtraTokenClaims, createFindAccount, CLAIMS_BY_SCOPE, markMachineTokens } from './account.js';
import { createAdapterClass } from './adapter.js';
import { storeForProvider } from './provider-store.js';
import { gatehouseInteractionPolicy, MFA_ACR, type ToolAccessCheck } from './interaction-policy.js';
import type { JWK } from 'jose';

const epochSeconds = () => Math.floor(Date.now() / 1000);

/** Lifetime of any token we sign; a superseded key stays published this long. */
export const maxSignedTokenLifetime = (config: Config) => Math.max(config.ttl.accessToken, config.ttl.idToken);

/**
 * The oidc-provider configuration, secure by default (RFC 9700): code flow only, PKCE
 * S256 for every client, refresh tokens rotated for every client, exact redirect URIs,
 * JWT access tokens for resource servers. Pages the library renders itself (errors,
 * logout confirmation) use our views through `ctx.render`.
 */
export function createProvider(config: Config, rawStore: Store, secrets: Secrets, jwks: { keys: JWK[] }): Provider {
  const store = storeForProvider(rawStore);
  // Secure cookies (and the __Host- prefix, which needs them) whenever the issuer is
  // https; a plain-http issuer is only allowed on loopback, where browsers need them off.
  const https = config.issuer.startsWith('https:');
  const cookie = { httpOnly: true, sameSite: 'lax' as const, secure: https };
  const knownResources = new Set([config.defaultResource, ...config.resources]);
  const mayUseTool: ToolAccessCheck = async (accountId, toolId) => {
    const user = await store.users.findById(accountId);
    return !!user && (await effectivePermission(store, user, toolId)) !== null;
  };

  const configuration: Configuration = {
    adapter: createAdapterClass(store, secrets),
    findAccount: createFindAccount(store, config.issuer),
    extraTokenClaims: createExtraTokenClaims(store) as Configuration['extraTokenClaims'],
    formats: { customizers: { jwt: markMachineTokens } },
    jwks: jwks as Configuration['jwks'],
    claims: CLAIMS_BY_SCOPE,
    scopes: ['openid', 'offline_access', 'email', 'profile', PERMISSIONS_SCOPE, ACCOUNT_SCOPE, ADMIN_SCOPE],
    // client_secret_jwt is left out: it needs the secret in plaintext on both sides.
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    responseTypes: ['code'],
    pkce: { required: () => true },
    rotateRefreshToken: true,
    allowOmittingSingleRegisteredRedirectUri: false,
    // Put granted scope claims (email, name) in the ID token as well as userinfo, as
    // Keycloak and Auth0 do: most tools read them from the ID token alone.
    conformIdTokenClaims: false,
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'ES256',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['ES256', 'RS256'],
      clientAuthSigningAlgValues: ['ES256', 'RS256', 'PS256', 'EdDSA'],
      userinfoSigningAlgValues: ['ES256', 'RS256'],
      introspectionSigningAlgValues: ['ES256', 'RS256'],
      authorizationSigningAlgValues: ['ES256', 'RS256'],
    },
    cookies: {
      keys: secrets.cookieSigner,
      // __Host- pins the session cookie to this exact origin (no Domain, Path=/, Secure).
      names: { session: https ? '__Host-gatehouse.session' : 'gatehouse.session', interaction: 'gatehouse.interaction', resume: 'gatehouse.resume' },
      long: cookie,
      short: cookie,
    },
    ttl: {
      AccessToken: config.ttl.accessToken,
      ClientCredentials: config.ttl.accessToken,
      IdToken: config.ttl.idToken,
      AuthorizationCode: 60,
      Interaction: 3600,
      // Sliding: every request through the provider re-saves the session, so it lives
      // SESSION_IDLE_TTL past the last use, but never beyond SESSION_TTL after sign-in.
      Session: (_ctx, session) =>
        Math.max(1, Math.min(config.ttl.sessionIdle, config.ttl.session - (session.loginTs ? epochSeconds() - session.loginTs : 0))),
      Grant: config.ttl.refreshToken,
      // Rotation must not extend a refresh token's life: each successor gets what is left.
      RefreshToken: (_ctx, token) => Math.max(1, config.ttl.refreshToken - (token.iiat ? epochSeconds() - token.iiat : 0)),
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}`, policy: gatehouseInteractionPolicy(mayUseTool) },
    acrValues: [MFA_ACR],
    // Our own client settings: a tool that must only ever see two-factor sign-ins, and a
    // tool only people with a permission there may sign in to.
    extraClientMetadata: {
      properties: ['require_mfa', 'restricted'],
      validator(_ctx, key, value) {
        if (value !== undefined && typeof value !== 'boolean') throw new errors.InvalidClientMetadata(`${key} must be a boolean`);
      },
    },
    // The library's default, plus one rule: Gatehouse's own account pages are first-party
    // and never ask the person to consent to themselves.
    async loadExistingGrant(ctx) {
      const { client, session, result } = ctx.oidc;
      const grantId = result?.consent?.grantId ?? session!.grantIdFor(client!.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      if (client!.clientId !== ACCOUNT_CLIENT_ID || !session?.accountId) return undefined;
      const grant = new ctx.oidc.provider.Grant({ clientId: client!.clientId, accountId: session.accountId });
      grant.addOIDCScope('openid');
      await grant.save();
      return grant;
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // A client learns about, and revokes, only tokens issued to itself; tools that
      // must check other clients' tokens use JWT access tokens (or, later, /api/validate).
      introspection: { enabled: true, allowedPolicy: async (_ctx, caller, token) => token.clientId === caller.clientId },
      revocation: { enabled: true, allowedPolicy: async (_ctx, caller, token) => token.clientId === caller.clientId },
      userinfo: { enabled: true },
      // Tools that register a backchannel_logout_uri hear about a sign-out server to server.
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          await ctx.render('layout.ejs', { page: 'logout', title: 'Sign out', form });
        },
        async postLogoutSuccessSource(ctx) {
          await ctx.render('layout.ejs', { page: 'logged-out', title: 'Signed out', clientName: ctx.oidc.client?.clientName });
        },
      },
      resourceIndicators: {
        enabled: true,
        // Machines asking for no audience get a JWT for the default one; people's
        // logins without `resource` keep an opaque token for userinfo.
        defaultResource: (ctx) => (ctx.oidc.params?.grant_type === 'client_credentials' ? config.defaultResource : undefined),
        useGrantedResource: () => true,
        async getResourceServerInfo(_ctx, resource, client) {
          if (!knownResources.has(resource)) throw new errors.InvalidTarget(`unknown resource ${resource}`);
          return {
            scope: client.scope ?? '',
            audience: resource,
            accessTokenTTL: config.ttl.accessToken,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: config.accessTokenSigningAlg } },
          };
        },
      },
    },
    // The library refuses private and loopback targets (SSRF protection) by giving fetch
    // its own dispatcher; internal tools on a private network need that lifted, by choice.
    ...(config.allowPrivateNetworkRequests
      ? { fetch: (input: string | URL | Request, init?: RequestInit) => fetch(input, { ...init, dispatcher: undefined } as RequestInit) }
      : {}),
    async renderError(ctx: KoaContextWithOIDC, out) {
      await ctx.render('layout.ejs', { page: 'error', title: 'Something went wrong', error: out.error, description: out.error_description });
    },
  };

  const provider = new Provider(config.issuer, configuration);
  provider.proxy = config.trustProxy;
  return provider;
}
