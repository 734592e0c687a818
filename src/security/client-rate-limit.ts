import { decodeJwt } from 'jose';
import type { Middleware } from 'koa';
import type { Logger } from '../logger.js';
import { peekBody } from '../http/peek-body.js';
import type { Store } from '../store/port.js';

export interface ClientRateLimits {
  /** Token requests one client may make per window, across every instance. */
  readonly perClient: number;
  readonly windowSeconds: number;
}

interface ClientCount {
  /** Requests counted here and not yet written to the store. */
  pending: number;
  /** The client's total in the window (every instance) as of the last sync, ours included. */
  shared: number;
  lastSeen: number;
}

const keyOf = (clientId: string) => `rate:token:client:${clientId}`;

/** How often each instance writes its counts and reads everyone's. */
const SYNC_INTERVAL_MS = 1000;

/**
 * The token endpoint's per-client budget, shared by instances through the store but kept
 * off the request path: the token endpoint is the hottest route, and a store write per
 * token would cost more than the limit protects. Each instance counts locally and, once a
 * second, writes its count as one weighted attempt record and reads the client's total
 * back. A client over budget is refused until the window has room again.
 *
 * The price of batching: between syncs each instance only knows its own new requests, so
 * with N instances a client can overshoot by up to N seconds' worth of its traffic.
 * Only clients that oidc-provider found are tracked, so invented client ids cannot grow
 * the table.
 */
export class ClientRateLimiter {
  readonly #clients = new Map<string, ClientCount>();
  #timer: NodeJS.Timeout | undefined;
  #syncing: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly limits: ClientRateLimits,
    private readonly logger: Logger,
    private readonly onLimited: () => void = () => {},
  ) {}

  start(): void {
    this.#timer ??= setInterval(() => void this.sync(), SYNC_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Stops syncing and writes what is still pending, so a restart forgets nothing. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.sync();
  }

  /**
   * Whether the client has used up its budget; a refusal is told to `onLimited`, and is not
   * counted. A client this instance has not seen in the window is looked up once in the
   * store, so a client moving between instances arrives with its total; only one with
   * requests on record is remembered, so invented client ids cannot grow the table. A
   * store error reads as no requests: the limit fails open, while what the request
   * really needs from the store (the client, the grant) fails closed with 503.
   */
  async exhausted(clientId: string, now = Date.now()): Promise<boolean> {
    let entry = this.#clients.get(clientId);
    if (!entry) {
      const shared = await this.store.attempts.count(keyOf(clientId), now - this.limits.windowSeconds * 1000).catch(() => 0);
      if (shared === 0) return false;
      entry = this.#clients.get(clientId) ?? { pending: 0, shared, lastSeen: now };
      this.#clients.set(clientId, entry);
    }
    const over = entry.shared + entry.pending >= this.limits.perClient;
    if (over) this.onLimited();
    return over;
  }

  count(clientId: string, now = Date.now()): void {
    const entry = this.#clients.get(clientId);
    if (entry) {
      entry.pending += 1;
      entry.lastSeen = now;
    } else {
      this.#clients.set(clientId, { pending: 1, shared: 0, lastSeen: now });
    }
  }

  /** Writes pending counts and refreshes totals; one sync at a time. Store errors leave counts pending. */
  sync(now = Date.now()): Promise<void> {
    this.#syncing ??= this.#sync(now).finally(() => (this.#syncing = undefined));
    return this.#syncing;
  }

  async #sync(now: number): Promise<void> {
    const windowMs = this.limits.windowSeconds * 1000;
    for (const [clientId, entry] of this.#clients) {
      if (entry.pending === 0 && entry.lastSeen < now - windowMs) {
        this.#clients.delete(clientId);
        continue;
      }
      const batch = entry.pending;
      entry.pending -= batch;
      try {
        if (batch > 0) await this.store.attempts.record([keyOf(clientId)], now, now + windowMs, batch);
        entry.shared = await this.store.attempts.count(keyOf(clientId), now - windowMs);
      } catch (err) {
        entry.pending += batch;
        this.logger.warn('token rate limit sync failed', { err });
        return;
      }
    }
  }
}

/**
 * Refuses token requests from a client over its budget with 429 and Retry-After, before
 * oidc-provider does any work; counts the requests the provider authenticated.
 */
export function tokenEndpointRateLimit(limiter: ClientRateLimiter, tokenPath: string, windowSeconds: number): Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || ctx.path !== tokenPath) return next();
    const claimed = basicAuthUser(ctx.get('authorization')) ?? bodyClientId(await peekBody(ctx.req, BODY_PEEK_LIMIT));
    if (claimed !== undefined && (await limiter.exhausted(claimed))) {
      ctx.status = 429;
      ctx.set({ 'Retry-After': String(windowSeconds), 'Cache-Control': 'no-store' });
      ctx.body = { error: 'too_many_requests', error_description: 'This client has made too many token requests; try again later.' };
      return;
    }
    await next();
    const clientId = (ctx.oidc as { client?: { clientId: string } } | undefined)?.client?.clientId;
    if (clientId !== undefined) limiter.count(clientId);
  };
}

/** oidc-provider refuses bigger token request bodies anyway. */
const BODY_PEEK_LIMIT = 56 * 1024;

// Which client a token request says it is, before anyone has checked: only a lookup key
// for the budget; the provider authenticates.

/** The HTTP Basic user, form-encoded as RFC 6749 §2.3.1 says. */
function basicAuthUser(authorization: string): string | undefined {
  if (!authorization.toLowerCase().startsWith('basic ')) return undefined;
  const user = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8').split(':')[0]!;
  try {
    return decodeURIComponent(user.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** The body's `client_id`, else a client assertion's subject (RFC 7523). */
function bodyClientId(body: Buffer | undefined): string | undefined {
  if (!body) return undefined;
  const params = new URLSearchParams(body.toString('utf8'));
  const clientId = params.get('client_id');
  if (clientId) return clientId;
  const assertion = params.get('client_assertion');
  if (!assertion) return undefined;
  try {
    return decodeJwt(assertion).sub;
  } catch {
    return undefined;
  }
}
