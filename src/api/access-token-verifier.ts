import { errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';

interface Verified {
  readonly claims: JWTPayload;
  /** Epoch ms from which the token is expired (its `exp`). */
  readonly expiresAt: number;
}

/**
 * Verifies our JWT access tokens (RFC 9068: our issuer, `typ: at+jwt`, one of the given
 * audiences, signed by a published key) and remembers the ones that passed. A tool that
 * asks /api/validate about the same token on every request then pays for the signature
 * check once per token instead of once per request; the signature and the claims cannot
 * change, so the answer can only become "expired", which is checked on every use.
 *
 * Entries are keyed by the exact token string and the audiences asked for: a token that
 * differs in one character, or was verified for another audience, is verified afresh. All
 * entries are dropped when the key set changes (a key retired, say), so a token is never
 * accepted on a key that no longer verifies it. At most `capacity` tokens are kept, least
 * recently used first out; 0 turns remembering off.
 */
export class AccessTokenVerifier {
  readonly #verified = new Map<string, Verified>();
  #verifiedWith: JWTVerifyGetKey | undefined;

  constructor(
    private readonly keys: () => JWTVerifyGetKey,
    private readonly issuer: string,
    private readonly capacity: number,
  ) {}

  /** The token's claims when it is a valid access token of ours for one of `audiences`; else undefined. */
  async verify(token: string, audiences: readonly string[], now = Date.now()): Promise<JWTPayload | undefined> {
    const keys = this.keys();
    if (keys !== this.#verifiedWith) {
      this.#verified.clear();
      this.#verifiedWith = keys;
    }
    const entryKey = `${audiences.join(' ')}\n${token}`;
    const known = this.#verified.get(entryKey);
    if (known) {
      this.#verified.delete(entryKey);
      if (now >= known.expiresAt) return undefined;
      this.#verified.set(entryKey, known);
      return known.claims;
    }
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, keys, { issuer: this.issuer, audience: [...audiences], typ: 'at+jwt', currentDate: new Date(now) }));
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) return undefined;
      throw err;
    }
    // A token without `exp` would be good forever: never remembered.
    if (this.capacity > 0 && typeof claims.exp === 'number' && keys === this.#verifiedWith) {
      if (this.#verified.size >= this.capacity) this.#verified.delete(this.#verified.keys().next().value!);
      // Shared by every later caller of the same token: nobody may change it.
      this.#verified.set(entryKey, { claims: Object.freeze(claims), expiresAt: claims.exp * 1000 });
    }
    return claims;
  }
}
