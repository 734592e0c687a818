import argon2 from 'argon2';
import { availableParallelism } from 'node:os';
import { ConcurrencyLimit } from '../security/concurrency-limit.js';

/**
 * argon2id at OWASP's recommended floor (19 MiB, t=2, p=1). Raising these makes
 * {@link needsRehash} true for older hashes, and login upgrades them.
 */
export const ARGON2_PARAMS = Object.freeze({ type: argon2.argon2id, memoryCost: 19 * 1024, timeCost: 2, parallelism: 1 });

/** Longer inputs are refused before hashing, so a 1 MB "password" costs nothing. */
export const MAX_PASSWORD_LENGTH = 1024;
export const MIN_PASSWORD_LENGTH = 12;

/**
 * How many argon2 computations run at once; the rest queue. Each holds 19 MiB on a libuv
 * thread while it runs, and running more than the CPUs can take only adds memory and
 * delays the other thread-pool work (file reads, signing) a sign-in also waits for.
 * `PASSWORD_HASH_CONCURRENCY` sets it at start (see the server); the CLI keeps this default.
 */
export const passwordHashing = new ConcurrencyLimit(availableParallelism());

export const hashPassword = (password: string): Promise<string> => passwordHashing.run(() => argon2.hash(password, ARGON2_PARAMS));

export const needsRehash = (hash: string): boolean => argon2.needsRehash(hash, ARGON2_PARAMS);

let dummyHash: Promise<string> | undefined;

/**
 * Verifies `password` against `hash`; with no hash (unknown account, or one without a
 * password) it verifies against a dummy hash anyway so the answer takes as long.
 */
export async function verifyPassword(hash: string | null | undefined, password: string): Promise<boolean> {
  dummyHash ??= hashPassword('gatehouse-dummy-password');
  const against = hash ?? (await dummyHash);
  const ok = await passwordHashing.run(() => argon2.verify(against, password)).catch(() => false);
  return ok && Boolean(hash);
}
