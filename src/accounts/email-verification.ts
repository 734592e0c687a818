import { verifyEmailMessage } from '../mail/messages.js';
import type { UserRecord } from '../store/port.js';
import { actionLink, hashActionToken, issueActionToken } from './action-tokens.js';
import type { AccountDeps } from './deps.js';

export const VERIFY_EMAIL_PATH = '/account/verify-email';

/** Mails a fresh verification link (voiding earlier ones); the address is bound into the token. */
export async function sendVerificationMail(deps: AccountDeps, user: UserRecord): Promise<void> {
  const token = await issueActionToken(deps.store, 'verify-email', user.id, { email: user.email });
  deps.mailer.sendInBackground(await verifyEmailMessage({ to: user.email, link: actionLink(deps.issuer, VERIFY_EMAIL_PATH, token) }));
}

/** Whether a link is still good, without using it: mail scanners prefetch GETs. */
export async function isVerificationTokenValid(deps: AccountDeps, token: string): Promise<boolean> {
  return Boolean(await deps.store.actionTokens.find(hashActionToken(token), 'verify-email'));
}

/**
 * Uses the link: verified only if the account still has the address the link was sent to
 * (an email change since then makes old links worthless).
 */
export async function verifyEmail(deps: AccountDeps, token: string): Promise<boolean> {
  const record = await deps.store.actionTokens.redeem(hashActionToken(token), 'verify-email');
  if (!record) return false;
  const user = await deps.store.users.findById(record.userId);
  if (!user || user.email !== record.data.email) return false;
  await deps.store.users.setEmailVerified(user.id);
  return true;
}
