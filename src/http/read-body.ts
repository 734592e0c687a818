import type { Context } from 'koa';
import { HttpError } from './errors.js';

/**
 * Reads a request body of at most `limit` bytes: refused up front when Content-Length
 * says it is larger, and cut off while streaming when it turns out to be.
 */
export async function readBody(ctx: Context, limit: number): Promise<Buffer> {
  if (Number(ctx.get('content-length') || 0) > limit) throw new HttpError(413, 'invalid_request', 'The request body is too large.');
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of ctx.req) {
      size += (chunk as Buffer).length;
      if (size > limit) throw new HttpError(413, 'invalid_request', 'The request body is too large.');
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    // Otherwise the stream's own error: the client went away mid-body. Not a server error.
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, 'invalid_request', 'The request body was not received completely.');
  }
  return Buffer.concat(chunks);
}
