import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { checkPassword } from '../accounts/password-policy.js';
import { hashPassword, MAX_PASSWORD_LENGTH } from '../accounts/passwords.js';
import { deleteUserAndData } from '../accounts/users.js';
import { HttpError } from '../http/errors.js';
import type { AuditLog } from '../security/audit.js';
import { AlreadyExistsError, type AuditActor, type Store, type UserChanges, type UserRecord } from '../store/port.js';

/** Who asks for a change, for the audit log. */
export interface RequestedBy {
  actor: AuditActor;
  ip: string | null;
}

export interface AdminDeps {
  readonly store: Store;
  readonly audit: AuditLog;
}

const password = z.string().min(1).max(MAX_PASSWORD_LENGTH);

export const newManagedUserSchema = z
  .object({
    email: z.email({ error: 'must be an email address' }).max(254),
    /** Optional: without one the person signs in by magic link, upstream, or a reset. */
    password: password.optional(),
    name: z.string().trim().min(1).max(100).optional(),
    role: z.enum(['admin', 'viewer']).default('viewer'),
    email_verified: z.boolean().default(false),
  })
  .strict();

export const userChangesSchema = z
  .object({
    email: z.email({ error: 'must be an email address' }).max(254),
    name: z.string().trim().min(1).max(100).nullable(),
    role: z.enum(['admin', 'viewer']),
    status: z.enum(['active', 'disabled']),
    email_verified: z.boolean(),
    password,
  })
  .partial()
  .strict()
  .refine((c) => Object.keys(c).length > 0, { error: 'send at least one field to change' });

async function policyCheckedHash(candidate: string, who: { email: string; name?: string | null }): Promise<string> {
  const verdict = checkPassword(candidate, { email: who.email, name: who.name ?? undefined });
  if (!verdict.ok) throw new HttpError(400, 'invalid_request', `password: ${verdict.message}`);
  return hashPassword(candidate);
}

const emailTaken = () => new HttpError(409, 'conflict', 'Another user has that email address.');

/** Creates a user as an admin asks; 409 when the email is taken (case-insensitively). */
export async function createManagedUser(deps: AdminDeps, input: z.output<typeof newManagedUserSchema>, by: RequestedBy): Promise<UserRecord> {
  const passwordHash = input.password ? await policyCheckedHash(input.password, input) : null;
  let user: UserRecord;
  try {
    user = await deps.store.users.create({
      id: randomUUID(),
      email: input.email,
      emailVerified: input.email_verified,
      name: input.name ?? null,
      passwordHash,
      role: input.role,
    });
  } catch (err) {
    if (err instanceof AlreadyExistsError) throw emailTaken();
    throw err;
  }
  await deps.audit.record('user.created', { ...by, target: { type: 'user', id: user.id }, details: { email: user.email, role: user.role } });
  return user;
}

/** The only active admin cannot be demoted, disabled or deleted: someone must be able to manage Gatehouse. */
async function assertAnotherActiveAdmin(store: Store, user: UserRecord): Promise<void> {
  if (user.role !== 'admin' || user.status !== 'active') return;
  const admins = await store.users.list({ role: 'admin', status: 'active', limit: 2 });
  if (admins.length < 2) throw new HttpError(409, 'last_admin', 'This is the only active admin; make another admin first.');
}

/**
 * Applies an admin's changes. A new password, or disabling, ends every session and token
 * of the user; a new email is unverified unless said otherwise.
 */
export async function updateManagedUser(deps: AdminDeps, user: UserRecord, input: z.output<typeof userChangesSchema>, by: RequestedBy): Promise<UserRecord> {
  const { store } = deps;
  const demoted = input.role === 'viewer' && user.role === 'admin';
  const disabled = input.status === 'disabled' && user.status === 'active';
  if (demoted || disabled) await assertAnotherActiveAdmin(store, user);

  const changes: UserChanges = {
    ...(input.email !== undefined ? { email: input.email, emailVerified: input.email_verified ?? false } : {}),
    ...(input.email === undefined && input.email_verified !== undefined ? { emailVerified: input.email_verified } : {}),
    ...(input.name !== undefined ? { name: input.name } : {}),
    ...(input.role ? { role: input.role } : {}),
    ...(input.status ? { status: input.status } : {}),
  };
  const passwordHash = input.password ? await policyCheckedHash(input.password, { email: input.email ?? user.email, name: user.name }) : undefined;
  try {
    if (Object.keys(changes).length) await store.users.update(user.id, changes);
  } catch (err) {
    if (err instanceof AlreadyExistsError) throw emailTaken();
    throw err;
  }
  if (passwordHash) await store.users.setPasswordHash(user.id, passwordHash);
  if (passwordHash || disabled) await store.oidc.revokeByAccount(user.id);

  const target = { type: 'user' as const, id: user.id };
  const fields = Object.keys(input).filter((f) => f !== 'role' && f !== 'status');
  if (fields.length) await deps.audit.record('user.updated', { ...by, target, details: { fields } });
  if (input.role && input.role !== user.role) await deps.audit.record('user.role_changed', { ...by, target, details: { from: user.role, to: input.role } });
  if (input.status && input.status !== user.status) await deps.audit.record(input.status === 'disabled' ? 'user.disabled' : 'user.enabled', { ...by, target });
  return (await store.users.findById(user.id))!;
}

/** Deletes a user and everything they own (keys, permissions, sessions, tokens, …). */
export async function deleteManagedUser(deps: AdminDeps, user: UserRecord, by: RequestedBy): Promise<void> {
  await assertAnotherActiveAdmin(deps.store, user);
  await deleteUserAndData(deps.store, user.id);
  await deps.audit.record('user.deleted', { ...by, target: { type: 'user', id: user.id }, details: { email: user.email } });
}
