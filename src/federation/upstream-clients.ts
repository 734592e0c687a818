import * as oidc from 'openid-client';
import type { UpstreamConfig } from '../config.js';

const isLoopbackHttp = (issuer: string) => /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/.test(issuer);

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
      pending = oidc.discovery(new URL(upstream.issuer), upstream.clientId, upstream.clientSecret, undefined, {
        timeout: 5,
        // Plain http only for a loopback issuer (a local test stand-in).
        ...(isLoopbackHttp(upstream.issuer) ? { execute: [oidc.allowInsecureRequests] } : {}),
      });
      this.#configs.set(upstream.id, pending);
      pending.catch(() => this.#configs.delete(upstream.id));
    }
    return pending;
  }
}
