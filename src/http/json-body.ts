import type { Context } from 'koa';
import { HttpError } from './errors.js';

const JSON_LIMIT_BYTES = 16 * 1024;

/** Reads a small JSON object body; anything else is a 4xx with a clear error, never a crash. */
export async function readJson(ctx: Context): Promise<Record<string, unknown>> {
  if (!ctx.is('application/json')) throw new HttpError(415, 'invalid_request', 'Send a JSON body (Content-Type: application/json).');
  if (Number(ctx.get('content-length') || 0) > JSON_LIMIT_BYTES) throw new HttpError(413, 'invalid_request', 'The request body is too large.');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > JSON_LIMIT_BYTES) throw new HttpError(413, 'invalid_request', 'The request body is too large.');
    chunks.push(chunk as Buffer);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'invalid_request', 'The request body is not valid JSON.');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'invalid_request', 'The request body must be a JSON object.');
  return body as Record<string, unknown>;
}
