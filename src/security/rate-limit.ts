import { HttpError } from '../http/errors.js';
import type { Store } from '../store/port.js';

export interface RateLimits {
  /** Requests one IP address may make to the sign-in and account forms per window. */
  readonly perIp: number;
  /** Mails (magic link, reset, verification) one address may be sent per window. */
  readonly mailPerAddress: number;
  readonly windowSeconds: number;
}

/** Which budget a request draws on. */
export type RateBudget = { kind: 'ip'; ip: string } | { kind: 'mail'; email: string };

const keyOf = (form: string, budget: RateBudget) =>
  budget.kind === 'ip' ? `rate:${form}:ip:${budget.ip}` : `rate:mail:${budget.email.trim().toLowerCase()}`;

/**
 * Request rate limits kept in the store (one attempt record per request, the same
 * mechanism as the sign-in throttle), so every instance counts against one budget. A
 * request over a budget is refused with 429 and Retry-After, and is not counted: a flood
 * does not push the window further out. Counting then recording is not atomic, so a burst
 * of parallel requests can overshoot a budget by a few; the budget still holds over time.
 */
export class RateLimiter {
  constructor(
    private readonly store: Store,
    private readonly limits: RateLimits,
    /** Told of every refusal, by form (the server counts them as metrics). */
    private readonly onLimited: (form: string) => void = () => {},
  ) {}

  /** Spends one request of each budget, or throws 429 when any of them is used up. */
  async spend(form: string, budgets: readonly RateBudget[], now = Date.now()): Promise<void> {
    const since = now - this.limits.windowSeconds * 1000;
    const keys = budgets.map((b) => keyOf(form, b));
    const counts = await Promise.all(keys.map((key) => this.store.attempts.count(key, since)));
    const exhausted = budgets.some((b, i) => counts[i]! >= (b.kind === 'ip' ? this.limits.perIp : this.limits.mailPerAddress));
    if (exhausted) {
      this.onLimited(form);
      throw new HttpError(429, 'too_many_requests', 'Too many requests. Wait a minute and try again.', { 'Retry-After': String(this.limits.windowSeconds) });
    }
    await this.store.attempts.record(keys, now, now + this.limits.windowSeconds * 1000);
  }
}
