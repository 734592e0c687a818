import { passwordChangedNotice, passwordResetMessage } from '../mail/messages.js';
import { actionLink, hashActionToken, issueActionToken } from './action-tokens.js';
import { inBackground, type AccountDeps } from './deps.js';
import { checkPassword } from './password-policy.js';
import { hashPassword } from './passwords.js';
import { accountFailureKey } from '../security/login-throttle.js';

export const RESET_PASSWORD_PATH = '/account/reset-password';

/**
 * Starts a reset. The answer is the same whether or not the address has an account, and
 * all the work for a real account (token, mail) happens after the response, so neither
 * content nor timing tells them apart.
 */
export function requestPasswordReset(deps: AccountDeps, email: string): void {
  inBackground(deps, 'password reset mail', async () => {
    const user = await deps.store.users.findByEmail(email.trim());
    if (!user) return;
    const token = await issueActionToken(deps.store, 'reset-password', user.id);
    deps.mailer.sendInBackground(await passwordResetMessage({ to: user.email, link: actionLink(deps.issuer, RESET_PASSWORD_PATH, token) }));
  });
}

/** Whether a reset link is still good, without using it (GET shows the form). */
export async function isResetTokenValid(deps: AccountDeps, token: string): Promise<boolean> {
  return Boolean(await deps.store.actionTokens.find(hashActionToken(token), 'reset-password'));
}

export type ResetResult = { ok: true } | { ok: false; reason: 'invalid_token' } | { ok: false; reason: 'weak_password'; message: string };

/**
 * Sets the new password and signs the account out everywhere (sessions, grants, refresh
 * tokens): whoever else knew the old password loses access. The link reached the inbox,
 * so the address is verified too.
 */
export async function resetPassword(deps: AccountDeps, token: string, newPassword: string): Promise<ResetResult> {
  const hash = hashActionToken(token);
  const pending = await deps.store.actionTokens.find(hash, 'reset-password');
  const user = pending && (await deps.store.users.findById(pending.userId));
  if (!user) return { ok: false, reason: 'invalid_token' };
  const verdict = checkPassword(newPassword, { email: user.email, name: user.name ?? undefined });
  if (!verdict.ok) return { ok: false, reason: 'weak_password', message: verdict.message };
  // Checked first, used only now: a weak password must not burn the link.
  if (!(await deps.store.actionTokens.redeem(hash, 'reset-password'))) return { ok: false, reason: 'invalid_token' };

  await deps.store.users.setPasswordHash(user.id, await hashPassword(newPassword));
  await deps.store.oidc.revokeByAccount(user.id);
  await deps.store.actionTokens.deleteForUser(user.id);
  // Proving the inbox lifts a sign-in lock at once: a reset is how a locked-out person gets back in.
  await deps.store.attempts.clear(accountFailureKey(user.email));
  if (!user.emailVerified) await deps.store.users.setEmailVerified(user.id);
  inBackground(deps, 'password changed notice', async () => deps.mailer.sendInBackground(await passwordChangedNotice({ to: user.email })));
  return { ok: true };
}
