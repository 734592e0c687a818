import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Store, UserRecord } from '../store/port.js';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, hashPassword, needsRehash, verifyPassword } from './passwords.js';

export const newUserSchema = z.object({
  email: z.email({ error: 'must be an email address' }).max(254),
  password: z
    .string()
    .min(MIN_PASSWORD_LENGTH, { error: `must be at least ${MIN_PASSWORD_LENGTH} characters` })
    .max(MAX_PASSWORD_LENGTH, { error: `must be at most ${MAX_PASSWORD_LENGTH} characters` }),
  name: z.string().trim().min(1).max(100).optional(),
  role: z.enum(['admin', 'viewer']).default('viewer'),
});
export type NewUserInput = z.input<typeof newUserSchema>;

/** @throws ZodError on invalid input; AlreadyExistsError when the email is taken. */
export async function createUser(store: Store, input: NewUserInput): Promise<UserRecord> {
  const valid = newUserSchema.parse(input);
  return store.users.create({
    id: randomUUID(),
    email: valid.email,
    emailVerified: false,
    name: valid.name ?? null,
    passwordHash: await hashPassword(valid.password),
    role: valid.role,
  });
}

/**
 * The user whose email and password match, else undefined. Unknown emails cost the
 * same argon2 verification as known ones, so timing does not reveal which exist.
 */
export async function authenticate(store: Store, email: string, password: string): Promise<UserRecord | undefined> {
  if (password.length > MAX_PASSWORD_LENGTH) return undefined;
  const user = await store.users.findByEmail(email.trim());
  if (!(await verifyPassword(user?.passwordHash, password)) || !user) return undefined;
  if (user.passwordHash && needsRehash(user.passwordHash)) {
    await store.users.upgradePasswordHash(user.id, user.passwordHash, await hashPassword(password));
  }
  return user;
}

/**
 * Deletes the user and everything hanging off them on either store: sessions, grants,
 * codes and tokens first (so nothing stays usable if this is cut short), then API keys,
 * permissions, mailed links, picture, second factor and upstream identities, the user last.
 */
export async function deleteUserAndData(store: Store, userId: string): Promise<boolean> {
  await store.oidc.revokeByAccount(userId);
  await store.apiKeys.deleteForUser(userId);
  await store.permissions.deleteForUser(userId);
  await store.actionTokens.deleteForUser(userId);
  await store.avatars.delete(userId);
  await store.secondFactors.deleteAll(userId);
  await store.identities.deleteForUser(userId);
  return store.users.delete(userId);
}
