import type { Context } from 'koa';
import { HttpError } from '../http/errors.js';
import type { LiveProvider } from '../oidc/live-provider.js';
import type { Store, UserRecord } from '../store/port.js';

/** Scope a tool must be granted (and the person consent to) before it may change the account. */
export const ACCOUNT_SCOPE = 'account';

const challenge = (error: string, description: string) => ({ 'WWW-Authenticate': `Bearer error="${error}", error_description="${description}"` });

/**
 * The user behind an access token from this provider (RFC 6750: only the Authorization
 * header, never the query string), provided the token carries every scope in `required`.
 */
export async function bearerUser(ctx: Context, live: LiveProvider, store: Store, required: readonly string[]): Promise<UserRecord> {
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(ctx.get('authorization'));
  if (!match) throw new HttpError(401, 'invalid_token', 'Send an access token as Authorization: Bearer <token>.', challenge('invalid_token', 'missing or malformed token'));
  const token = await live.provider.AccessToken.find(match[1]!);
  const user = token?.accountId && !token.isExpired ? await store.users.findById(token.accountId) : undefined;
  if (!token || !user) throw new HttpError(401, 'invalid_token', 'The access token is invalid, expired or revoked.', challenge('invalid_token', 'invalid, expired or revoked'));
  const granted = new Set(String(token.scope ?? '').split(' '));
  const missing = required.filter((s) => !granted.has(s));
  if (missing.length) {
    throw new HttpError(403, 'insufficient_scope', `This needs the ${missing.join(', ')} scope.`, challenge('insufficient_scope', `needs ${missing.join(' ')}`));
  }
  return user;
}
