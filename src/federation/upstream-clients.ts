import * as oidc from 'openid-client';
import type { UpstreamConfig } from '../config.js';

const isLoopbackHttp = (issuer: string) => /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/.test(issuer);

/** GitHub has no discovery document: its OAuth endpoints are fixed under its base URL. */
function githubConfiguration(upstream: UpstreamConfig, execute: Array<(config: oidc.Configuration) => void>): oidc.Configuration {
  const config = new oidc.Configuration(
    { issuer: upstream.issuer, authorization_endpoint: `${upstream.issuer}/login/oauth/authorize`, token_endpoint: `${upstream.issuer}/login/oauth/access_token` },
    upstream.clientId,
    undefined,
    oidc.ClientSecretPost(upstream.clientSecret),
  );
  for (const apply of execute) apply(config);
  return config;
}

/**
 * The configured upstream providers and their discovered metadata. Discovery happens on
 * first use and is retried after a failure, so an upstream that is down never stops
 * Gatehouse from starting or local sign-in from working.
 */
export class UpstreamClients {
  readonly #configs = new Map<string, Promise<oidc.Configuration>>();

  constructor(readonly upstreams: readonly UpstreamConfig[]) {}

  find(id: string): UpstreamConfig | undefined {
    return this.upstreams.find((u) => u.id === id);
  }

  configuration(upstream: UpstreamConfig): Promise<oidc.Configuration> {
    let pending = this.#configs.get(upstream.id);
    if (!pending) {
      // Plain http only for a loopback issuer (a local test stand-in).
      const insecure = isLoopbackHttp(upstream.issuer) ? [oidc.allowInsecureRequests] : [];
      pending = upstream.kind === 'github' ? Promise.resolve(githubConfiguration(upstream, insecure)) : oidc.discovery(new URL(upstream.issuer), upstream.clientId, upstream.clientSecret, undefined, { timeout: 5, execute: insecure });
      this.#configs.set(upstream.id, pending);
      pending.catch(() => this.#configs.delete(upstream.id));
    }
    return pending;
  }
}
