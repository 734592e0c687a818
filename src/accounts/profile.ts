import { z } from 'zod';
import { passwordChangedNotice } from '../mail/messages.js';
import type { UserRecord } from '../store/port.js';
import { inBackground, type AccountDeps } from './deps.js';
import { checkPassword } from './password-policy.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { deleteUserAndData } from './users.js';

export const profileSchema = z.object({
  name: z.string().trim().min(1, { error: 'Enter a name of 1 to 100 characters.' }).max(100, { error: 'Use at most 100 characters.' }),
  theme: z.enum(['light', 'dark', 'system'], { error: 'Choose light, dark or system.' }),
});

type ProfileField = 'name' | 'theme' | 'body';
export type ProfileResult = { ok: true } | { ok: false; errors: Partial<Record<ProfileField, string>> };

/** Saves a profile form; `partial` (the JSON API's PATCH) changes only the fields sent. */
export async function updateProfile(deps: AccountDeps, user: UserRecord, input: Record<string, unknown>, partial = false): Promise<ProfileResult> {
  const parsed = (partial ? profileSchema.partial().strict() : profileSchema).safeParse(input);
  if (!parsed.success) {
    const errors: Partial<Record<ProfileField, string>> = {};
    // An unknown field has no path of its own; it is reported against the whole body.
    for (const issue of parsed.error.issues) errors[(issue.path[0] as ProfileField | undefined) ?? 'body'] ??= issue.message;
    return { ok: false, errors };
  }
  await deps.store.users.update(user.id, parsed.data);
  return { ok: true };
}

export type PasswordChangeResult = { ok: true } | { ok: false; field: 'current' | 'password'; message: string };

/**
 * Changes the password after proving the current one, then revokes everything else the
 * account holds: other sessions, and every grant and refresh token (this browser's tools
 * included), so whoever else knew the old password, or holds a token, is out.
 */
export async function changePassword(deps: AccountDeps, user: UserRecord, sessionId: string | undefined, current: string, next: string): Promise<PasswordChangeResult> {
  if (!(await verifyPassword(user.passwordHash, current))) return { ok: false, field: 'current', message: 'That is not your current password.' };
  const verdict = checkPassword(next, { email: user.email, name: user.name ?? undefined });
  if (!verdict.ok) return { ok: false, field: 'password', message: verdict.message };
  await deps.store.users.setPasswordHash(user.id, await hashPassword(next));
  await deps.store.oidc.revokeByAccount(user.id, sessionId);
  inBackground(deps, 'password changed notice', async () => deps.mailer.sendInBackground(await passwordChangedNotice({ to: user.email })));
  return { ok: true };
}

/** Deletes the account, and everything hanging off it, after re-authentication. */
export async function deleteAccount(deps: AccountDeps, user: UserRecord, password: string): Promise<boolean> {
  if (!(await verifyPassword(user.passwordHash, password))) return false;
  await deleteUserAndData(deps.store, user.id);
  deps.logger.info('account deleted', { userId: user.id });
  return true;
}
