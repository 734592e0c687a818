import { z } from 'zod';
import { AlreadyExistsError } from '../store/port.js';
import { inBackground, type AccountDeps } from './deps.js';
import { sendVerificationMail } from './email-verification.js';
import { checkPassword } from './password-policy.js';
import { hashPassword, MAX_PASSWORD_LENGTH } from './passwords.js';
import { createUser } from './users.js';

export const registrationSchema = z.object({
  email: z.email({ error: 'Enter an email address, like name@example.com.' }).max(254, { error: 'That email address is too long.' }),
  name: z.string().trim().max(100, { error: 'Use at most 100 characters.' }).optional(),
  password: z.string().max(MAX_PASSWORD_LENGTH, { error: `Use at most ${MAX_PASSWORD_LENGTH} characters.` }),
});

export type FieldErrors = Partial<Record<'email' | 'name' | 'password', string>>;
export type RegistrationResult = { ok: true; email: string } | { ok: false; errors: FieldErrors };

/**
 * Sign-up that never reveals whether an address is taken: a new address gets an account
 * and a verification mail, a taken one gets nothing new, and both get the same answer
 * after the same argon2 work. Mail goes out in the background.
 */
export async function register(deps: AccountDeps, input: Record<string, unknown>): Promise<RegistrationResult> {
  const parsed = registrationSchema.safeParse(input);
  if (!parsed.success) {
    const errors: FieldErrors = {};
    for (const issue of parsed.error.issues) errors[issue.path[0] as keyof FieldErrors] ??= issue.message;
    return { ok: false, errors };
  }
  const { email, password } = parsed.data;
  const name = parsed.data.name || undefined;
  const verdict = checkPassword(password, { email, name });
  if (!verdict.ok) return { ok: false, errors: { password: verdict.message } };

  const existing = await deps.store.users.findByEmail(email);
  if (existing) {
    await hashPassword(password); // the same cost as creating an account
    return { ok: true, email };
  }
  try {
    const user = await createUser(deps.store, { email, password, name });
    inBackground(deps, 'verification mail', () => sendVerificationMail(deps, user));
  } catch (err) {
    // A parallel sign-up with the same address won: answer as for a taken address.
    if (!(err instanceof AlreadyExistsError)) throw err;
  }
  return { ok: true, email };
}
