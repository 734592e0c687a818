import Busboy from 'busboy';
import type { Context } from 'koa';
import { HttpError } from './errors.js';

export interface MultipartForm {
  fields: Record<string, string>;
  /** The one file, if any; `truncated` when it exceeded `maxFileBytes`. */
  file: { name: string; data: Buffer; truncated: boolean } | undefined;
}

/**
 * Reads a multipart/form-data body with one file of at most `maxFileBytes`. Anything
 * beyond the limits is cut off while streaming, never buffered whole.
 */
export function readMultipart(ctx: Context, maxFileBytes: number): Promise<MultipartForm> {
  if (!ctx.is('multipart/form-data')) throw new HttpError(415, 'invalid_request', 'Expected a file upload (multipart/form-data).');
  return new Promise((resolve, reject) => {
    const fields: Record<string, string> = {};
    let file: MultipartForm['file'];
    const parser = Busboy({ headers: ctx.req.headers, limits: { files: 1, fields: 10, fieldSize: 4096, fileSize: maxFileBytes } });
    parser.on('field', (name, value) => {
      fields[name] = value;
    });
    parser.on('file', (name, stream) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('close', () => {
        file = { name, data: Buffer.concat(chunks), truncated: (stream as { truncated?: boolean }).truncated === true };
      });
    });
    parser.on('error', () => reject(new HttpError(400, 'invalid_request', 'The upload could not be read.')));
    parser.on('close', () => resolve({ fields, file }));
    ctx.req.pipe(parser);
  });
}
