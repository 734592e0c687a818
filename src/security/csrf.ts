import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import { readForm } from '../http/form-body.js';
import { HttpError } from '../http/errors.js';
import type { Secrets } from './secrets.js';

/**
 * CSRF protection for every hosted form: the token is an HMAC of a random per-browser
 * cookie, so a page on another site can neither read nor compute it (and login CSRF is
 * impossible: the attacker cannot plant a valid token in the victim's browser).
 */
export class Csrf {
  readonly #cookie: string;
  readonly #secure: boolean;
  readonly #origin: string;

  constructor(private readonly secrets: Secrets, issuer: string) {
    this.#secure = issuer.startsWith('https:');
    this.#cookie = this.#secure ? '__Host-gatehouse.csrf' : 'gatehouse.csrf';
    this.#origin = new URL(issuer).origin;
  }

  /** The token to embed in a form; sets the browser's CSRF cookie on first use. */
  token(ctx: Context): string {
    let id = ctx.cookies.get(this.#cookie);
    if (!id || !/^[A-Za-z0-9_-]{43}$/.test(id)) {
      id = randomBytes(32).toString('base64url');
      ctx.cookies.set(this.#cookie, id, { httpOnly: true, sameSite: 'lax', secure: this.#secure, path: '/', overwrite: true });
    }
    return this.secrets.csrfToken(`csrf:${id}`);
  }

  /**
   * Reads a posted form and checks it came from our own page. Browsers send `Origin: null`
   * under our Referrer-Policy: no-referrer, so only a named foreign origin is refused
   * outright; the token is the real gate.
   */
  async readForm(ctx: Context): Promise<Record<string, string>> {
    this.checkOrigin(ctx);
    const form = await readForm(ctx);
    this.checkToken(ctx, form.csrf);
    return form;
  }

  /** Refuses a post from a named foreign origin; call before reading a body. */
  checkOrigin(ctx: Context): void {
    const origin = ctx.get('origin');
    if (origin && origin !== 'null' && origin !== this.#origin) throw new HttpError(403, 'invalid_request', 'Cross-site form submissions are refused.');
  }

  /** Refuses a form whose token does not match this browser's CSRF cookie. */
  checkToken(ctx: Context, submitted: unknown): void {
    const id = ctx.cookies.get(this.#cookie);
    if (!id || !this.secrets.verifyCsrfToken(`csrf:${id}`, submitted)) {
      throw new HttpError(403, 'invalid_request', 'The form has expired. Go back, reload the page and try again.');
    }
  }
}
