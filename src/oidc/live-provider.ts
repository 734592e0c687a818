import { createLocalJWKSet, type JWK, type JWTVerifyGetKey } from 'jose';
import compose from 'koa-compose';
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../ops/metrics.js';
import type { Secrets } from '../security/secrets.js';
import type { Store } from '../store/port.js';
import { createProvider } from './provider.js';
import { buildJwks, keySetFingerprint, keyStates } from './signing-keys.js';

/**
 * oidc-provider takes its key set at construction, but keys change underneath it: a
 * rotation by the CLI or another instance, a pending key reaching its activation time.
 * This holds the current provider and rebuilds it from the store when the key set
 * changes. All provider state lives in the store, so a rebuild loses nothing.
 */
export class LiveProvider {
  #provider!: Provider;
  #middleware!: Middleware;
  #verificationKeys!: JWTVerifyGetKey;
  #fingerprint = '';
  #timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly config: Config,
    private readonly store: Store,
    private readonly secrets: Secrets,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {}

  static async start(config: Config, store: Store, secrets: Secrets, logger: Logger, metrics: Metrics): Promise<LiveProvider> {
    const live = new LiveProvider(config, store, secrets, logger, metrics);
    await live.refresh();
    live.#timer = setInterval(() => {
      live.refresh().catch((err: unknown) => logger.warn('signing key refresh failed', { err }));
    }, config.signingKeys.refreshInterval * 1000);
    live.#timer.unref();
    return live;
  }

  get provider(): Provider {
    return this.#provider;
  }

  /** The published public keys, for verifying our own JWTs (access tokens) without a request. */
  get verificationKeys(): JWTVerifyGetKey {
    return this.#verificationKeys;
  }

  /** Koa middleware running the current provider's own middleware stack on our context. */
  readonly middleware: Middleware = (ctx, next) => this.#middleware(ctx, next);

  /** Rebuilds the provider when the published or signing keys differ from the last build. */
  async refresh(now = Date.now()): Promise<void> {
    const keys = await this.store.signingKeys.list();
    const fingerprint = keySetFingerprint(keys, now);
    if (fingerprint === this.#fingerprint) return;
    const provider = createProvider(this.config, this.store, this.secrets, buildJwks(keys, this.secrets, now));
    provider.on('server_error', (ctx, err) => this.logger.error('oidc server error', { err, request_id: ctx.state.requestId }));
    provider.on('grant.success', (ctx) => this.metrics.tokens.inc({ grant_type: String(ctx.oidc.params?.grant_type ?? 'unknown') }));
    provider.on('grant.revoked', (_ctx, grantId) => this.logger.info('grant revoked', { grantId }));
    provider.on('backchannel.error', (_ctx, err, client) => this.logger.warn('back-channel logout delivery failed', { client: client.clientId, error: err.message }));
    this.#provider = provider;
    this.#middleware = compose(provider.middleware) as Middleware;
    const states = keyStates(keys, now);
    this.#verificationKeys = createLocalJWKSet({ keys: keys.filter((k) => states.get(k.kid) !== 'retired').map((k) => k.publicJwk as JWK) });
    if (this.#fingerprint) this.logger.info('signing keys changed; provider reloaded', { keys: fingerprint });
    this.#fingerprint = fingerprint;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
