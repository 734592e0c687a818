import type { Store } from './port.js';

type Operation = (...args: unknown[]) => Promise<unknown>;

/**
 * A copy of the store whose every repository operation (and ping/sweep/close) goes
 * through `wrap`: one place for cross-cutting concerns such as timing the store or
 * translating its errors, without touching the drivers.
 */
export function wrapStore(store: Store, wrap: (repository: string, operation: string, run: Operation) => Operation): Store {
  const copy: Record<string, unknown> = {};
  for (const [name, part] of Object.entries(store)) {
    if (typeof part === 'function') copy[name] = wrap('store', name, part.bind(store));
    else if (typeof part === 'object' && part !== null) {
      copy[name] = Object.fromEntries(
        Object.entries(part).map(([operation, fn]) => [operation, typeof fn === 'function' ? wrap(name, operation, fn.bind(part)) : fn]),
      );
    } else copy[name] = part;
  }
  return copy as unknown as Store;
}

/** The store with every error it throws passed through `translate` (e.g. a driver's outage errors into StoreUnavailableError). */
export function mapStoreErrors(store: Store, translate: (err: unknown) => unknown): Store {
  return wrapStore(store, (_repository, _operation, run) => async (...args) => {
    try {
      return await run(...args);
    } catch (err) {
      throw translate(err);
    }
  });
}
