import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import mongoose from 'mongoose';
import { openMongoStore } from '../../adapters/mongodb/index.js';
import { StoreUnavailableError, type ActionTokenRecord, type Store } from '../../src/store/port.js';
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
function freshUri(): string {
  if (!server) throw new Error('MongoDB test server not started');
  const name = `gatehouse_test_${randomBytes(6).toString('hex')}`;
  databases.push(name);
  return withDatabase(server.uri, name);
}

function openFresh(): Promise<Store> {
  return openMongoStore(freshUri());
}

runStoreContract('mongodb', openFresh);

// FerretDB-specific hazards (see adapters/mongodb/schema.ts), beyond the shared contract.
describe('mongodb store: races on FerretDB', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openFresh();
  });
  afterEach(async () => {
    await store.close();
  });

  const token = (tokenHash: string, userId = 'u1'): ActionTokenRecord => ({
    tokenHash,
    purpose: 'reset-password',
    userId,
    data: {},
    createdAt: Date.now(),
    expiresAt: Date.now() + 60_000,
  });

  // findOneAndDelete handed one token to up to 20 of 20 callers; one round can pass by luck.
  it('redeem has exactly one winner in each of 20 rounds of 20 parallel redemptions', async () => {
    for (let round = 0; round < 20; round++) {
      await store.actionTokens.issue(token(`race-${round}`, `u${round}`));
      const results = await Promise.all(Array.from({ length: 20 }, () => store.actionTokens.redeem(`race-${round}`, 'reset-password')));
      assert.equal(results.filter(Boolean).length, 1, `round ${round}`);
    }
  });

  it('parallel issues for one user and purpose all succeed and leave exactly one live token', async () => {
    const hashes = Array.from({ length: 20 }, (_, i) => `parallel-${i}`);
    await Promise.all(hashes.map((h) => store.actionTokens.issue(token(h))));
    const live = await Promise.all(hashes.map((h) => store.actionTokens.find(h, 'reset-password')));
    assert.equal(live.filter(Boolean).length, 1);
  });

  it('issue refuses a token hash that another user\'s token holds', async () => {
    await store.actionTokens.issue(token('same-hash', 'u1'));
    await assert.rejects(store.actionTokens.issue(token('same-hash', 'u2')), { code: 11000 });
    assert.equal((await store.actionTokens.find('same-hash', 'reset-password'))?.userId, 'u1');
  });

  it('revokeByAccount follows the accountId of the latest upsert', async () => {
    await store.oidc.upsert('Grant', 'g', { accountId: 'acc' }, 60);
    await store.oidc.upsert('Grant', 'g', { accountId: 'other' }, 60);
    await store.oidc.revokeByAccount('acc');
    assert.ok(await store.oidc.find('Grant', 'g'));
    await store.oidc.revokeByAccount('other');
    assert.equal(await store.oidc.find('Grant', 'g'), undefined);
  });
});

describe('mongodb store: documents from older versions', () => {
  it('reads a user document written without a theme as theme system', async () => {
    const uri = freshUri();
    const store = await openMongoStore(uri);
    const raw = await mongoose.createConnection(uri, { serverSelectionTimeoutMS: 2000 }).asPromise();
    try {
      const old = { id: 'old-user', email: 'old@example.com', emailVerified: true, name: 'Old', passwordHash: null, isAdmin: false, createdAt: 1, updatedAt: 1 };
      await raw.db!.collection('users').insertOne({ ...old });
      assert.deepEqual(await store.users.findById('old-user'), { ...old, theme: 'system' });
    } finally {
      await raw.close();
      await store.close();
    }
  });
});

describe('mongodb store: unreachable server', () => {
  it('rejects opening with StoreUnavailableError instead of hanging', async function () {
    this.timeout(10_000);
    const port = await freePort();
    await assert.rejects(openMongoStore(`mongodb://127.0.0.1:${port}/x`), StoreUnavailableError);
  });
});
