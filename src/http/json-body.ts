import type { Context } from 'koa';
import { HttpError } from './errors.js';
import { readBody } from './read-body.js';

const JSON_LIMIT_BYTES = 16 * 1024;

/** Reads a small JSON object body; anything else is a 4xx with a clear error, never a crash. */
export async function readJson(ctx: Context): Promise<Record<string, unknown>> {
  if (!ctx.is('application/json')) throw new HttpError(415, 'invalid_request', 'Send a JSON body (Content-Type: application/json).');
  let body: unknown;
  try {
    body = JSON.parse((await readBody(ctx, JSON_LIMIT_BYTES)).toString('utf8'));
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, 'invalid_request', 'The request body is not valid JSON.');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'invalid_request', 'The request body must be a JSON object.');
  return body as Record<string, unknown>;
}
