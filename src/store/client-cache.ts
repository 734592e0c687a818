import type { ClientRecord, Store } from './port.js';
import { wrapStore } from './wrap-store.js';

/**
 * How long a client read from the store is trusted. Changes made through this instance
 * take effect at once; another instance's (or the CLI's) within this time.
 */
export const CLIENT_CACHE_TTL_MS = 5000;

/** Beyond this many cached clients the oldest entries go first; deployments have far fewer. */
const MAX_ENTRIES = 10_000;

/**
 * The store with `clients.find` answered from memory for a few seconds. oidc-provider
 * looks the client up on every token, introspection and userinfo request, and clients
 * change rarely. Writes through this store forget the client at once. Unknown ids are
 * not cached, so invented client ids cannot fill the cache.
 */
export function withClientCache(store: Store, ttlMs = CLIENT_CACHE_TTL_MS): Store {
  const cache = new Map<string, { record: ClientRecord; until: number }>();
  return wrapStore(store, (repository, operation, run) => {
    if (repository !== 'clients') return run;
    if (operation === 'find') {
      return async (...args) => {
        const clientId = args[0] as string;
        const hit = cache.get(clientId);
        if (hit && hit.until > Date.now()) return hit.record;
        const record = (await run(...args)) as ClientRecord | undefined;
        cache.delete(clientId);
        if (record) {
          if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value!);
          cache.set(clientId, { record, until: Date.now() + ttlMs });
        }
        return record;
      };
    }
    if (operation === 'upsert' || operation === 'delete') {
      return async (...args) => {
        const clientId = operation === 'upsert' ? (args[0] as { clientId: string }).clientId : (args[0] as string);
        try {
          return await run(...args);
        } finally {
          cache.delete(clientId);
        }
      };
    }
    return run;
  });
}
