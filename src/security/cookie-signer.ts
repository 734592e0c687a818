import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * Signs the `<name>.sig` companion of every signed cookie (ours and oidc-provider's),
 * in the shape Koa's cookies expect of a keygrip: `sign`, `verify`, `index`.
 *
 * The signatures are keygrip's own (HMAC-SHA-1 of `name=value`, base64url, the first
 * key signs and any key verifies), so cookies signed before keep verifying and keys
 * rotate the same way. We do not use keygrip itself because of how it compares: its
 * `tsscmp` HMACs both digests under a fresh random Buffer key, and on Node 24.21 an
 * HMAC keyed by a Buffer throws and catches two exceptions, stack traces captured,
 * before it starts (see Secrets). That is four per signed cookie read. Here the keys
 * are KeyObjects and the digests are compared with `timingSafeEqual`.
 */
export class CookieSigner {
  readonly #keys: readonly KeyObject[];

  /** `keys` newest first: the first signs, every one verifies. */
  constructor(keys: readonly string[]) {
    if (keys.length === 0) throw new Error('a cookie signer needs at least one key');
    this.#keys = keys.map((key) => createSecretKey(Buffer.from(key, 'utf8')));
  }

  sign(data: string): string {
    return digest(this.#keys[0]!, data);
  }

  verify(data: string, signature: string): boolean {
    return this.index(data, signature) !== -1;
  }

  /** Which key made `signature` (0 is the newest; more tells Koa to re-sign), or -1. */
  index(data: string, signature: string): number {
    if (typeof signature !== 'string') return -1;
    const given = Buffer.from(signature);
    return this.#keys.findIndex((key) => {
      const expected = Buffer.from(digest(key, data));
      // The length of a signature is public; only its bytes need constant time.
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
  }
}

const digest = (key: KeyObject, data: string) => createHmac('sha1', key).update(data).digest('base64url');
