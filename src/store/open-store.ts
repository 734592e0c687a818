import type { Store, StoreFactory } from './port.js';

/**
 * DATABASE_URL scheme → driver. Drivers load lazily, so the embedded default never
 * pulls in mongoose and a MongoDB deployment never opens SQLite. Only the entry points
 * (server start, CLI, tests) call this; domain modules receive a {@link Store}.
 */
const drivers: Record<string, () => Promise<StoreFactory>> = {
  sqlite: async () => (await import('../../adapters/sqlite/index.js')).openSqliteStore,
  mongodb: async () => (await import('../../adapters/mongodb/index.js')).openMongoStore,
  'mongodb+srv': async () => (await import('../../adapters/mongodb/index.js')).openMongoStore,
};

export async function openStore(databaseUrl: string): Promise<Store> {
  const scheme = databaseUrl.slice(0, databaseUrl.indexOf(':'));
  const load = drivers[scheme];
  if (!load) throw new Error(`DATABASE_URL: unsupported scheme "${scheme}", use sqlite:<path> or mongodb://…`);
  return (await load())(databaseUrl);
}
