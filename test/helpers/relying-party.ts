import * as oidc from 'openid-client';
import type { RegisteredClient } from '../../src/access/clients.js';
import { TEST_PASSWORD } from './gatehouse.js';
import { UserAgent } from './user-agent.js';

/** An openid-client configuration for a registered client (plain http is fine on loopback). */
export function discover(issuer: string, client: RegisteredClient): Promise<oidc.Configuration> {
  const auth = client.client_secret ? oidc.ClientSecretBasic(client.client_secret) : oidc.None();
  return oidc.discovery(new URL(issuer), client.client_id, undefined, auth, { execute: [oidc.allowInsecureRequests] });
}

/**
 * An openid-client configuration that reaches one instance of a deployment directly while
 * expecting the deployment's public issuer, as each instance behind a load balancer would
 * be reached: every endpoint URL under `issuer` is rebased onto `instanceUrl`.
 */
export async function discoverThrough(
  instanceUrl: string,
  issuer: string,
  client: RegisteredClient,
  auth: oidc.ClientAuth = oidc.ClientSecretBasic(client.client_secret!),
): Promise<oidc.Configuration> {
  const meta = (await (await fetch(`${instanceUrl}/.well-known/openid-configuration`)).json()) as oidc.ServerMetadata;
  const rebased = Object.fromEntries(
    Object.entries(meta).map(([k, v]) => [k, k !== 'issuer' && typeof v === 'string' && v.startsWith(issuer) ? v.replace(issuer, instanceUrl) : v]),
  ) as oidc.ServerMetadata;
  const config = new oidc.Configuration(rebased, client.client_id, undefined, auth);
  oidc.allowInsecureRequests(config);
  return config;
}

/** A code + PKCE (S256) authorization URL, and the verifier its token request will need. */
export async function pkceAuthorizationUrl(config: oidc.Configuration, params: Record<string, string>): Promise<{ url: URL; verifier: string }> {
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, {
    scope: 'openid',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...params,
  });
  return { url, verifier };
}

/**
 * A silent (`prompt=none`) authorization in `agent`: 'ok' when the tool got a code from
 * the session, else the error it got back (e.g. login_required).
 */
export async function silentAuthorization(config: oidc.Configuration, agent: UserAgent, redirectUri: string): Promise<string> {
  const { url } = await pkceAuthorizationUrl(config, { redirect_uri: redirectUri, prompt: 'none' });
  const answer = new URL((await agent.open(url.toString(), redirectUri)).url).searchParams;
  return answer.get('error') ?? (answer.has('code') ? 'ok' : 'no answer');
}

export interface LoginOptions {
  redirectUri: string;
  email: string;
  password?: string;
  scope?: string;
  extra?: Record<string, string>;
  agent?: UserAgent;
}

export interface LoginResult {
  tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
  callbackUrl: URL;
  agent: UserAgent;
  verifier: string;
}

/** Starts an authorization-code + PKCE request and walks the hosted pages to the callback. */
export async function authorize(config: oidc.Configuration, options: LoginOptions): Promise<{ callbackUrl: URL; agent: UserAgent; verifier: string; state: string }> {
  const agent = options.agent ?? new UserAgent();
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: options.redirectUri,
    scope: options.scope ?? 'openid email profile offline_access',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    prompt: 'consent',
    ...options.extra,
  });
  let page = await agent.open(url.toString(), options.redirectUri);
  if (page.html.includes('/login"')) {
    page = await agent.submit(page, '/login', { email: options.email, password: options.password ?? TEST_PASSWORD }, options.redirectUri);
  }
  if (page.html.includes('/confirm"')) page = await agent.submit(page, '/confirm', {}, options.redirectUri);
  if (!page.url.startsWith(options.redirectUri)) throw new Error(`did not reach the redirect URI; ended at ${page.url} (${page.status}):\n${page.html.slice(0, 400)}`);
  return { callbackUrl: new URL(page.url), agent, verifier, state };
}

/** The whole login: hosted pages, then the code exchanged for tokens by openid-client. */
export async function login(config: oidc.Configuration, options: LoginOptions): Promise<LoginResult> {
  const { callbackUrl, agent, verifier, state } = await authorize(config, options);
  const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    ...(options.extra?.nonce ? { expectedNonce: options.extra.nonce } : {}),
  });
  return { tokens, callbackUrl, agent, verifier };
}
