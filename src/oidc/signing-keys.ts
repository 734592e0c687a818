import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Secrets } from '../security/secrets.js';
import type { SigningKeyRecord, Store } from '../store/port.js';

/** Algorithms every key generation covers: ES256 signs by default; RS256 for clients that ask. */
export const SIGNING_ALGORITHMS = ['ES256', 'RS256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export type KeyState = 'pending' | 'active' | 'retiring' | 'retired';

/**
 * Where a key is in its life at `now`: pending (published, not yet signing), active
 * (the newest activated key of its algorithm signs), retiring (superseded; published
 * so tokens it signed still verify), retired (gone from JWKS).
 */
export function keyStates(keys: readonly SigningKeyRecord[], now: number): Map<string, KeyState> {
  const states = new Map<string, KeyState>();
  for (const alg of SIGNING_ALGORITHMS) {
    const ofAlg = keys.filter((k) => k.alg === alg);
    const signing = ofAlg
      .filter((k) => k.activatesAt <= now && (k.retiresAt === null || k.retiresAt > now))
      .sort((a, b) => b.activatesAt - a.activatesAt || b.createdAt - a.createdAt)[0];
    for (const k of ofAlg) {
      if (k.retiresAt !== null && k.retiresAt <= now) states.set(k.kid, 'retired');
      else if (k.activatesAt > now) states.set(k.kid, 'pending');
      else states.set(k.kid, k === signing ? 'active' : 'retiring');
    }
  }
  return states;
}

async function generateSigningKey(alg: SigningAlgorithm, secrets: Secrets, createdAt: number, activatesAt: number): Promise<SigningKeyRecord> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
  return {
    kid,
    alg,
    publicJwk: { ...publicJwk, kid, alg, use: 'sig' },
    privateJwkCiphertext: secrets.encrypt(JSON.stringify(privateJwk), signingKeyContext(kid)),
    createdAt,
    activatesAt,
    retiresAt: null,
  };
}

const signingKeyContext = (kid: string) => `signing-key:${kid}`;

/**
 * First start: creates a key per algorithm that signs at once. Instances racing on an
 * empty database may each add one; both are published and the newest signs, which is
 * harmless.
 */
export async function ensureSigningKeys(store: Store, secrets: Secrets, now = Date.now()): Promise<void> {
  const keys = await store.signingKeys.list();
  const states = keyStates(keys, now);
  for (const alg of SIGNING_ALGORITHMS) {
    const usable = keys.some((k) => k.alg === alg && states.get(k.kid) !== 'retired');
    if (!usable) await store.signingKeys.insert(await generateSigningKey(alg, secrets, now, now));
  }
}

/**
 * Rotation: adds a new key per algorithm, published now and signing after
 * `activationDelay` seconds (so every relying party's JWKS cache has it first), and
 * schedules the keys it supersedes to leave JWKS once the tokens they signed expire.
 */
export async function rotateSigningKeys(
  store: Store,
  secrets: Secrets,
  options: { activationDelay: number; maxTokenLifetime: number; now?: number },
): Promise<SigningKeyRecord[]> {
  const now = options.now ?? Date.now();
  const activatesAt = now + options.activationDelay * 1000;
  const retiresAt = activatesAt + options.maxTokenLifetime * 1000;
  const before = await store.signingKeys.list();
  const created: SigningKeyRecord[] = [];
  for (const alg of SIGNING_ALGORITHMS) {
    const key = await generateSigningKey(alg, secrets, now, activatesAt);
    await store.signingKeys.insert(key);
    created.push(key);
  }
  for (const old of before) {
    if (old.activatesAt < activatesAt) await store.signingKeys.retire(old.kid, retiresAt);
  }
  return created;
}

/** Deletes keys past retirement; run by the sweeper. */
export async function deleteRetiredKeys(store: Store, now = Date.now()): Promise<void> {
  const keys = await store.signingKeys.list();
  const states = keyStates(keys, now);
  for (const k of keys) if (states.get(k.kid) === 'retired') await store.signingKeys.delete(k.kid);
}

/**
 * The private key set oidc-provider is constructed with. Only active keys may sign:
 * the others carry `key_ops: ['verify']`, which the library honours when it picks a
 * signing key, so they are published and verify but never sign.
 */
export function buildJwks(keys: readonly SigningKeyRecord[], secrets: Secrets, now: number): { keys: JWK[] } {
  const states = keyStates(keys, now);
  const published = keys
    .filter((k) => states.get(k.kid) !== 'retired')
    .sort((a, b) => b.activatesAt - a.activatesAt);
  return {
    keys: published.map((k) => {
      const jwk = JSON.parse(secrets.decrypt(k.privateJwkCiphertext, signingKeyContext(k.kid))) as JWK;
      return states.get(k.kid) === 'active' ? jwk : { ...jwk, key_ops: ['verify'] };
    }),
  };
}

/** A string that changes whenever the published set or the signing keys change. */
export function keySetFingerprint(keys: readonly SigningKeyRecord[], now: number): string {
  const states = keyStates(keys, now);
  return [...states].filter(([, s]) => s !== 'retired').map(([kid, s]) => `${kid}:${s}`).sort().join(',');
}
