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
    const unreadable = () => reject(new HttpError(400, 'invalid_request', 'The upload could not be read.'));
    const fields: Record<string, string> = {};
    let file: MultipartForm['file'];
    let parser: Busboy.Busboy;
    try {
      parser = Busboy({ headers: ctx.req.headers, limits: { files: 1, fields: 10, fieldSize: 4096, fileSize: maxFileBytes } });
    } catch {
      return unreadable(); // a multipart Content-Type without a usable boundary
    }
    parser.on('field', (name, value) => {
      fields[name] = value;
    });
    parser.on('file', (name, stream) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('close', () => {
        file = { name, data: Buffer.concat(chunks), truncated: (stream as { truncated?: boolean }).truncated === true };
      });
      // A body that ends mid-file errors the file stream too; unheard, that error would crash the process.
      stream.on('error', unreadable);
    });
    parser.on('error', unreadable);
    parser.on('close', () => resolve({ fields, file }));
    // A client gone mid-upload never ends the body: settle instead of waiting (and holding the chunks) forever.
    ctx.req.on('close', () => {
      if (!ctx.req.complete) unreadable();
    });
    ctx.req.pipe(parser);
  });
}
