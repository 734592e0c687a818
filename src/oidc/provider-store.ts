import { errors } from 'oidc-provider';
import { StoreUnavailableError, type Store } from '../store/port.js';

/**
 * A store outage as oidc-provider can show it. The library turns any error it does not
 * know into a 500 `server_error`; this one it renders as it is: 503
 * `temporarily_unavailable` (RFC 6749 §4.1.2.1), which tells clients to retry.
 */
class TemporarilyUnavailable extends errors.OIDCProviderError {
  constructor(cause: StoreUnavailableError) {
    super(503, 'temporarily_unavailable', { cause });
    this.expose = true;
    this.allow_redirect = false;
    this.error_description = 'The service is temporarily unavailable; try again shortly.';
  }
}

function translate<F extends (...args: never[]) => unknown>(fn: F): F {
  return (async (...args: Parameters<F>) => {
    try {
      return await fn(...args);
    } catch (err) {
      throw err instanceof StoreUnavailableError ? new TemporarilyUnavailable(err) : err;
    }
  }) as unknown as F;
}

/** The store as seen from inside oidc-provider (its adapter, account lookup and checks): outages become 503s. */
export function storeForProvider(store: Store): Store {
  const wrapped: Record<string, unknown> = {};
  for (const [name, part] of Object.entries(store)) {
    if (typeof part === 'function') wrapped[name] = translate(part.bind(store));
    else if (typeof part === 'object' && part !== null) {
      wrapped[name] = Object.fromEntries(
        Object.entries(part).map(([method, fn]) => [method, typeof fn === 'function' ? translate(fn.bind(part)) : fn]),
      );
    } else wrapped[name] = part;
  }
  return wrapped as unknown as Store;
}
