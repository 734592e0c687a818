import { createHash, randomBytes } from 'node:crypto';
import type { ActionPurpose, ActionTokenRecord, Store } from '../store/port.js';

/**
 * How long each mailed link stays valid: a reset at most an hour and a magic link 15
 * minutes (the link is the credential); verification a day, since it grants no session.
 */
export const ACTION_TOKEN_TTL_SECONDS: Record<ActionPurpose, number> = {
  'verify-email': 24 * 3600,
  'reset-password': 3600,
  'magic-link': 15 * 60,
  // Not mailed: marks "password passed, second factor pending" for one sign-in.
  'second-factor': 10 * 60,
  // Not mailed: an upstream round trip in progress (state, nonce, PKCE verifier), then its result.
  'upstream-login': 10 * 60,
};

/** What a person sees for a used, expired or unknown link. */
export const LINK_GONE = 'This link has expired or has already been used. Ask for a new one.';

/** Only the SHA-256 of a token is stored: a leaked database holds no usable link. */
export const hashActionToken = (token: string): string => createHash('sha256').update(token).digest('base64url');

/**
 * Issues a 256-bit single-use token for `purpose`, voiding the user's older ones of the
 * same purpose; returns the token, which only the mail will carry.
 */
export async function issueActionToken(store: Store, purpose: ActionPurpose, userId: string, data: Record<string, string> = {}): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  const now = Date.now();
  const record: ActionTokenRecord = {
    tokenHash: hashActionToken(token),
    purpose,
    userId,
    data,
    createdAt: now,
    expiresAt: now + ACTION_TOKEN_TTL_SECONDS[purpose] * 1000,
  };
  await store.actionTokens.issue(record);
  return token;
}

/** The link a mail carries; its origin comes from the configured issuer, never the Host header. */
export function actionLink(issuer: string, path: string, token: string): string {
  const url = new URL(path, `${issuer}/`);
  url.searchParams.set('token', token);
  return url.toString();
}
