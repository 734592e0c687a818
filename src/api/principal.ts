import type { Context } from 'koa';
import { API_KEY_PREFIX, type ApiKeyVerifier } from '../access/api-keys.js';
import type { RequestedBy } from '../access/user-admin.js';
import type { AccessTokenVerifier } from './access-token-verifier.js';
import { HttpError } from '../http/errors.js';
import type { LiveProvider } from '../oidc/live-provider.js';
import type { ApiKeyRecord, AuditActor, Store, UserRecord } from '../store/port.js';

/** Scope that lets a token drive the management API (for an admin, or a machine client). */
export const ADMIN_SCOPE = 'admin';

/** Scope a tool must be granted (and the person consent to) before it may change the account. */
export const ACCOUNT_SCOPE = 'account';

/** Marks client_credentials JWTs, whose `sub` is a client id and not a person (Auth0 names it the same). */
export const CLIENT_CREDENTIALS_GTY = 'client-credentials';

/** Who is calling the API, and with what credential. */
export interface Principal {
  /** The person; null for a machine client's token. */
  readonly user: UserRecord | null;
  /** The client a token was issued to (null for API keys). */
  readonly clientId: string | null;
  readonly apiKey: ApiKeyRecord | null;
  /** Scopes of a token; null for an API key, which acts as its user. */
  readonly scopes: ReadonlySet<string> | null;
}

const actorOf = (p: Principal): AuditActor =>
  p.user
    ? { type: 'user', id: p.user.id, ...(p.apiKey ? { apiKeyId: p.apiKey.id } : {}) }
    : { type: 'client', id: p.clientId };

/** The caller and their address, as the audit log records them. */
export const requestedBy = (principal: Principal, ctx: Context): RequestedBy => ({ actor: actorOf(principal), ip: ctx.ip || null });

const challenge = (error: string, description: string) => ({ 'WWW-Authenticate': `Bearer error="${error}", error_description="${description}"` });

const unauthorized = () =>
  new HttpError(401, 'invalid_token', 'The access token or API key is invalid, expired or revoked.', challenge('invalid_token', 'invalid, expired or revoked'));

export const forbidden = (description: string, error = 'forbidden') => new HttpError(403, error, description);

const looksLikeJwt = (token: string) => token.split('.').length === 3;

/**
 * Turns `Authorization: Bearer <credential>` (RFC 6750: the header only, never the query
 * string) into a Principal. Accepted: our API keys, opaque access tokens (looked up in the
 * store), and JWT access tokens we signed (verified locally against our published keys).
 */
export class Authenticator {
  constructor(
    private readonly live: LiveProvider,
    private readonly store: Store,
    private readonly apiKeys: ApiKeyVerifier,
    private readonly jwts: AccessTokenVerifier,
  ) {}

  /** The bearer credential from the header; 401 when missing or malformed. */
  static #credential(ctx: Context): string {
    const header = ctx.get('authorization');
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header);
    if (match) return match[1]!;
    // RFC 6750 §3.1: a request with no credential at all gets a challenge without an error code.
    const headers = header ? challenge('invalid_request', 'malformed credential') : { 'WWW-Authenticate': 'Bearer realm="gatehouse"' };
    throw new HttpError(401, 'invalid_token', 'Send an access token or API key as Authorization: Bearer <credential>.', headers);
  }

  /**
   * @param audiences for JWT access tokens, the audiences accepted (e.g. the management
   *   API's own; any of our resources for /api/validate).
   */
  async authenticate(ctx: Context, audiences: readonly string[]): Promise<Principal> {
    const credential = Authenticator.#credential(ctx);
    const principal = looksLikeJwt(credential)
      ? await this.#fromJwt(credential, audiences)
      : credential.startsWith(API_KEY_PREFIX)
        ? await this.#fromApiKey(credential)
        : await this.#fromOpaqueToken(credential);
    if (!principal) throw unauthorized();
    ctx.state.principal = principal;
    return principal;
  }

  async #fromApiKey(key: string): Promise<Principal | undefined> {
    const verified = await this.apiKeys.verify(key);
    return verified && { user: verified.user, clientId: null, apiKey: verified.record, scopes: null };
  }

  async #fromOpaqueToken(token: string): Promise<Principal | undefined> {
    const found = await this.live.provider.AccessToken.find(token);
    if (!found?.accountId || found.isExpired) return undefined;
    const user = await this.#activeUser(found.accountId);
    return user && { user, clientId: found.clientId ?? null, apiKey: null, scopes: new Set(String(found.scope ?? '').split(' ')) };
  }

  async #fromJwt(token: string, audiences: readonly string[]): Promise<Principal | undefined> {
    const claims = await this.jwts.verify(token, audiences);
    if (!claims) return undefined;
    const scopes = new Set(String(claims.scope ?? '').split(' '));
    const clientId = typeof claims.client_id === 'string' ? claims.client_id : null;
    if (claims.gty === CLIENT_CREDENTIALS_GTY) {
      // A machine's token stays good only while its client is registered.
      return clientId && (await this.store.clients.find(clientId)) ? { user: null, clientId, apiKey: null, scopes } : undefined;
    }
    const user = claims.sub ? await this.#activeUser(claims.sub) : undefined;
    return user && { user, clientId, apiKey: null, scopes };
  }

  async #activeUser(id: string): Promise<UserRecord | undefined> {
    const user = await this.store.users.findById(id);
    return user?.status === 'active' ? user : undefined;
  }
}
