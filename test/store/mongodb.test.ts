import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import mongoose from 'mongoose';
import { openMongoStore } from '../../adapters/mongodb/index.js';
import { StoreUnavailableError } from '../../src/store/port.js';
import { freePort } from '../helpers/free-port.js';
import { startMongoServer, withDatabase, type MongoServer } from '../helpers/mongo-server.js';
import { runStoreContract } from './contract.js';

let server: MongoServer | undefined;
const databases: string[] = [];

before(async function () {
  this.timeout(60_000);
  server = await startMongoServer();
});

after(async function () {
  this.timeout(30_000);
  if (!server) return;
  // Matters only for an external MONGODB_URI; a local FerretDB's data dir is deleted anyway.
  const admin = await mongoose.createConnection(server.uri, { serverSelectionTimeoutMS: 2000 }).asPromise();
  for (const name of databases) await admin.useDb(name).dropDatabase();
  await admin.close();
  await server.stop();
});

// runStoreContract registers its tests at load time, before `before` has started the
// server, so the URI is read only when a test opens a store.
runStoreContract('mongodb', () => {
  if (!server) throw new Error('MongoDB test server not started');
  const name = `gatehouse_test_${randomBytes(6).toString('hex')}`;
  databases.push(name);
  return openMongoStore(withDatabase(server.uri, name));
});

describe('mongodb store: unreachable server', () => {
  it('rejects opening with StoreUnavailableError instead of hanging', async function () {
    this.timeout(10_000);
    const port = await freePort();
    await assert.rejects(openMongoStore(`mongodb://127.0.0.1:${port}/x`), StoreUnavailableError);
  });
});
