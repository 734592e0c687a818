import type { IncomingMessage } from 'node:http';

/**
 * Reads a small request body without consuming it: the bytes are pushed back onto the
 * stream (`unshift`, Node's documented way to "un-read"), so the next reader — here
 * oidc-provider's own body parser — sees the request untouched. Only bodies with a
 * Content-Length up to `limit` are peeked; for others (chunked, too large, already read)
 * this answers undefined and leaves the stream alone, since data cannot be pushed back
 * once the stream has ended.
 */
export function peekBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const length = Number(req.headers['content-length']);
  if (!req.readable || !Number.isSafeInteger(length) || length <= 0 || length > limit) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const finish = (body: Buffer | undefined) => {
      req.off('readable', onReadable);
      req.off('end', onEnd);
      req.off('error', onError);
      resolve(body);
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while (received < length && (chunk = req.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        received += chunk.length;
      }
      if (received < length) return;
      const body = Buffer.concat(chunks, received);
      req.unshift(body);
      finish(body);
    };
    // A body shorter than its Content-Length: the stream ended, nothing can be put back;
    // the next reader reports the mismatch.
    const onEnd = () => finish(undefined);
    const onError = () => finish(undefined);
    req.on('readable', onReadable);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
