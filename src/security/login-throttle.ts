import type { Store } from '../store/port.js';

export interface ThrottleLimits {
  /** Failures per account (known or not) within the window before sign-in is refused. */
  readonly perAccount: number;
  /** Failures from one IP address within the window, across all accounts. */
  readonly perIp: number;
  /** Seconds a failure counts; a lock lifts once enough failures have aged out. */
  readonly windowSeconds: number;
}

/** What a locked sign-in says, at any step: nothing about which factor failed. */
export const LOCKED_OUT_MESSAGE = 'Too many failed sign-ins. Try again later, or reset your password.';

export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** The key a sign-in failure counts under for an address, whether or not it has an account. */
export const accountFailureKey = (email: string) => `login:email:${email.trim().toLowerCase()}`;
const ipFailureKey = (ip: string) => `login:ip:${ip}`;

/**
 * Password guessing defence, shared by every instance through the store: too many
 * failures for an address, or from an IP, lock sign-in for a while. A locked sign-in is
 * refused before the password is even checked, so the right password gets the same
 * answer; unknown addresses lock exactly like known ones, so a lock reveals nothing.
 */
export class LoginThrottle {
  constructor(
    private readonly store: Store,
    private readonly limits: ThrottleLimits,
  ) {}

  async check(email: string, ip: string, now = Date.now()): Promise<ThrottleVerdict> {
    const since = now - this.limits.windowSeconds * 1000;
    const [account, fromIp] = await Promise.all([
      this.store.attempts.count(accountFailureKey(email), since),
      this.store.attempts.count(ipFailureKey(ip), since),
    ]);
    if (account >= this.limits.perAccount || fromIp >= this.limits.perIp) return { allowed: false, retryAfterSeconds: this.limits.windowSeconds };
    return { allowed: true };
  }

  recordFailure(email: string, ip: string, now = Date.now()): Promise<void> {
    return this.store.attempts.record([accountFailureKey(email), ipFailureKey(ip)], now, now + this.limits.windowSeconds * 1000);
  }

  /** A successful sign-in clears the account's failures (not the IP's: others may be guessing from it). */
  recordSuccess(email: string): Promise<void> {
    return this.store.attempts.clear(accountFailureKey(email));
  }
}
