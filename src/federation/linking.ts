import { randomUUID } from 'node:crypto';
import { AlreadyExistsError, type Store } from '../store/port.js';

/** What an upstream asserted about the person, as validated by openid-client. */
export interface UpstreamProfile {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  picture: string | null;
}

export type LinkOutcome =
  | { ok: true; userId: string; outcome: 'returning' | 'linked' | 'created' }
  | { ok: false; message: string };

const TAKEN_UNVERIFIED =
  'An account with this email address already exists, and the provider does not vouch for the address. Sign in with your password instead.';

/**
 * The linking rules: a known upstream identity signs in its user; a new one whose
 * upstream-verified email matches an account is linked to it; otherwise a new account is
 * made, with the upstream's verdict on the email. An unverified email never links, so
 * nobody takes over an account by registering its address at some provider.
 */
export async function resolveUpstreamAccount(store: Store, provider: string, profile: UpstreamProfile): Promise<LinkOutcome> {
  const known = await store.identities.find(provider, profile.subject);
  if (known) return { ok: true, userId: known.userId, outcome: 'returning' };

  const email = profile.email?.trim().toLowerCase() || null;
  const existing = email ? await store.users.findByEmail(email) : undefined;
  if (existing && !profile.emailVerified) return { ok: false, message: TAKEN_UNVERIFIED };

  let userId: string;
  let outcome: 'linked' | 'created';
  if (existing) {
    userId = existing.id;
    outcome = 'linked';
    if (!existing.name && profile.name) await store.users.update(existing.id, { name: profile.name.slice(0, 100) });
  } else {
    if (!email) return { ok: false, message: 'The provider did not share an email address, which an account needs.' };
    userId = randomUUID();
    outcome = 'created';
    try {
      await store.users.create({ id: userId, email, emailVerified: profile.emailVerified, name: profile.name?.slice(0, 100) ?? null, passwordHash: null, role: 'viewer' });
    } catch (err) {
      if (err instanceof AlreadyExistsError) return { ok: false, message: TAKEN_UNVERIFIED };
      throw err;
    }
  }
  try {
    await store.identities.link({ provider, subject: profile.subject, userId, email, name: profile.name, picture: profile.picture, createdAt: Date.now() });
  } catch (err) {
    // A parallel first sign-in with the same identity won the link: follow it.
    if (!(err instanceof AlreadyExistsError)) throw err;
    return { ok: true, userId: (await store.identities.find(provider, profile.subject))!.userId, outcome: 'returning' };
  }
  return { ok: true, userId, outcome };
}
