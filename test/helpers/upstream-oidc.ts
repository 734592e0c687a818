import type { Server } from 'node:http';
import Provider from 'oidc-provider';
import { freePort } from './free-port.js';

export interface UpstreamAccount {
  email: string;
  email_verified: boolean;
  name?: string;
  picture?: string;
}

export interface UpstreamOidc {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Accounts by subject; tests add to it. */
  readonly accounts: Map<string, UpstreamAccount>;
  stop(): Promise<void>;
}

/**
 * A real OpenID provider on loopback standing in for Google: discovery, signed ID tokens,
 * PKCE, and oidc-provider's built-in development login pages (any password; the login
 * name is the subject).
 */
export async function startUpstreamOidc(redirectUri: string): Promise<UpstreamOidc> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const accounts = new Map<string, UpstreamAccount>();
  const clientId = 'gatehouse';
  const clientSecret = 'upstream-client-secret-for-tests-0123456789';
  const provider = new Provider(issuer, {
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'] }],
    findAccount: async (_ctx, sub) => {
      const account = accounts.get(sub);
      return account ? { accountId: sub, claims: async () => ({ sub, ...account }) } : undefined;
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'picture'] },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ['upstream-test-cookie-key'], names: { session: 'up.session', interaction: 'up.interaction', resume: 'up.resume' } },
  });
  const server: Server = await new Promise((resolve) => {
    const s = provider.listen(port, '127.0.0.1', () => resolve(s));
  });
  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
