import { magicLinkMessage } from '../mail/messages.js';
import type { UserRecord } from '../store/port.js';
import { actionLink, hashActionToken, issueActionToken } from './action-tokens.js';
import { inBackground, type AccountDeps } from './deps.js';

/**
 * A sign-in link lives under the interaction it was asked from, and that interaction is
 * bound to the asking browser by oidc-provider's interaction cookie: opened anywhere
 * else, it signs nobody in.
 */
export const magicLinkPath = (uid: string) => `/interaction/${uid}/magic`;

/** Mails a 15-minute sign-in link if the address has an account; the answer is the same either way. */
export function requestMagicLink(deps: AccountDeps, email: string, uid: string): void {
  inBackground(deps, 'magic link mail', async () => {
    const user = await deps.store.users.findByEmail(email.trim());
    if (!user) return;
    const token = await issueActionToken(deps.store, 'magic-link', user.id, { uid });
    deps.mailer.sendInBackground(await magicLinkMessage({ to: user.email, link: actionLink(deps.issuer, magicLinkPath(uid), token) }));
  });
}

/** The account a still-valid link for this interaction signs in, without using the link. */
export async function peekMagicLink(deps: AccountDeps, token: string, uid: string): Promise<UserRecord | undefined> {
  const record = await deps.store.actionTokens.find(hashActionToken(token), 'magic-link');
  if (!record || record.data.uid !== uid) return undefined;
  return deps.store.users.findById(record.userId);
}

/** Uses the link (once); the account it signs in, if it was valid for this interaction. */
export async function redeemMagicLink(deps: AccountDeps, token: string, uid: string): Promise<UserRecord | undefined> {
  const record = await deps.store.actionTokens.redeem(hashActionToken(token), 'magic-link');
  if (!record || record.data.uid !== uid) return undefined;
  return deps.store.users.findById(record.userId);
}
