import { randomBytes } from 'node:crypto';
import type { AccountDeps } from '../accounts/deps.js';
import { verifyPassword } from '../accounts/passwords.js';
import type { Secrets } from '../security/secrets.js';
import type { Store, UserRecord } from '../store/port.js';
import { base32, matchTotp, newTotpSecret, otpauthUri, TOTP_PERIOD_SECONDS } from './totp.js';

export interface SecondFactorDeps extends AccountDeps {
  readonly secrets: Secrets;
}

const RECOVERY_CODE_COUNT = 10;
const ISSUER_LABEL = 'Gatehouse';
const secretContext = (userId: string) => `totp:${userId}`;
const recoveryHash = (deps: SecondFactorDeps, code: string) => deps.secrets.keyedHash('recovery-code', code.replace(/[\s-]/g, '').toLowerCase());

export async function hasSecondFactor(store: Store, userId: string): Promise<boolean> {
  return (await store.secondFactors.getTotp(userId))?.confirmed === true;
}

export interface Enrolment {
  uri: string;
  /** Base32 secret, for typing into an app that cannot scan. */
  secret: string;
  /** The URI as an inline SVG QR code (no external image, no script). */
  qrSvg: string;
}

const enrolmentFor = async (user: UserRecord, secret: Buffer): Promise<Enrolment> => {
  const uri = otpauthUri(secret, user.email, ISSUER_LABEL);
  // Loaded at the first enrolment, not at start.
  const { default: QRCode } = await import('qrcode');
  return { uri, secret: base32(secret), qrSvg: await QRCode.toString(uri, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' }) };
};

/** Starts (or restarts) enrolment with a fresh secret; it signs nothing in until confirmed. */
export async function startEnrolment(deps: SecondFactorDeps, user: UserRecord): Promise<Enrolment> {
  const secret = newTotpSecret();
  await deps.store.secondFactors.putTotp(user.id, {
    secretCiphertext: deps.secrets.encrypt(secret.toString('base64url'), secretContext(user.id)),
    confirmed: false,
    createdAt: Date.now(),
  });
  return enrolmentFor(user, secret);
}

async function secretOf(deps: SecondFactorDeps, userId: string): Promise<{ secret: Buffer; confirmed: boolean } | undefined> {
  const totp = await deps.store.secondFactors.getTotp(userId);
  if (!totp) return undefined;
  return { secret: Buffer.from(deps.secrets.decrypt(totp.secretCiphertext, secretContext(userId)), 'base64url'), confirmed: totp.confirmed };
}

/** The enrolment in progress, to show the QR code again after a reload. */
export async function pendingEnrolment(deps: SecondFactorDeps, user: UserRecord): Promise<Enrolment | undefined> {
  const current = await secretOf(deps, user.id);
  return current && !current.confirmed ? enrolmentFor(user, current.secret) : undefined;
}

/** A code is good once: its step is claimed, and no older step is accepted after it. */
async function acceptTotp(deps: SecondFactorDeps, userId: string, secret: Buffer, code: string): Promise<boolean> {
  const step = matchTotp(secret, code.trim());
  if (step === undefined) return false;
  return deps.store.secondFactors.claimTotpStep(userId, step, (step + 2) * TOTP_PERIOD_SECONDS * 1000);
}

async function issueRecoveryCodes(deps: SecondFactorDeps, userId: string): Promise<string[]> {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const raw = base32(randomBytes(7)).slice(0, 10).toLowerCase();
    return `${raw.slice(0, 5)}-${raw.slice(5)}`;
  });
  await deps.store.secondFactors.replaceRecoveryCodes(userId, codes.map((c) => recoveryHash(deps, c)));
  return codes;
}

/**
 * Confirms enrolment with a first valid code; returns the recovery codes, shown only
 * now. Turning 2FA on ends every other session and token: they were made without it.
 */
export async function confirmEnrolment(deps: SecondFactorDeps, user: UserRecord, keepSessionId: string | undefined, code: string): Promise<string[] | undefined> {
  const pending = await secretOf(deps, user.id);
  if (!pending || pending.confirmed || !(await acceptTotp(deps, user.id, pending.secret, code))) return undefined;
  const totp = (await deps.store.secondFactors.getTotp(user.id))!;
  await deps.store.secondFactors.putTotp(user.id, { ...totp, confirmed: true });
  const codes = await issueRecoveryCodes(deps, user.id);
  await deps.store.oidc.revokeByAccount(user.id, keepSessionId);
  return codes;
}

export type SecondFactorUsed = 'totp' | 'recovery';

/** Checks a second factor: a current authenticator code, or one unused recovery code. */
export async function verifySecondFactor(deps: SecondFactorDeps, userId: string, input: string): Promise<SecondFactorUsed | undefined> {
  const current = await secretOf(deps, userId);
  if (!current?.confirmed) return undefined;
  if (/^\s*\d{6}\s*$/.test(input)) return (await acceptTotp(deps, userId, current.secret, input)) ? 'totp' : undefined;
  return (await deps.store.secondFactors.useRecoveryCode(userId, recoveryHash(deps, input))) ? 'recovery' : undefined;
}

/** A fresh set of recovery codes (the old set stops working), after a fresh second factor. */
export async function regenerateRecoveryCodes(deps: SecondFactorDeps, user: UserRecord, code: string): Promise<string[] | undefined> {
  if (!(await verifySecondFactor(deps, user.id, code))) return undefined;
  return issueRecoveryCodes(deps, user.id);
}

/**
 * Turns 2FA off after a fresh code or the password, and ends every other session and
 * token (a 2FA change is a security event).
 */
export async function disableSecondFactor(deps: SecondFactorDeps, user: UserRecord, keepSessionId: string, proof: { code?: string; password?: string }): Promise<boolean> {
  const proven = proof.code ? Boolean(await verifySecondFactor(deps, user.id, proof.code)) : await verifyPassword(user.passwordHash, proof.password ?? '');
  if (!proven) return false;
  await deps.store.secondFactors.deleteAll(user.id);
  await deps.store.oidc.revokeByAccount(user.id, keepSessionId);
  return true;
}
