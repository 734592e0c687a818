import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMongoServer, withDatabase, type MongoServer } from './mongo-server.js';

/** A storage backend the end-to-end suites run on; each call gives an empty database. */
export interface Backend {
  name: 'sqlite' | 'mongodb';
  freshDatabaseUrl(): Promise<string>;
}

let mongo: Promise<MongoServer> | undefined;

/** One MongoDB-wire server for the whole run, started on first use, stopped by the root hook. */
export function sharedMongo(): Promise<MongoServer> {
  mongo ??= startMongoServer();
  return mongo;
}

export async function stopSharedMongo(): Promise<void> {
  if (mongo) await (await mongo).stop();
  mongo = undefined;
}

export const backends: Backend[] = [
  {
    name: 'sqlite',
    freshDatabaseUrl: async () => `sqlite:${join(mkdtempSync(join(tmpdir(), 'gatehouse-e2e-')), 'gatehouse.db')}`,
  },
  {
    name: 'mongodb',
    freshDatabaseUrl: async () => withDatabase((await sharedMongo()).uri, `gatehouse_e2e_${randomBytes(6).toString('hex')}`),
  },
];
