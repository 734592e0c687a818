/**
 * Runs at most `limit` tasks at once; the rest wait their turn, first come first served.
 * A finishing task hands its slot straight to the next in line, so a newcomer cannot
 * overtake someone already waiting.
 */
export class ConcurrencyLimit {
  #limit: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.#limit = ConcurrencyLimit.#checked(limit);
  }

  static #checked(limit: number): number {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a concurrency limit must be a whole number ≥ 1, got ${limit}`);
    return limit;
  }

  /** Tasks running now. */
  get active(): number {
    return this.#active;
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  get limit(): number {
    return this.#limit;
  }

  /** Changes the limit; a higher one starts waiting tasks at once, a lower one takes effect as tasks finish. */
  setLimit(limit: number): void {
    this.#limit = ConcurrencyLimit.#checked(limit);
    while (this.#active < this.#limit && this.#waiting.length > 0) {
      this.#active++;
      this.#waiting.shift()!();
    }
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active < this.#limit) this.#active++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  #release(): void {
    if (this.#active <= this.#limit && this.#waiting.length > 0) this.#waiting.shift()!();
    else this.#active--;
  }
}
