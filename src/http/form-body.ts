import type { Context } from 'koa';
import { HttpError } from './errors.js';
import { readBody } from './read-body.js';

/** Hosted-page forms are small; anything larger is refused before it is buffered. */
const FORM_LIMIT_BYTES = 16 * 1024;

/** Reads an application/x-www-form-urlencoded body into a plain record (last value wins). */
export async function readForm(ctx: Context): Promise<Record<string, string>> {
  if (!ctx.is('application/x-www-form-urlencoded')) {
    throw new HttpError(415, 'invalid_request', 'Expected a form submission (application/x-www-form-urlencoded).');
  }
  return Object.fromEntries(new URLSearchParams((await readBody(ctx, FORM_LIMIT_BYTES)).toString('utf8')));
}
