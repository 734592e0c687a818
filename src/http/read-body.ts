import type { Context } from 'koa';
import { HttpError } from './errors.js';

const tooLarge = () => new HttpError(413, 'invalid_request', 'The request body is too large.');

/**
 * Reads a request body of at most `limit` bytes: refused up front when Content-Length
 * says it is larger, and cut off while streaming when it turns out to be. The rest of an
 * oversize body is then read and thrown away (the stream stays flowing with no listener),
 * so the client still gets its 413 rather than a reset connection.
 *
 * Plain stream events rather than `for await`: the async iterator's set-up was ~20 of the
 * ~50 µs that reading a small JSON body cost, on the management API's busiest route.
 */
export function readBody(ctx: Context, limit: number): Promise<Buffer> {
  if (Number(ctx.get('content-length') || 0) > limit) return Promise.reject(tooLarge());
  const req = ctx.req;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (error: HttpError | undefined) => {
      req.off('data', onData).off('end', onEnd).off('error', onIncomplete).off('close', onIncomplete);
      if (error) reject(error);
      else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      settle(tooLarge());
    };
    const onEnd = () => settle(undefined);
    // The client went away mid-body: its fault, not a server error.
    const onIncomplete = () => settle(new HttpError(400, 'invalid_request', 'The request body was not received completely.'));
    req.on('data', onData).on('end', onEnd).on('error', onIncomplete).on('close', onIncomplete);
  });
}
