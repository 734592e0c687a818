import Router from '@koa/router';
import type { Store } from '../store/port.js';

/** Shared with the shutdown sequence: once draining, readiness turns red first. */
export interface Lifecycle {
  draining: boolean;
}

const PING_TIMEOUT_MS = 2000;

/**
 * /healthz: the process answers (liveness). /readyz: the store answers and we are not
 * draining, so a load balancer only sends traffic that can be served.
 */
export function healthRouter(store: Store, lifecycle: Lifecycle): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const problem = lifecycle.draining ? 'shutting down' : await pingWithin(store, PING_TIMEOUT_MS);
    if (problem) {
      ctx.status = 503;
      ctx.set('Retry-After', '5');
      ctx.body = { status: 'unavailable', reason: problem };
    } else {
      ctx.body = { status: 'ready', store: store.driver };
    }
  });
  return router;
}

async function pingWithin(store: Store, ms: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('store did not answer in time'), ms);
  });
  try {
    return await Promise.race([store.ping().then(() => undefined, () => 'store unreachable'), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
