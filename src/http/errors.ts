import type { Middleware } from 'koa';
import type { Logger } from '../logger.js';
import { StoreUnavailableError } from '../store/port.js';

/** An error meant for the client: status plus a machine-readable code and human text. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
    this.name = 'HttpError';
  }
}

/** How long a client should wait after a 503: a database fail-over usually takes seconds. */
const RETRY_AFTER_SECONDS = '5';

const wantsJson = (path: string, accept: string | undefined) =>
  path.startsWith('/api/') || path.startsWith('/healthz') || path.startsWith('/readyz') || (accept ?? '').includes('application/json');

/**
 * The one place errors become responses: `{ error, error_description }` for APIs, the
 * error page for people. Unexpected errors are logged in full and answered with a
 * generic 500; nobody outside ever sees a stack trace.
 */
export function errorHandler(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      // oidc-provider answers a store outage itself (503 temporarily_unavailable); say when to retry.
      if (ctx.status === 503 && !ctx.response.get('Retry-After')) ctx.set('Retry-After', RETRY_AFTER_SECONDS);
    } catch (caught) {
      let err: HttpError;
      if (caught instanceof HttpError) err = caught;
      else if (caught instanceof StoreUnavailableError) {
        logger.warn('store unavailable', { err: caught, request_id: ctx.state.requestId, method: ctx.method, path: ctx.path });
        err = new HttpError(503, 'temporarily_unavailable', 'The service is temporarily unavailable; try again shortly.', { 'Retry-After': RETRY_AFTER_SECONDS });
      }
      else if (isClientError(caught)) err = new HttpError(caught.status, 'invalid_request', caught.expose ? caught.message : 'The request is invalid.');
      else {
        logger.error('unhandled error', { err: caught, request_id: ctx.state.requestId, method: ctx.method, path: ctx.path });
        err = new HttpError(500, 'server_error', 'An unexpected error occurred.');
      }
      ctx.status = err.status;
      ctx.set(err.headers);
      ctx.set('Cache-Control', 'no-store');
      if (wantsJson(ctx.path, ctx.get('accept'))) {
        ctx.body = { error: err.error, error_description: err.description };
      } else {
        await ctx.render('layout.ejs', { page: 'error', title: 'Something went wrong', error: err.error, description: err.description });
        ctx.status = err.status;
      }
    } finally {
      // A body abandoned part-way (refused as too large, here or by oidc-provider) leaves the
      // connection unusable: close it after this answer, or the client's next request on it fails.
      if (!ctx.req.complete && ctx.req.readableFlowing !== null) ctx.set('Connection', 'close');
    }
  };
}

function isClientError(err: unknown): err is { status: number; expose: boolean; message: string } {
  const status = (err as { status?: unknown })?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}
